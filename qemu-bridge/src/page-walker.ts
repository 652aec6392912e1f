// Virtual-to-physical translation for 32-bit paging (non-PAE) with number addresses, through any
// page directory (not only the current cr3): 4 KiB pages and, when CR4.PSE is set, 4 MiB pages.
// A thin caller of the one walker (paging/page-table-walk.ts); not-present entries become
// PageNotPresentError.

import { InvalidRangeError, PageNotPresentError } from './errors';
import { PhysicalBytesReader, TableCache, walkAddress } from './paging/page-table-walk';
import { PagingModel, pagingModel } from './paging/paging-modes';

const CR0_PG = 0x80000000;
const CR4_PSE = 0x10;

/** Reads guest-physical memory. */
export type PhysicalReader = (address: number, length: number) => Promise<Buffer>;

/** The paging controls the walk depends on. */
export interface PagingMode {
  /** CR4.PSE: page-directory entries with PS (bit 7) map 4 MiB pages. When false, PS is ignored. */
  readonly pse: boolean;
}

export const PAGE_SIZE = 4096;
export const LARGE_PAGE_SIZE = 4 << 20;

/** Where one virtual page lives and the entries that say so. */
export interface Translation {
  readonly virtual: number;
  readonly physical: number;
  readonly pageSize: typeof PAGE_SIZE | typeof LARGE_PAGE_SIZE;
  readonly directoryEntryAddress: number;
  readonly directoryEntry: number;
  readonly tableEntryAddress?: number;
  readonly tableEntry?: number;
  readonly writable: boolean;
  readonly user: boolean;
}

/** A piece of a virtual range that is physically contiguous. */
export interface PhysicalRun {
  readonly virtual: number;
  readonly physical: number;
  readonly length: number;
}

/** The 32-bit paging model of `mode` (the walker itself is paging/page-table-walk.ts, for every mode). */
function model32(mode: PagingMode): PagingModel {
  return pagingModel({ cr0: CR0_PG, cr4: mode.pse ? CR4_PSE : 0 });
}

const hex8 = (n: number): string => n.toString(16);

/**
 * Walks the page tables for a range, reading each page directory and page table at most once
 * (as whole 4 KiB pages). Returns the physically contiguous runs that make up the range, or
 * throws PageNotPresentError for the first page that is not mapped.
 */
export async function translateRange(virtual: number, length: number, cr3: number, mode: PagingMode, read: PhysicalReader): Promise<PhysicalRun[]> {
  if (!Number.isInteger(virtual) || virtual < 0 || virtual > 0xffffffff) throw new InvalidRangeError(`virtual address ${virtual} is outside 32 bits`);
  if (!Number.isInteger(length) || length < 0 || virtual + length > 0x100000000) throw new InvalidRangeError(`the range ${virtual.toString(16)}+${length} leaves the 4 GiB address space`);
  const tables = new TableCache((a, n) => read(Number(a), n));
  const runs: PhysicalRun[] = [];
  let v = virtual;
  const end = virtual + length;
  while (v < end) {
    const tr = await translateWith(v, cr3, mode, tables);
    const pageEnd = Math.floor(v / tr.pageSize) * tr.pageSize + tr.pageSize;
    const n = Math.min(end, pageEnd) - v;
    const last = runs[runs.length - 1];
    if (last && last.physical + last.length === tr.physical) runs[runs.length - 1] = { ...last, length: last.length + n };
    else runs.push({ virtual: v, physical: tr.physical, length: n });
    v += n;
  }
  return runs;
}

/** Translates one virtual address, reading only the two entries it needs. */
export async function translate(virtual: number, cr3: number, mode: PagingMode, read: PhysicalReader): Promise<Translation> {
  return translateWith(virtual, cr3, mode, (a, n) => read(Number(a), n));
}

async function translateWith(virtual: number, cr3: number, mode: PagingMode, source: PhysicalBytesReader | TableCache): Promise<Translation> {
  const walk = await walkAddress(model32(mode), cr3 >>> 0, virtual >>> 0, source);
  const [pd, pt] = walk.steps;
  const last = walk.steps[walk.steps.length - 1];
  switch (walk.kind) {
    case 'mapped':
      return {
        virtual,
        physical: Number(walk.physical),
        pageSize: walk.pageSize === 0x1000n ? PAGE_SIZE : LARGE_PAGE_SIZE,
        directoryEntryAddress: Number(pd.entryAddress),
        directoryEntry: Number(pd.entry.raw),
        ...(pt ? { tableEntryAddress: Number(pt.entryAddress), tableEntry: Number(pt.entry.raw) } : {}),
        writable: walk.writable,
        user: walk.user,
      };
    case 'not-present':
      throw new PageNotPresentError(virtual, last.level === 'PD' ? 'directory' : 'table', Number(last.entryAddress), Number(last.entry.raw));
    case 'reserved-bits':
      throw new InvalidRangeError(`the page-directory entry at ${hex8(Number(last.entryAddress))} (${hex8(Number(last.entry.raw))}) for ${hex8(virtual)} has reserved bits set`);
    case 'unreadable':
      throw new InvalidRangeError(`the page table at ${hex8(Number(walk.tableAddress))} could not be read whole`);
    default:
      throw new InvalidRangeError(`${hex8(virtual)} cannot be translated (${walk.kind})`);
  }
}
