// The stepping engine: continue, instruction steps, source-line steps (over and into calls) and
// step out, built from the gdbstub's `s` and `c` with temporary breakpoints. Each operation
// resolves with the stop to report. A user breakpoint, watchpoint, pause or exception met on the
// way ends the operation with that stop; breakpoints whose decision says "go on" are resumed
// silently. It knows nothing of DAP and does not keep the run state: the Target runs one operation
// at a time and reports its stop.

import { RspClient, StopReply } from '../../../qemu-bridge/src';
import { DebugSymbols, FunctionInfo } from '../symbols';
import { BreakpointArming } from './breakpoint-arming';
import { BreakpointTable, UserBreakpoint } from './breakpoint-table';
import { CodeMap } from './code-map';
import { SessionError } from './errors';
import { GuestAccess } from './guest-access';
import { classifyInstruction } from './instruction-kind';
import { StopReason, TargetStop } from './run-events';

/**
 * Decides whether a breakpoint hit becomes a stop (conditions, hit counts, logpoints). Called with
 * the guest stopped at the hit; undefined resumes it, else the stop's extra details.
 */
export type BreakpointDecision = (hit: { pc: number; breakpoints: UserBreakpoint[] }) => Promise<BreakpointVerdict>;
export type BreakpointVerdict = { stop: false } | { stop: true; exception?: { description: string; text?: string } };

/** Waiting for the guest forever: setTimeout's largest delay. */
const FOREVER = 0x7fffffff;
/** Upper bound on single steps in one source-line step. */
const MAX_LINE_STEPS = 20000;
/** Single steps in one line before switching to running to the line's exits. */
const RANGE_STEP_AFTER = 12;

type Arrival = { kind: 'arrived' } | { kind: 'stop'; stop: TargetStop };

/** A synthetic reply for a pause noticed between two resumes. */
const PAUSED: StopReply = { kind: 'signal', signal: 2, registers: new Map(), extra: new Map() };

/** The guest exited (a `W`/`X` stop reply) during an operation. */
export class GuestExited extends Error {
  constructor(readonly code: number) {
    super(`the guest exited with status ${code}`);
  }
}

export class SteppingEngine {
  /** The thread (vCPU) of the last stop reply. */
  currentThread = 1;
  /** The one vCPU that runs during a step operation on a multi-vCPU guest (gdb's all-stop stepping); undefined: all run. */
  private lockedThread: number | undefined;
  /** Set by the runtime: conditions, hit counts and logpoints. Without it every hit stops. */
  decide: BreakpointDecision | undefined;
  private pauseRequested = false;
  private interruptedForSync = false;
  private waitingLong = false;

  constructor(
    private readonly symbols: DebugSymbols,
    private readonly codeMap: CodeMap,
    private readonly table: BreakpointTable,
    private readonly rsp: RspClient,
    private readonly access: GuestAccess,
    private readonly arming: BreakpointArming,
  ) {}

  /**
   * Forgets a pause asked for before the operation that starts now. A step operation passes the
   * thread it steps: on a guest with several vCPUs only that one runs until the step ends, and the
   * others stay stopped; a continue passes none and every vCPU runs.
   */
  beginOperation(stepThread?: number): void {
    this.pauseRequested = false;
    this.access.dropStopCaches();
    this.lockedThread = stepThread !== undefined && this.access.multipleThreads ? stepThread : undefined;
    if (stepThread !== undefined) this.currentThread = stepThread;
    this.access.selectThread(this.currentThread);
  }

  /**
   * The vCPU a resume names: the stepped thread during a step operation; for a single
   * instruction otherwise, the thread of the last stop (the one sitting on a lifted breakpoint);
   * none (every vCPU) for a continue or on a single-vCPU guest.
   */
  private resumeThread(command: 'c' | 's'): number | undefined {
    if (!this.access.multipleThreads) return undefined;
    if (this.lockedThread !== undefined) return this.lockedThread;
    return command === 's' ? this.currentThread : undefined;
  }

