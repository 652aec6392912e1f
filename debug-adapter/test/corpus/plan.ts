// The seeded plan of a corpus comparison: stops (function breakpoints on the corpus's
// functions and source-line breakpoints taken from the kernel's line table), each counted from
// a round of the workers (corpus_round), and from each stop a short sequence of step operations.
// The same seed and kernel give the same plan.

import { seededRandom } from '../../../qemu-bridge/test/seeded-random';
import * as path from 'path';
import { run } from '../fixtures-c/compile';

export type StepKind = 'next' | 'step' | 'finish' | 'stepi';
export const STEP_KINDS: readonly StepKind[] = ['next', 'step', 'finish', 'stepi'];

export interface PlannedStop {
  /** A function breakpoint... */
  function?: string;
  /** ...or a source line breakpoint (file is a basename inside corpus/kernel). */
  file?: string;
  line?: number;
  /** The breakpoint counts from this round of corpus_round on. */
  round: number;
  ops: StepKind[];
}

export interface Plan {
  seed: number;
  stops: PlannedStop[];
}

/** Functions of work.c/round.c/threads.c that every round of both workers calls. */
export const STOP_FUNCTIONS: readonly string[] = [
  'do_round', 'rng_next', 'sum_weights', 'factorial', 'fib', 'point_dist', 'checksum', 'histogram', 'label_for',
  'str_len', 'pick_op', 'apply', 'tail_a', 'tail_b', 'compute_with_yield', 'yield',
];

/** Files whose lines are candidates for line breakpoints. */
export const LINE_FILES: readonly string[] = ['work.c', 'round.c'];

/** Highest round a stop may name (the kernels run CORPUS_ROUNDS = 400 rounds). */
const LAST_PLANNED_ROUND = 300;

/** Source lines with code in `files` (basename → sorted lines), from objdump's decoded line table. */
export function linesWithCode(elf: string, files: readonly string[]): Map<string, number[]> {
  const text = run('objdump', ['--dwarf=decodedline', elf]);
  const found = new Map<string, Set<number>>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+0x[0-9a-f]+/.exec(line);
    if (!m) continue;
    const file = path.basename(m[1]);
    if (!files.includes(file)) continue;
    let set = found.get(file);
    if (!set) found.set(file, (set = new Set()));
    set.add(Number(m[2]));
  }
  return new Map([...found].map(([f, s]) => [f, [...s].sort((a, b) => a - b)]));
}

export interface PlanOptions {
  seed: number;
  /** Step operations of each kind to plan (gdb skips some finishes: plan a margin above the target). */
  opsPerKind: number;
  /** Operations per sequence (per stop). */
  sequenceLength: number;
}

/**
 * Plans stops and step sequences: every kind appears opsPerKind times, shuffled over sequences
 * of sequenceLength; stops alternate between function and line breakpoints at random, with
 * rounds increasing over the run.
 */
export function makePlan(elf: string, options: PlanOptions): Plan {
  const random = seededRandom(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const pool: StepKind[] = [];
  // gdb does not run `finish` in the outermost frames (worker_main never returns), where
  // sequences sometimes end up: plan it 1.5 times as often.
  for (const kind of STEP_KINDS) for (let i = 0; i < Math.round(options.opsPerKind * (kind === 'finish' ? 1.5 : 1)); i++) pool.push(kind);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const lines = linesWithCode(elf, LINE_FILES);
  const lineFiles = [...lines.keys()];
  const count = Math.ceil(pool.length / options.sequenceLength);
  const stops: PlannedStop[] = [];
  for (let i = 0; i < count; i++) {
    const ops = pool.slice(i * options.sequenceLength, (i + 1) * options.sequenceLength);
    const round = 1 + Math.floor((i * (LAST_PLANNED_ROUND - 1)) / Math.max(1, count));
    if (random() < 0.5 || lineFiles.length === 0) {
      stops.push({ function: pick(STOP_FUNCTIONS), round, ops });
    } else {
      const file = pick(lineFiles);
      stops.push({ file, line: pick(lines.get(file) ?? []), round, ops });
    }
  }
  return { seed: options.seed, stops };
}

export function describeStop(s: PlannedStop): string {
  return s.function ? `break ${s.function}` : `break ${s.file}:${s.line}`;
}
