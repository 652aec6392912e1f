// The call stack as the user sees it: each machine frame of the unwinder expanded into its source
// frames (inlined calls first, then the function that holds them), named and placed by file and
// line, with per-stop ids that later requests (scopes, evaluate) use to name a frame.

import { formatAddress, wrapAddress } from '../../../qemu-bridge/src/address';
import type { FrameContext } from '../inspect/target-access';
import { DebugSymbols } from '../symbols';
import { toFrameContext } from './breakpoint-decision';
import { CodeMap } from './code-map';
import { UnwoundStackFrame } from './stack-unwinder';

/** One frame of the source-level stack. */
export interface SourceStackFrame {
  /** Valid until the guest resumes. */
  id: number;
  name: string;
  file?: string;
  /** 0 when no line is known. */
  line: number;
  /** The machine frame's pc. */
  pc: number;
  /** True for a frame without source (assembly, unknown code). */
  subtle: boolean;
}

interface FrameHandle {
  frame: UnwoundStackFrame;
  /** The machine frames that called `frame`, nearest first. */
  callers: readonly UnwoundStackFrame[];
  /** The vCPU whose stack holds the frame. */
  thread: number;
  /** Index among the source frames of this machine frame that are shown (inlined calls first). */
  inlineIndex: number;
  /**
   * Inlined calls at the top of this machine frame that gdb hides at the stop pc (0 for callers):
   * the frame's true inline depth from the innermost is inlineIndex + hiddenInline.
   */
  hiddenInline: number;
  /** The source frame's inline depth (0 = the function; see FrameContext.inlineDepth). */
  inlineDepth: number;
}

export class SourceStack {
  private readonly handles = new Map<number, FrameHandle>();
  private nextId = 1;

  constructor(private readonly symbols: DebugSymbols, private readonly codeMap: CodeMap) {}

  /** Forgets the ids of the last stop (before the guest resumes). */
  clear(): void {
    this.handles.clear();
  }

  /**
   * The source frames of `machineFrames`, innermost first; ids are stable within one stop.
   * `hiddenAtTop`: the inlined calls at the stop pc that are not shown (by default those gdb
   * hides at a stop there, CodeMap.hiddenInlineCount).
   */
  expand(machineFrames: readonly UnwoundStackFrame[], thread = 1, hiddenAtTop?: number): SourceStackFrame[] {
    const frames: SourceStackFrame[] = [];
    const debug = this.symbols.hasDebugInfo;
    for (let m = 0; m < machineFrames.length; m++) {
      const frame = machineFrames[m];
      const callers = machineFrames.slice(m + 1);
      const top = frame.index === 0;
      if (m > 0) this.tailCallFrames(machineFrames[m - 1], frame, callers, thread, frames);
      // A caller's pc is a return address: look up the call instruction's line.
      const lookup = top ? frame.symbolPc : wrapAddress(frame.symbolPc - 1, this.codeMap.addressWidth);
      const hidden = top && debug ? (hiddenAtTop ?? this.codeMap.hiddenInlineCount(lookup)) : 0;
      const sources = debug ? this.codeMap.shownFrames(lookup, top, hidden) : [];
      const suffix = frame.interrupt ? ` [interrupt ${frame.interrupt.vector}]` : '';
      if (sources.length === 0) {
        // Assembly code (no DWARF function) may still have a line table.
        const name = this.codeMap.functionName(lookup) ?? formatAddress(frame.pc, this.codeMap.addressWidth);
        const line = debug ? this.symbols.addressToLine(lookup) : undefined;
        frames.push({ id: this.idOf(frame, callers, 0, 0, 0, thread), name: name + suffix, ...(line ? { file: line.file } : {}), line: line?.line ?? 0, pc: frame.pc, subtle: !line });
        continue;
      }
      sources.forEach((s, i) => {
        frames.push({
          id: this.idOf(frame, callers, i, sources.length - 1 - i, hidden, thread),
          name: s.name + (i === sources.length - 1 ? suffix : ''),
          ...(s.file ? { file: s.file } : {}),
          line: s.line ?? 0,
          pc: frame.pc,
          subtle: !s.file,
        });
      });
    }
    return frames;
  }