  /** Asks the running operation to stop with a `pause` stop. */
  requestPause(): void {
    this.pauseRequested = true;
    if (this.rsp.running && !this.rsp.connection.closed) this.rsp.sendInterrupt();
  }

  /**
   * The breakpoint table changed while an operation runs: when the guest runs at full speed, stop
   * it briefly to re-arm (the stop is resumed silently); between steps the next resume re-arms.
   */
  requestSync(): void {
    this.arming.pending = true;
    if (this.waitingLong && this.rsp.running && !this.interruptedForSync) {
      this.interruptedForSync = true;
      this.rsp.sendInterrupt();
    }
  }

  // ---- operations ----

  /** Runs to `entry` (the kernel's first instruction) and stops there with reason `entry`. */
  async runToEntry(entry: number): Promise<TargetStop> {
    const arrival = await this.runUntil([entry], (pc) => pc === entry);
    if (arrival.kind === 'stop') return arrival.stop;
    return this.makeStop('entry', await this.access.pc());
  }

  /**
   * After a reset: runs to `entry`, calls `atEntry` there, then stops (`stopOnEntry`) or goes on
   * as `continue` does. A stop on the way (a breakpoint in the firmware's path) is reported as is.
   */
  async runFromReset(entry: number, stopOnEntry: boolean, atEntry: () => Promise<void>): Promise<TargetStop> {
    const arrival = await this.runUntil([entry], (pc) => pc === entry);
    await atEntry();
    if (arrival.kind === 'stop') return arrival.stop;
    if (stopOnEntry) return this.makeStop('entry', await this.access.pc());
    return this.continue();
  }

  /** Resumes the guest until a breakpoint, a watchpoint, a pause or its exit. */
  async continue(): Promise<TargetStop> {
    const arrival = await this.runUntil([], () => false);
    if (arrival.kind === 'stop') return arrival.stop;
    throw new SessionError('INTERNAL', 'the guest stopped for no reason');
  }

