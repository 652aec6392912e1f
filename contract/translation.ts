// The translation of one virtual address, as the mmscope/translate request answers it (DapRequest.translate,
// contract/dap.ts) and the hover, the address input, the CLI's `translate` and the language server
// show it; and the x86 paging entries' flag bits and names every view decodes. Shared by the
// adapter (debug-adapter/src/mm/model/translate.ts, qemu-bridge/src/paging), the extension and
// its language server, the webview and the dashboard. Pure types and constants, no imports: the
// browser build compiles it. docs/debug-protocol.md documents the answer.

/** A paging-structure level, outermost first: PML5 and PML4 (64-bit), PDPT (PAE and 64-bit), PD, PT. */
export type TableLevel = 'PML5' | 'PML4' | 'PDPT' | 'PD' | 'PT';

/** One paging-structure entry on the way to a page. */
export interface TranslationStep {
  readonly level: TableLevel;
  readonly index: number;
  /** Physical address of the entry (exact); absent when the entry is a copy held elsewhere (a UPD in a PCB). */
  readonly entryAddress?: number;
  /** The whole entry, `0x` and 8 or 16 hex digits (exact for 64-bit entries). */
  readonly raw: string;
  /** Its low 12 bits (EntryFlag). */
  readonly flags: number;
  readonly present: boolean;
  /** The entry maps a page (a 4 KiB entry, or PS set at a level with large pages). */
  readonly leaf: boolean;
  /** Execute-disable (bit 63 with EFER.NXE). */
  readonly nx: boolean;
  /** Reserved bits that are set, hex, when any (the CPU faults on this entry). */
  readonly reserved?: string;
  /** The flags as kernel developers write them (`P RW U A D PS G NX`: ENTRY_FLAG_NAMES). */
  readonly describe: string;
}

/** Where one virtual address lands: the page walker's answer, made plain (any kernel, any paging mode). */
export interface AddressTranslation {
  /** The address walked: a number when below 2^53, else hex (docs/snapshot-schema.md). */
  readonly virtual: number | string;
  readonly steps: readonly TranslationStep[];
  readonly physical?: number;
  readonly pageSize?: number;
  readonly writable?: boolean;
  readonly user?: boolean;
  readonly nx?: boolean;
  /** Why the walk stopped, when the address is not mapped (one sentence). */
  readonly notMapped?: string;
}

/** The source line a code address resolves to (an allocation site). */
export interface TranslationSite {
  readonly address: number;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}

/**
 * The body of the mmscope/translate response. With our descriptor: in a process's or the kernel's
 * space, with the block, chain and site. Without (level 0, any kernel, any paging mode): the walker's steps alone.
 */
export interface Translation extends AddressTranslation {
  /**
   * Our guest: 'kernel' or the pid. Any other kernel (the walker's steps alone): 'current' (CR3
   * now), a process's pid (a description's, through its page directory), or the SpaceJson id of
   * a space named by its CR3 (`pt:0x…`).
   */
  readonly space: 'kernel' | 'current' | number | `pt:${string}`;
  /** Our guest: where the directory entry came from, the KPD or the process's UPD (its copy in the PCB). */
  readonly directorySource?: 'kpd' | 'upd';
  readonly block?: number;
  readonly chain?: number;
  readonly chainPage?: number;
  readonly site?: TranslationSite;
  /**
   * Our guest only: the page is swapped out; its not-present PTE holds the slot (paging.h). The
   * chain and chainPage fields then name the swapped block's page. Foreign kernels never get this.
   */
  readonly swapped?: { readonly slot: number; readonly page: number; readonly entry: number };
}

/** The bit numbers of an x86 paging entry's flags (the same in every mode; NX only in 64-bit entries). */
export const EntryBit = {
  present: 0,
  writable: 1,
  user: 2,
  writeThrough: 3,
  cacheDisable: 4,
  accessed: 5,
  /** Leaf entries only. */
  dirty: 6,
  /** PS in a directory entry (a large page); PAT in a 4 KiB PTE. */
  pageSize: 7,
  /** Leaf entries only, with CR4.PGE. */
  global: 8,
  /** Execute-disable, bit 63 of a 64-bit entry (with EFER.NXE). */
  noExecute: 63,
} as const;

/** The low 12 bits' masks (RunJson.flags, TranslationStep.flags, a raw 32-bit entry). */
export const EntryFlag = {
  present: 1 << EntryBit.present,
  writable: 1 << EntryBit.writable,
  user: 1 << EntryBit.user,
  writeThrough: 1 << EntryBit.writeThrough,
  cacheDisable: 1 << EntryBit.cacheDisable,
  accessed: 1 << EntryBit.accessed,
  dirty: 1 << EntryBit.dirty,
  pageSize: 1 << EntryBit.pageSize,
  global: 1 << EntryBit.global,
} as const;

/** The frame (or next table) address of a 32-bit entry: bits 12..31. */
export const ENTRY_FRAME_MASK_32 = 0xfffff000;

/** The flags' names as `info tlb` and kernel developers write them, in order (TranslationStep.describe; NX after them). */
export const ENTRY_FLAG_NAMES: readonly (readonly [mask: number, name: string])[] = [
  [EntryFlag.present, 'P'],
  [EntryFlag.writable, 'RW'],
  [EntryFlag.user, 'U'],
  [EntryFlag.writeThrough, 'PWT'],
  [EntryFlag.cacheDisable, 'PCD'],
  [EntryFlag.accessed, 'A'],
  [EntryFlag.dirty, 'D'],
  [EntryFlag.pageSize, 'PS'],
  [EntryFlag.global, 'G'],
];

/** The names of the flags set in an entry's low 12 bits (`P RW U A`); a PTE's bit 7 is PAT, not PS, which the walker's decoder tells apart. */
export function entryFlagNames(flags: number): string[] {
  return ENTRY_FLAG_NAMES.filter(([mask]) => (flags & mask) !== 0).map(([, name]) => name);
}
