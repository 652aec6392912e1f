// Helpers for the DAP tests: a DebugClient on the real adapter process (node adapter.js over
// stdio) booting the real guest in a real QEMU, a way to find that QEMU by a marker in its
// command line (to check that none is left behind), and gdb as the oracle for backtraces.

import * as assert from 'assert';
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { parseInfoRegisters, parseInfoTlb, parseXpBytes, QmpClient, TlbEntry } from '../../qemu-bridge/src';
import { GUEST_KERNEL, REPO_ROOT, requireGuestKernel } from '../../qemu-bridge/test/fixtures/guest-kernel';

export const ROOT = REPO_ROOT;
export const KERNEL = GUEST_KERNEL;
export const ADAPTER = path.join(ROOT, 'out', 'debug-adapter', 'src', 'adapter.js');
export const CHAIN_C = path.join(ROOT, 'guest', 'mm', 'chain.c');
export const MAP_C = path.join(ROOT, 'guest', 'mm', 'map.c');
export const DEMO_C = path.join(ROOT, 'guest', 'demo', 'demo.c');

/** Fails (throws) with what to do when the guest kernel has not been built: never a skip. */
export function requireGuest(): string {
  return requireGuestKernel(KERNEL);
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
  /** Give the QEMU the adapter starts a second QMP monitor for the test (QemuMonitor.connect(marker)). */
  monitor?: boolean;
  /** More QEMU arguments (e.g. -smp 4). */
  qemuArgs?: string[];
}

export function launchArgs(o: LaunchOptions): DebugProtocol.LaunchRequestArguments & Record<string, unknown> {
  return {
    kernel: o.kernel ?? KERNEL,
    cmdline: o.cmdline ?? 'demo',
    memory: 128,
    stopOnEntry: o.stopOnEntry ?? false,
    qemuArgs: ['-name', o.marker, ...(o.monitor ? ['-qmp', `unix:${QemuMonitor.socketPath(o.marker)},server=on,wait=off`] : []), ...(o.qemuArgs ?? [])],
    ...(o.qemuPath ? { qemuPath: o.qemuPath } : {}),
  };
}

/**
 * QEMU as the oracle for what the adapter shows: the test's own QMP monitor on the QEMU the
 * adapter launched (a second `-qmp`, on a unix socket named after the test's marker; the
 * adapter keeps its own). HMP `x`/`xp` read memory through QEMU's translation and `info tlb`
 * lists the current address space, independently of the adapter's page walker and caches.
 */
export class QemuMonitor {
  private constructor(private readonly qmp: QmpClient, private readonly socket: string) {}

  static socketPath(marker: string): string {
    return path.join(os.tmpdir(), `${marker}.qmp`);
  }

  /** Connects to the monitor of the QEMU launched with `{ marker, monitor: true }`. */
  static async connect(marker: string): Promise<QemuMonitor> {
    const file = QemuMonitor.socketPath(marker);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(file);
      s.once('connect', () => resolve(s));
      s.once('error', (e) => reject(new Error(`the test's QMP monitor ${file} does not answer (${e.message}); launch with monitor: true`)));
    });
    const qmp = QmpClient.fromSocket(socket, { host: file, port: 0 }, { timeoutMs: 20000 });
    await qmp.handshake();
    return new QemuMonitor(qmp, file);
  }

  hmp(command: string): Promise<string> {
    return this.qmp.humanMonitorCommand(command);
  }

  /** `length` bytes at a virtual address, read by QEMU through the current CPU's page tables (HMP `x`). */
  readVirtual(address: number, length: number): Promise<Buffer> {
    return this.dump('x', address, length);
  }

  /** `length` bytes at a guest-physical address (HMP `xp`). */
  readPhysical(address: number, length: number): Promise<Buffer> {
    return this.dump('xp', address, length);
  }

  /** The present pages of the current address space, as QEMU's `info tlb` lists them. */
  async tlb(): Promise<TlbEntry[]> {
    return parseInfoTlb(await this.hmp('info tlb'));
  }

  /** The registers of the current CPU as QEMU's `info registers` prints them (lower-case names). */
  async registers(): Promise<Map<string, number>> {
    return parseInfoRegisters(await this.hmp('info registers'));
  }

  /** An HMP command run on vCPU `cpuIndex` (0-based): `x`, `info registers`, `info tlb` then use that CPU. */
  async hmpOn(cpuIndex: number, command: string): Promise<string> {
    const text = await this.qmp.execute('human-monitor-command', { 'command-line': command, 'cpu-index': cpuIndex });
    if (typeof text !== 'string') throw new Error(`QEMU's ${command} for CPU ${cpuIndex} returned no text`);
    return text;
  }

  /** The registers of vCPU `cpuIndex` (0-based), as QEMU's `info registers` prints them for it. */
  async registersOf(cpuIndex: number): Promise<Map<string, number>> {
    return parseInfoRegisters(await this.hmpOn(cpuIndex, 'info registers'));
  }

  /** Whether QEMU runs the guest (`query-status`). */
  async running(): Promise<boolean> {
    return (await this.qmp.queryStatus()).running;
  }

  close(): void {
    this.qmp.close();
    fs.rmSync(this.socket, { force: true });
  }

  private async dump(command: 'x' | 'xp', address: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let done = 0; done < length; done += 4096) {
      const n = Math.min(4096, length - done);
      const text = await this.hmp(`${command} /${n}xb 0x${(address + done).toString(16)}`);
      const bytes = parseXpBytes(text);
      if (!bytes || bytes.length !== n) throw new Error(`QEMU's ${command} at 0x${(address + done).toString(16)} gave ${bytes?.length ?? 0} of ${n} bytes: ${text.slice(0, 200)}`);
      parts.push(bytes);
    }
    return Buffer.concat(parts);
  }
}

