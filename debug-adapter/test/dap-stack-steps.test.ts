// DAP tests against a real QEMU running the guest's demo: a line breakpoint in the memory
// manager is hit, the call stack and the results of next/stepIn/stepOut agree with gdb's bt,
// next, step and finish at the same breakpoint address, the stack unwinds through an
// interrupt frame, and locals are readable at the stop.

import * as assert from 'assert';
import * as fs from 'fs';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { launchQemu, QemuInstance } from '../../qemu-bridge/src';
import {
  assertSameFrames, CHAIN_C, gdbBreakpoints, QemuMonitor, requireGuest, KERNEL, killQemu, launchAndStop, parseBacktrace, qemuMarker, resumeAndStop,
  runGdb, ShownFrame, shownStack, waitNoQemu,
  stopClient,
} from './dap-fixture';
import { commentAbove, markerLine } from './source-markers';

/** Runs gdb on a fresh QEMU (demo) stopped at `*address`, then `commands`; returns the #0/#N lines of each section. */
async function gdbAt(address: string, commands: string[]): Promise<ShownFrame[][]> {
  let qemu: QemuInstance | undefined;
  try {
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo' });
    const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', `file ${KERNEL}`,
      '-ex', `target remote 127.0.0.1:${qemu.gdb.port}`, '-ex', `break *${address}`, '-ex', 'continue', '-ex', 'echo @@\\n', '-ex', 'bt'];
    for (const c of commands) args.push('-ex', 'echo @@\\n', '-ex', c, '-ex', 'frame');
    args.push('-ex', 'kill');
    const out = await runGdb(args);
    return out.split('@@\n').slice(1).map((section) => parseBacktrace(section));
  } finally {
    await qemu?.shutdown(1000);
  }
}

const top = async (dc: DebugClient): Promise<ShownFrame> => (await shownStack(dc)).frames[0];

