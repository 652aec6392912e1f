// QEMU's `info tlb` as the oracle of a snapshot document's address space (SpaceJson, schema 3):
// every page QEMU lists must be in the space's mapping runs (directly, or through the folds of
// tables shared at several places), at the same physical address with the same flags. Used by
// the CLI, DAP and live-feed tests on Linux guests and corpus kernels.

import type { TlbEntry } from '../../qemu-bridge/src';
import type { SpaceJson } from '../src/mm/model/snapshot-document';

type Json = number | string;
const big = (v: Json): bigint => BigInt(v);

/** Finds `v` in sorted ranges [start, start + size). */
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

type Run = SpaceJson['mappings'][number];

/** info tlb's nine letters (X G P D A C T U W) of a run: its NX, and the leaf entries' low 12 bits. */
export function tlbLetters(m: Run): string {
  const f = m.flags;
  const l = (on: boolean, c: string): string => (on ? c : '-');
  return [l(m.nx, 'X'), l((f & 0x100) !== 0, 'G'), l(m.pageSize > 4096, 'P'), l((f & 0x40) !== 0, 'D'), l((f & 0x20) !== 0, 'A'),
    l((f & 0x10) !== 0, 'C'), l((f & 8) !== 0, 'T'), l((f & 4) !== 0, 'U'), l((f & 2) !== 0, 'W')].join('');
}

export interface TlbComparison {
  /** The first pages (at most 10) that differ, as "virtual: ours …, QEMU …". */
  readonly differ: readonly string[];
  /** Pages found only through a fold of a shared table. */
  readonly throughFolds: number;
}

/** Compares the space's pages with QEMU's `info tlb` of the same moment, page by page. */
export function compareSpaceWithTlb(space: SpaceJson, tlb: readonly TlbEntry[]): TlbComparison {
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
    // QEMU 7.2's PAE info tlb leaves NX in its physical column (facts): 52 bits.
    const physical = e.physicalExact & ((1n << 52n) - 1n);
    // `info tlb`'s X is the leaf entry's NX; the snapshot's nx is the page's (any level's NX forbids execution): a leaf's X implies it.
    const ours = run ? `${(BigInt(run.pa) + (v - big(run.va))).toString(16)} ${tlbLetters(run).slice(1)}` : 'missing';
    const nxOk = !run || e.flags[0] !== 'X' || run.nx;
    if ((ours !== `${physical.toString(16)} ${e.flags.slice(1)}` || !nxOk) && differ.length < 10) differ.push(`${e.virtualExact.toString(16)}: ours ${ours} nx=${run?.nx}, QEMU ${physical.toString(16)} ${e.flags}`);
  }
  return { differ, throughFolds };
}
