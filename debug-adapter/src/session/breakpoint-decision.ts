// Whether a breakpoint hit becomes a stop: conditions (C expressions in the hit's frame), hit
// counts, logpoints (which print and go on) and the internal breakpoints of session extensions
// (which decide themselves). Runs with the guest stopped at the hit, inside a run operation,
// so it reads the guest through the runtime's own access, not through the user's inspector.

import { Inspector } from '../inspect';
import type { FrameContext } from '../inspect/target-access';
import { parseHitCondition, UserBreakpoint } from './breakpoint-table';
import { messageOf } from './errors';
import { GuestAccess } from './guest-access';
import { BreakpointVerdict } from './stepping-engine';
import { UnwoundStackFrame } from './stack-unwinder';
import { DebugSymbols } from '../symbols';

/** An extension's decision on a hit of its internal breakpoint: undefined goes on. */
export type InternalHitDecider = (pc: number) => Promise<{ description: string; text?: string } | undefined>;

export class BreakpointDecider {
  private readonly inspector: Inspector;
  private readonly internalDeciders: InternalHitDecider[] = [];

  /**
   * `output` receives console lines (logpoint messages, conditions that failed to evaluate);
   * `frameOf` gives the frame conditions and log messages are evaluated in (the session's shown
   * frame 0, whose inline depth skips inlined calls not entered yet).
   */
  constructor(
    symbols: DebugSymbols,
    private readonly access: GuestAccess,
    private readonly output: (line: string) => void,
    private readonly frameOf: (top: UnwoundStackFrame) => FrameContext = toFrameContext,
  ) {
    this.inspector = new Inspector(symbols, access);
  }

  addInternalDecider(decider: InternalHitDecider): void {
    this.internalDeciders.push(decider);
  }

  /** Conditions, hit conditions and logpoints: `stop` true when the hit becomes a stop. */
  async decide(breakpoints: readonly UserBreakpoint[]): Promise<BreakpointVerdict> {
    const inspector = this.inspector;
    inspector.invalidate();
    // Unwound only when a condition or log message needs it (internal hits, e.g. tracing, do not).
    let shown: FrameContext | undefined;
    const frameOf = async (): Promise<FrameContext> => (shown ??= this.frameOf((await this.access.stackTrace(1))[0]));
    let stop = false;
    let exception: { description: string; text?: string } | undefined;
    for (const bp of breakpoints) {
      if (bp.kind === 'internal') {
        for (const decide of this.internalDeciders) {
          const hit = await decide(bp.addresses[0]);
          if (hit) {
            exception = hit;
            stop = true;
          }
        }
        continue;
      }
      if (bp.condition) {
        try {
          if (!(await inspector.evaluateCondition(bp.condition, await frameOf()))) continue;
        } catch (e) {
          this.output(`The condition "${bp.condition}" of breakpoint ${bp.id} could not be evaluated (${messageOf(e).replace(/\.$/, '')}); stopping.`);
          stop = true;
          continue;
        }
      }
      bp.hits++;
      if (bp.hitCondition) {
        const holds = parseHitCondition(bp.hitCondition);
        if (typeof holds === 'string') {
          this.output(`Breakpoint ${bp.id}: ${holds}; stopping.`);
        } else if (!holds(bp.hits)) {
          continue;
        }
      }
      if (bp.logMessage !== undefined) {
        this.output(await inspector.interpolateLogMessage(bp.logMessage, await frameOf()));
        continue;
      }
      stop = true;
    }
    inspector.invalidate();
    if (!stop) return { stop: false };
    return exception ? { stop: true, exception } : { stop: true };
  }
}

/** The inspector's view of one machine frame. */
export function toFrameContext(frame: UnwoundStackFrame): FrameContext {
  return {
    pc: frame.symbolPc,
    ...(frame.cfa !== undefined ? { cfa: frame.cfa } : {}),
    registers: frame.registers,
    exactRegisters: frame.exactRegisters,
    frameIndex: frame.index,
  };
}
