// The run-control Target (the runtime): one QEMU guest seen through qemu-bridge. It owns the
// lifecycle (launch or attach, restart, end, detach, the guest going away), runs one operation of
// the stepping engine at a time and reports its stop as a typed event, and answers the session's
// reads of the stopped guest. It knows nothing of DAP: the session translates its events and calls.
// The parts: GuestAccess (registers, memory, stack of the stopped guest), SteppingEngine (continue,
// steps, step out), BreakpointArming (what the gdbstub has armed), BreakpointDecider (conditions,
// hit counts, logpoints), SourceStack (inline-frame expansion and frame ids).

import { EventEmitter } from 'events';
import {
  BreakpointKind, launchQemu, QemuExit, QemuInstance, QemuSession, RspClient,
} from '../../../qemu-bridge/src';
import { DebugSymbols } from '../symbols';
import type { FrameContext, TargetAccess } from '../inspect/target-access';
import type { AddressWidth } from '../../../qemu-bridge/src/address';
import { symbolsAddressWidth } from './cpu-mode';
import { BreakpointArming } from './breakpoint-arming';
import { BreakpointDecider, InternalHitDecider } from './breakpoint-decision';
import { BreakpointTable } from './breakpoint-table';
import { CodeMap } from './code-map';
import { SessionError, TargetGoneError, TargetRunningError } from './errors';
import { physicalEntry } from './boot-entry';
import { GuestAccess } from './guest-access';
import { guestSwapDiskMiB } from './guest-kernel';
import { ValidatedAttach, ValidatedLaunch } from './launch-arguments';
import { GuestThread, TargetEvents, TargetExit, TargetStop } from './run-events';
import { SourceStack, SourceStackFrame } from './source-stack';
import { UnwoundStackFrame } from './stack-unwinder';
import { GuestExited, SteppingEngine } from './stepping-engine';

/** EAX at a multiboot (v1, v2) kernel's entry, set by the loader. */
const MULTIBOOT1_MAGIC = 0x2badb002;
const MULTIBOOT2_MAGIC = 0x36d76289;

export type { GuestThread, StopReason, TargetEvents, TargetExit, TargetStop } from './run-events';

export class Target extends EventEmitter<TargetEvents> implements TargetAccess {
  readonly codeMap: CodeMap;
  readonly table: BreakpointTable;
  private readonly access: GuestAccess;
  private readonly arming: BreakpointArming;
  private readonly engine: SteppingEngine;
  private readonly decider: BreakpointDecider;
  private readonly sourceStack: SourceStack;
  /** Hook (exceptions/): may re-describe a stop before it is reported (e.g. a triple fault). */
  stopDescriber: ((stop: TargetStop) => Promise<TargetStop>) | undefined;
  /** Hook (exceptions/): registers the call stack starts from instead of the live ones (the faulting frame). */
  stackStart: (() => ReadonlyMap<string, number> | undefined) | undefined;
  /** Hook (exceptions/): a sentence when the guest cannot be resumed (after a triple fault). */
  resumeRefusal: (() => string | undefined) | undefined;
  /** The stack unwound from stackStart's registers, for as long as the hook returns the same map. */
  private startStack: { start: ReadonlyMap<string, number>; frames: Promise<UnwoundStackFrame[]> } | undefined;
  private state: 'stopped' | 'running' | 'gone' = 'stopped';
  private op: Promise<void> | undefined;
  private silentStop = false;
  private lastStop: TargetStop | undefined;
  private threadList: GuestThread[] | undefined;
  private ending = false;
  /** Booted through a bootloader (ISO, disk): its own code may run at the kernel's entry address first. */
  private bootloaderFirst = false;
  private exitReported = false;

  /**
   * The guest's registers and memory for the runtime's own parts while a run operation holds the
   * guest stopped at a hit (internal-hit deciders, stop describers), when the state is still
   * "running". User requests go through readMemory/readRegisters, which check the state.
   */
  get guest(): Pick<GuestAccess, 'registers' | 'exactRegisters' | 'readMemory'> {
    return this.access;
  }

