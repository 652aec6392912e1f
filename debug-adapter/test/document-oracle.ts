// Oracles for the snapshot document from QEMU's own views, computed independently of the
// builder: the current space page by page against `info tlb`, and the frame map frame by frame
// from `info tlb` (which frames are mapped, at how many distinct virtual addresses) and QEMU's
// memory map (which frames are RAM). Shared by the Linux-guest and test-kernel tests.

import * as fs from 'fs';
import { parseInfoTlb, TlbEntry } from '../../qemu-bridge/src';
import type { FrameMapState, PhysicalRegionJson, SpaceJson } from '../src/mm/model/snapshot-document';
import type { ViewSnapshot } from '../src/mm/model/snapshot-json';


type Json = number | string;

/**
 * With MMSCOPE_ORACLE_LOG=FILE, every comparison appends one JSON line (what was compared, how
 * many pages or frames, the paging mode, how many differed): the counts the closing notes quote.
 */
function logComparison(what: 'pages' | 'frames', compared: number, paging: string, differ: number): void {
  const file = process.env.MMSCOPE_ORACLE_LOG;
  if (file) fs.appendFileSync(file, `${JSON.stringify({ what, compared, paging, differ, test: process.env.MMSCOPE_ORACLE_LABEL ?? '' })}\n`);
}
const big = (v: Json): bigint => BigInt(v);

function find<T>(xs: readonly T[], v: bigint, start: (x: T) => bigint, size: (x: T) => bigint): T | undefined {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (start(xs[mid]) <= v) lo = mid + 1;
    else hi = mid - 1;
  }
  const x = xs[hi];
  return x !== undefined && v < start(x) + size(x) ? x : undefined;
}

function letters(m: SpaceJson['mappings'][number]): string {
  const f = m.flags;
  const l = (on: boolean, c: string): string => (on ? c : '-');
  return [l((f & 0x100) !== 0, 'G'), l(m.pageSize > 4096, 'P'), l((f & 0x40) !== 0, 'D'), l((f & 0x20) !== 0, 'A'),
    l((f & 0x10) !== 0, 'C'), l((f & 8) !== 0, 'T'), l((f & 4) !== 0, 'U'), l((f & 2) !== 0, 'W')].join('');
}

/** What info tlb's physical column means: 52 bits (QEMU 7.2 leaves NX in it under PAE), a 32-bit 4 MiB page's low 32 bits. */
export function tlbPhysical(e: TlbEntry, paging: string): bigint {
  const p = e.physicalExact & ((1n << 52n) - 1n);
  return paging === 'x86-32' && e.large ? p & 0xffffffffn : p;
}

const GIB = 0x40000000n;

/**
 * Bytes of each info tlb page: 4 KiB, or a large page: 4 MiB in 32-bit paging, else 2 MiB, or
 * 1 GiB when (in long mode) the page is 1 GiB-aligned, info tlb lists nothing else in the GiB and
 * `info mem` shows the GiB mapped whole.
 */
export function tlbPageSizes(tlb: readonly TlbEntry[], paging: string, memText?: string): bigint[] {
  const mem = (memText ?? '').split('\n').map((l) => /^([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) /.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)] as const);
  const sorted = [...tlb.keys()].sort((a, b) => (tlb[a].virtualExact < tlb[b].virtualExact ? -1 : 1));
  const sizes = new Array<bigint>(tlb.length);
  sorted.forEach((i, k) => {
    const e = tlb[i];
    if (!e.large) sizes[i] = 0x1000n;
    else if (paging === 'x86-32') sizes[i] = 0x400000n;
    else {
      const next = k + 1 < sorted.length ? tlb[sorted[k + 1]].virtualExact : undefined;
      const whole = mem.some(([s, end]) => s <= e.virtualExact && end >= e.virtualExact + GIB);
      sizes[i] = (paging === 'x86-64' || paging === 'x86-64-la57') && e.virtualExact % GIB === 0n && (next === undefined || next >= e.virtualExact + GIB) && whole ? GIB : 0x200000n;
    }
  });
  return sizes;
}

export interface TlbComparison {
  /** The first pages (at most 10) that differ, as "virtual: ours …, QEMU …". */
  readonly differ: readonly string[];
  /** Pages found only through a fold of a shared table. */
  readonly throughFolds: number;
}

/**
 * Every page of `info tlb` against the space, page by page (through its shared-table folds).
 * `info tlb`'s X is the leaf entry's NX; the space's nx is the page's (NX at any level): a leaf's X implies it.
 */
