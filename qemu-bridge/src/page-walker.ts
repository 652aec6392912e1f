// Our own 32-bit x86 page walker (non-PAE): translates virtual addresses through any page
// directory (not only the current cr3), with 4 KiB pages and, when CR4.PSE is set, 4 MiB pages.
// Pure apart from the physical reader it is given; not-present entries become PageNotPresentError.

import { InvalidRangeError, PageNotPresentError } from './errors';

/** Reads guest-physical memory. */
export type PhysicalReader = (address: number, length: number) => Promise<Buffer>;

/** The paging controls the walk depends on. */
export interface PagingMode {
  /** CR4.PSE: page-directory entries with PS (bit 7) map 4 MiB pages. When false, PS is ignored. */
  readonly pse: boolean;
}

export const PAGE_SIZE = 4096;
export const LARGE_PAGE_SIZE = 4 << 20;
const PRESENT = 1;
const WRITABLE = 2;
const USER = 4;
const PAGE_SIZE_BIT = 0x80;

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

/** Physical base of a 4 MiB page, including the PSE-36 high bits (PDE bits 13-20 are physical bits 32-39). */
function largePageBase(pde: number): number {
  const high = (pde >>> 13) & 0xff;
  return high * 0x100000000 + ((pde & 0xffc00000) >>> 0);
}

/**
 * Walks the page tables for a range, reading each page directory and page table at most once
 * (as whole 4 KiB pages). Returns the physically contiguous runs that make up the range, or
 * throws PageNotPresentError for the first page that is not mapped.
 */
export async function translateRange(virtual: number, length: number, cr3: number, mode: PagingMode, read: PhysicalReader): Promise<PhysicalRun[]> {
  if (!Number.isInteger(virtual) || virtual < 0 || virtual > 0xffffffff) throw new InvalidRangeError(`virtual address ${virtual} is outside 32 bits`);
  if (!Number.isInteger(length) || length < 0 || virtual + length > 0x100000000) throw new InvalidRangeError(`the range ${virtual.toString(16)}+${length} leaves the 4 GiB address space`);
  const tables = new Map<number, Buffer>();
  const table = async (base: number): Promise<Buffer> => {
    let t = tables.get(base);
    if (!t) {
      t = await read(base, PAGE_SIZE);
      if (t.length !== PAGE_SIZE) throw new InvalidRangeError(`the page table at ${base.toString(16)} could not be read whole`);
      tables.set(base, t);
    }
    return t;
  };
  const runs: PhysicalRun[] = [];
  let v = virtual;
  const end = virtual + length;
  while (v < end) {
    const tr = await translateWith(v, cr3, mode, table);
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
  return translateWith(virtual, cr3, mode, async (base) => {
    return new LazyTable(base, read);
  });
}

/** A lazily read page table that fetches single entries; used for one-address walks. */
class LazyTable {
  constructor(readonly base: number, readonly read: PhysicalReader) {}
}

type TableSource = (base: number) => Promise<Buffer | LazyTable>;

async function entryAt(source: Buffer | LazyTable, index: number): Promise<number> {
  if (source instanceof LazyTable) {
    const b = await source.read(source.base + index * 4, 4);
    if (b.length !== 4) throw new InvalidRangeError(`the entry at ${(source.base + index * 4).toString(16)} could not be read`);
    return b.readUInt32LE(0);
  }
  return source.readUInt32LE(index * 4);
}

async function translateWith(virtual: number, cr3: number, mode: PagingMode, tableAt: TableSource): Promise<Translation> {
  const directory = (cr3 & 0xfffff000) >>> 0;
  const dirIndex = virtual >>> 22;
  const pdeAddress = directory + dirIndex * 4;
  const pde = await entryAt(await tableAt(directory), dirIndex);
  if (!(pde & PRESENT)) throw new PageNotPresentError(virtual, 'directory', pdeAddress, pde);
  if (mode.pse && pde & PAGE_SIZE_BIT) {
    return {
      virtual,
      physical: largePageBase(pde) + (virtual & (LARGE_PAGE_SIZE - 1)),
      pageSize: LARGE_PAGE_SIZE,
      directoryEntryAddress: pdeAddress,
      directoryEntry: pde,
      writable: (pde & WRITABLE) !== 0,
      user: (pde & USER) !== 0,
    };
  }
  const tableBase = (pde & 0xfffff000) >>> 0;
  const tabIndex = (virtual >>> 12) & 0x3ff;
  const pteAddress = tableBase + tabIndex * 4;
  const pte = await entryAt(await tableAt(tableBase), tabIndex);
  if (!(pte & PRESENT)) throw new PageNotPresentError(virtual, 'table', pteAddress, pte);
  return {
    virtual,
    physical: ((pte & 0xfffff000) >>> 0) + (virtual & 0xfff),
    pageSize: PAGE_SIZE,
    directoryEntryAddress: pdeAddress,
    directoryEntry: pde,
    tableEntryAddress: pteAddress,
    tableEntry: pte,
    writable: (pde & pte & WRITABLE) !== 0,
    user: (pde & pte & USER) !== 0,
  };
}
