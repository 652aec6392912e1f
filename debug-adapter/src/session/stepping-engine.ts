// The stepping engine: continue, instruction steps, source-line steps (over and into calls) and
// step out, built from the gdbstub's `s` and `c` with temporary breakpoints. Each operation
// resolves with the stop to report. A user breakpoint, watchpoint, pause or exception met on the
// way ends the operation with that stop; breakpoints whose decision says "go on" are resumed
// silently. It knows nothing of DAP and does not keep the run state: the Target runs one operation
// at a time and reports its stop.

import { RspClient, StopReply } from '../../../qemu-bridge/src';
import { DebugSymbols, FunctionInfo, InlinedCallInfo, sameSourceFile } from '../symbols';
import { BreakpointArming } from './breakpoint-arming';
import { BreakpointTable, UserBreakpoint } from './breakpoint-table';
import { CodeMap } from './code-map';
import { SessionError } from './errors';
import { GuestAccess } from './guest-access';
import { classifyInstruction } from './instruction-kind';
import { wrapAddress } from '../../../qemu-bridge/src/address';
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

/**
 * gdb's frame id of a frame: its canonical frame address and the start of its function. `cr3` is
 * the address space it was seen in; `sp` the stack pointer, the fallback where no CFA is known.
 */
interface FrameKey {
  cfa: number | undefined;
  fn: number;
  cr3: number;
  sp: number;
}

/**
 * gdb's frame-id equality: same CFA and same function. CR3 is not part of it: a function may load
 * another page directory before it returns (a kernel switching to its own tables), and kernel
 * threads differ by their stacks.
 */
function sameFrame(a: FrameKey, b: FrameKey): boolean {
  return a.cfa === b.cfa && a.fn === b.fn && (a.cfa !== undefined || a.sp === b.sp);
}

/**
 * Which inlined call a stop at user breakpoints keeps shown (gdb's stopped_by_user_bp_inline_frame):
 * a source or instruction breakpoint belongs to the innermost function or inlined call at its
 * address, so nothing is hidden; a function breakpoint to the inlined copies of its function.
 */
