// Test helper: runs one sequence of run-control commands (next, step, finish, stepi) from a
// function breakpoint in our adapter (DAP, real QEMU) and then the same sequence in gdb on a
// fresh QEMU with the same kernel, and lists where each stop is (function, line, pc). The kernels
// used here do not take interrupts, so both runs are deterministic and comparable stop by stop.
// An ELF64 kernel runs on qemu-system-x86_64 and gdb with `set architecture i386:x86-64`; pcs are
// address numbers (address.ts: the kernel half of x86-64 negative), parsed from hex exactly.

import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import * as fs from 'fs';
import { launchQemu, QemuInstance } from '../../qemu-bridge/src';
import { formatAddress, parseAddress } from '../../qemu-bridge/src/address';
import { launchAndStop, runGdb } from './dap-fixture';
import { SeededRandom } from '../../qemu-bridge/test/seeded-random';

export type StepCommand = 'next' | 'step' | 'finish' | 'stepi';

/** Where one stop is. `line` is 0 without line information. */
export interface StopPlace {
  fn: string;
  line: number;
  pc: number;
}

export function formatPlace(p: StopPlace): string {
  return `${p.fn}:${p.line}@${p.pc < 0 || p.pc > 0xffffffff ? formatAddress(p.pc, 64) : `0x${p.pc.toString(16)}`}`;
}

/** A pc printed in hex (up to 16 digits) as an address number, exactly. */
export function parsePc(hex: string): number {
  const digits = hex.replace(/^0x/, '');
  return parseAddress(`0x${digits}`, digits.length > 8 ? 64 : 32);
}

/** True for an ELF64 file (an x86-64 kernel). */
export function isElf64(kernel: string): boolean {
  const fd = fs.openSync(kernel, 'r');
  try {
    const head = Buffer.alloc(5);
    fs.readSync(fd, head, 0, 5, 0);
    return head[4] === 2;
  } finally {
    fs.closeSync(fd);
  }
}

/** The top frame of the adapter's stack as a place. */
async function adapterPlace(dc: DebugClient): Promise<StopPlace> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const top = st.body.stackFrames[0];
  return { fn: top.name.replace(/ \[interrupt \d+\]$/, ''), line: top.line, pc: parsePc(top.instructionPointerReference ?? '0') };
}

async function adapterDepth(dc: DebugClient): Promise<string[]> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  return st.body.stackFrames.map((f) => f.name);
}

export interface AdapterRun {
  commands: StepCommand[];
  places: StopPlace[];
  /** Requests that failed, with their messages (must be empty). */
  errors: string[];
}

/**
 * Runs `count` seeded commands in the adapter from `break fn`. `finish` is not chosen in or
 * right below the functions of `noFinish` (functions that never return, such as kmain).
 */
export async function runInAdapter(
  dc: DebugClient,
  options: { kernel: string; fn: string; marker: string; seed: number; count: number; noFinish: readonly string[]; weights?: Partial<Record<StepCommand, number>> },
): Promise<AdapterRun> {
  await launchAndStop(dc, { kernel: options.kernel, marker: options.marker, cmdline: '' }, () => dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: options.fn }] }));
  // The first stop is at the breakpoint; from here on no user breakpoint interferes (gdb's tbreak).
  await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
  const random = new SeededRandom(options.seed);
  const weights = { next: 4, step: 3, finish: 1, stepi: 1, ...options.weights };
  const places = [await adapterPlace(dc)];
  const commands: StepCommand[] = [];
  const errors: string[] = [];
  for (let i = 0; i < options.count; i++) {
    const frames = await adapterDepth(dc);
    const choices: StepCommand[] = [];
    for (const c of ['next', 'step', 'finish', 'stepi'] as StepCommand[]) {
      if (c === 'finish' && (frames.length < 2 || options.noFinish.includes(frames[0]) || options.noFinish.includes(frames[1] ?? ''))) continue;
      for (let w = 0; w < (weights[c] ?? 0); w++) choices.push(c);
    }
    const command = choices[random.below(choices.length)];
    commands.push(command);
    const stopped = dc.waitForEvent('stopped', 30000) as Promise<DebugProtocol.StoppedEvent>;
    try {
      if (command === 'next') await dc.nextRequest({ threadId: 1 });
      else if (command === 'step') await dc.stepInRequest({ threadId: 1 });
      else if (command === 'finish') await dc.stepOutRequest({ threadId: 1 });
      else await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    } catch (e) {
      stopped.catch(() => undefined);
      errors.push(`${command}: ${(e as Error).message}`);
      break;
    }
    await stopped;
    places.push(await adapterPlace(dc));
  }
  return { commands, places, errors };
}

/**
 * Runs `break fn`, `continue`, then `commands` in gdb on a fresh QEMU; returns the place after each.
 * `pagingAt` names a function gdb first runs to by its address (no prologue analysis) so that
 * `break fn` is placed once the kernel's higher half is mapped (gdb reads the code through the
 * target to skip the prologue; an x86-64 kernel maps it only in its entry code).
 */
export async function runInGdb(kernel: string, fn: string, commands: readonly StepCommand[], options: { pagingAt?: string } = {}): Promise<StopPlace[]> {
  let qemu: QemuInstance | undefined;
  try {
    const x64 = isElf64(kernel);
    qemu = await launchQemu({ kernel, cmdline: '', memoryMiB: 32, ...(x64 ? { qemuBinary: 'qemu-system-x86_64' } : {}) });
    const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', `file ${kernel}`,
      ...(x64 ? ['-ex', 'set architecture i386:x86-64'] : []),
      '-ex', `target remote 127.0.0.1:${qemu.gdb.port}`,
      ...(options.pagingAt ? ['-ex', `tbreak *${options.pagingAt}`, '-ex', 'continue'] : []),
      '-ex', `tbreak ${fn}`, '-ex', 'continue',
      '-ex', 'echo @@\\n', '-ex', 'frame', '-ex', 'p/x $pc'];
    for (const c of commands) args.push('-ex', c, '-ex', 'echo @@\\n', '-ex', 'frame', '-ex', 'p/x $pc');
    args.push('-ex', 'kill');
    const out = await runGdb(args, 180000);
    return out.split('@@\n').slice(1).map(parseGdbPlace);
  } finally {
    await qemu?.shutdown(1000);
  }
}

function parseGdbPlace(section: string): StopPlace {
  const frame = /^#0\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: at \S+:(\d+))?/m.exec(section);
  const pc = /^\$\d+ = 0x([0-9a-f]+)/m.exec(section);
  return { fn: frame ? frame[1] : '??', line: frame && frame[2] ? Number(frame[2]) : 0, pc: pc ? parsePc(pc[1]) : 0 };
}

/** The indexes where the two lists differ, with a text for each (both lists compared in full). */
export function differences(commands: readonly StepCommand[], ours: readonly StopPlace[], gdb: readonly StopPlace[]): string[] {
  const out: string[] = [];
  const n = Math.max(ours.length, gdb.length);
  for (let i = 0; i < n; i++) {
    const a = ours[i];
    const b = gdb[i];
    if (a && b && a.fn === b.fn && a.line === b.line && a.pc === b.pc) continue;
    if (out.length === 0 && i > 0) out.push(`#${i - 1} (same in both) ${formatPlace(ours[i - 1])}`);
    out.push(`#${i} after ${i === 0 ? 'the breakpoint' : commands[i - 1]}: ours ${a ? formatPlace(a) : '-'}, gdb ${b ? formatPlace(b) : '-'}`);
  }
  return out;
}
