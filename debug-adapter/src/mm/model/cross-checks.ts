// Level-1 cross-checks: the allocators' view of the frames (a memory-model description's) laid
// over what the counted address spaces map (docs/snapshot-schema.md, "Findings"):
//   free-frame-mapped  a frame free in an allocator but mapped in a counted space or holding one
//                      of their page tables (a use after free, or an allocator that lost track);
//   frame-leaked       a frame used in an allocator that no counted space maps, that holds no page
//                      table and that no heap block lies in (a warning: the kernel may hold it by
//                      physical address only).
// One finding per span of frames, capped per kind (FindingCollector).

import type { DescribedAllocator } from './described-state';
import type { FindingDocJson, FrameAllocState, FrameAllocState as S } from './snapshot-document';
import { FRAME, FrameSpan, intersectSpans, mergeSpans, subtractSpans } from './frame-map';
import { FindingCollector } from './level0-findings';

const hex = (n: number): string => `0x${n.toString(16)}`;

export function spansIn(allocator: DescribedAllocator, state: S): FrameSpan[] {
  const spans = allocator.frames.filter((r) => r[2] === state && r[1] > 0).map((r) => ({ start: r[0], end: r[0] + r[1] }));
  return mergeSpans(spans.sort((a, b) => a.start - b.start));
}

const framesText = (s: FrameSpan): string =>
  s.end - s.start === 1 ? `frame ${hex(s.start * FRAME)}` : `${s.end - s.start} frames ${hex(s.start * FRAME)}..${hex(s.end * FRAME - 1)}`;

/**
 * `inUse`: sorted disjoint spans of frames mapped by a counted space or holding one of its page
 * tables; `heapFrames`: frames that heap blocks lie in.
 */
export function allocatorCrossChecks(allocators: readonly DescribedAllocator[], inUse: readonly FrameSpan[], heapFrames: readonly FrameSpan[]): FindingDocJson[] {
  const out = new FindingCollector();
  for (const a of allocators) {
    const name = a.summary.name;
    for (const s of intersectSpans(spansIn(a, 'free'), inUse)) {
      out.add({ kind: 'free-frame-mapped', severity: 'error', allocator: name, physical: s.start * FRAME,
        message: `${framesText(s)} ${s.end - s.start === 1 ? 'is' : 'are'} free in allocator ${name} but mapped or holding a page table.` });
    }
    for (const s of subtractSpans(subtractSpans(spansIn(a, 'used'), inUse), heapFrames)) {
      out.add({ kind: 'frame-leaked', severity: 'warning', allocator: name, physical: s.start * FRAME,
        message: `${framesText(s)} ${s.end - s.start === 1 ? 'is' : 'are'} used in allocator ${name} but mapped by no known address space, hold no page table and no heap block.` });
    }
  }
  return out.finish();
}

/** Run-length frame states as counts. */
export function allocationCounts(runs: readonly (readonly [number, number, FrameAllocState])[]): Record<FrameAllocState, number> {
  const c: Record<FrameAllocState, number> = { free: 0, used: 0, reserved: 0 };
  for (const r of runs) c[r[2]] += r[1];
  return c;
}

/**
 * The allocators' frame states merged into one sorted, non-overlapping run list (a frame two
 * allocators cover takes the state of the first that lists it).
 */
export function mergeAllocation(allocators: readonly { readonly frames: readonly (readonly [number, number, FrameAllocState])[] }[]): [number, number, FrameAllocState][] {
  const all: [number, number, FrameAllocState][] = [];
  let covered: FrameSpan[] = [];
  for (const a of allocators) {
    const mine = [...a.frames].filter((r) => r[1] > 0).sort((x, y) => x[0] - y[0]);
    for (const r of mine) {
      for (const s of subtractSpans([{ start: r[0], end: r[0] + r[1] }], covered)) all.push([s.start, s.end - s.start, r[2]]);
    }
    covered = mergeSpans([...covered, ...mine.map((r) => ({ start: r[0], end: r[0] + r[1] }))].sort((x, y) => x.start - y.start));
  }
  all.sort((x, y) => x[0] - y[0]);
  const out: [number, number, FrameAllocState][] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && last[2] === r[2] && last[0] + last[1] === r[0]) last[1] += r[1];
    else out.push([r[0], r[1], r[2]]);
  }
  return out;
}
