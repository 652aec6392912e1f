// x86 32-bit (non-PAE) page-directory and page-table entries: every flag bit, decoded (the bits
// are the shared contract's, contract/translation.ts).

import { ENTRY_FRAME_MASK_32, EntryFlag } from '../../../../contract/translation';

export const PAGE_SIZE = 4096;
export const LARGE_PAGE_SIZE = 4 * 1024 * 1024;
export const ENTRIES_PER_TABLE = 1024;

export interface EntryFlags {
  readonly present: boolean;
  readonly writable: boolean;
  readonly user: boolean;
  readonly writeThrough: boolean;
  readonly cacheDisabled: boolean;
  readonly accessed: boolean;
  readonly dirty: boolean;
  /** PS in a PDE (4 MiB page when CR4.PSE); PAT in a PTE. */
  readonly pageSize: boolean;
  readonly global: boolean;
}

export function decodeEntryFlags(entry: number): EntryFlags {
  return {
    present: (entry & EntryFlag.present) !== 0,
    writable: (entry & EntryFlag.writable) !== 0,
    user: (entry & EntryFlag.user) !== 0,
    writeThrough: (entry & EntryFlag.writeThrough) !== 0,
    cacheDisabled: (entry & EntryFlag.cacheDisable) !== 0,
    accessed: (entry & EntryFlag.accessed) !== 0,
    dirty: (entry & EntryFlag.dirty) !== 0,
    pageSize: (entry & EntryFlag.pageSize) !== 0,
    global: (entry & EntryFlag.global) !== 0,
  };
}

/** Physical frame address of a PDE or PTE (bits 12..31). */
export function entryFrame(entry: number): number {
  return (entry & ENTRY_FRAME_MASK_32) >>> 0;
}

/** Physical base of a 4 MiB page (bits 22..31, plus the PSE-36 bits 13..20 as bits 32..39). */
export function largePageFrame(pde: number): number {
  return ((pde >>> 13) & 0xff) * 0x100000000 + ((pde & 0xffc00000) >>> 0);
}

/**
 * The nine letters QEMU's `info tlb` prints for a mapping, in its order: X (NX, never on
 * non-PAE i386), G, P (PSE), D, A, C (PCD), T (PWT), U, W; '-' where clear. `large` marks a
 * 4 MiB page (QEMU prints P for it).
 */
export function tlbLetters(entry: number, large: boolean): string {
  const f = decodeEntryFlags(entry);
  return [
    '-',
    f.global ? 'G' : '-',
    large ? 'P' : '-',
    f.dirty ? 'D' : '-',
    f.accessed ? 'A' : '-',
    f.cacheDisabled ? 'C' : '-',
    f.writeThrough ? 'T' : '-',
    f.user ? 'U' : '-',
    f.writable ? 'W' : '-',
  ].join('');
}

/** Short readable flags: "rw-u" style: r (present), w, u (user), g (global). */
export function shortFlags(writable: boolean, user: boolean, global = false): string {
  return `r${writable ? 'w' : '-'}${user ? 'u' : 'k'}${global ? 'g' : ''}`;
}
