// The session side of level 1: the `memoryModel` launch attribute (or the CLI's `--model FILE`)
// turned into what the snapshot path knows of a kernel (KernelKnowledge's describe and
// descriptionSource), through the model library's loadDescriber. No description: nothing known.

import type { DebugSymbols } from '../../symbols';
import type { DescriptionErrorJson } from '../model/snapshot-document';
import type { TracingDescription } from '../model/described-state';
import { loadDescriber } from '../model/load-describer';
import type { DescribeFunction } from './stop-snapshot';

export interface MemoryModelKnowledge {
  readonly describe: DescribeFunction;
  readonly descriptionSource: string;
  /** The mistakes found while loading and parsing (also in every document's description.errors). */
  readonly errors: readonly DescriptionErrorJson[];
  /** Level 2's part of the description, for the tracer. */
  readonly tracing?: TracingDescription;
}

/**
 * What a `memoryModel` value (an object, a path relative to `baseDir`, `builtin:<name>`) gives the
 * snapshot path; undefined when there is none.
 */
export function memoryModelKnowledge(value: unknown, baseDir: string, symbols: DebugSymbols | undefined): MemoryModelKnowledge | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const loaded = loadDescriber(value, baseDir, symbols);
  return {
    describe: loaded.describe,
    descriptionSource: loaded.source,
    errors: loaded.errors,
    ...(loaded.tracing ? { tracing: loaded.tracing } : {}),
  };
}

/** The knowledge of a session's launch or attach arguments (`memoryModel`, relative to `cwd`). */
export function startArgumentsKnowledge(start: Readonly<Record<string, unknown>> | undefined, symbols: DebugSymbols | undefined): MemoryModelKnowledge | undefined {
  if (!start) return undefined;
  const baseDir = typeof start.cwd === 'string' ? start.cwd : process.cwd();
  return memoryModelKnowledge(start.memoryModel, baseDir, symbols);
}

/** One line per mistake, for a console or stderr. */
export function describeErrorsText(k: MemoryModelKnowledge): string {
  return k.errors.map((e) => `mmscope: memory model (${k.descriptionSource}): ${e.message}\n`).join('');
}
