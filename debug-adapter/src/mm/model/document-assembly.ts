// The one assembler of the snapshot document (schema 3): from the address spaces (SpaceModel),
// the processes, the allocators' frame states and QEMU's memory map to SpaceJson, the frame map,
// the allocation layer, the level-0 findings and the level-1 cross-checks. The walking builder
// (system-snapshot.ts) and our guest's converter (snapshot-json.ts) both end here. Pure.

import { jsonAddress } from '../../../../qemu-bridge/src/paging/translation-steps';
import type { PagingRegisters } from './paging-registers';
import type {
  AllocatorJson, DescriptionErrorJson, FindingDocJson, FrameAllocState, FrameRun, HeapJson, KnowledgeLevel, PagingMode,
  PhysicalRegionJson, ProcessDocJson, RunJson, SnapshotDocument, SpaceJson, TracingJson,
} from './snapshot-document';
import { isCounted, SpaceModel, SpaceRun } from './space-model';
import { buildFrameMap, distinctRuns, FrameSpan, mergeSpans } from './frame-map';
import { level0Findings } from './level0-findings';
import { allocationCounts, allocatorCrossChecks, mappedOutsideLinearMaps, mergeAllocation } from './cross-checks';

export interface DocumentInput {
  readonly level: KnowledgeLevel;
  readonly stop: number;
  readonly live?: boolean;
  readonly pagingMode: PagingMode;
  readonly registers: PagingRegisters;
  /** EFER.NXE in PAE or long mode. */
  readonly nx: boolean;
  readonly currentSpace: string | null;
  readonly spaces: readonly SpaceModel[];
  readonly processes: readonly ProcessDocJson[];
  readonly regions?: readonly PhysicalRegionJson[];
  readonly allocators?: readonly { readonly summary: AllocatorJson; readonly frames: readonly FrameRun<FrameAllocState>[] }[];
  /** Cross-check the allocators against the page tables (level 1; our guest's descriptor has its own checks). */
  readonly crossCheck?: boolean;
  /** Frames heap blocks lie in (not leaks). */
  readonly heapFrames?: readonly FrameSpan[];
  readonly heaps?: readonly HeapJson[];
  /** Findings from elsewhere (the descriptor's, a description's decoders'), listed first. */
  readonly findings?: readonly FindingDocJson[];
  readonly description?: { readonly source: string; readonly errors: readonly DescriptionErrorJson[] };
  readonly tracing?: TracingJson;
}

const runJson = (r: SpaceRun): RunJson => ({ va: jsonAddress(r.va), pa: r.pa, size: r.bytes, flags: r.flags, nx: r.nx, pageSize: r.pageSize, writable: r.writable, user: r.user });

export function spaceJson(s: SpaceModel): SpaceJson {
  return {
    id: s.id, label: s.label, topTable: s.topTable, cr3: jsonAddress(s.cr3), paging: s.paging, sources: s.sources, current: s.current,
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
    ...(s.firstSeenStop !== undefined ? { firstSeenStop: s.firstSeenStop } : {}),
    ...(s.lastSeenStop !== undefined ? { lastSeenStop: s.lastSeenStop } : {}),
    mappings: s.runs.map(runJson),
    shared: s.shared.map((x) => ({ va: jsonAddress(x.virtual), level: x.level, table: Number(x.tableAddress), sameAs: jsonAddress(x.sameAs), span: jsonAddress(x.span), pages: x.pages })),
    pages: s.pages,
    tablesRead: s.tables.length,
    tables: s.tables,
  };
}

export function assembleDocument(input: DocumentInput): SnapshotDocument {
  const counted = input.spaces.filter(isCounted);
  const distinct = distinctRuns(counted);
  const allocators = input.allocators ?? [];
  const allocation = allocators.length ? mergeAllocation(allocators) : undefined;
  const lastAllocated = allocation?.length ? allocation[allocation.length - 1][0] + allocation[allocation.length - 1][1] : 0;
  const map = buildFrameMap(counted, distinct, input.regions, lastAllocated);
  const findings: FindingDocJson[] = [...(input.findings ?? [])];
  findings.push(...level0Findings(counted, distinct, { paging: input.pagingMode, nx: input.nx }, map.tables, input.regions));
  if (input.crossCheck && allocators.length) {
    const byStart = (a: FrameSpan, b: FrameSpan): number => a.start - b.start;
    const mappedAll = mergeSpans([...map.mapped, ...map.tables].map((s) => ({ start: s.start, end: s.end })).sort(byStart));
    const covered = (allocation ?? []).reduce((n, r) => n + r[1], 0);
    const inUse = mergeSpans([...mappedOutsideLinearMaps(distinct, covered), ...map.tables].sort(byStart));
    findings.push(...allocatorCrossChecks(allocators, inUse, mappedAll, input.heapFrames ?? []));
  }
  const r = input.registers;
  return {
    schema: 3,
    level: input.level,
    stop: input.stop,
    ...(input.live !== undefined ? { live: input.live } : {}),
    pagingMode: input.pagingMode,
    registers: { cr0: jsonAddress(r.cr0), cr3: jsonAddress(r.cr3), cr4: jsonAddress(r.cr4), efer: jsonAddress(r.efer) },
    currentSpace: input.currentSpace,
    spaces: input.spaces.map(spaceJson),
    processes: input.processes,
    frames: {
      frameSize: 4096,
      count: map.count,
      ramKnown: map.ramKnown,
      regions: (input.regions ?? []).map((g) => ({ base: g.base, size: g.size, kind: g.kind, name: g.name })),
      mapping: map.runs,
      ...(allocation ? { allocation, allocationCounts: allocationCounts(allocation) } : {}),
      counts: map.counts,
    },
    allocators: allocators.map((a) => a.summary),
    heaps: input.heaps ?? [],
    findings,
    ...(input.description ? { description: input.description } : {}),
    ...(input.tracing ? { tracing: input.tracing } : {}),
  };
}
