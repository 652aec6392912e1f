// The snapshot's mapping runs of our (32-bit) guest, in number form: pages contiguous in virtual
// and physical memory whose entries have the same low 12 bits (so that, expanded, they are
// exactly what the hardware sees). The walk itself is the one page walker's (walkMappings in
// qemu-bridge/src/paging/page-table-walk.ts); snapshot.ts converts its runs to this form.

import { MappingRun32 } from '../../../qemu-bridge/src/paging/page-table-walk';
import { PAGE_SIZE } from './paging-entry';

/** Pages contiguous in virtual and physical memory whose entries have the same flags (the walker's number-address run). */
export type MappingRun = MappingRun32;

/** Calls visit(virtual, physical) for every 4 KiB page of the runs, in order. */
export function forEachPage(runs: readonly MappingRun[], visit: (virtual: number, physical: number, run: MappingRun) => void): void {
  for (const r of runs) for (let off = 0; off < r.length; off += PAGE_SIZE) visit(r.virtual + off, r.physical + off, r);
}
