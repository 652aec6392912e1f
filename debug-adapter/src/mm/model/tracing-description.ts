// How many bytes a traced allocation takes: the tracing description's `alloc.size` (checked with
// the rest of the description by memory-model-load.ts) as a constant, or an expression over the
// call's arguments `$arg0` … `$arg5` (`"$arg0 * 4096"`, `"4096 << $arg0"`) parsed here once, in
// the allocation breakpoints' expression language (event-condition.ts), and evaluated per call.

import { ConditionError, EventCondition } from './event-condition';
import type { TracingDescription } from './described-state';

/** Names a size expression may use: the traced call's arguments. */
export const SIZE_EXPRESSION_NAMES = ['$arg0', '$arg1', '$arg2', '$arg3', '$arg4', '$arg5'] as const;

/** A traced call's size: bytes, or the parsed expression. */
export type TracedSize = number | EventCondition;

/** The size of `tracing`'s allocations (default 4096), or a sentence saying why the expression cannot be used. */
export function tracedSize(tracing: TracingDescription): TracedSize | string {
  const size = tracing.alloc.size;
  if (size === undefined) return 4096;
  if (typeof size === 'number') return size > 0 ? size : `alloc.size must be a positive number of bytes, not ${size}`;
  try {
    return new EventCondition(size, SIZE_EXPRESSION_NAMES);
  } catch (e) {
    return `the size expression "${size}" cannot be read (${e instanceof ConditionError ? e.message : String(e)}); it may use $arg0 … $arg5, numbers and the operators + - * / % << >> & | ^`;
  }
}

/** Bytes of one traced allocation: the constant, or the expression at this call's arguments (never below 0). */
export function sizeOfCall(size: TracedSize, args: readonly bigint[]): number {
  if (typeof size === 'number') return size;
  const fields: Record<string, number> = {};
  SIZE_EXPRESSION_NAMES.forEach((name, i) => (fields[name] = Number(args[i] ?? 0n)));
  const v = size.evaluateNumber(fields);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