  private constructor(
    readonly symbols: DebugSymbols,
    readonly bridge: QemuSession,
    readonly rsp: RspClient,
    /** The QEMU we started (undefined when attached). */
    readonly instance: QemuInstance | undefined,
    private readonly noReboot: boolean,
  ) {
    super();
    this.codeMap = new CodeMap(symbols);
    this.table = new BreakpointTable(symbols, this.codeMap);
    this.access = new GuestAccess(symbols, this.codeMap, rsp, bridge);
    this.arming = new BreakpointArming(rsp, this.table, () => this.access.pagingSeen);
    this.engine = new SteppingEngine(symbols, this.codeMap, this.table, rsp, this.access, this.arming);
    this.decider = new BreakpointDecider(symbols, this.access, (line) => this.emit('console', line), (top) => this.sourceStack.topContext(top));
    this.engine.decide = (hit) => this.decider.decide(hit.breakpoints);
    this.sourceStack = new SourceStack(symbols, this.codeMap);
    rsp.connection.onClose((error) => {
      if (!this.ending) void this.reportGone(error);
    });
    instance?.serial.on('data', (chunk: Buffer) => this.emit('output', chunk.toString('latin1')));
    if (process.env.MMSCOPE_TRACE) traceConnection(rsp, process.env.MMSCOPE_TRACE);
  }

  /**
   * Starts QEMU paused for `config`, with `symbols` already read from its kernel. Throws the
   * bridge's typed errors (QEMU missing, kernel missing, startup failure).
   */
  static async launch(config: ValidatedLaunch, symbols: DebugSymbols): Promise<Target> {
    const instance = await launchQemu({
      boot: config.boot,
      drives: config.drives,
      ...(config.smp !== undefined ? { smp: config.smp } : {}),
      ...(config.cpu !== undefined ? { cpu: config.cpu } : {}),
      display: config.display,
      memoryMiB: config.memoryMiB,
      // Our guest swaps to an IDE disk: the launcher makes one (for our kernel only).
      ...(config.boot.kind === 'kernel' && guestSwapDiskMiB(symbols.elf) ? { swapDiskMiB: guestSwapDiskMiB(symbols.elf) } : {}),
      ...qemuBinaryFor(config.qemuBinary, symbolsAddressWidth(symbols)),
      extraArgs: config.qemuArgs,
    });
    try {
      const bridge = await QemuSession.attachTo(instance);
      if (!bridge.rsp) throw new TargetGoneError('offered no gdbstub');
      const target = new Target(symbols, bridge, bridge.rsp, instance, true);
      target.bootloaderFirst = config.boot.kind !== 'kernel';
      await target.learnThreads();
      return target;
    } catch (e) {
      await instance.shutdown(500);
      throw instance.startupFailure() ?? e;
    }
  }

  /** Attaches to a QEMU the user started; connecting stops the guest (QEMU's rule). */
  static async attach(config: ValidatedAttach, symbols: DebugSymbols): Promise<Target> {
    const bridge = await QemuSession.attach({
      gdb: config.gdb,
      ...(config.qmp ? { qmp: config.qmp } : {}),
      ...(config.ramFile ? { ramFile: config.ramFile } : {}),
    });
    const rsp = bridge.rsp as RspClient;
    if (rsp.running || rsp.connection.lastStop === undefined) {
      // Make sure the guest is stopped before we talk to it.
      await rsp.interrupt(5000).catch(() => undefined);
    }
    const target = new Target(symbols, bridge, rsp, undefined, false);
    await target.learnThreads();
    return target;
  }

  /** Reads the vCPU list once (QEMU's vCPUs do not come and go); with several, reads name their thread. */
  private async learnThreads(): Promise<void> {
    const ids = await this.rsp.threadIds().catch(() => [] as number[]);
    if (ids.length === 0) ids.push(1);
    this.threadList = ids.map((id) => ({ id, name: `CPU ${id - 1}` }));
    this.access.multipleThreads = ids.length > 1;
    const stopped = this.rsp.connection.lastStop;
    const first = stopped && stopped.kind === 'signal' && stopped.thread && ids.includes(stopped.thread.tid) ? stopped.thread.tid : ids[0];
    this.engine.currentThread = first;
    this.access.selectThread(first);
  }

