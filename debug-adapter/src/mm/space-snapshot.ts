// The paging registers every snapshot starts from, and one address space walked on its own (the
// one CR3 names) by the one page walker into mapping runs, with the non-present entries that hold
// something and the walker's findings: what tests and tools compare with QEMU. The views'
// document (all spaces, frame map, findings) is model/system-snapshot.ts's. Exact: addresses are
// bigints. Pure apart from the physical reader.

import { MappingRange, NonPresentEntry, PhysicalBytesReader, SharedSubtree, TableCache, WalkFinding, WalkLimits, walkMappings } from '../../../qemu-bridge/src/paging/page-table-walk';
import { PagingKind, pagingModel, topTableAddress } from '../../../qemu-bridge/src/paging/paging-modes';

/** The registers that select and locate the paging structures (EFER reads as 0 when absent). */
export interface PagingRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

export interface SpaceSnapshotSource {
  readonly read: PhysicalBytesReader;
  readonly registers: PagingRegisters;
  /** MAXPHYADDR (QEMU's CPU models: 40 unless `phys-bits` says otherwise). */
  readonly physicalBits?: number;
  readonly stop?: number;
  readonly limits?: WalkLimits;
}

export interface SpaceSnapshot {
  readonly level: 0;
  readonly stop: number;
  readonly paging: PagingKind;
  readonly registers: PagingRegisters;
  /** Physical address of the top-level table CR3 names. */
  readonly topTable: bigint;
  readonly mappings: readonly MappingRange[];
  /** Tables reached again past the walk's budget: their pages are those at `sameAs`, not listed again. */
  readonly shared: readonly SharedSubtree[];
  /** Mapped pages (of any size), listed in `mappings` or under `shared`. */
  readonly pages: number;
  readonly nonPresent: readonly NonPresentEntry[];
  readonly nonPresentDropped: number;
  readonly findings: readonly WalkFinding[];
  readonly tablesRead: number;
}

/** Walks the current address space (the one CR3 names) of any kernel. Never throws on guest data. */
export async function buildSpaceSnapshot(src: SpaceSnapshotSource): Promise<SpaceSnapshot> {
  const r = src.registers;
  const model = pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer }, src.physicalBits);
  const walk = await walkMappings(model, r.cr3, new TableCache(src.read), src.limits);
  return {
    level: 0,
    stop: src.stop ?? 0,
    paging: model.kind,
    registers: r,
    topTable: model.kind === 'none' ? 0n : topTableAddress(model, r.cr3),
    mappings: walk.runs,
    shared: walk.shared,
    pages: walk.pages + walk.shared.reduce((n, x) => n + x.pages, 0),
    nonPresent: walk.nonPresent,
    nonPresentDropped: walk.nonPresentDropped,
    findings: walk.findings,
    tablesRead: walk.tablesRead,
  };
}
