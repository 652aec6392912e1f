// The snapshot's mapping runs of our (32-bit) guest, in number form: pages contiguous in virtual
// and physical memory whose entries have the same low 12 bits (so that, expanded, they are
// exactly what the hardware sees). The walk itself is the one page walker's (walkMappings in
// qemu-bridge/src/paging/page-table-walk.ts); snapshot.ts converts its runs to this form.

import { MappingRun32 } from '../../../../qemu-bridge/src/paging/page-table-walk';

/** Pages contiguous in virtual and physical memory whose entries have the same flags (the walker's number-address run). */
export type MappingRun = MappingRun32;