  get launched(): boolean {
    return this.instance !== undefined;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  get isGone(): boolean {
    return this.state === 'gone';
  }

  /** The last stop reported (undefined while running). */
  get stop(): TargetStop | undefined {
    return this.state === 'stopped' ? this.lastStop : undefined;
  }

  /** Lets a session extension decide the hits of its internal breakpoints. */
  addInternalHitDecider(decider: InternalHitDecider): void {
    this.decider.addInternalDecider(decider);
  }

  // ---- breakpoints ----

  /** Arms what the breakpoint table lists (now when stopped, at once by a short interruption when running). */
  async syncBreakpoints(): Promise<void> {
    if (this.state === 'gone') return;
    if (this.state === 'stopped' && !this.op) {
      this.arming.pending = true;
      await this.arming.sync();
    } else {
      this.engine.requestSync();
    }
  }

  /**
   * Runs `task` with the guest stopped, then arms what the table lists: now when stopped; while
   * the guest runs, in the short interruption that re-arms breakpoints (during a step, before the
   * next resume). For work that must read the guest to decide its breakpoints.
   */
  async whenStopped(task: () => Promise<void>): Promise<void> {
    if (this.state === 'gone') return;
    this.arming.whenStopped(task);
    await this.syncBreakpoints();
  }

  // ---- run control ----

  /** After configuration: runs the guest, or runs it to the kernel's first instruction and stops there. */
  start(stopOnEntry: boolean): void {
    // While the guest boots, parse what the first stop needs.
    this.codeMap.warmUp();
    if (!stopOnEntry) {
      this.continue();
      return;
    }
    const entry = physicalEntry(this.symbols.elf);
    this.runOperation(() => this.engine.runToEntry(entry, (pc) => this.atKernelEntry(pc, entry)));
  }

  /**
   * Whether a stop at `entry` is the kernel's start. After a bootloader, only with the multiboot
   * hand-over magic in EAX: GRUB runs its own loaded modules in memory at 1 MiB before it loads
   * the kernel there, so the address alone is reached earlier (measured with our guest's 0x10000c).
   */
  private async atKernelEntry(pc: number, entry: number): Promise<boolean> {
    if (pc !== entry) return false;
    if (!this.bootloaderFirst) return true;
    const eax = (await this.access.register('eax')) >>> 0;
    return eax === MULTIBOOT1_MAGIC || eax === MULTIBOOT2_MAGIC;
  }

  /** Resumes the guest until a breakpoint, a watchpoint, a pause or its exit. */
  continue(): void {
    this.runOperation(() => this.engine.continue());
  }

  /** Stops a running guest; reported as a `pause` stop. */
  pause(): void {
    if (this.state !== 'running') return;
    this.engine.requestPause();
  }

  /**
   * Executes one instruction of vCPU `thread` (default: the one that stopped last; the other vCPUs
   * stay stopped). A `hlt` completes when the next interrupt has been handled.
   */
  stepInstruction(thread?: number): void {
    this.runOperation(() => this.engine.stepInstruction(), this.stepThread(thread));
  }

  /**
   * Steps to the next source line. `over` runs called functions at full speed; `into` enters
   * called functions that have line information and stops after their prologue.
   */
  stepLine(mode: 'over' | 'into', thread?: number): void {
    this.runOperation(() => this.engine.stepLine(mode), this.stepThread(thread));
  }

  /** Runs until the current function of vCPU `thread` returns to its caller frame. */
  stepOut(thread?: number): void {
    this.runOperation(() => this.engine.stepOut(), this.stepThread(thread));
  }

  /** The vCPU a step operation steps: the one asked for, else the one that stopped last. */
  private stepThread(thread: number | undefined): number {
    if (thread === undefined) return this.engine.currentThread;
    this.requireThread(thread);
    return thread;
  }

  private requireThread(thread: number): void {
    if (!this.threadList?.some((t) => t.id === thread)) {
      throw new SessionError('NO_THREAD', `The guest has no thread ${thread}; its threads are its vCPUs ${this.threadList?.map((t) => t.id).join(', ') ?? '1'}.`);
    }
  }

  /** Runs `body` as the one run operation (a step operation names the vCPU it steps); reports its stop, or the guest's exit. */
  private runOperation(body: () => Promise<TargetStop>, stepThread?: number): void {
    if (this.state === 'gone') throw new TargetGoneError('has already exited');
    if (this.state === 'running' || this.op) throw new TargetRunningError('resume');
    const refusal = this.resumeRefusal?.();
    if (refusal) throw new SessionError('CANNOT_RESUME', refusal);
    this.state = 'running';
    this.startStack = undefined;
    this.engine.beginOperation(stepThread);
    this.sourceStack.clear();
    // eslint-disable-next-line prefer-const
    let op: Promise<void> | undefined = undefined;
    op = (async () => {
      let stop: TargetStop;
      try {
        stop = await body();
        if (this.stopDescriber) stop = await this.stopDescriber(stop);
      } catch (e) {
        if (this.op === op) this.op = undefined;
        if (!this.ending) await this.reportGone(e);
        return;
      }
      if (this.op === op) this.op = undefined;
      this.state = 'stopped';
      this.lastStop = stop;
      if (this.silentStop) this.silentStop = false;
      else this.emit('stopped', stop);
    })();
    this.op = op;
  }

  /** Stops a running operation without reporting the stop (before restart, detach, terminate). */
  private async haltQuietly(): Promise<void> {
    if (this.op) {
      this.silentStop = true;
      this.pause();
      await this.op;
      this.silentStop = false;
    }
  }

  // ---- lifecycle ----

  /**
   * Resets the guest through QMP (`system_reset`), re-arms breakpoints and starts it again. With
   * -no-reboot a reset would end QEMU, and the firmware resets the machine once more on a warm
   * boot, so resets stay resets until the kernel's first instruction.
   */
  async restart(stopOnEntry: boolean): Promise<void> {
    const qmp = this.bridge.qmp;
    if (!qmp) throw new SessionError('NO_QMP', 'Restart needs QMP; add "qmp": "host:port" to the attach configuration (QEMU -qmp tcp:127.0.0.1:PORT,server=on,wait=off).');
    await this.haltQuietly();
    const restoreAction = async (): Promise<void> => {
      if (this.noReboot) await qmp.execute('set-action', { reboot: 'shutdown' }).catch(() => undefined);
    };
    if (this.noReboot) await qmp.execute('set-action', { reboot: 'reset' });
    try {
      await qmp.systemReset();
    } catch (e) {
      await restoreAction();
      throw e;
    }
    this.access.resetPaging();
    this.access.dropStopCaches();
    this.emit('reset');
    this.arming.pending = true;
    await this.arming.sync();
    const entry = physicalEntry(this.symbols.elf);
    this.runOperation(() => this.engine.runFromReset(entry, stopOnEntry, restoreAction, (pc) => this.atKernelEntry(pc, entry)));
  }

  /**
   * Ends the session. A QEMU we launched is shut down; an attached one is detached and left
   * running (`D;1`), with our breakpoints removed. Safe to call twice.
   */
  async end(options: { terminateDebuggee: boolean }): Promise<void> {
    if (this.ending) return;
    const gone = this.state === 'gone';
    if (!gone) await this.haltQuietly().catch(() => undefined);
    this.ending = true;
    if (this.instance && (options.terminateDebuggee || !gone)) {
      if (options.terminateDebuggee) {
        await this.bridge.qmp?.quit().catch(() => undefined);
        const timer = setTimeout(() => this.instance?.kill('SIGKILL'), 2000);
        await Promise.race([this.instance.exited, new Promise((r) => setTimeout(r, 2500))]);
        clearTimeout(timer);
        await this.instance.shutdown(500);
      }
    }
    if (!this.instance && !gone && !options.terminateDebuggee) await this.detach();
    else if (!this.instance && !gone && options.terminateDebuggee) {
      await this.bridge.qmp?.quit().catch(() => undefined);
    }
    this.state = 'gone';
    await this.bridge.detach().catch(() => undefined);
    if (this.instance && options.terminateDebuggee) await this.instance.shutdown(500);
  }

  private async detach(): Promise<void> {
    if (this.rsp.connection.closed) return;
    try {
      await this.arming.removeAll();
    } finally {
      // Also removes what the client armed, leaves physical mode and sends `D;1`.
      await this.rsp.detach();
    }
  }

  private async reportGone(error: unknown): Promise<void> {
    if (this.exitReported) return;
    this.exitReported = true;
    this.state = 'gone';
    let exit: TargetExit;
    const qemuExit = this.instance ? await Promise.race([this.instance.exited, delay(2000).then(() => undefined)]) : undefined;
    if (qemuExit && qemuExit.signal === null && qemuExit.code !== null) {
      exit = { exitCode: qemuExit.code, message: `The guest exited and QEMU ended with status ${qemuExit.code}.`, unexpected: false };
    } else if (error instanceof GuestExited && !this.instance) {
      exit = { exitCode: error.code, message: `The guest exited with status ${error.code}.`, unexpected: false };
    } else {
      exit = { message: describeLoss(qemuExit, error, this.instance?.stderrText ?? ''), unexpected: true };
    }
    if (this.instance && this.instance.alive) await this.instance.shutdown(500);
    await this.bridge.detach().catch(() => undefined);
    this.emit('exited', exit);
  }

  // ---- threads, stack ----

  /** One thread per virtual CPU (from the gdbstub's thread list, read when the session began). */
  async threads(): Promise<GuestThread[]> {
    return this.threadList ?? [{ id: 1, name: 'CPU 0' }];
  }

  /** The vCPU whose registers and address space the views and the inspector show (the last stop's, until selected otherwise). */
  get selectedThread(): number {
    return this.access.selectedThread;
  }

  /**
   * Shows vCPU `thread`: later register and memory reads (the inspector, the memory views) use its
   * registers and its CR3. Emits `threadSelected` when the selection changes.
   */
  selectThread(thread: number): void {
    this.requireStopped('select a thread');
    this.requireThread(thread);
    if (this.access.selectedThread === thread) return;
    this.access.selectThread(thread);
    this.emit('threadSelected', thread);
  }

  /** Machine frames of vCPU `thread` (default: the selected one), innermost first (cached until the guest runs). */
  stackTrace(maxFrames = 64, thread?: number): Promise<UnwoundStackFrame[]> {
    this.requireStopped('read the stack');
    if (thread !== undefined) this.requireThread(thread);
    // An exception stop shows the faulting frame on top of the stack of the vCPU that faulted.
    const shown = thread ?? this.access.selectedThread;
    const start = shown === this.engine.currentThread ? this.stackStart?.() : undefined;
    if (start) {
      if (this.startStack?.start !== start) this.startStack = { start, frames: this.access.unwindFrom(start, Math.max(maxFrames, 64), shown) };
      return this.startStack.frames.then((f) => f.slice(0, maxFrames));
    }
    return this.access.stackTrace(maxFrames, thread);
  }

  /** The source-level stack of vCPU `thread` (inlined calls expanded), with ids valid until the guest resumes. */
  async sourceFrames(maxFrames = 64, thread = this.access.selectedThread): Promise<SourceStackFrame[]> {
    const machine = await this.stackTrace(maxFrames, thread);
    return this.sourceStack.expand(machine, thread, machine[0] ? this.engine.hiddenInlineFrames(thread, machine[0].pc) : undefined);
  }

  /**
   * The frame named by an id from sourceFrames(); throws for an id of an earlier stop. Asking for
   * a frame of another vCPU selects that vCPU (the user looks at it now).
   */
  frameContext(frameId: number): FrameContext {
    const { context, thread } = this.sourceStack.context(frameId);
    this.selectThread(thread);
    return context;
  }

  /** The innermost frame of the stopped guest as the inspector sees it. */
  async topFrameContext(): Promise<FrameContext> {
    const thread = this.access.selectedThread;
    const [top, ...callers] = await this.stackTrace(4, thread);
    // The same frame 0 as the call stack shows (after a `step` into a hidden inlined call, that call).
    return this.sourceStack.topContext(top, callers, top ? this.engine.hiddenInlineFrames(thread, top.pc) : undefined);
  }

  /**
   * Throws unless a user's request may read or write the guest now: stopped, no operation under
   * way (the engine's steps stop the guest briefly; those stops are not the user's), not gone.
   */
  private requireStopped(what: string): void {
    if (this.state === 'gone') throw new TargetGoneError('has exited');
    if (this.state === 'running' || this.op || this.rsp.running) throw new TargetRunningError(what);
  }

  // ---- TargetAccess: memory and registers of the stopped guest (virtual addresses) ----

  async readMemory(address: number, length: number): Promise<Buffer> {
    this.requireStopped('read memory');
    return this.access.readMemory(address, length);
  }

  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    this.requireStopped('write memory');
    await this.access.writeMemory(address, data);
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    this.requireStopped('read registers');
    return this.access.registers();
  }

