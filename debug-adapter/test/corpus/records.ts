// What one stop looks like on either side of the comparison, and the normalisation that makes
// gdb's text and the adapter's DAP answers comparable (docs/testing-corpus.md, "Normalisation").

import { StepKind } from './plan';

export type StopOp = 'entry' | 'break' | 'resync' | StepKind;

export interface FrameView {
  function: string | null;
  file: string | null;
  line: number;
}

/** One stop as the comparison sees it (both sides produce this shape). */
export interface StopView {
  stop: number;
  op: StopOp;
  /** Frame 0's pc (a bigint: the x86-64 kernels' addresses need all 64 bits). */
  pc?: bigint;
  frames: FrameView[];
  /** Arguments then locals of frame 0: [name, value text]. */
  values: [string, string][];
  round?: number;
  /** The breakpoint round gdb used (break stops). */
  breakRound?: number;
  /** The guard breakpoint ended the wait (the line was not reached). */
  guard?: boolean;
  /** The request or command failed with this text. */
  error?: string;
  /** The kernel ended (QEMU exited) instead of stopping. */
  exited?: boolean;
}

/** gdb-oracle.py's JSON line (pcs as hex strings: JSON numbers lose 64-bit addresses). */
export interface GdbRecord {
  stop: number;
  op: StopOp;
  pc?: string;
  frames?: { function: string | null; file: string | null; line: number; pc: string }[];
  args?: [string, string][];
  locals?: [string, string][];
  round?: number;
  breakRound?: number;
  guard?: boolean;
  error?: string;
  exited?: number;
}

export function fromGdb(r: GdbRecord): StopView {
  return {
    stop: r.stop,
    op: r.op,
    ...(r.pc !== undefined ? { pc: BigInt(r.pc) } : {}),
    frames: (r.frames ?? []).map((f) => ({ function: f.function, file: f.file, line: f.line })),
    values: [...(r.args ?? []), ...(r.locals ?? [])],
    ...(r.round !== undefined ? { round: r.round } : {}),
    ...(r.breakRound !== undefined ? { breakRound: r.breakRound } : {}),
    ...(r.guard ? { guard: true } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.exited !== undefined ? { exited: true } : {}),
  };
}

/** The adapter decorates an interrupted frame's name with " [interrupt N]". */
export function normaliseFunctionName(name: string | null): string | null {
  if (name === null) return null;
  return name.replace(/ \[interrupt \d+\]$/, '');
}

/**
 * Values by plain name. gdb names a parameter it only knows from the caller's call site
 * `x@entry`; the adapter must show that value for `x`, so the key is `x` and the entry origin is
 * kept in the text shown in a difference. The adapter names a shadowed outer variable
 * `x (line N)`; gdb lists the innermost first: the first of a name wins on both sides.
 */
export function valueMap(values: readonly [string, string][]): Map<string, { value: string; entry: boolean }> {
  const map = new Map<string, { value: string; entry: boolean }>();
  for (const [rawName, rawValue] of values) {
    const entry = /@entry$/.test(rawName);
    const name = rawName.replace(/@entry$/, '').replace(/ \(line \d+\)$/, '').trim();
    if (map.has(name)) continue;
    map.set(name, { value: normaliseValue(rawValue), entry });
  }
  return map;
}

/** Value text: whitespace trimmed; the adapter's "optimized out" wording mapped to gdb's. */
export function normaliseValue(text: string): string {
  const t = text.trim();
  if (/^<?optimi[sz]ed out>?$/i.test(t)) return '<optimized out>';
  return t;
}

export interface Difference {
  stop: number;
  op: StopOp;
  /** Index of the operation inside its sequence (-1 for the breakpoint stop). */
  index: number;
  field: 'state' | 'function' | 'file' | 'line' | 'pc' | 'round' | 'backtrace' | 'values' | 'guard';
  gdb: string;
  mmscope: string;
}

const frameText = (f: FrameView | undefined): string => (f ? `${f.function ?? '??'} ${f.file ?? '-'}:${f.line}` : '(none)');
const hex = (n: bigint | undefined): string => (n === undefined ? '(none)' : '0x' + n.toString(16));