export function tlbComparison(space: SpaceJson, tlb: readonly TlbEntry[]): TlbComparison {
  const runs = [...space.mappings].sort((a, b) => (big(a.va) < big(b.va) ? -1 : 1));
  const shared = [...space.shared].sort((a, b) => (big(a.va) < big(b.va) ? -1 : 1));
  const differ: string[] = [];
  let throughFolds = 0;
  for (const e of tlb) {
    let v = e.virtualExact;
    let folds = 0;
    let run = find(runs, v, (m) => big(m.va), (m) => big(m.size));
    while (!run && folds < 16) {
      const fold = find(shared, v, (x) => big(x.va), (x) => big(x.span));
      if (!fold) break;
      v = v - big(fold.va) + big(fold.sameAs);
      folds++;
      run = find(runs, v, (m) => big(m.va), (m) => big(m.size));
    }
    if (folds) throughFolds++;
    const physical = tlbPhysical(e, space.paging);
    const ours = run ? `${(BigInt(run.pa) + (v - big(run.va))).toString(16)} ${letters(run)}` : 'missing';
    const nxOk = !run || e.flags[0] !== 'X' || run.nx;
    if ((ours !== `${physical.toString(16)} ${e.flags.slice(1)}` || !nxOk) && differ.length < 10) differ.push(`${e.virtualExact.toString(16)}: ours ${ours} nx=${run?.nx}, QEMU ${physical.toString(16)} ${e.flags}`);
  }
  logComparison('pages', tlb.length, space.paging, differ.length);
  return { differ, throughFolds };
}

/** Every page of `info tlb` against the space in `paging` mode, and the page count. */
export function compareSpaceWithTlb(space: SpaceJson, tlb: readonly TlbEntry[], paging: string): string[] {
  const differ = [...tlbComparison({ ...space, paging: paging as SpaceJson['paging'] }, tlb).differ];
  if (space.pages !== tlb.length) differ.push(`the space counts ${space.pages} pages, info tlb lists ${tlb.length}`);
  return differ;
}

/**
 * The frame map recomputed frame by frame: a frame of an info tlb page is mapped, or 'multi' when
 * pages at two virtual addresses cover it; a page-table frame is 'table'; else RAM (a 'ram'
 * region of QEMU's map) is unmapped and the rest not-ram. Returns the differing frames (at most 10).
 */
export function compareFramesWithTlb(doc: ViewSnapshot, tlbText: string, regions: readonly PhysicalRegionJson[], tables: readonly number[], memText?: string): string[] {
  const paging = doc.pagingMode;
  const firstVa = new Map<number, bigint>();
  const multi = new Set<number>();
  const tlb = parseInfoTlb(tlbText);
  const sizes = tlbPageSizes(tlb, paging, memText);
  for (const [i, e] of tlb.entries()) {
    const bytes = sizes[i];
    const pa = tlbPhysical(e, paging);
    for (let off = 0n; off < bytes; off += 0x1000n) {
      const frame = Number((pa + off) >> 12n);
      const va = e.virtualExact + off;
      const had = firstVa.get(frame);
      if (had === undefined) firstVa.set(frame, va);
      else if (had !== va) multi.add(frame);
    }
  }
  const tableSet = new Set(tables.map((t) => Math.floor(t / 4096)));
  const ram = regions.filter((r) => r.kind === 'ram').map((r) => [r.base / 4096, (r.base + r.size) / 4096]);
  let count = 0;
  for (const [, end] of ram) count = Math.max(count, end);
  for (const f of firstVa.keys()) count = Math.max(count, f + 1);
  for (const f of tableSet) count = Math.max(count, f + 1);
  const expected = (f: number): FrameMapState =>
    tableSet.has(f) ? 'table' : multi.has(f) ? 'multi' : firstVa.has(f) ? 'mapped' : ram.some(([s, e]) => s <= f && f < e) ? 'unmapped' : 'not-ram';
  const differ: string[] = [];
  if (doc.frames.count !== count) differ.push(`count: ours ${doc.frames.count}, recomputed ${count}`);
  let f = 0;
  for (const [first, n, state] of doc.frames.mapping) {
    if (first !== f) differ.push(`runs skip from frame ${f} to ${first}`);
    for (f = first; f < first + n; f++) {
      const want = expected(f);
      if (want !== state && differ.length < 10) differ.push(`frame 0x${f.toString(16)}: ours ${state}, recomputed ${want}`);
    }
  }
  logComparison('frames', f, paging, differ.length);
  return differ;
}