/** QEMU's translation of `virtual` in the current address space (from `info tlb`), or undefined if not mapped. */
export function tlbTranslate(tlb: readonly TlbEntry[], virtual: number): number | undefined {
  for (const e of tlb) {
    const size = e.large ? 4 << 20 : 4096;
    if (virtual >= e.virtual && virtual < e.virtual + size) return e.physical + (virtual - e.virtual);
  }
  return undefined;
}

/** Where the loader puts a linked (virtual) address: through the ELF's LOAD segments as binutils' readelf lists them. */
export function loadAddress(virtual: number, kernel = KERNEL): number {
  for (const m of execFileSync('readelf', ['-lW', kernel], { encoding: 'latin1' }).matchAll(/^\s*LOAD\s+0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+)/gm)) {
    const [vaddr, paddr, size] = [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    if (virtual >= vaddr && virtual < vaddr + size) return virtual - vaddr + paddr;
  }
  throw new Error(`0x${virtual.toString(16)} is in no LOAD segment of ${kernel}`);
}

/** `count` instructions from `address` as binutils' objdump decodes the kernel file: address and bytes ("0f 22 da"). */
export function objdumpInstructions(address: number, count: number, kernel = KERNEL): { address: number; bytes: string }[] {
  const text = execFileSync('objdump', ['-d', '--insn-width=16', `--start-address=0x${address.toString(16)}`, `--stop-address=0x${(address + count * 16).toString(16)}`, kernel], { encoding: 'latin1' });
  const out: { address: number; bytes: string }[] = [];
  for (const m of text.matchAll(/^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t/gm)) out.push({ address: parseInt(m[1], 16), bytes: m[2].trim() });
  if (out.length < count) throw new Error(`objdump decoded ${out.length} of ${count} instructions at 0x${address.toString(16)}`);
  return out.slice(0, count);
}

/** A symbol's address from binutils' `nm` (not from the adapter's own ELF reader). */
export function nmAddress(name: string, kernel = KERNEL): number {
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(execFileSync('nm', [kernel], { encoding: 'latin1' }));
  if (!m) throw new Error(`nm finds no symbol ${name} in ${kernel}`);
  return parseInt(m[1], 16);
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

/** Where gdb puts `break LOCATION` in the kernel (gdb only reads the ELF, no QEMU). */
export interface GdbBreakpoint {
  address: number;
  /** As gdb prints it (relative to the compilation directory, e.g. mm/chain.c). */
  file: string;
  line: number;
}

/** gdb's placement of `break L` for each location, in order; undefined where gdb places none. */
export async function gdbBreakpoints(locations: string[], kernel = KERNEL): Promise<(GdbBreakpoint | undefined)[]> {
  const args = ['-batch', '-nx', kernel];
  for (const l of locations) args.push('-ex', 'echo @@\\n', '-ex', `break ${l}`);
  const sections = (await runGdb(args)).split('@@\n').slice(1);
  assert.strictEqual(sections.length, locations.length, 'gdb answered every break command');
  return sections.map((section) => {
    const m = /^Breakpoint \d+ at 0x([0-9a-f]+): file (\S+), line (\d+)\.$/m.exec(section);
    return m ? { address: parseInt(m[1], 16), file: m[2], line: Number(m[3]) } : undefined;
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