describe('DAP: breakpoints, stack and stepping (real QEMU, gdb as oracle)', function () {
  this.timeout(180000);
  let dc: DebugClient;
  const marker = qemuMarker();
  let breakpointAddress = '';
  let firstStop: { reason: string; hit?: number[] };
  let verified: { verified: boolean; line?: number; id?: number };
  /** MmFreeChain's call of mm_unmap_all (marker @dap:free-chain-unmap in mm/chain.c). */
  let line = 0;
  let qemu: QemuMonitor | undefined;

  before(async function () {
    requireGuest();
    line = markerLine(CHAIN_C, 'free-chain-unmap');
    dc = await (await import('./dap-fixture')).startClient();
    const stop = await launchAndStop(dc, { marker, monitor: true }, async () => {
      const r = await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line }] });
      const bp = r.body.breakpoints[0];
      verified = { verified: bp.verified, line: bp.line, id: bp.id };
      breakpointAddress = bp.instructionReference ?? '';
    });
    firstStop = { reason: stop.body.reason, hit: stop.body.hitBreakpointIds };
    qemu = await QemuMonitor.connect(marker);
  });

  after(async () => {
    qemu?.close();
    await stopClient(dc);
    killQemu(marker);
  });

  it('verifies a line breakpoint in mm/chain.c where gdb puts it and stops there with reason breakpoint', async () => {
    assert.strictEqual(verified.verified, true);
    assert.strictEqual(verified.line, line);
    const [gdb] = await gdbBreakpoints([`mm/chain.c:${line}`]);
    assert.ok(gdb, `gdb places a breakpoint on chain.c:${line}`);
    assert.strictEqual(breakpointAddress, `0x${gdb.address.toString(16).padStart(8, '0')}`, `gdb: ${JSON.stringify(gdb)}`);
    assert.strictEqual(gdb.line, line);
    assert.strictEqual(firstStop.reason, 'breakpoint');
    assert.deepStrictEqual(firstStop.hit, [verified.id]);
    assert.strictEqual((await (qemu as QemuMonitor).registers()).get('eip'), gdb.address, 'QEMU stopped at that address');
    const t = await top(dc);
    assert.deepStrictEqual(t, { name: 'MmFreeChain', file: 'chain.c', line });
  });

  it('moves a breakpoint on a comment to the line gdb moves it to, refuses one past the code like gdb, and places instruction breakpoints', async () => {
    // chain.c: the first line of the comment above mm_find_free_run, and a line far past the end of the file.
    const comment = commentAbove(CHAIN_C, /^uint32_t mm_find_free_run\(/);
    const past = fs.readFileSync(CHAIN_C, 'utf8').split('\n').length + 1000;
    const r = await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line }, { line: comment }, { line: past }] });
    const [kept, moved, refused] = r.body.breakpoints;
    const [gdbMoved, gdbRefused] = await gdbBreakpoints([`mm/chain.c:${comment}`, `mm/chain.c:${past}`]);
    assert.ok(gdbMoved, `gdb places a breakpoint for chain.c:${comment}`);
    assert.strictEqual(gdbRefused, undefined, `gdb refuses chain.c:${past}`);
    assert.ok(gdbMoved.line > comment, `gdb moves chain.c:${comment} to a later line (${gdbMoved.line})`);
    assert.strictEqual(kept.line, line);
    assert.strictEqual(moved.verified, true);
    assert.deepStrictEqual({ line: moved.line, address: Number(moved.instructionReference) }, { line: gdbMoved.line, address: gdbMoved.address },
      `chain.c:${comment} (a comment) moved like gdb moves it`);
    assert.strictEqual(refused.verified, false);
    assert.match(refused.message ?? '', new RegExp(`^No code at or after line ${past} `));
    const ib = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: breakpointAddress, offset: 0 }, { instructionReference: 'nowhere' }] }) as DebugProtocol.SetInstructionBreakpointsResponse;
    assert.strictEqual(ib.body.breakpoints[0].verified, true);
    assert.strictEqual(ib.body.breakpoints[0].line, line);
    assert.strictEqual(ib.body.breakpoints[1].verified, false);
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [{ line }] });
  });

  it('lists one thread per virtual CPU that QEMU has', async () => {
    const threads = await dc.threadsRequest();
    const cpus = [...(await (qemu as QemuMonitor).hmp('info cpus')).matchAll(/CPU #(\d+)/g)].map((m) => `CPU ${m[1]}`);
    assert.ok(cpus.length > 0, 'QEMU lists its CPUs');
    assert.deepStrictEqual(threads.body.threads.map((t) => t.name), cpus);
  });

  it('agrees with gdb on the backtrace and on next, next, step, finish, next', async () => {
    const steps: ShownFrame[] = [];
    const shown = (await shownStack(dc)).frames;
    await resumeAndStop(dc, dc.nextRequest({ threadId: 1 }));
    steps.push(await top(dc));
    await resumeAndStop(dc, dc.nextRequest({ threadId: 1 }));
    steps.push(await top(dc));
    const into = await resumeAndStop(dc, dc.stepInRequest({ threadId: 1 }));
    assert.strictEqual(into.body.reason, 'step');
    steps.push(await top(dc));
    await resumeAndStop(dc, dc.stepOutRequest({ threadId: 1 }));
    steps.push(await top(dc));
    await resumeAndStop(dc, dc.nextRequest({ threadId: 1 }));
    steps.push(await top(dc));

    const gdb = await gdbAt(breakpointAddress, ['next', 'next', 'step', 'finish', 'next']);
    assertSameFrames(shown, gdb[0], 'backtrace at the breakpoint');
    const gdbSteps = gdb.slice(1).map((frames) => frames[0]);
    assert.deepStrictEqual(steps.map((f) => `${f.name} ${f.file}:${f.line}`), gdbSteps.map((f) => `${f.name} ${f.file}:${f.line}`));
  });

  it('unwinds through the timer interrupt frame into the interrupted code', async () => {
    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'timer_irq' }] });
    assert.strictEqual(fb.body.breakpoints[0].verified, true);
    await dc.setBreakpointsRequest({ source: { path: CHAIN_C }, breakpoints: [] });
    // The demo's ring-3 processes (separately linked user code) may be what the timer
    // interrupted: then the stack ends at the interrupt frame, as gdb's does; wait for a tick
    // that interrupted the kernel.
    let frames: ShownFrame[] = [];
    let i = -1;
    for (let tick = 0; tick < 20; tick++) {
      const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.strictEqual(stop.body.reason, 'breakpoint');
      frames = (await shownStack(dc)).frames;
      assert.strictEqual(frames[0].name, 'timer_irq');
      i = frames.findIndex((f) => / \[interrupt 32\]$/.test(f.name));
      assert.ok(i > 0, `no interrupt frame in ${JSON.stringify(frames)}`);
      if (i < frames.length - 1) break;
    }
    const below = frames.slice(i + 1).filter((f) => f.file);
    assert.ok(below.length > 0, `nothing with source below the interrupt frame: ${JSON.stringify(frames)}`);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
  });

  it('ends the session with terminate and leaves no QEMU behind', async () => {
    const terminated = dc.waitForEvent('terminated');
    await dc.terminateRequest();
    await terminated;
    assert.deepStrictEqual(await waitNoQemu(marker), []);
  });
});