/** Ended state of a stop: 'exited', 'error: …' or 'stopped'. */
function stateText(v: StopView): string {
  if (v.exited) return 'exited';
  if (v.frames.length === 0) return `no stop${v.error ? ': ' + v.error : ''}`;
  return v.error ? `stopped (error: ${v.error})` : 'stopped';
}

/**
 * Compares one stop. `sameLocation` is true when both sides stopped at the same execution point
 * (same state and pc; at a breakpoint stop, also the same corpus_round): only then can the
 * sequence go on.
 */
export function compareStop(gdb: StopView, ours: StopView, index: number): { differences: Difference[]; sameLocation: boolean } {
  const diffs: Difference[] = [];
  const add = (field: Difference['field'], g: string, m: string): void => {
    diffs.push({ stop: gdb.stop, op: gdb.op, index, field, gdb: g, mmscope: m });
  };
  const gState = stateText(gdb);
  const mState = stateText(ours);
  // An error text is compared only for its presence: gdb's and the adapter's wording differ.
  const gErr = !!gdb.error;
  const mErr = !!ours.error;
  if (gState.split(':')[0] !== mState.split(':')[0] || gErr !== mErr) add('state', gState, mState);
  if (!!gdb.guard !== !!ours.guard) add('guard', gdb.guard ? 'guard hit (line not reached)' : 'breakpoint hit', ours.guard ? 'guard hit (line not reached)' : 'breakpoint hit');
  if (gdb.frames.length === 0 || ours.frames.length === 0) {
    return { differences: diffs, sameLocation: diffs.length === 0 && (gdb.exited ?? false) === (ours.exited ?? false) };
  }
  const g0 = gdb.frames[0];
  const m0 = ours.frames[0];
  const fn = normaliseFunctionName(m0.function);
  if (g0.function !== fn) add('function', g0.function ?? '??', fn ?? '??');
  if (g0.file !== m0.file) add('file', g0.file ?? '-', m0.file ?? '-');
  if (g0.line !== m0.line) add('line', String(g0.line), String(m0.line));
  if (gdb.pc !== ours.pc) add('pc', hex(gdb.pc), hex(ours.pc));
  // The same execution point: the same state and pc (a line shown differently for the same pc
  // is a disagreement, but the steps from there still compare the same execution).
  if (gdb.op === 'break' && gdb.round !== undefined && ours.round !== gdb.round) add('round', String(gdb.round), ours.round === undefined ? '(unknown)' : String(ours.round));
  const sameLocation = !diffs.some((d) => d.field === 'state' || d.field === 'guard' || d.field === 'pc' || d.field === 'round');

  const gFrames = gdb.frames.map(frameText);
  const mFrames = ours.frames.map((f) => frameText({ ...f, function: normaliseFunctionName(f.function) }));
  const n = Math.max(gFrames.length, mFrames.length);
  for (let i = 0; i < n; i++) {
    if (gFrames[i] !== mFrames[i]) {
      add('backtrace', `#${i} ${gFrames[i] ?? '(no frame)'}  [gdb: ${gFrames.length} frames]`, `#${i} ${mFrames[i] ?? '(no frame)'}  [mmscope: ${mFrames.length} frames]`);
      break;
    }
  }

  const gv = valueMap(gdb.values);
  const mv = valueMap(ours.values);
  const parts: [string, string][] = [];
  for (const [name, g] of gv) {
    const m = mv.get(name);
    const shownName = g.entry ? `${name}@entry` : name;
    if (!m) parts.push([`${shownName} = ${g.value}`, `${name} missing`]);
    else if (m.value !== g.value) parts.push([`${shownName} = ${g.value}`, `${name} = ${m.value}`]);
  }
  for (const [name, m] of mv) if (!gv.has(name)) parts.push([`${name} missing`, `${name} = ${m.value}`]);
  if (parts.length) add('values', parts.map((p) => p[0]).join('; '), parts.map((p) => p[1]).join('; '));
  return { differences: diffs, sameLocation };
}