  async writeRegister(name: string, value: number | bigint): Promise<void> {
    this.requireStopped('write registers');
    await this.access.writeRegister(name, value);
  }

  /** The registers of vCPU `thread` (default: the selected one) with their exact values, read once per stop. */
  async readExactRegisters(thread?: number): Promise<ReadonlyMap<string, bigint>> {
    this.requireStopped('read registers');
    if (thread !== undefined) this.requireThread(thread);
    return this.access.exactRegisters(thread);
  }

  get addressWidth(): AddressWidth {
    return this.access.addressWidth;
  }

  async codeBitness(): Promise<16 | 32 | 64> {
    return (await this.access.registerSet()).bitness;
  }
}

/**
 * The QEMU binary for a kernel of `width`-bit addresses: an x86-64 kernel runs on
 * qemu-system-x86_64 unless the user names another QEMU; a qemu-system-i386 named for it (the
 * extension's default setting) becomes qemu-system-x86_64 in the same place, since an i386 CPU
 * cannot enter long mode.
 */
export function qemuBinaryFor(named: string | undefined, width: AddressWidth): { qemuBinary?: string } {
  if (width !== 64) return named ? { qemuBinary: named } : {};
  if (!named) return { qemuBinary: process.env.MMSCOPE_QEMU_X86_64 ?? 'qemu-system-x86_64' };
  const i386 = /(^|[\\/])qemu-system-i386(\.exe)?$/.exec(named);
  return { qemuBinary: i386 ? named.slice(0, named.length - i386[0].length + i386[1].length) + 'qemu-system-x86_64' + (i386[2] ?? '') : named };
}

