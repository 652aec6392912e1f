// Helpers for the DAP tests: a DebugClient on the real adapter process (node adapter.js over
// stdio) booting the real guest in a real QEMU, a way to find that QEMU by a marker in its
// command line (to check that none is left behind), and gdb as the oracle for backtraces.

import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const KERNEL = process.env.MMSCOPE_KERNEL ?? path.join(ROOT, 'guest', 'build', 'kernel.elf');
export const ADAPTER = path.join(ROOT, 'out', 'debug-adapter', 'src', 'adapter.js');
export const CHAIN_C = path.join(ROOT, 'guest', 'mm', 'chain.c');
export const MAP_C = path.join(ROOT, 'guest', 'mm', 'map.c');
export const DEMO_C = path.join(ROOT, 'guest', 'demo', 'demo.c');

export function haveGuest(): boolean {
  return fs.existsSync(KERNEL);
}

/** A marker put on QEMU's command line (`-name`) so a test can find its process. */
export function qemuMarker(): string {
  return `mmscope-dap-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Pids of running processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // a zombie is gone already
      if (cmdline.includes(marker) && cmdline.includes('qemu-system')) pids.push(Number(entry));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return pids;
}

/** Waits until no QEMU with `marker` runs (bounded). */
export async function waitNoQemu(marker: string, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesWith(marker);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills any QEMU with `marker` (cleanup after a failed test). */
export function killQemu(marker: string): void {
  for (const pid of processesWith(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Ends a session's client and checks that its QEMU (named by `marker`) went with it. */
export async function endSessionLeavingNoQemu(dc: DebugClient | undefined, marker: string | undefined): Promise<void> {
  await dc?.stop().catch(() => undefined);
  if (!marker) return;
  const left = await waitNoQemu(marker);
  killQemu(marker);
  if (left.length) throw new Error(`QEMU ${left.join(', ')} was left behind`);
}

export async function startClient(): Promise<DebugClient> {
  const dc = new DebugClient('node', ADAPTER, 'mmscope', { stdio: ['pipe', 'pipe', 'pipe'] });
  dc.defaultTimeout = 30000;
  await dc.start();
  return dc;
}

/** Stops a client, bounded: an adapter that already exited cannot answer the disconnect. */
export async function stopClient(dc: DebugClient | undefined): Promise<void> {
  if (!dc) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([dc.stop().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 3000)))]);
  clearTimeout(timer);
  (dc as unknown as { stopAdapter(): void }).stopAdapter();
}

export interface LaunchOptions {
  cmdline?: string;
  stopOnEntry?: boolean;
  marker: string;
  kernel?: string;
  qemuPath?: string;
}

export function launchArgs(o: LaunchOptions): DebugProtocol.LaunchRequestArguments & Record<string, unknown> {
  return {
    kernel: o.kernel ?? KERNEL,
    cmdline: o.cmdline ?? 'demo',
    memory: 128,
    stopOnEntry: o.stopOnEntry ?? false,
    qemuArgs: ['-name', o.marker],
    ...(o.qemuPath ? { qemuPath: o.qemuPath } : {}),
  };
}

/**
 * Launches with breakpoints set in the configuration phase and resolves with the first stop.
 * `configure` runs between `initialized` and `configurationDone`.
 */
export async function launchAndStop(
  dc: DebugClient,
  options: LaunchOptions,
  configure: () => Promise<unknown>,
): Promise<DebugProtocol.StoppedEvent> {
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await Promise.all([
    dc.initializeRequest(),
    dc.waitForEvent('initialized').then(async () => {
      await configure();
      await dc.configurationDoneRequest();
    }),
    dc.launch(launchArgs(options)),
  ]);
  return stopped;
}

export interface ShownFrame {
  name: string;
  file?: string;
  line: number;
}

/** The call stack of thread 1 as (function, file basename, line). */
export async function shownStack(dc: DebugClient, threadId = 1): Promise<{ frames: ShownFrame[]; raw: DebugProtocol.StackFrame[] }> {
  const st = await dc.stackTraceRequest({ threadId });
  const raw = st.body.stackFrames;
  return { raw, frames: raw.map((f) => ({ name: f.name, ...(f.source?.path ? { file: path.basename(f.source.path) } : {}), line: f.line })) };
}

/** Continues (or steps) and waits for the next stop. */
export async function resumeAndStop(dc: DebugClient, request: Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await request;
  return stopped;
}

/** Evaluates in the top frame. */
export async function evaluateTop(dc: DebugClient, expression: string): Promise<string> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const r = await dc.evaluateRequest({ expression, frameId: st.body.stackFrames[0].id, context: 'watch' });
  return r.body.result;
}

export function runGdb(args: string[], timeoutMs = 90000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('gdb', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && !stdout) reject(new Error(`gdb failed: ${error.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Parses gdb's `bt` lines: `#N  [0xADDR in ]FUNC (ARGS) at FILE:LINE`. Frames without a file keep line 0. */
export function parseBacktrace(text: string): ShownFrame[] {
  const frames: ShownFrame[] = [];
  for (const line of text.split('\n')) {
    const m = /^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: at (\S+):(\d+))?\s*$/.exec(line);
    if (!m) continue;
    frames.push({ name: m[2], ...(m[3] ? { file: path.basename(m[3]) } : {}), line: m[4] ? Number(m[4]) : 0 });
  }
  return frames;
}

export function assertSameFrames(adapter: ShownFrame[], gdb: ShownFrame[], context: string): void {
  const known = (f: ShownFrame): boolean => f.name !== '??' && !/^0x0+$/.test(f.name);
  const a = adapter.filter(known).map((f) => `${f.name.replace(/ \[interrupt \d+\]$/, '')} ${f.file ?? '-'}:${f.line}`);
  const g = gdb.filter(known).map((f) => `${f.name} ${f.file ?? '-'}:${f.line}`);
  assert.deepStrictEqual(a, g, `${context}: the adapter's stack differs from gdb's`);
}
