// The physical frame map: what the page tables of the counted address spaces make of each 4 KiB
// frame (docs/snapshot-schema.md, "Frames"). Computed over intervals, never frame by frame: a
// sweep over the mapping runs' physical intervals keyed by their virtual-minus-physical offset
// (two offsets over one frame = two distinct virtual addresses = 'multi'), the paging-structure
// pages laid over it, and QEMU's RAM regions under it. Cost grows with the number of runs and
// tables, not with the size of RAM, so a 3 GiB guest or a terabyte direct map stays cheap.

import type { FrameMapState, FrameRun, PhysicalRegionJson } from './snapshot-document';
import type { SpaceModel, SpaceRun } from './space-model';

export const FRAME = 4096;

/** Frames start..end-1. */
export interface FrameSpan {
  readonly start: number;
  readonly end: number;
}

/** A run's frames and the virtual page number minus frame number (equal offsets: the same virtual address). */
interface OffsetInterval extends FrameSpan {
  readonly delta: number;
}

const vpnOf = (va: bigint): number => Number(va >> 12n);

export function runFrames(r: Pick<SpaceRun, 'pa' | 'bytes'>): FrameSpan {
  return { start: Math.floor(r.pa / FRAME), end: Math.ceil((r.pa + r.bytes) / FRAME) };
}

/**
 * Every mapping of the spaces as frame intervals with their offset, plus, for each table repeated
 * under `shared`, one copy of its pages at the repeat's address (enough to make them 'multi').
 */
function offsetIntervals(spaces: readonly SpaceModel[]): OffsetInterval[] {
  const out: OffsetInterval[] = [];
  for (const s of spaces) {
    for (const r of s.runs) {
      const f = runFrames(r);
      out.push({ ...f, delta: vpnOf(r.va) - f.start });
    }
    const copied = new Set<bigint>();
    for (const x of s.shared) {
      if (copied.has(x.sameAs)) continue;
      copied.add(x.sameAs);
      const shift = x.virtual - x.sameAs;
      for (const r of runsWithin(s.runs, x.sameAs, x.sameAs + x.span)) {
        const f = runFrames(r);
        out.push({ ...f, delta: vpnOf(r.va + shift) - f.start });
      }
    }
  }
  return out;
}

/** The runs (sorted by va) that start in [from, to). */
export function runsWithin(runs: readonly SpaceRun[], from: bigint, to: bigint): SpaceRun[] {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid].va < from) lo = mid + 1;
    else hi = mid;
  }
  const out: SpaceRun[] = [];
  for (let i = lo; i < runs.length && runs[i].va < to; i++) out.push(runs[i]);
  return out;
}

/** Mapped frames as sorted disjoint spans, each mapped at one virtual address or at several ('multi'). */
export function mappedSpans(spaces: readonly SpaceModel[]): (FrameSpan & { multi: boolean })[] {
  const iv = offsetIntervals(spaces);
  const events: { frame: number; delta: number; add: number }[] = [];
  for (const x of iv) {
    if (x.end <= x.start) continue;
    events.push({ frame: x.start, delta: x.delta, add: 1 }, { frame: x.end, delta: x.delta, add: -1 });
  }
  events.sort((a, b) => a.frame - b.frame);
  const active = new Map<number, number>();
  const out: (FrameSpan & { multi: boolean })[] = [];
  let i = 0;
  while (i < events.length) {
    const frame = events[i].frame;
    for (; i < events.length && events[i].frame === frame; i++) {
      const e = events[i];
      const n = (active.get(e.delta) ?? 0) + e.add;
      if (n === 0) active.delete(e.delta);
      else active.set(e.delta, n);
    }
    if (i >= events.length) break;
    const next = events[i].frame;
    if (active.size === 0 || next === frame) continue;
    const multi = active.size > 1;
    const last = out[out.length - 1];
    if (last && last.end === frame && last.multi === multi) (last as { end: number }).end = next;
    else out.push({ start: frame, end: next, multi });
  }
  return out;
}

/** Sorted, unique frame numbers of the spaces' paging-structure pages. */
export function tableFrames(spaces: readonly SpaceModel[]): number[] {
  const set = new Set<number>();
  for (const s of spaces) for (const t of s.tables) set.add(Math.floor(t / FRAME));
  return [...set].sort((a, b) => a - b);
}

/** Regions as sorted, merged frame spans (those of the given kinds). */
export function regionSpans(regions: readonly PhysicalRegionJson[], kinds: readonly PhysicalRegionJson['kind'][]): FrameSpan[] {
  const spans = regions.filter((r) => kinds.includes(r.kind) && r.size > 0)
    .map((r) => ({ start: Math.floor(r.base / FRAME), end: Math.ceil((r.base + r.size) / FRAME) }))
    .sort((a, b) => a.start - b.start);
  return mergeSpans(spans);
}

