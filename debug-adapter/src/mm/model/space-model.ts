// One address space as the snapshot document's builder holds it before serialising: its runs in
// number form (physical addresses and lengths fit a double exactly; the virtual address stays a
// bigint), its shared subtrees, its paging-structure pages and the walker's findings. Both the
// walking builder (system-snapshot.ts) and our guest's converter (snapshot-json.ts) fill it, and
// one assembler (document-assembly.ts) turns it into SpaceJson, the frame map and the findings.

import type { SharedSubtree, WalkFinding } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { isCountedSpace, PagingMode, SpaceSource } from './snapshot-document';

/** A mapping run: pages contiguous in virtual and physical memory with the same entry flags and access. */
export interface SpaceRun {
  readonly va: bigint;
  readonly pa: number;
  readonly bytes: number;
  readonly pageSize: number;
  /** Low 12 bits of the leaf entries. */
  readonly flags: number;
  readonly writable: boolean;
  readonly user: boolean;
  readonly nx: boolean;
}

export interface SpaceModel {
  readonly id: string;
  readonly label: string;
  readonly topTable: number;
  readonly cr3: bigint;
  readonly paging: PagingMode;
  readonly sources: readonly SpaceSource[];
  readonly current: boolean;
  readonly pid?: number;
  readonly firstSeenStop?: number;
  readonly lastSeenStop?: number;
  /** Sorted by virtual address. */
  readonly runs: readonly SpaceRun[];
  readonly shared: readonly SharedSubtree[];
  /** Mapped pages, in `runs` or under `shared`. */
  readonly pages: number;
  /** Physical addresses of every paging-structure page (the top table included). */
  readonly tables: readonly number[];
  readonly walkFindings: readonly WalkFinding[];
}

/** Whether a space counts for the frame map and for findings (its tables are known to be live now). */
export function isCounted(space: Pick<SpaceModel, 'sources'>): boolean {
  return isCountedSpace(space);
}

/** `pt:0x<top table hex>`: the id of a space known by its top-level table. */
export function tableSpaceId(topTable: bigint | number): string {
  return `pt:0x${topTable.toString(16)}`;
}
