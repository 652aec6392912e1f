// Walks a page directory (or a slice of one, such as a 64-entry UPD) into mapping runs: pages
// contiguous in virtual and physical memory whose entries have the same low 12 bits (so that,
// expanded, they are exactly what the hardware sees). Pure and allocation-light: page tables
// come from a lookup the caller filled beforehand, and no object is made per page.

import { ENTRIES_PER_TABLE, LARGE_PAGE_SIZE, PAGE_SIZE, entryFrame, largePageFrame } from './paging-entry';

/** Pages contiguous in virtual and physical memory whose entries have the same flags. */
export interface MappingRun {
  /** Low 12 bits of every entry in the run (PTE, or PDE of a 4 MiB page). */
  readonly flags: number;
  readonly virtual: number;
  readonly physical: number;
  readonly length: number;
  readonly pageSize: number;
  /** Effective permissions: the directory entry and the table entry must both allow. */
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
  readonly runs: MappingRun[];
  readonly problems: WalkProblem[];
}

/** Returns the 1024 entries of the page table at a physical address, or undefined if unreadable. */
export type TableLookup = (physical: number) => Uint32Array | undefined;

type MutableRun = { -readonly [K in keyof MappingRun]: MappingRun[K] };

/**
 * Walks entries [first, first + count) of a page directory whose entries are `entries`
 * (indexed from `first`: entries[0] is directory entry `first`). With `pse`, PDEs with PS map
 * 4 MiB pages. Bounded: at most count * 1024 entries are looked at.
 */
export function walkDirectory(entries: ArrayLike<number>, first: number, count: number, pse: boolean, tableAt: TableLookup): DirectoryWalk {
  const runs: MappingRun[] = [];
  const problems: WalkProblem[] = [];
  let cur: MutableRun | undefined;
  const add = (virtual: number, physical: number, size: number, flags: number, writable: boolean, user: boolean): void => {
    if (cur && cur.virtual + cur.length === virtual && cur.physical + cur.length === physical && cur.pageSize === size &&
        cur.flags === flags && cur.writable === writable && cur.user === user) {
      cur.length += size;
      cur.pages++;
    } else {
      cur = { flags, virtual, physical, length: size, pageSize: size, writable, user, global: (flags & 0x100) !== 0, pages: 1, dirtyPages: 0, accessedPages: 0 };
      runs.push(cur);
    }
    if (flags & 0x40) cur.dirtyPages++;
    if (flags & 0x20) cur.accessedPages++;
  };
  for (let i = 0; i < count && i < entries.length; i++) {
    const pde = entries[i] >>> 0;
    if (!(pde & 1)) continue;
    const pdeIndex = first + i;
    const base = pdeIndex * LARGE_PAGE_SIZE;
    if (pse && pde & 0x80) {
      add(base, largePageFrame(pde), LARGE_PAGE_SIZE, pde & 0xfff, (pde & 2) !== 0, (pde & 4) !== 0);
      continue;
    }
    const table = tableAt(entryFrame(pde));
    if (!table || table.length < ENTRIES_PER_TABLE) {
      problems.push({ pdeIndex, pde, reason: `page table at 0x${entryFrame(pde).toString(16)} lies outside RAM or cannot be read` });
      continue;
    }
    const dw = (pde & 2) !== 0;
    const du = (pde & 4) !== 0;
    for (let j = 0; j < ENTRIES_PER_TABLE; j++) {
      const pte = table[j];
      if (!(pte & 1)) continue;
      add(base + j * PAGE_SIZE, (pte & 0xfffff000) >>> 0, PAGE_SIZE, pte & 0xfff, dw && (pte & 2) !== 0, du && (pte & 4) !== 0);
    }
  }
  return { runs, problems };
}

/** Calls visit(virtual, physical) for every 4 KiB page of the runs, in order. */
export function forEachPage(runs: readonly MappingRun[], visit: (virtual: number, physical: number, run: MappingRun) => void): void {
  for (const r of runs) for (let off = 0; off < r.length; off += PAGE_SIZE) visit(r.virtual + off, r.physical + off, r);
}
