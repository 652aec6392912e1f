// The run-control Target: one QEMU guest seen through qemu-bridge (the gdbstub connection it
// owns, QMP, guest memory). It starts or attaches, arms breakpoints, continues, pauses, steps by
// instruction and by source line (calls are stepped over with a breakpoint at the return
// address), unwinds stacks, and reports what happened as typed events. It knows nothing of DAP:
// the session translates its events and calls.

import { EventEmitter } from 'events';
import {
  BreakpointKind, BridgeError, launchQemu, QemuExit, QemuInstance, QemuSession, RspClient,
  StopReply,
} from '../../../qemu-bridge/src';
import { DebugSymbols, FunctionInfo } from '../symbols';
import { TargetAccess } from '../inspect/target-access';
import { ArmSpec, BreakpointTable, UserBreakpoint } from './breakpoint-table';
import { CodeMap } from './code-map';
import { SessionError, TargetGoneError, TargetRunningError } from './errors';
import { physicalEntry } from './boot-entry';
import { classifyInstruction, ClassifiedInstruction } from './instruction-kind';
import { ValidatedAttach, ValidatedLaunch } from './launch-arguments';
import { unwindStack, UnwoundStackFrame } from './stack-unwinder';

export type StopReason = 'entry' | 'breakpoint' | 'data breakpoint' | 'step' | 'pause' | 'exception';

/** Why and where the guest stopped. */
export interface TargetStop {
  reason: StopReason;
  threadId: number;
  pc: number;
  /** The user breakpoints that caused the stop (for breakpoint and data breakpoint stops). */
  breakpoints: UserBreakpoint[];
  /** A short text for the UI (the watched address, the signal). */
  description?: string;
}

/** How the session with QEMU ended. */
export interface TargetExit {
  /** QEMU's exit status when it exited by itself. */
  exitCode?: number;
  /** One sentence for the user. */
  message: string;
  /** True when QEMU died or the connection broke (as opposed to the guest exiting). */
  unexpected: boolean;
}

export interface GuestThread {
  id: number;
  name: string;
}

/**
 * Decides whether a breakpoint hit becomes a stop (conditions, hit counts, logpoints). Called with
 * the guest stopped at the hit; returning false resumes it.
 */
export type BreakpointFilter = (hit: { pc: number; breakpoints: UserBreakpoint[] }) => Promise<boolean>;

export interface TargetEvents {
  stopped: [TargetStop];
  output: [string];
  exited: [TargetExit];
}

/** Waiting for the guest forever: setTimeout's largest delay. */
const FOREVER = 0x7fffffff;
/** Upper bound on single steps in one source-line step. */
const MAX_LINE_STEPS = 20000;
/** Single steps in one line before switching to running to the line's exits. */
const RANGE_STEP_AFTER = 12;
const CR0_PG = 0x80000000;
/** EAX at a multiboot (v1, v2) kernel's entry, set by the loader. */
const MULTIBOOT1_MAGIC = 0x2badb002;
const MULTIBOOT2_MAGIC = 0x36d76289;

type Arrival = { kind: 'arrived' } | { kind: 'stop'; stop: TargetStop };

/** A synthetic reply for a pause noticed between two resumes. */
const PAUSED: StopReply = { kind: 'signal', signal: 2, registers: new Map(), extra: new Map() };

