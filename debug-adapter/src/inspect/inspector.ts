// The Inspector: scopes, variables, C expression evaluation, setVariable and disassembly for a
// stopped target, over DebugSymbols and a TargetAccess. It knows nothing of DAP beyond the plain
// shapes in target-access.ts; the session maps them one to one onto DAP responses.

import { DebugSymbols } from '../symbols';
import {
  EvaluateContext, FrameContext, InspectDisassembledInstruction, InspectEvaluateResult, InspectScope,
  InspectSetVariableResult, InspectVariable, TargetAccess,
} from './target-access';

const notImplemented = (): never => { throw new Error('not implemented yet'); };

export class Inspector {
  constructor(readonly symbols: DebugSymbols, readonly access: TargetAccess) {}

  /** Drops every variable reference and cached memory; the session calls it on every resume. */
  invalidate(): void {
    notImplemented();
  }

  /** Locals (parameters and lexical blocks at the pc), Registers, Globals of the current file. */
  async scopes(frame: FrameContext): Promise<InspectScope[]> {
    void frame;
    return notImplemented();
  }

  /** Children of a scope, struct, array or pointer; `start`/`count` page through arrays. */
  async variables(reference: number, start?: number, count?: number): Promise<InspectVariable[]> {
    void reference; void start; void count;
    return notImplemented();
  }

  /** Evaluates a C expression in `frame` (globals and registers only when absent). Throws InspectError. */
  async evaluate(expression: string, frame?: FrameContext, context?: EvaluateContext): Promise<InspectEvaluateResult> {
    void expression; void frame; void context;
    return notImplemented();
  }

  /** True when a breakpoint condition holds (non-zero). Throws InspectError when it cannot be evaluated. */
  async evaluateCondition(expression: string, frame: FrameContext): Promise<boolean> {
    void expression; void frame;
    return notImplemented();
  }

  /** A logpoint message with each `{expression}` replaced by its value (errors shown inline). */
  async interpolateLogMessage(template: string, frame: FrameContext): Promise<string> {
    void template; void frame;
    return notImplemented();
  }

  /** Sets the scalar `name` inside container `reference` to the C expression `value`. Throws InspectError. */
  async setVariable(reference: number, name: string, value: string): Promise<InspectSetVariableResult> {
    void reference; void name; void value;
    return notImplemented();
  }

  /**
   * `count` instructions starting `instructionOffset` instructions from `address` (negative
   * offsets go backwards using symbol and line boundaries); source lines attached when
   * `resolveLine` is true. Unreadable memory gives instructions with presentationHint 'invalid'.
   */
  async disassemble(address: number, count: number, resolveLine = true, instructionOffset = 0): Promise<InspectDisassembledInstruction[]> {
    void address; void count; void resolveLine; void instructionOffset;
    return notImplemented();
  }
}
