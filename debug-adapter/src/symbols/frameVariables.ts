// The variables of one source frame, as gdb's `info args` and `info locals` list them. A machine
// frame whose pc lies in inlined calls is several source frames: the function (inline depth 0)
// and each inlined call around the pc (depth 1 = the outermost inlined call). Each source frame
// sees only its own scopes: from its function or inlined call down to the pc, stopping before
// the next inlined call.

import type { ScopeChain } from './debugSymbols';
import { FunctionInfo, InlinedCallInfo, ScopeInfo, VariableInfo } from './model';

export interface FrameVariables {
  /** The frame's function, or the inlined call the frame stands for. */
  scope: FunctionInfo | InlinedCallInfo;
  /** The frame's inline depth (0 = the function itself). */
  inlineDepth: number;
  /** Formal parameters of the function or inlined call, in DWARF order (`info args`). */
  parameters: VariableInfo[];
  /** Locals of the innermost block first, then each enclosing block out to the frame's own scope (`info locals`); DWARF order within a block. */
  locals: VariableInfo[];
}

function isInlined(s: ScopeInfo): s is InlinedCallInfo {
  return 'kind' in s && (s as InlinedCallInfo).kind === 'inlined';
}

/** How many source frames the chain makes: the function and one per inlined call. */
export function sourceFrameCount(chain: ScopeChain): number {
  return 1 + chain.scopes.filter(isInlined).length;
}

/**
 * The variables of the source frame at `inlineDepth` of `chain` (undefined: the innermost; a
 * depth past the innermost is the innermost).
 */
export function frameVariables(chain: ScopeChain, inlineDepth?: number): FrameVariables {
  const innermost = sourceFrameCount(chain) - 1;
  const depth = inlineDepth === undefined ? innermost : Math.max(0, Math.min(inlineDepth, innermost));
  let own: FunctionInfo | InlinedCallInfo = chain.function;
  const scopes: ScopeInfo[] = [chain.function];
  let at = 0;
  for (const s of chain.scopes) {
    if (isInlined(s)) {
      at++;
      if (at > depth) break;
      own = s;
      scopes.length = 0;
    }
    scopes.push(s);
  }
  const locals: VariableInfo[] = [];
  for (let i = scopes.length - 1; i >= 0; i--) locals.push(...scopes[i].variables);
  return { scope: own, inlineDepth: depth, parameters: [...own.parameters], locals };
}

/**
 * The order a name is looked up in the frame: locals innermost first, then the parameters (a
 * block's variable hides a parameter of the same name).
 */
export function lookupOrder(frame: FrameVariables): VariableInfo[] {
  return [...frame.locals, ...frame.parameters];
}