export class Target extends EventEmitter<TargetEvents> implements TargetAccess {
  readonly codeMap: CodeMap;
  readonly table: BreakpointTable;
  /** Set by the session: conditions, hit counts and logpoints. */
  breakpointFilter: BreakpointFilter | undefined;
  private state: 'stopped' | 'running' | 'gone' = 'stopped';
  private op: Promise<void> | undefined;
  private pauseRequested = false;
  private silentStop = false;
  private interruptedForSync = false;
  private waitingLong = false;
  private syncPending = false;
  private readonly armed = new Map<string, ArmSpec>();
  private readonly temporary = new Map<number, number>();
  private pagingSeen = false;
  private lastStop: TargetStop | undefined;
  private registerCache: Map<string, number> | undefined;
  private stackCache: Promise<UnwoundStackFrame[]> | undefined;
  private readonly memoryCache = new Map<number, Buffer>();
  private threadList: GuestThread[] | undefined;
  private currentThread = 1;
  private ending = false;
  private exitReported = false;
  /** Booted through a bootloader (ISO, disk): its own code may run at the kernel's entry address first. */
  private bootloaderFirst = false;

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
      ...(config.qemuBinary ? { qemuBinary: config.qemuBinary } : {}),
      extraArgs: config.qemuArgs,
    });
    try {
      const bridge = await QemuSession.attachTo(instance);
      if (!bridge.rsp) throw new TargetGoneError('offered no gdbstub');
      const target = new Target(symbols, bridge, bridge.rsp, instance, true);
      target.bootloaderFirst = config.boot.kind !== 'kernel';
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
    return new Target(symbols, bridge, rsp, undefined, false);
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

  // ---- breakpoints ----

  /** Arms what the breakpoint table lists (now when stopped, at once by a short interruption when running). */
  async syncBreakpoints(): Promise<void> {
    this.syncPending = true;
    if (this.state === 'gone') return;
    if (this.state === 'stopped' && !this.op) {
      await this.applyPendingSync();
    } else if (this.waitingLong && this.rsp.running && !this.interruptedForSync) {
      this.interruptedForSync = true;
      this.rsp.connection.interrupt();
    }
  }

  private async applyPendingSync(): Promise<void> {
    if (!this.syncPending) return;
    this.syncPending = false;
    const desired = new Map<string, ArmSpec>();
    for (const spec of this.table.armSpecs()) {
      if (spec.prePaging && this.pagingSeen) continue;
      desired.set(specKey(spec), spec);
    }
    for (const address of this.temporary.keys()) {
      const spec: ArmSpec = { kind: 'software', address, length: 1, prePaging: false };
      desired.set(specKey(spec), spec);
    }
    for (const [key, spec] of [...this.armed]) {
      if (desired.has(key)) continue;
      await this.rsp.removeBreakpoint(spec.kind, spec.address, spec.length);
      this.armed.delete(key);
    }
    for (const [key, spec] of desired) {
      if (this.armed.has(key)) continue;
      await this.rsp.insertBreakpoint(spec.kind, spec.address, spec.length);
      this.armed.set(key, spec);
    }
  }

  private async addTemporary(address: number): Promise<void> {
    this.temporary.set(address, (this.temporary.get(address) ?? 0) + 1);
    this.syncPending = true;
    await this.applyPendingSync();
  }

  private async removeTemporary(address: number): Promise<void> {
    const n = (this.temporary.get(address) ?? 0) - 1;
    if (n > 0) this.temporary.set(address, n);
    else this.temporary.delete(address);
    this.syncPending = true;
    if (!this.rsp.connection.closed) await this.applyPendingSync();
  }

  private armedCodeAt(address: number): ArmSpec[] {
    return [...this.armed.values()].filter((s) => (s.kind === 'software' || s.kind === 'hardware') && s.address === address);
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
    this.runOperation(async () => {
      const arrival = await this.runUntil([entry], (pc) => this.atKernelEntry(pc, entry));
      if (arrival.kind === 'stop') return arrival.stop;
      return this.makeStop('entry', await this.pc());
    });
  }

  /**
   * Whether a stop at `entry` is the kernel's start. After a bootloader, only with the multiboot
   * hand-over magic in EAX: GRUB runs its own loaded modules in memory at 1 MiB before it loads
   * the kernel there, so the address alone is reached earlier (measured with our guest's 0x10000c).
   */
  private async atKernelEntry(pc: number, entry: number): Promise<boolean> {
    if (pc !== entry) return false;
    if (!this.bootloaderFirst) return true;
    const eax = Number(await this.rsp.readRegister('eax')) >>> 0;
    return eax === MULTIBOOT1_MAGIC || eax === MULTIBOOT2_MAGIC;
  }

  /** Resumes the guest until a breakpoint, a watchpoint, a pause or its exit. */
  continue(): void {
    this.runOperation(async () => {
      const arrival = await this.runUntil([], () => false);
      if (arrival.kind === 'stop') return arrival.stop;
      throw new SessionError('INTERNAL', 'the guest stopped for no reason');
    });
  }

  /** Stops a running guest; reported as a `pause` stop. */
  pause(): void {
    if (this.state !== 'running') return;
    this.pauseRequested = true;
    if (this.rsp.running && !this.rsp.connection.closed) this.rsp.connection.interrupt();
  }

  /** Executes one instruction (a `hlt` completes when the next interrupt has been handled). */
  stepInstruction(): void {
    this.runOperation(async () => {
      const pc = await this.pc();
      const insn = await this.instructionAt(pc);
      if (insn.kind === 'halt') {
        const arrival = await this.runToReturn(pc + insn.length, await this.register('esp'));
        return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.pc());
      }
      const reply = await this.resumeAndWait('s');
      if (isPlainStep(reply)) return this.makeStop('step', await this.pc());
      return this.settle(reply);
    });
  }

  /**
   * Steps to the next source line. `over` runs called functions at full speed (a breakpoint at the
   * return address); `into` enters called functions that have line information and stops after
   * their prologue. Without line information at the pc this is one instruction step.
   */
  stepLine(mode: 'over' | 'into'): void {
    this.runOperation(async () => {
      let pc = await this.pc();
      let sym = this.codeMap.symbolAddress(pc, this.pagingOn());
      if (!this.codeMap.hasLineInfo(sym)) {
        const reply = await this.resumeAndWait('s');
        return isPlainStep(reply) ? this.makeStop('step', await this.pc()) : this.settle(reply);
      }
      const startFunction = this.symbols.functionAt(sym);
      const startFrames = this.codeMap.sourceFrames(sym, true);
      const startDepth = startFrames.length;
      const startLine = startFrames[0];
      const startCfa = await this.frameCfa();
      /** True while `address` still belongs to the line being stepped (with its inlined code when stepping over). */
      const inLine = (address: number): boolean => {
        if (this.symbols.functionAt(address) !== startFunction) return false;
        const frames = this.codeMap.sourceFrames(address, true);
        if (frames.length < startDepth || (mode === 'into' && frames.length !== startDepth)) return false;
        const here = frames[frames.length - startDepth];
        return here !== undefined && startLine !== undefined && here.line === startLine.line && here.file === startLine.file;
      };
      let singleSteps = 0;
      for (let n = 0; n < MAX_LINE_STEPS; n++) {
        if (singleSteps >= RANGE_STEP_AFTER && startCfa !== undefined && this.pagingOn()) {
          // A long line or a loop on one line: run to the line's exits instead of stepping each instruction.
          singleSteps = 0;
          const arrival = await this.runToLineExit(inLine, startFunction, startCfa);
          if (arrival?.kind === 'stop') return arrival.stop;
        } else {
          const insn = await this.instructionAt(pc);
          const sp = await this.register('esp');
          if ((insn.kind === 'call' && mode === 'over') || insn.kind === 'interrupt' || insn.kind === 'halt') {
            const arrival = await this.runToReturn(pc + insn.length, sp);
            if (arrival.kind === 'stop') return arrival.stop;
          } else {
            singleSteps++;
            const reply = await this.resumeAndWait('s');
            if (!isPlainStep(reply)) return this.settle(reply);
            if (insn.kind === 'call') {
              // Stepped into a call: stop after the callee's prologue if it has lines, else run back out.
              const calleePc = await this.pc();
              const calleeSym = this.codeMap.symbolAddress(calleePc, this.pagingOn());
              const callee = this.symbols.functionAt(calleeSym);
              if (callee && this.codeMap.hasLineInfo(calleeSym)) {
                const body = this.codeMap.afterPrologue(callee);
                const target = (calleePc + (body - calleeSym)) >>> 0;
                // Single steps through the prologue (interrupts stay masked, so no other task runs).
                for (let i = 0; i < 64 && (await this.pc()) !== target; i++) {
                  const r = await this.resumeAndWait('s');
                  if (!isPlainStep(r)) return this.settle(r);
                }
                if ((await this.pc()) !== target) {
                  const arrival = await this.runUntil([target], (p) => p === target);
                  if (arrival.kind === 'stop') return arrival.stop;
                }
                return this.makeStop('step', await this.pc());
              }
              const arrival = await this.runToReturn(pc + insn.length, sp);
              if (arrival.kind === 'stop') return arrival.stop;
            }
          }
        }
        pc = await this.pc();
        sym = this.codeMap.symbolAddress(pc, this.pagingOn());
        // Returned to the caller: stop there, in the middle of its line, as gdb does.
        if (startCfa !== undefined && (await this.register('esp')) >= startCfa) return this.makeStop('step', pc);
        if (this.symbols.functionAt(sym) !== startFunction || !this.codeMap.hasLineInfo(sym)) return this.makeStop('step', pc);
        if (inLine(sym)) continue;
        if (this.codeMap.isStatementStart(sym)) return this.makeStop('step', pc);
        // In the middle of another line (a jump back into a loop): go on to the start of a line.
      }
      return this.makeStop('step', pc);
    });
  }

  /**
   * Runs to the first address outside the current line (as `inLine` says), with temporary
   * breakpoints on every exit of the line's code in `fn`: branch targets and fall-throughs that
   * leave it, and the return address when the line returns. An exit counts only in this frame
   * (same CFA), so another task running the same code does not end the step. Returns undefined
   * when the line's code has an indirect jump (then single steps go on).
   */
  private async runToLineExit(inLine: (address: number) => boolean, fn: FunctionInfo | undefined, cfa: number): Promise<Arrival | undefined> {
    if (!fn) return undefined;
    const exits = new Set<number>();
    let returns = false;
    for (const range of fn.ranges) {
      const code = this.codeMap.codeBytes(range.start, range.end - range.start);
      if (!code) return undefined;
      for (let offset = 0; offset < code.length;) {
        const address = range.start + offset;
        const insn = classifyInstruction(code.subarray(offset, offset + 16), address);
        offset += insn.length;
        if (!inLine(address)) continue;
        const next = address + insn.length;
        switch (insn.kind) {
          case 'indirect':
          case 'invalid':
            return undefined;
          case 'return':
            returns = true;
            break;
          case 'jump':
            if (insn.target !== undefined && !inLine(insn.target)) exits.add(insn.target);
            break;
          case 'conditional':
            if (insn.target !== undefined && !inLine(insn.target)) exits.add(insn.target);
            if (!inLine(next)) exits.add(next);
            break;
          default:
            if (!inLine(next)) exits.add(next);
        }
      }
    }
    let returnAddress: number | undefined;
    if (returns) {
      const frames = await this.stackTrace(2);
      returnAddress = frames[1]?.pc;
      if (returnAddress === undefined) return undefined;
      exits.add(returnAddress);
    }
    if (exits.size === 0) return undefined;
    return this.runUntil([...exits], async (pc) => {
      if (pc === returnAddress && (await this.register('esp')) >= cfa) return true;
      return (await this.frameCfa()) === cfa;
    });
  }

  /** The canonical frame address of frame 0 (one unwinding step), or undefined. */
  private async frameCfa(): Promise<number | undefined> {
    const frames = await unwindStack(this.symbols, this.codeMap, await this.registers(), this, { pagingOn: this.pagingOn(), maxFrames: 1 });
    return frames[0]?.cfa;
  }

  /** Runs until the current function returns to its caller (same or outer stack frame). */
  stepOut(): void {
    this.runOperation(async () => {
      const frames = await this.stackTrace(2);
      if (frames.length < 2) {
        const reply = await this.resumeAndWait('s');
        return isPlainStep(reply) ? this.makeStop('step', await this.pc()) : this.settle(reply);
      }
      const caller = frames[1];
      const callerSp = caller.registers.get('esp') ?? 0;
      const arrival = await this.runUntil([caller.pc], async (pc) => pc === caller.pc && (await this.register('esp')) >= callerSp);
      return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.pc());
    });
  }

  /** Runs to `returnAddress` with the stack back at `sp` or above (so recursion does not stop early). */
  private async runToReturn(returnAddress: number, sp: number): Promise<Arrival> {
    return this.runUntil([returnAddress >>> 0], async (pc) => pc === returnAddress >>> 0 && (await this.register('esp')) >= sp);
  }

  /**
   * Continues with temporary breakpoints at `addresses` until `arrived(pc)` holds at a stop, or a
   * user breakpoint, watchpoint, pause or exit becomes a stop to report. Breakpoints whose filter
   * says "go on" are resumed silently.
   */
  private async runUntil(addresses: readonly number[], arrived: (pc: number) => boolean | Promise<boolean>): Promise<Arrival> {
    for (const a of addresses) await this.addTemporary(a);
    try {
      for (;;) {
        const reply = await this.resumeAndWait('c');
        if (reply.kind === 'signal' && reply.signal === 5 && !reply.watch) {
          const pc = await this.pc();
          const user = this.userBreakpointsAt(pc);
          if (user.length && (await this.filterAllows(pc, user))) return { kind: 'stop', stop: this.makeStop('breakpoint', pc, user) };
          if (addresses.includes(pc) && (await arrived(pc))) return { kind: 'arrived' };
          continue;
        }
        if (reply.kind === 'signal' && reply.watch) {
          const pc = await this.pc();
          const user = this.table.dataBreakpointsAt(reply.watch.address);
          if (user.length && !(await this.filterAllows(pc, user))) continue;
          return { kind: 'stop', stop: this.makeStop('data breakpoint', pc, user, `${reply.watch.kind} of 0x${reply.watch.address.toString(16)}`) };
        }
        return { kind: 'stop', stop: await this.settle(reply) };
      }
    } finally {
      for (const a of addresses) await this.removeTemporary(a).catch(() => undefined);
    }
  }

  private userBreakpointsAt(pc: number): UserBreakpoint[] {
    return this.table.codeBreakpointsAt(pc, this.pagingOn());
  }

  private async filterAllows(pc: number, breakpoints: UserBreakpoint[]): Promise<boolean> {
    if (!this.breakpointFilter) return true;
    return this.breakpointFilter({ pc, breakpoints });
  }

  /** Turns a reply that is not a plain step or an expected arrival into the stop to report. */
  private async settle(reply: StopReply): Promise<TargetStop> {
    if (reply.kind !== 'signal') throw new GuestExited(reply.code);
    const pc = await this.pc();
    if (reply.watch) return this.makeStop('data breakpoint', pc, this.table.dataBreakpointsAt(reply.watch.address));
    if (reply.signal === 2) return this.makeStop('pause', pc);
    const user = this.userBreakpointsAt(pc);
    if (user.length) return this.makeStop('breakpoint', pc, user);
    return this.makeStop(reply.signal === 5 ? 'pause' : 'exception', pc, [], reply.signal === 5 ? undefined : `signal ${reply.signal}`);
  }

  private makeStop(reason: StopReason, pc: number, breakpoints: UserBreakpoint[] = [], description?: string): TargetStop {
    return { reason, pc, threadId: this.currentThread, breakpoints, ...(description ? { description } : {}) };
  }

  /**
   * Resumes with `c` or `s` and waits for the stop. A breakpoint at the current pc is lifted for
   * one step first (QEMU would report it again without executing the instruction). Stops we
   * caused to re-arm breakpoints are resumed silently; a pause asked for meanwhile is returned.
   */
  private async resumeAndWait(command: 'c' | 's'): Promise<StopReply> {
    if (this.pauseRequested) return PAUSED;
    await this.applyPendingSync();
    const pc = await this.pc();
    const lifted = this.armedCodeAt(pc);
    if (lifted.length) {
      for (const s of lifted) await this.rsp.removeBreakpoint(s.kind, s.address, s.length);
      let reply: StopReply;
      try {
        reply = await this.rawResume('s');
      } finally {
        if (!this.rsp.connection.closed) for (const s of lifted) await this.rsp.insertBreakpoint(s.kind, s.address, s.length);
      }
      if (command === 's' || !isPlainStep(reply)) return reply;
      if (this.pauseRequested) return PAUSED;
    }
    return this.rawResume(command);
  }

  private async rawResume(command: 'c' | 's'): Promise<StopReply> {
    for (;;) {
      this.dropStopCaches();
      const stopped = this.rsp.connection.waitForStop(FOREVER);
      this.waitingLong = command === 'c';
      try {
        await this.rsp.connection.resume(command);
      } catch (e) {
        stopped.catch(() => undefined);
        this.waitingLong = false;
        throw e;
      }
      let reply: StopReply;
      try {
        reply = await stopped;
      } finally {
        this.waitingLong = false;
      }
      if (reply.kind === 'signal' && reply.thread && reply.thread.tid > 0) this.currentThread = reply.thread.tid;
      if (reply.kind === 'signal' && reply.signal === 2 && this.interruptedForSync && !this.pauseRequested) {
        this.interruptedForSync = false;
        await this.applyPendingSync();
        continue;
      }
      this.interruptedForSync = false;
      if (reply.kind === 'signal') await this.noteStop();
      return reply;
    }
  }

  /** At every stop: notices paging turning on, which retires the pre-paging breakpoint twins. */
  private async noteStop(): Promise<void> {
    if (this.pagingSeen) return;
    const cr0 = (await this.registers()).get('cr0') ?? 0;
    if ((cr0 & CR0_PG) !== 0) {
      this.pagingSeen = true;
      this.syncPending = true;
    }
  }

  private pagingOn(): boolean {
    const cr0 = this.registerCache?.get('cr0');
    return cr0 === undefined ? this.pagingSeen : (cr0 & CR0_PG) !== 0;
  }

  /** Runs `body` as the one run operation; reports its stop, or the guest's exit. */
  private runOperation(body: () => Promise<TargetStop>): void {
    if (this.state === 'gone') throw new TargetGoneError('has already exited');
    if (this.state === 'running' || this.op) throw new TargetRunningError('resume');
    this.state = 'running';
    this.pauseRequested = false;
    this.dropStopCaches();
    // eslint-disable-next-line prefer-const
    let op: Promise<void> | undefined = undefined;
    op = (async () => {
      let stop: TargetStop;
      try {
        stop = await body();
      } catch (e) {
        if (this.op === op) this.op = undefined;
        if (!this.ending) await this.reportGone(e);
        return;
      }
      if (this.op === op) this.op = undefined;
      this.pauseRequested = false;
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
    this.pagingSeen = false;
    this.dropStopCaches();
    this.syncPending = true;
    await this.applyPendingSync();
    const entry = physicalEntry(this.symbols.elf);
    this.runOperation(async () => {
      const arrival = await this.runUntil([entry], (pc) => this.atKernelEntry(pc, entry));
      await restoreAction();
      if (arrival.kind === 'stop') return arrival.stop;
      if (stopOnEntry) return this.makeStop('entry', await this.pc());
      const next = await this.runUntil([], () => false);
      if (next.kind === 'stop') return next.stop;
      throw new SessionError('INTERNAL', 'the guest stopped for no reason');
    });
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
    const conn = this.rsp.connection;
    if (conn.closed) return;
    try {
      for (const spec of [...this.armed.values()]) await this.rsp.removeBreakpoint(spec.kind, spec.address, spec.length);
      this.armed.clear();
      this.temporary.clear();
      await this.rsp.setPhysicalMemoryMode(false);
      // Plain `D` is refused once multiprocess is negotiated; name the process.
      const pid = this.rsp.features.get('multiprocess') === true ? ';1' : '';
      await conn.request(`D${pid}`);
    } finally {
      conn.close();
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

  // ---- threads, registers, stack ----

  /** One thread per virtual CPU (from the gdbstub's thread list). */
  async threads(): Promise<GuestThread[]> {
    if (this.threadList) return this.threadList;
    if (this.state !== 'stopped' || this.op) return [{ id: this.currentThread, name: `CPU ${this.currentThread - 1}` }];
    const ids: number[] = [];
    let reply = await this.rsp.connection.request('qfThreadInfo');
    for (let i = 0; i < 256 && reply.startsWith('m'); i++) {
      for (const item of reply.slice(1).split(',')) {
        const m = /^(?:p[0-9a-fA-F]+\.)?([0-9a-fA-F]+)$/.exec(item);
        if (m) ids.push(parseInt(m[1], 16));
      }
      reply = await this.rsp.connection.request('qsThreadInfo');
    }
    if (ids.length === 0) ids.push(1);
    this.threadList = ids.map((id) => ({ id, name: `CPU ${id - 1}` }));
    return this.threadList;
  }

  /** Frames of the stopped guest, innermost first (cached until the guest runs). */
  stackTrace(maxFrames = 64): Promise<UnwoundStackFrame[]> {
    this.requireStopped('read the stack');
    if (!this.stackCache || maxFrames > 64) {
      const frames = (async () => unwindStack(this.symbols, this.codeMap, await this.registers(), this, { pagingOn: this.pagingOn(), maxFrames: Math.max(maxFrames, 64) }))();
      this.stackCache = frames;
      frames.catch(() => {
        if (this.stackCache === frames) this.stackCache = undefined;
      });
    }
    return this.stackCache.then((f) => f.slice(0, maxFrames));
  }

  private requireStopped(what: string): void {
    if (this.state === 'gone') throw new TargetGoneError('has exited');
    if (this.rsp.running) throw new TargetRunningError(what);
  }

  private async pc(): Promise<number> {
    return this.register('eip');
  }

  private async register(name: string): Promise<number> {
    const v = (await this.registers()).get(name);
    if (v === undefined) throw new SessionError('NO_REGISTER', `The gdbstub reports no register ${name}; attach to qemu-system-i386, not qemu-system-x86_64.`);
    return v;
  }

  private async registers(): Promise<Map<string, number>> {
    if (this.registerCache) return this.registerCache;
    const values = await this.rsp.readRegisters();
    const map = new Map<string, number>();
    for (const name of values.names) {
      const bytes = values.bytes(name);
      if (bytes && bytes.length <= 4) map.set(name.toLowerCase(), values.value(name));
    }
    this.registerCache = map;
    return map;
  }

  private dropStopCaches(): void {
    this.registerCache = undefined;
    this.stackCache = undefined;
    this.memoryCache.clear();
  }

  /** The instruction at `pc`, decoded from the ELF image when it holds that code, else from memory. */
  private async instructionAt(pc: number): Promise<ClassifiedInstruction> {
    const sym = this.codeMap.symbolAddress(pc, this.pagingOn());
    let bytes: Uint8Array = this.codeMap.codeBytes(sym, 16) ?? Buffer.alloc(0);
    if (bytes.length === 0) bytes = await this.readMemory(pc, 16).catch(() => Buffer.alloc(0));
    if (bytes.length === 0) return { address: pc, length: 1, kind: 'invalid' };
    const insn = classifyInstruction(bytes, pc);
    return insn;
  }

  // ---- TargetAccess: memory and registers of the stopped guest (virtual addresses) ----

  /**
   * Reads guest memory at a virtual address through the gdbstub, in 256-byte blocks cached until
   * the guest runs. While paging is off, addresses of the kernel image read its load addresses.
   */
  async readMemory(address: number, length: number): Promise<Buffer> {
    this.requireStopped('read memory');
    if (length <= 0) return Buffer.alloc(0);
    const physical = this.pagingOn() ? address : this.symbols.virtualToLoad(address) ?? address;
    const first = Math.floor(physical / 256);
    const last = Math.floor((physical + length - 1) / 256);
    if (last - first > 64) return this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length, true));
    let block = first;
    while (block <= last) {
      if (this.memoryCache.has(block)) {
        block++;
        continue;
      }
      let end = block;
      while (end + 1 <= last && !this.memoryCache.has(end + 1) && end - block < 7) end++;
      try {
        const data = await this.rsp.withAddressMode(false, () => this.rsp.readMemory(block * 256, (end - block + 1) * 256));
        for (let b = block; b <= end; b++) this.memoryCache.set(b, data.subarray((b - block) * 256, (b - block + 1) * 256));
      } catch (e) {
        if (e instanceof BridgeError && e.code === 'RSP_COMMAND_FAILED') {
          // Part of the range may be mapped: read exactly what was asked instead.
          return this.rsp.withAddressMode(false, () => this.rsp.readMemory(physical, length)).catch(() => {
            throw new SessionError('MEMORY_UNREADABLE', `Guest memory at 0x${(address >>> 0).toString(16)} (${length} bytes) cannot be read; it is not mapped in the current address space.`);
          });
        }
        throw e;
      }
      block = end + 1;
    }
    const out = Buffer.allocUnsafe(length);
    for (let off = 0; off < length;) {
      const a = physical + off;
      const b = this.memoryCache.get(Math.floor(a / 256)) as Buffer;
      const inBlock = a % 256;
      const n = Math.min(256 - inBlock, length - off);
      b.copy(out, off, inBlock, inBlock + n);
      off += n;
    }
    return out;
  }

  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    this.requireStopped('write memory');
    const physical = this.pagingOn() ? address : this.symbols.virtualToLoad(address) ?? address;
    await this.rsp.withAddressMode(false, () => this.rsp.writeMemory(physical, data));
    this.memoryCache.clear();
    this.stackCache = undefined;
    this.bridge.memory.invalidate();
  }

  async readRegisters(): Promise<ReadonlyMap<string, number>> {
    this.requireStopped('read registers');
    return this.registers();
  }

  async writeRegister(name: string, value: number): Promise<void> {
    this.requireStopped('write registers');
    await this.rsp.writeRegister(name, value >>> 0);
    this.registerCache = undefined;
    this.stackCache = undefined;
  }
}

class GuestExited extends Error {
  constructor(readonly code: number) {
    super(`the guest exited with status ${code}`);
  }
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

function isPlainStep(reply: StopReply): boolean {
  return reply.kind === 'signal' && reply.signal === 5 && !reply.watch;
}

function specKey(s: ArmSpec): string {
  return `${s.kind}:${s.address}:${s.length}`;
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