/** Sorted spans merged where they touch or overlap. */
export function mergeSpans(sorted: readonly FrameSpan[]): FrameSpan[] {
  const out: { start: number; end: number }[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** The intersection of two sorted disjoint span lists. */
export function intersectSpans(a: readonly FrameSpan[], b: readonly FrameSpan[]): FrameSpan[] {
  const out: FrameSpan[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i].start, b[j].start);
    const end = Math.min(a[i].end, b[j].end);
    if (start < end) out.push({ start, end });
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return out;
}

/** `a` minus `b` (both sorted and disjoint). */
export function subtractSpans(a: readonly FrameSpan[], b: readonly FrameSpan[]): FrameSpan[] {
  const out: FrameSpan[] = [];
  let j = 0;
  for (const s of a) {
    let start = s.start;
    while (j < b.length && b[j].end <= start) j++;
    let k = j;
    while (k < b.length && b[k].start < s.end) {
      if (b[k].start > start) out.push({ start, end: b[k].start });
      start = Math.max(start, b[k].end);
      k++;
    }
    if (start < s.end) out.push({ start, end: s.end });
  }
  return out;
}

/** Spans of single frames, merged where consecutive. */
export function framesToSpans(sortedFrames: readonly number[]): FrameSpan[] {
  const out: { start: number; end: number }[] = [];
  for (const f of sortedFrames) {
    const last = out[out.length - 1];
    if (last && last.end === f) last.end++;
    else if (!last || f >= last.end) out.push({ start: f, end: f + 1 });
  }
  return out;
}

export interface FrameMap {
  readonly count: number;
  readonly ramKnown: boolean;
  readonly runs: FrameRun<FrameMapState>[];
  readonly counts: Record<FrameMapState, number>;
  /** Sorted disjoint spans of frames mapped in a counted space (any state but table), and of table frames. */
  readonly mapped: readonly (FrameSpan & { multi: boolean })[];
  readonly tables: readonly FrameSpan[];
}

/**
 * The frame map of the counted spaces over QEMU's regions (RAM when known). Frames: 0 up to the
 * end of RAM or of the highest mapped or table frame, whichever is higher. Priority: table >
 * multi > mapped > unmapped (RAM, or anything when RAM is unknown) > not-ram.
 */
export function buildFrameMap(counted: readonly SpaceModel[], regions: readonly PhysicalRegionJson[] | undefined): FrameMap {
  const mapped = mappedSpans(counted);
  const tables = framesToSpans(tableFrames(counted));
  const ramKnown = regions !== undefined && regions.some((r) => r.kind === 'ram');
  const ram = ramKnown && regions ? regionSpans(regions, ['ram']) : [];
  let count = 0;
  for (const list of [mapped, tables, ram]) if (list.length) count = Math.max(count, list[list.length - 1].end);
  const bounds = new Set<number>([0, count]);
  for (const list of [mapped, tables, ram]) for (const s of list) bounds.add(s.start).add(s.end);
  const points = [...bounds].filter((p) => p <= count).sort((a, b) => a - b);
  const runs: [number, number, FrameMapState][] = [];
  const counts: Record<FrameMapState, number> = { 'not-ram': 0, unmapped: 0, mapped: 0, multi: 0, table: 0 };
  let mi = 0;
  let ti = 0;
  let ri = 0;
  for (let p = 0; p + 1 < points.length; p++) {
    const start = points[p];
    const end = points[p + 1];
    while (mi < mapped.length && mapped[mi].end <= start) mi++;
    while (ti < tables.length && tables[ti].end <= start) ti++;
    while (ri < ram.length && ram[ri].end <= start) ri++;
    const inTable = ti < tables.length && tables[ti].start <= start;
    const m = mi < mapped.length && mapped[mi].start <= start ? mapped[mi] : undefined;
    const inRam = !ramKnown || (ri < ram.length && ram[ri].start <= start);
    const state: FrameMapState = inTable ? 'table' : m ? (m.multi ? 'multi' : 'mapped') : inRam ? 'unmapped' : 'not-ram';
    counts[state] += end - start;
    const last = runs[runs.length - 1];
    if (last && last[2] === state && last[0] + last[1] === start) last[1] += end - start;
    else runs.push([start, end - start, state]);
  }
  return { count, ramKnown, runs, counts, mapped, tables };
}