/** Appends every gdbstub packet and stop to `file` (MMSCOPE_TRACE=file, for debugging the adapter). */
function traceConnection(rsp: RspClient, file: string): void {
  const fs = require('fs') as typeof import('fs');
  const t0 = Date.now();
  const log = (text: string): void => fs.appendFileSync(file, `${Date.now() - t0} ${text}\n`);
  const conn = rsp.connection;
  const request = conn.request.bind(conn);
  conn.request = (payload: string, expectStop?: boolean) => {
    log(`-> ${payload.slice(0, 60)}`);
    return request(payload, expectStop).then((r) => (log(`<- ${r.slice(0, 60)}`), r));
  };
  const resume = conn.resume.bind(conn);
  conn.resume = (payload: string) => (log(`-> resume ${payload}`), resume(payload));
  const interrupt = conn.interrupt.bind(conn);
  conn.interrupt = () => (log('-> 0x03'), interrupt());
  conn.onStop((s) => log(`<- stop ${JSON.stringify(s).slice(0, 80)}`));
  conn.onClose((e) => log(`closed ${e.message}`));
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function describeLoss(exit: QemuExit | undefined, error: unknown, stderr: string): string {
  const said = stderr.trim() ? ` (QEMU said: ${stderr.trim().split(/\r?\n/).slice(-2).join(' / ')})` : '';
  if (exit?.signal) return `QEMU was killed by ${exit.signal}${said}, so the debug session ended; start it again.`;
  if (exit && exit.code !== null) return `QEMU exited with status ${exit.code}${said}, so the debug session ended; start it again.`;
  const detail = error instanceof Error ? error.message : String(error);
  return `The connection to QEMU was lost (${detail.replace(/\.$/, '')}), so the debug session ended; check that QEMU is still running and attach again.`;
}

export type { BreakpointKind };
