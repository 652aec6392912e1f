// Virtual ranges to physical pieces through the one walker (paging/page-table-walk.ts), in any
// paging mode and through any top-level table (not only the current cr3), for reads and writes of
// guest-virtual memory; plus the older 32-bit number API (translate, translateRange). A page that
// is not mapped becomes PageNotPresentError.

import { InvalidRangeError, PageNotPresentError } from './errors';
import { AddressWalk, TableCache, walkAddress } from './paging/page-table-walk';
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

/** Where one virtual page lives and the entries that say so: the 32-bit (non-PAE) walk (not the mmscope/translate answer, contract/translation.ts). */
export interface I386Translation {
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

const hex = (n: number): string => n.toString(16);

/** A physically contiguous piece of a virtual range: `length` bytes at `offset` into the range. */
export interface PhysicalPiece {
  readonly offset: number;
  readonly physical: number;
  readonly length: number;
}

/**
 * The physically contiguous pieces behind `length` bytes at `virtual`, in any paging mode, through
 * the one walker (whole tables from `tables`, so a range costs each table one read). Throws
 * PageNotPresentError for the first page that is not mapped, InvalidRangeError for a table that
 * cannot be read, reserved bits or a non-canonical address.
 */
export async function physicalPieces(model: PagingModel, cr3: number | bigint, virtual: bigint, length: number, tables: TableCache): Promise<PhysicalPiece[]> {
  const pieces: PhysicalPiece[] = [];
  let offset = 0;
  while (offset < length) {
    const v = virtual + BigInt(offset);
    const walk = await walkAddress(model, cr3, v, tables);
    if (walk.kind !== 'mapped' && walk.kind !== 'paging-off') throw walkError(walk, model);
    const pageSize = walk.kind === 'mapped' ? walk.pageSize : 0x1000n;
    const inPage = Number(pageSize - (v & (pageSize - 1n)));
    const n = Math.min(inPage, length - offset);
    const physical = Number(walk.physical);
    const last = pieces[pieces.length - 1];
    if (last && last.physical + last.length === physical) pieces[pieces.length - 1] = { ...last, length: last.length + n };
    else pieces.push({ offset, physical, length: n });
    offset += n;
  }
  return pieces;
}

/** The error for a walk that did not reach a page. */
function walkError(walk: AddressWalk, model: PagingModel): Error {
  const last = walk.steps[walk.steps.length - 1];
  const v = walk.virtual;
  switch (walk.kind) {
    case 'not-present':
      return new PageNotPresentError(v, model.kind === 'x86-32' ? (last.level === 'PD' ? 'directory' : 'table') : last.level, Number(last.entryAddress), last.entry.raw);
    case 'reserved-bits':
      return new InvalidRangeError(`the ${last.level} entry at ${hex(Number(last.entryAddress))} (${last.entry.raw.toString(16)}) for ${v.toString(16)} has reserved bits set`);
    case 'unreadable':
      return new InvalidRangeError(`the page table at ${hex(Number(walk.tableAddress))} could not be read whole`);
    default:
      return new InvalidRangeError(`${v.toString(16)} cannot be translated (${walk.kind})`);
  }
}

/**
 * Walks the page tables for a range, reading each page directory and page table at most once
 * (as whole 4 KiB pages). Returns the physically contiguous runs that make up the range, or
 * throws PageNotPresentError for the first page that is not mapped.
 */
export async function translateRange(virtual: number, length: number, cr3: number, mode: PagingMode, read: PhysicalReader): Promise<PhysicalRun[]> {
  if (!Number.isInteger(virtual) || virtual < 0 || virtual > 0xffffffff) throw new InvalidRangeError(`virtual address ${virtual} is outside 32 bits`);
  if (!Number.isInteger(length) || length < 0 || virtual + length > 0x100000000) throw new InvalidRangeError(`the range ${virtual.toString(16)}+${length} leaves the 4 GiB address space`);
  const pieces = await physicalPieces(model32(mode), cr3 >>> 0, BigInt(virtual), length, new TableCache((a, n) => read(Number(a), n)));
  return pieces.map((p) => ({ virtual: virtual + p.offset, physical: p.physical, length: p.length }));
}

/** Translates one virtual address, reading only the two entries it needs. */
export async function translate(virtual: number, cr3: number, mode: PagingMode, read: PhysicalReader): Promise<I386Translation> {
  const model = model32(mode);
  const walk = await walkAddress(model, cr3 >>> 0, virtual >>> 0, (a, n) => read(Number(a), n));
  if (walk.kind !== 'mapped') throw walkError(walk, model);
  const [pd, pt] = walk.steps;
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
}