  /**
   * Pushes the frames gdb shows for tail calls between machine frame `callee` and its caller
   * (gdb's tailcall frames, CodeMap.tailCallsBetween), each at the line of its jump. They have
   * no registers of their own: their ids name the caller's machine frame.
   */
  private tailCallFrames(callee: UnwoundStackFrame, caller: UnwoundStackFrame, callers: readonly UnwoundStackFrame[], thread: number, frames: SourceStackFrame[]): void {
    if (!this.symbols.hasDebugInfo || callee.interrupt || caller.interrupt) return;
    const calleePc = callee.index === 0 ? callee.symbolPc : wrapAddress(callee.symbolPc - 1, this.codeMap.addressWidth);
    const tails = this.codeMap.tailCallsBetween(caller.symbolPc, calleePc);
    tails.forEach((returnPc, k) => {
      const shown = this.codeMap.shownFrames(wrapAddress(returnPc - 1, this.codeMap.addressWidth), false);
      shown.forEach((s, i) => {
        frames.push({
          id: this.idOf(caller, callers, -1 - k * 64 - i, shown.length - 1 - i, 0, thread),
          name: s.name,
          ...(s.file ? { file: s.file } : {}),
          line: s.line ?? 0,
          pc: returnPc,
          subtle: !s.file,
        });
      });
    });
  }

  /** The inspector's view of frame `id` and its vCPU; throws when the id belongs to an earlier stop. */
  context(id: number): { context: FrameContext; thread: number } {
    const handle = this.handles.get(id);
    if (!handle) throw new Error(`Frame ${id} belongs to an earlier stop; refresh the call stack.`);
    return { context: withCallers(handle.frame, handle.callers, handle.inlineDepth), thread: handle.thread };
  }

  /**
   * The inspector's view of machine frame 0 as its innermost shown source frame: inlined calls
   * that start at its pc are not entered yet (see CodeMap.sourceFrames), so their variables are
   * not the frame's. Breakpoint conditions, and evaluation without a frame id, use it. `hidden`:
   * the inlined calls the stack leaves out at the stop (as for expand; by default gdb's count).
   */
  topContext(top: UnwoundStackFrame, callers: readonly UnwoundStackFrame[] = [], hidden?: number): FrameContext {
    const shown = this.symbols.hasDebugInfo ? this.codeMap.shownFrames(top.symbolPc, true, hidden).length : 0;
    return withCallers(top, callers, Math.max(0, shown - 1));
  }

  private idOf(frame: UnwoundStackFrame, callers: readonly UnwoundStackFrame[], inlineIndex: number, inlineDepth: number, hiddenInline: number, thread: number): number {
    for (const [id, h] of this.handles) {
      if (h.frame !== frame || h.inlineIndex !== inlineIndex || h.thread !== thread || h.hiddenInline !== hiddenInline) continue;
      // A later, deeper stack trace knows more of the frame's callers.
      if (callers.length > h.callers.length) h.callers = callers;
      return id;
    }
    const id = this.nextId++;
    this.handles.set(id, { frame, callers, inlineIndex, inlineDepth, hiddenInline, thread });
    return id;
  }
}

/** The inspector's view of `frame`, with the chain of its callers (for DW_OP_entry_value). */
function withCallers(frame: UnwoundStackFrame, callers: readonly UnwoundStackFrame[], inlineDepth?: number): FrameContext {
  const context: FrameContext = { ...toFrameContext(frame), ...(inlineDepth !== undefined ? { inlineDepth } : {}) };
  if (callers.length) context.caller = withCallers(callers[0], callers.slice(1));
  return context;
}
