// Walks a page directory (or a slice of one, such as a 64-entry UPD) into mapped pages, and
// merges them into runs that are contiguous in virtual and physical memory with the same
// attributes. Pure: page tables come from a lookup the caller filled beforehand.

import { ENTRIES_PER_TABLE, LARGE_PAGE_SIZE, PAGE_SIZE, decodeEntryFlags, entryFrame, largePageFrame } from './paging-entry';

/** One present page, with the entries that map it. */
export interface MappedPage {
  readonly virtual: number;
  readonly physical: number;
  readonly size: number;
  readonly pde: number;
  readonly pte?: number;
  /** Effective permissions: both levels must allow. */
  readonly writable: boolean;
  readonly user: boolean;
  readonly global: boolean;
  readonly dirty: boolean;
  readonly accessed: boolean;
  /** Low 12 bits of the entry that maps the page: the PTE, or the PDE of a 4 MiB page. */
  readonly flags: number;
}

/** Pages contiguous in virtual and physical memory whose entries have the same flags. */
export interface MappingRun {
  /** Low 12 bits of every entry in the run (PTE, or PDE of a 4 MiB page). */
  readonly flags: number;
  readonly virtual: number;
  readonly physical: number;
  readonly length: number;
  readonly pageSize: number;
  readonly writable: boolean;
  readonly user: boolean;
  readonly global: boolean;
  readonly pages: number;
  readonly dirtyPages: number;
  readonly accessedPages: number;
}

/** A directory entry whose page table could not be read (outside RAM, say). */
export interface WalkProblem {
  readonly pdeIndex: number;
  readonly pde: number;
  readonly reason: string;
}

export interface DirectoryWalk {
  readonly pages: MappedPage[];
  readonly problems: WalkProblem[];
}

/** Returns the 1024 entries of the page table at a physical address, or undefined if unreadable. */
export type TableLookup = (physical: number) => Uint32Array | undefined;

/**
 * Walks entries [first, first + count) of a page directory whose entries are `entries`
 * (indexed from `first`: entries[0] is directory entry `first`). With `pse`, PDEs with PS map
 * 4 MiB pages. Bounded: at most count * 1024 pages.
 */
export function walkDirectory(entries: ArrayLike<number>, first: number, count: number, pse: boolean, tableAt: TableLookup): DirectoryWalk {
  const pages: MappedPage[] = [];
  const problems: WalkProblem[] = [];
  for (let i = 0; i < count && i < entries.length; i++) {
    const pde = entries[i] >>> 0;
    const pdeIndex = first + i;
    const d = decodeEntryFlags(pde);
    if (!d.present) continue;
    const base = pdeIndex * LARGE_PAGE_SIZE;
    if (pse && d.pageSize) {
      pages.push({ virtual: base, physical: largePageFrame(pde), size: LARGE_PAGE_SIZE, pde, writable: d.writable, user: d.user,
        global: d.global, dirty: d.dirty, accessed: d.accessed, flags: pde & 0xfff });
      continue;
    }
    const table = tableAt(entryFrame(pde));
    if (!table || table.length < ENTRIES_PER_TABLE) {
      problems.push({ pdeIndex, pde, reason: `page table at 0x${entryFrame(pde).toString(16)} lies outside RAM or cannot be read` });
      continue;
    }
    for (let j = 0; j < ENTRIES_PER_TABLE; j++) {
      const pte = table[j] >>> 0;
      const t = decodeEntryFlags(pte);
      if (!t.present) continue;
      pages.push({ virtual: base + j * PAGE_SIZE, physical: entryFrame(pte), size: PAGE_SIZE, pde, pte,
        writable: d.writable && t.writable, user: d.user && t.user, global: t.global, dirty: t.dirty, accessed: t.accessed, flags: pte & 0xfff });
    }
  }
  return { pages, problems };
}

/** Merges pages (in ascending virtual order) into runs. */
export function mergeRuns(pages: readonly MappedPage[]): MappingRun[] {
  const runs: MappingRun[] = [];
  let cur: { -readonly [K in keyof MappingRun]: MappingRun[K] } | undefined;
  for (const p of pages) {
    if (cur && cur.virtual + cur.length === p.virtual && cur.physical + cur.length === p.physical &&
        cur.pageSize === p.size && cur.flags === p.flags && cur.writable === p.writable && cur.user === p.user) {
      cur.length += p.size;
      cur.pages++;
      cur.dirtyPages += p.dirty ? 1 : 0;
      cur.accessedPages += p.accessed ? 1 : 0;
      continue;
    }
    cur = { flags: p.flags, virtual: p.virtual, physical: p.physical, length: p.size, pageSize: p.size, writable: p.writable, user: p.user,
      global: p.global, pages: 1, dirtyPages: p.dirty ? 1 : 0, accessedPages: p.accessed ? 1 : 0 };
    runs.push(cur);
  }
  return runs;
}
