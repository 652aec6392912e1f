// The `tracing` part of a memory-model description (docs/memory-model.md, level 2) checked into
// a TracingDescription: which function allocates (and what it returns, how many bytes a call
// takes), which one frees (and which argument holds what alloc returned). Each mistake is one
// sentence naming the field; the size expression is parsed here, once.

import { ConditionError, EventCondition } from '../event-condition';
import type { TracingDescription } from './described-state';
import type { DescriptionErrorJson } from './snapshot-document';

/** Names a size expression may use: the traced call's arguments. */
export const SIZE_EXPRESSION_NAMES = ['$arg0', '$arg1', '$arg2', '$arg3', '$arg4', '$arg5'] as const;

const RETURNS = ['address', 'physical', 'frame'] as const;
const IDENTIFIER = /^[A-Za-z_.$][A-Za-z0-9_.$]*$/;

export interface CheckedTracing {
  readonly tracing?: TracingDescription;
  /** The size per call: a constant, or the parsed expression over $arg0 … $arg5. */
  readonly size?: number | EventCondition;
  readonly errors: readonly DescriptionErrorJson[];
}

/** Checks `value` (the description's `tracing` object) found at `path`. */
export function checkTracingDescription(value: unknown, path = 'tracing'): CheckedTracing {
  const errors: DescriptionErrorJson[] = [];
  const fail = (where: string, message: string, expression?: string): CheckedTracing => {
    errors.push({ path: where, message, ...(expression !== undefined ? { expression } : {}) });
    return { errors };
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(path, 'tracing must be an object with "alloc" and "free".');
  const t = value as Record<string, unknown>;
  const alloc = t.alloc;
  const free = t.free;
  if (typeof alloc !== 'object' || alloc === null) return fail(`${path}.alloc`, 'alloc must be an object naming the allocation function ({ "function": "kalloc", "returns": "address" }).');
  if (typeof free !== 'object' || free === null) return fail(`${path}.free`, 'free must be an object naming the free function ({ "function": "kfree" }).');
  const a = alloc as Record<string, unknown>;
  const f = free as Record<string, unknown>;
  if (typeof a.function !== 'string' || !IDENTIFIER.test(a.function)) return fail(`${path}.alloc.function`, 'alloc.function must be the name of the kernel\'s allocation function.');
  if (typeof f.function !== 'string' || !IDENTIFIER.test(f.function)) return fail(`${path}.free.function`, 'free.function must be the name of the kernel\'s free function.');
  const returns = a.returns ?? 'address';
  if (typeof returns !== 'string' || !(RETURNS as readonly string[]).includes(returns)) {
    return fail(`${path}.alloc.returns`, `alloc.returns must be "address", "physical" or "frame", not ${JSON.stringify(returns)}.`);
  }
  const argument = f.argument ?? 0;
  if (typeof argument !== 'number' || !Number.isInteger(argument) || argument < 0 || argument > 5) {
    return fail(`${path}.free.argument`, `free.argument must be the index (0 to 5) of the argument that holds what alloc returned, not ${JSON.stringify(argument)}.`);
  }
  let size: number | EventCondition = 4096;
  const sizeValue = a.size;
  if (typeof sizeValue === 'number') {
    if (!Number.isInteger(sizeValue) || sizeValue <= 0) return fail(`${path}.alloc.size`, `alloc.size must be a positive number of bytes or an expression over $arg0 … $arg5, not ${sizeValue}.`);
    size = sizeValue;
  } else if (typeof sizeValue === 'string') {
    try {
      size = new EventCondition(sizeValue, SIZE_EXPRESSION_NAMES);
    } catch (e) {
      return fail(`${path}.alloc.size`, `the size expression cannot be read: ${e instanceof ConditionError ? e.message : String(e)}.`, sizeValue);
    }
  } else if (sizeValue !== undefined) {
    return fail(`${path}.alloc.size`, 'alloc.size must be a number of bytes or an expression over $arg0 … $arg5 such as "$arg0 * 4096".');
  }
  const tracing: TracingDescription = {
    alloc: { function: a.function, returns: returns as TracingDescription['alloc']['returns'], ...(sizeValue !== undefined ? { size: sizeValue as number | string } : {}) },
    free: { function: f.function, argument },
  };
  return { tracing, size, errors };
}

/** Bytes of one traced allocation: the constant, or the expression at this call's arguments (never below 0). */
export function sizeOfCall(size: number | EventCondition, args: readonly bigint[]): number {
  if (typeof size === 'number') return size;
  const fields: Record<string, number> = {};
  SIZE_EXPRESSION_NAMES.forEach((name, i) => (fields[name] = Number(args[i] ?? 0n)));
  const v = size.evaluateNumber(fields);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
