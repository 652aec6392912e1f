// The snapshot's mapping runs of our (32-bit) guest, in number form: pages contiguous in virtual
// and physical memory whose entries have the same low 12 bits (so that, expanded, they are
// exactly what the hardware sees). The walk itself is the one page walker's (walkMappings in
// qemu-bridge/src/paging/page-table-walk.ts); snapshot.ts converts its runs to this form.

import { PAGE_SIZE } from './paging-entry';

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

/** Calls visit(virtual, physical) for every 4 KiB page of the runs, in order. */
export function forEachPage(runs: readonly MappingRun[], visit: (virtual: number, physical: number, run: MappingRun) => void): void {
  for (const r of runs) for (let off = 0; off < r.length; off += PAGE_SIZE) visit(r.virtual + off, r.physical + off, r);
}