function keptByBreakpoints(breakpoints: readonly UserBreakpoint[]): ((call: InlinedCallInfo) => boolean) | undefined {
  if (breakpoints.some((b) => b.kind === 'source' || b.kind === 'instruction')) return () => true;
  const names = new Set(breakpoints.filter((b) => b.kind === 'function' && b.key.startsWith('fn:')).map((b) => b.key.slice(3)));
  return names.size ? (call) => names.has(call.name) : undefined;
}

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
  /** The interrupt for the requested pause has been sent (it is sent once, when the guest runs). */
  private pauseInterrupted = false;
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
    this.pauseInterrupted = false;
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
    // Between two resumes (re-arming, reading the pc) the guest is stopped: the next resume sees the flag.
    if (this.rsp.running && !this.rsp.connection.closed && !this.pauseInterrupted) {
      this.pauseInterrupted = true;
      this.rsp.sendInterrupt();
    }
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
  async runToEntry(entry: number, atEntry: (pc: number) => Promise<boolean> = async (pc) => pc === entry): Promise<TargetStop> {
    const arrival = await this.runUntil([entry], atEntry);
    if (arrival.kind === 'stop') return arrival.stop;
    return this.makeStop('entry', await this.access.pc());
  }

  /**
   * After a reset: runs to `entry`, calls `atEntry` there, then stops (`stopOnEntry`) or goes on
   * as `continue` does. A stop on the way (a breakpoint in the firmware's path) is reported as is.
   */
  async runFromReset(entry: number, stopOnEntry: boolean, atEntry: () => Promise<void>, isEntry: (pc: number) => Promise<boolean> = async (pc) => pc === entry): Promise<TargetStop> {
    const arrival = await this.runUntil([entry], isEntry);
    await atEntry();
    if (arrival.kind === 'stop') return arrival.stop;
    if (stopOnEntry) return this.makeStop('entry', await this.access.pc());
    return this.continue();
  }

  /** The inlined calls hidden at the last stop (gdb's skip_inline_frames), while its thread is still at its pc. */
  private hidden: { thread: number; pc: number; count: number } | undefined;

  /**
   * How many inlined calls that begin at `pc` the stack leaves out on `thread` (gdb hides them at
   * a stop there; `step` enters one without moving), or undefined when the last stop was not there.
   */
  hiddenInlineFrames(thread: number, pc: number): number | undefined {
    const h = this.hidden;
    return h && h.thread === thread && h.pc === pc ? h.count : undefined;
  }

  /** Resumes the guest until a breakpoint, a watchpoint, a pause or its exit. */
  async continue(): Promise<TargetStop> {
    const arrival = await this.runUntil([], () => false);
    if (arrival.kind === 'stop') return arrival.stop;
    throw new SessionError('INTERNAL', 'the guest stopped for no reason');
  }

  /** Executes one instruction (a `hlt` completes when the next interrupt has been handled). */
  async stepInstruction(): Promise<TargetStop> {
    const stop = await this.stepOneInstruction();
    // gdb hides no inlined calls after stepi: the stack shows every frame at the new pc.
    this.hidden = { thread: stop.threadId, pc: stop.pc, count: 0 };
    return stop;
  }

  private async stepOneInstruction(): Promise<TargetStop> {
    const pc = await this.access.pc();
    const insn = await this.access.instructionAt(pc);
    if (insn.kind === 'halt') {
      const arrival = await this.runToReturn(pc + insn.length, await this.frameKey());
      return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.access.pc());
    }
    const reply = await this.resumeAndWait('s');
    if (!isPlainStep(reply)) return this.settle(reply);
    const at = await this.access.pc();
    // An extension's internal breakpoint stepped onto (allocation tracing at a function's entry) still sees its hit.
    const internal = this.userBreakpointsAt(at).filter((b) => b.kind === 'internal');
    if (internal.length) {
      const verdict = await this.verdict(at, internal);
      if (verdict.stop) return this.makeStop('breakpoint', at, internal, undefined, verdict.exception);
    }
    return this.makeStop('step', at);
  }

  /**
   * Steps to the next source line the way gdb 13 does. The step range is the line-table entry at
   * the pc (CodeMap.gdbLineAt) in the frame we step from (its frame id: CFA, function, CR3). The
   * step goes on while the pc stays in that range and frame; it ends at the start of a statement
   * of another line. `over` runs called functions at full speed to their return in this frame
   * (another thread of execution reaching the same return address on another stack does not end
   * it); `into` enters called functions that have line information and stops after their
   * prologue. Returning into the middle of the caller's line goes on to the caller's next line.
   * Without line information at the pc this is one instruction step.
   */
  async stepLine(mode: 'over' | 'into'): Promise<TargetStop> {
    const access = this.access;
    const pc = await access.pc();
    const sym = this.codeMap.symbolAddress(pc, access.pagingOn());
    const line = this.codeMap.gdbLineAt(sym);
    if (!line) {
      const reply = await this.resumeAndWait('s');
      return isPlainStep(reply) ? this.makeStop('step', await access.pc()) : this.settle(reply);
    }
    const hidden = this.hiddenInlineFrames(this.currentThread, pc) ?? this.codeMap.hiddenInlineCount(sym);
    if (mode === 'into' && hidden > 0) {
      // gdb's step_into_inline_frame: `step` at the start of hidden inlined calls enters one without moving.
      const stop = this.makeStop('step', pc);
      this.hidden = { thread: this.currentThread, pc, count: hidden - 1 };
      return stop;
    }
    // The line stepped from is the one frame 0 shows: a hidden inlined call's call site.
    const shown = this.codeMap.sourceFrames(sym, true, hidden);
    const top = hidden > 0 ? shown[0] : undefined;
    const current = top?.line !== undefined && top.file !== undefined ? { line: top.line, file: top.file } : { line: line.line, file: line.file };
    return this.stepLineFrom(mode, { start: line.start, end: line.end }, current, shown.length);
  }

  /**
   * The loop of stepLine from `pc`: steps while in `range`, `current` is the line stepped from
   * (line 0: none) and `depth` the number of source frames shown in the machine frame stepped.
   */
  private async stepLineFrom(mode: 'over' | 'into', range: { start: number; end: number }, current: { line: number; file: string }, depth: number): Promise<TargetStop> {
    const access = this.access;
    let pc = await access.pc();
    let sym = this.codeMap.symbolAddress(pc, access.pagingOn());
    let frame = await this.frameKey();
    let singleSteps = 0;
    for (let n = 0; n < MAX_LINE_STEPS; n++) {
      const insn = await access.instructionAt(pc);
      // Only from inside the step range: the exits are those of the line's code, so from elsewhere
      // (the body of an inlined call stepped through) they would let the step run past its end.
      const inRange = sym >= range.start && sym < range.end;
      if (singleSteps >= RANGE_STEP_AFTER && inRange && frame.cfa !== undefined && access.pagingOn() && insn.kind !== 'call') {
        // A long line or a loop on one line: run to the line's exits instead of stepping each instruction.
        singleSteps = 0;
        const arrival = await this.runToLineExit(current, range, frame, mode);
        if (arrival?.kind === 'stop') return arrival.stop;
      } else if ((insn.kind === 'call' && mode === 'over') || insn.kind === 'interrupt' || insn.kind === 'halt') {
        const arrival = await this.runToReturn(pc + insn.length, frame);
        if (arrival.kind === 'stop') return arrival.stop;
      } else {
        singleSteps++;
        const reply = await this.resumeAndWait('s');
        if (!isPlainStep(reply)) return this.settle(reply);
        const hit = await this.breakpointReached();
        if (hit) return hit;
      }
      pc = await access.pc();
      sym = this.codeMap.symbolAddress(pc, access.pagingOn());
      const here = await this.frameKey();
      const same = sameFrame(here, frame);
      if (same && sym >= range.start && sym < range.end) continue;
      if (!same) {
        const caller = await this.callerKey();
        if (caller && sameFrame(caller.key, frame)) {
          // Stepped into a subroutine.
          const callee = this.symbols.functionAt(sym);
          if (mode === 'into' && callee && this.codeMap.hasLineInfo(sym)) return this.stopAfterPrologue(pc, sym, callee);
          const arrival = await this.runToReturn(caller.pc, frame);
          if (arrival.kind === 'stop') return arrival.stop;
          pc = await access.pc();
          sym = this.codeMap.symbolAddress(pc, access.pagingOn());
          if (sym >= range.start && sym < range.end) continue;
        }
      }
      const hiddenHere = this.codeMap.hiddenInlineCount(sym);
      const frames = this.codeMap.sourceFrames(sym, true, hiddenHere);
      const shown = frames.length;
      if (same && hiddenHere > 0 && shown === depth) {
        // At the start of inlined calls made by the frame stepped itself (gdb: "stepped into inlined
        // function", which compares the frame id, inline depth included): on the line stepped
        // from, `next` goes on through them and `step` enters them; else both stop at the call site.
        // Hidden calls deeper than that frame are part of the calls being stepped through (below).
        const onLine = frames[0].line === current.line && frames[0].file !== undefined && sameSourceFile(frames[0].file, current.file);
        if (mode === 'over' && onLine) continue;
        const stop = this.makeStop('step', pc);
        if (mode === 'into' && onLine) this.hidden = { thread: this.currentThread, pc, count: hiddenHere - 1 };
        return stop;
      }
      if (same && shown > depth) {
        // Inside an inlined call deeper than the frame stepped (gdb: "stepping through inlined function").
        if (mode === 'over') continue;
        return this.makeStop('step', pc);
      }
      const next = this.codeMap.gdbLineAt(sym);
      if (!next) return this.makeStop('step', pc);
      let notStatement = false;
      if (sym === next.start && (next.line !== current.line || next.file !== current.file)) {
        if (next.isStmt) return this.makeStop('step', pc);
        if (same && shown === depth) {
          // Not a statement start: step through this entry's range, still stepping from the same line (gdb keeps its step info).
          range = { start: next.start, end: next.end };
          singleSteps = 0;
          continue;
        }
        // Another frame, not a statement: step on without this line, so that a later entry of the same line stops.
        notStatement = true;
      }
      // In the middle of a line (a jump back into a loop, a return into the caller): step that line.
      current = notStatement ? { line: 0, file: '' } : { line: next.line, file: next.file };
      range = { start: next.start, end: next.end };
      frame = await this.frameKey();
      depth = shown;
      singleSteps = 0;
    }
    return this.makeStop('step', pc);
  }

  /** After stepping into `callee` at `pc`: runs to the end of its prologue (as gdb's step does) and stops. */
  private async stopAfterPrologue(pc: number, sym: number, callee: FunctionInfo): Promise<TargetStop> {
    const body = this.codeMap.afterPrologue(callee, { forStepInto: true });
    const target = wrapAddress(pc + (body - sym), this.access.addressWidth);
    // Single steps through the prologue (interrupts stay masked, so no other task runs).
    for (let i = 0; i < 64 && (await this.access.pc()) !== target; i++) {
      const r = await this.resumeAndWait('s');
      if (!isPlainStep(r)) return this.settle(r);
      const hit = await this.breakpointReached();
      if (hit) return hit;
    }
    if ((await this.access.pc()) !== target) {
      const arrival = await this.runUntil([target], (p) => p === target);
      if (arrival.kind === 'stop') return arrival.stop;
    }
    return this.makeStop('step', await this.access.pc());
  }

  /** Runs until the current function returns to its caller's frame (gdb's finish). */
  async stepOut(): Promise<TargetStop> {
    const pc = await this.access.pc();
    const sym = this.codeMap.symbolAddress(pc, this.access.pagingOn());
    const shown = this.codeMap.sourceFrames(sym, true, this.hiddenInlineFrames(this.currentThread, pc));
    if (shown.length > 1 && shown[0].inlined) {
      // Out of an inlined call (gdb's finish from an inline frame): `next` in the calling frame with
      // an empty range and no line, so it runs until the pc leaves the inlined call's code.
      return this.stepLineFrom('over', { start: sym, end: sym }, { line: 0, file: '' }, shown.length - 1);
    }
    const caller = await this.callerKey();
    if (!caller) {
      const reply = await this.resumeAndWait('s');
      return isPlainStep(reply) ? this.makeStop('step', await this.access.pc()) : this.settle(reply);
    }
    const arrival = await this.runUntil([caller.pc], async (pc) => pc === caller.pc && this.isFrame(caller.key, caller.sp));
    return arrival.kind === 'stop' ? arrival.stop : this.makeStop('step', await this.access.pc());
  }

  /** The frame id of frame 0: its CFA, the start of its function, and CR3 when paging is on. */
  private async frameKey(): Promise<FrameKey> {
    const top = await this.access.topFrame();
    const regs = await this.access.registers();
    const set = await this.access.registerSet();
    const sym = this.codeMap.symbolAddress(regs.get(set.pc) ?? 0, this.access.pagingOn());
    return { cfa: top?.cfa, fn: this.functionStart(sym), cr3: this.access.pagingOn() ? regs.get('cr3') ?? 0 : 0, sp: regs.get(set.sp) ?? 0 };
  }

  /** The frame id of frame 1 with its pc (the return address) and stack pointer, or undefined. */
  private async callerKey(): Promise<{ key: FrameKey; pc: number; sp: number } | undefined> {
    const frames = await this.access.stackTrace(3);
    const caller = frames[1];
    if (!caller) return undefined;
    const regs = await this.access.registers();
    const set = await this.access.registerSet();
    const sp = caller.registers.get(set.sp) ?? 0;
    return {
      key: { cfa: caller.cfa, fn: this.functionStart(wrapAddress(caller.symbolPc - 1, this.access.addressWidth)), cr3: this.access.pagingOn() ? regs.get('cr3') ?? 0 : 0, sp },
      pc: caller.pc,
      sp,
    };
  }

  /** True when frame 0 is the frame `key` (by CFA where known, else by the stack pointer `sp`). */
  private async isFrame(key: FrameKey, sp: number): Promise<boolean> {
    const here = await this.frameKey();
    if (key.cfa === undefined || here.cfa === undefined) return here.sp >= sp;
    return sameFrame(here, key);
  }

  private functionStart(sym: number): number {
    return this.symbols.functionAt(sym)?.lowPc ?? this.codeMap.codeSymbolBelow(sym)?.value ?? sym;
  }

  // ---- building blocks ----

  /**
   * Runs to the first address outside the current line with temporary breakpoints on every exit
   * of the line's code in its function: branch targets and fall-throughs that leave it, the
   * return address when the line returns, and (stepping into) the targets of its calls. An exit
   * counts only in the frame being stepped or, for the return, in its caller, so another thread
   * of execution running the same code does not end the step. Returns undefined when the line's
   * code has an indirect jump (or an indirect call when stepping into); then single steps go on.
   */
  private async runToLineExit(line: { line: number; file: string }, range: { start: number; end: number }, frame: FrameKey, mode: 'over' | 'into'): Promise<Arrival | undefined> {
    const fn = this.symbols.functions.find((f) => f.lowPc === frame.fn);
    if (!fn) return undefined;
    // The code stepped through: the step range (a non-statement entry may make it another line's) and the line's own code.
    const inLine = (address: number): boolean => {
      if (address >= range.start && address < range.end) return true;
      if (this.symbols.functionAt(address) !== fn) return false;
      const here = this.codeMap.gdbLineAt(address);
      return here !== undefined && here.line === line.line && here.file === line.file;
    };
    const exits = new Set<number>();
    let returns = false;
    for (const range of fn.ranges) {
      const code = this.codeMap.codeBytes(range.start, range.end - range.start);
      if (!code) return undefined;
      for (let offset = 0; offset < code.length;) {
        const address = range.start + offset;
        const insn = classifyInstruction(code.subarray(offset, offset + 16), address, this.access.registerSetNow().bitness, this.access.addressWidth);
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
          case 'call':
            if (mode === 'into') {
              if (insn.target === undefined) return undefined;
              exits.add(insn.target);
            }
            if (!inLine(next)) exits.add(next);
            break;
          default:
            if (!inLine(next)) exits.add(next);
        }
      }
    }
    let caller: { key: FrameKey; pc: number; sp: number } | undefined;
    if (returns) {
      caller = await this.callerKey();
      if (!caller) return undefined;
      exits.add(caller.pc);
    }
    if (exits.size === 0) return undefined;
    return this.runUntil([...exits], async (pc) => {
      const here = await this.frameKey();
      if (caller && pc === caller.pc && (await this.isFrame(caller.key, caller.sp))) return true;
      if (here.cfa === frame.cfa) return true;
      // A call target (stepping into): the callee's caller is the frame being stepped.
      const up = await this.callerKey();
      return up !== undefined && sameFrame(up.key, frame);
    });
  }

  /** Runs to `returnAddress` reached in `frame` (gdb's step-resume breakpoint with its frame id). */
  private async runToReturn(returnAddress: number, frame: FrameKey): Promise<Arrival> {
    const address = wrapAddress(returnAddress, this.access.addressWidth);
    return this.runUntil([address], async (pc) => pc === address && this.isFrame(frame, frame.sp));
  }

  /**
   * Continues with temporary breakpoints at `addresses` until `arrived(pc)` holds at a stop, or a
   * user breakpoint, watchpoint, pause or exit becomes a stop to report. Breakpoints whose
   * decision says "go on" are resumed silently.
   */
  private async runUntil(addresses: readonly number[], arrived: (pc: number) => boolean | Promise<boolean>): Promise<Arrival> {
    const added: number[] = [];
    try {
      // Counted before arming: one the stub refuses is still taken back in `finally`.
      for (const a of addresses) {
        added.push(a);
        await this.arming.addTemporary(a);
      }
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
      for (const a of added) await this.arming.removeTemporary(a).catch(() => undefined);
    }
  }

  /**
   * After a single step of a line step: a user breakpoint at the new pc counts as hit, as in gdb
   * (its condition decides). The stop to report, or undefined to step on.
   */
  private async breakpointReached(): Promise<TargetStop | undefined> {
    const pc = await this.access.pc();
    const user = this.userBreakpointsAt(pc);
    if (!user.length) return undefined;
    const verdict = await this.verdict(pc, user);
    return verdict.stop ? this.makeStop('breakpoint', pc, user, undefined, verdict.exception) : undefined;
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
    const sym = this.codeMap.symbolAddress(pc, this.access.pagingOn());
    this.hidden = { thread: this.currentThread, pc, count: this.codeMap.hiddenInlineCount(sym, reason === 'breakpoint' ? keptByBreakpoints(breakpoints) : undefined) };
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
      // A pause asked for while the guest was stopped between resumes (no interrupt could be sent).
      if (this.pauseRequested) return PAUSED;
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
      // A pause asked for while the resume was being sent: interrupt now that the guest runs.
      if (this.pauseRequested && !this.pauseInterrupted && this.rsp.running && !this.rsp.connection.closed) {
        this.pauseInterrupted = true;
        this.rsp.sendInterrupt();
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
        // A pause asked for while re-arming (the guest was stopped, so no interrupt was sent) ends here.
        if (this.pauseRequested) return reply;
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
