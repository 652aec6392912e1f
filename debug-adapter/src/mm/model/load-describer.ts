// From the `memoryModel` launch attribute (or `--model FILE`) to the function the snapshot path
// calls at each stop: loads and checks the description, parses its expressions against the
// kernel's symbols once, and carries the mistakes found on the way into every evaluation, so the
// user sees them in the document's `description.errors` (one sentence each) and the valid parts
// still work. Never throws.

import type { DebugSymbols } from '../../symbols';
import type { DescribedState } from './described-state';
import type { DescriptionErrorJson } from './snapshot-document';
import type { MemoryModelDescription } from './memory-model';
import { createDescriber, DescribeAccess } from './describer';
import { loadMemoryModel } from './memory-model-load';

export interface LoadedDescriber {
  /** Evaluates the description at a stop (every result carries the loading mistakes too). */
  readonly describe: (access: DescribeAccess) => Promise<DescribedState>;
  /** Where the description came from: a file path, `builtin:<name>`, `launch configuration`. */
  readonly source: string;
  readonly description?: MemoryModelDescription;
  /** The mistakes found while loading and parsing it. */
  readonly errors: readonly DescriptionErrorJson[];
  /** Level 2's part, for the tracer. */
  readonly tracing?: MemoryModelDescription['tracing'];
}

/**
 * The describer for a `memoryModel` value (an object, a file path relative to `baseDir`, or
 * `builtin:<name>`). Without symbols (no ELF, or one without DWARF) every evaluation says so.
 */
export function loadDescriber(value: unknown, baseDir: string, symbols: DebugSymbols | undefined): LoadedDescriber {
  const loaded = loadMemoryModel(value, baseDir);
  const source = loaded.source ?? 'memoryModel';
  const errors: DescriptionErrorJson[] = [...loaded.errors];
  const only = (list: readonly DescriptionErrorJson[]) => async (): Promise<DescribedState> => ({ processes: [], allocators: [], heaps: [], findings: [], errors: list });
  if (!loaded.description) return { describe: only(errors), source, errors };
  if (!symbols || !symbols.hasDebugInfo) {
    errors.push({ path: '', message: 'A memory-model description is written over the kernel\'s globals and types, so it needs the kernel ELF with its debug information (built with -g): give "kernel" in launch.json or --kernel.' });
    return { describe: only(errors), source, errors, description: loaded.description, ...(loaded.description.tracing ? { tracing: loaded.description.tracing } : {}) };
  }
  const describer = createDescriber(loaded.description, symbols);
  // describer.errors are already in every evaluation; add the loader's in front.
  errors.push(...describer.errors);
  const before = loaded.errors;
  return {
    describe: async (access) => {
      const state = await describer.evaluate(access);
      return before.length ? { ...state, errors: [...before, ...state.errors] } : state;
    },
    source,
    errors,
    description: loaded.description,
    ...(loaded.description.tracing ? { tracing: loaded.description.tracing } : {}),
  };
}