  /** Executes one instruction (a `hlt` completes when the next interrupt has been handled). */
  async stepInstruction(): Promise<TargetStop> {
    const pc = await this.access.pc();
    const insn = await this.access.instructionAt(pc);
    if (insn.kind === 'halt') {
      const arrival = await this.runToReturn(pc + insn.length, await this.access.register('esp'));
      return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.access.pc());
    }
    const reply = await this.resumeAndWait('s');
    if (isPlainStep(reply)) return this.makeStop('step', await this.access.pc());
    return this.settle(reply);
  }

  /**
   * Steps to the next source line. `over` runs called functions at full speed (a breakpoint at the
   * return address); `into` enters called functions that have line information and stops after
   * their prologue. Without line information at the pc this is one instruction step.
   */
  async stepLine(mode: 'over' | 'into'): Promise<TargetStop> {
    const access = this.access;
    let pc = await access.pc();
    let sym = this.codeMap.symbolAddress(pc, access.pagingOn());
    if (!this.codeMap.hasLineInfo(sym)) {
      const reply = await this.resumeAndWait('s');
      return isPlainStep(reply) ? this.makeStop('step', await access.pc()) : this.settle(reply);
    }
    const startFunction = this.symbols.functionAt(sym);
    const startFrames = this.codeMap.sourceFrames(sym, true);
    const startDepth = startFrames.length;
    const startLine = startFrames[0];
    const startCfa = (await access.topFrame())?.cfa;
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
      if (singleSteps >= RANGE_STEP_AFTER && startCfa !== undefined && access.pagingOn()) {
        // A long line or a loop on one line: run to the line's exits instead of stepping each instruction.
        singleSteps = 0;
        const arrival = await this.runToLineExit(inLine, startFunction, startCfa);
        if (arrival?.kind === 'stop') return arrival.stop;
      } else {
        const insn = await access.instructionAt(pc);
        const sp = await access.register('esp');
        if ((insn.kind === 'call' && mode === 'over') || insn.kind === 'interrupt' || insn.kind === 'halt') {
          const arrival = await this.runToReturn(pc + insn.length, sp);
          if (arrival.kind === 'stop') return arrival.stop;
        } else {
          singleSteps++;
          const reply = await this.resumeAndWait('s');
          if (!isPlainStep(reply)) return this.settle(reply);
          if (insn.kind === 'call') {
            // Stepped into a call: stop after the callee's prologue if it has lines, else run back out.
            const calleePc = await access.pc();
            const calleeSym = this.codeMap.symbolAddress(calleePc, access.pagingOn());
            const callee = this.symbols.functionAt(calleeSym);
            if (callee && this.codeMap.hasLineInfo(calleeSym)) {
              const body = this.codeMap.afterPrologue(callee);
              const target = (calleePc + (body - calleeSym)) >>> 0;
              // Single steps through the prologue (interrupts stay masked, so no other task runs).
              for (let i = 0; i < 64 && (await access.pc()) !== target; i++) {
                const r = await this.resumeAndWait('s');
                if (!isPlainStep(r)) return this.settle(r);
              }
              if ((await access.pc()) !== target) {
                const arrival = await this.runUntil([target], (p) => p === target);
                if (arrival.kind === 'stop') return arrival.stop;
              }
              return this.makeStop('step', await access.pc());
            }
            const arrival = await this.runToReturn(pc + insn.length, sp);
            if (arrival.kind === 'stop') return arrival.stop;
          }
        }
      }
      pc = await access.pc();
      sym = this.codeMap.symbolAddress(pc, access.pagingOn());
      // Returned to the caller: stop there, in the middle of its line, as gdb does.
      if (startCfa !== undefined && (await access.register('esp')) >= startCfa) return this.makeStop('step', pc);
      if (this.symbols.functionAt(sym) !== startFunction || !this.codeMap.hasLineInfo(sym)) return this.makeStop('step', pc);
      if (inLine(sym)) continue;
      if (this.codeMap.isStatementStart(sym)) return this.makeStop('step', pc);
      // In the middle of another line (a jump back into a loop): go on to the start of a line.
    }
    return this.makeStop('step', pc);
  }

  /** Runs until the current function returns to its caller (same or outer stack frame). */
  async stepOut(): Promise<TargetStop> {
    const frames = await this.access.stackTrace(2);
    if (frames.length < 2) {
      const reply = await this.resumeAndWait('s');
      return isPlainStep(reply) ? this.makeStop('step', await this.access.pc()) : this.settle(reply);
    }
    const caller = frames[1];
    const callerSp = caller.registers.get('esp') ?? 0;
    const arrival = await this.runUntil([caller.pc], async (pc) => pc === caller.pc && (await this.access.register('esp')) >= callerSp);
    return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.access.pc());
  }

  // ---- building blocks ----

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
      const frames = await this.access.stackTrace(2);
      returnAddress = frames[1]?.pc;
      if (returnAddress === undefined) return undefined;
      exits.add(returnAddress);
    }
    if (exits.size === 0) return undefined;
    return this.runUntil([...exits], async (pc) => {
      if (pc === returnAddress && (await this.access.register('esp')) >= cfa) return true;
      return (await this.access.topFrame())?.cfa === cfa;
    });
  }

  /** Runs to `returnAddress` with the stack back at `sp` or above (so recursion does not stop early). */
  private async runToReturn(returnAddress: number, sp: number): Promise<Arrival> {
    return this.runUntil([returnAddress >>> 0], async (pc) => pc === returnAddress >>> 0 && (await this.access.register('esp')) >= sp);
  }

  /**
   * Continues with temporary breakpoints at `addresses` until `arrived(pc)` holds at a stop, or a
   * user breakpoint, watchpoint, pause or exit becomes a stop to report. Breakpoints whose
   * decision says "go on" are resumed silently.
   */
  private async runUntil(addresses: readonly number[], arrived: (pc: number) => boolean | Promise<boolean>): Promise<Arrival> {
    for (const a of addresses) await this.arming.addTemporary(a);
    try {
      for (;;) {
        const reply = await this.resumeAndWait('c');
        if (reply.kind === 'signal' && reply.signal === 5 && !reply.watch) {
          const pc = await this.access.pc();
          const user = this.userBreakpointsAt(pc);
          if (user.length) {
            const verdict = await this.verdict(pc, user);
            if (verdict.stop) return { kind: 'stop', stop: this.makeStop('breakpoint', pc, user, undefined, verdict.exception) };
          }
          if (addresses.includes(pc) && (await arrived(pc))) return { kind: 'arrived' };
          continue;
        }
        if (reply.kind === 'signal' && reply.watch) {
          const pc = await this.access.pc();
          const user = this.table.dataBreakpointsAt(reply.watch.address);
          if (user.length && !(await this.verdict(pc, user)).stop) continue;
          return { kind: 'stop', stop: this.makeStop('data breakpoint', pc, user, `${reply.watch.kind} of 0x${reply.watch.address.toString(16)}`) };
        }
        return { kind: 'stop', stop: await this.settle(reply) };
      }
    } finally {
      for (const a of addresses) await this.arming.removeTemporary(a).catch(() => undefined);
    }
  }

  private userBreakpointsAt(pc: number): UserBreakpoint[] {
    return this.table.codeBreakpointsAt(pc, this.access.pagingOn());
  }

  private async verdict(pc: number, breakpoints: UserBreakpoint[]): Promise<BreakpointVerdict> {
    if (!this.decide) return { stop: true };
    return this.decide({ pc, breakpoints });
  }

  /** Turns a reply that is not a plain step or an expected arrival into the stop to report. */
  private async settle(reply: StopReply): Promise<TargetStop> {
    if (reply.kind !== 'signal') throw new GuestExited(reply.code);
    const pc = await this.access.pc();
    if (reply.watch) return this.makeStop('data breakpoint', pc, this.table.dataBreakpointsAt(reply.watch.address));
    if (reply.signal === 2) return this.makeStop('pause', pc);
    const user = this.userBreakpointsAt(pc);
    if (user.length) return this.makeStop('breakpoint', pc, user);
    return this.makeStop(reply.signal === 5 ? 'pause' : 'exception', pc, [], reply.signal === 5 ? undefined : `signal ${reply.signal}`);
  }

  private makeStop(reason: StopReason, pc: number, breakpoints: UserBreakpoint[] = [], description?: string, exception?: TargetStop['exception']): TargetStop {
    return { reason, pc, threadId: this.currentThread, breakpoints, ...(description ? { description } : {}), ...(exception ? { exception } : {}) };
  }

  /**
   * Resumes with `c` or `s` and waits for the stop. A breakpoint at the current pc is lifted for
   * one step first (QEMU would report it again without executing the instruction). Stops we
   * caused to re-arm breakpoints are resumed silently; a pause asked for meanwhile is returned.
   */
  private async resumeAndWait(command: 'c' | 's'): Promise<StopReply> {
    if (this.pauseRequested) return PAUSED;
    await this.arming.sync();
    const pc = await this.access.pc();
    const lifted = this.arming.codeAt(pc);
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
      this.access.dropStopCaches();
      const stopped = this.rsp.waitForStop(FOREVER);
      this.waitingLong = command === 'c';
      try {
        await this.rsp.resume(command === 'c' ? 'continue' : 'step', this.resumeThread(command));
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
      if (reply.kind === 'signal') {
        // During a locked step only that vCPU ran (an interrupt's reply may name another one).
        if (this.lockedThread !== undefined) this.currentThread = this.lockedThread;
        else if (reply.thread && reply.thread.tid > 0) this.currentThread = reply.thread.tid;
        this.access.selectThread(this.currentThread);
      }
      if (reply.kind === 'signal' && reply.signal === 2 && this.interruptedForSync && !this.pauseRequested) {
        this.interruptedForSync = false;
        await this.arming.sync();
        continue;
      }
      this.interruptedForSync = false;
      if (reply.kind === 'signal' && (await this.access.notePaging())) this.arming.pending = true;
      return reply;
    }
  }
}

function isPlainStep(reply: StopReply): boolean {
  return reply.kind === 'signal' && reply.signal === 5 && !reply.watch;
}
