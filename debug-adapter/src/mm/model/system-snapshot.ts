// The ONE snapshot builder, for every kernel and every level of knowing it (DESIGN.md): walks the
// address space CR3 names and every other one requested (CR3 values seen, a description's
// processes, spaces the user named) with the one page walker, sharing one table cache so tables
// the spaces share (a kernel half) are read once, and assembles the schema-3 document: spaces,
// processes, the frame map over QEMU's memory map, the allocators' layer, level-0 findings and the
// level-1 cross-checks. Our guest's decoded snapshot goes through the same assembler
// (snapshotToJson). Pure apart from the physical reader; never throws on guest data.

import { PhysicalBytesReader, TableCache, WalkLimits, walkMappings } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { PagingModel, pagingModel, topTableAddress } from '../../../../qemu-bridge/src/paging/paging-modes';
import { jsonAddress } from '../../../../qemu-bridge/src/paging/translation-steps';
import type { PagingRegisters } from './paging-registers';
import type { MmSnapshot } from './snapshot';
import { snapshotToJson, ViewSnapshot } from './snapshot-json';
import type { DescribedState } from './described-state';
import type { PhysicalRegionJson, ProcessDocJson, SpaceSource, TracingJson } from './snapshot-document';
import { SpaceModel, SpaceRun, tableSpaceId } from './space-model';
import { assembleDocument } from './document-assembly';
import { FRAME, FrameSpan, mergeSpans } from './frame-map';

/** An address space to walk beyond the one CR3 names. */
export interface SpaceRequest {
  readonly cr3: bigint;
  readonly source: SpaceSource;
  readonly pid?: number;
  /** What the views call it (default: from the pid or the CR3). */
  readonly label?: string;
  readonly firstSeenStop?: number;
  readonly lastSeenStop?: number;
}

export interface DocumentSource {
  readonly read: PhysicalBytesReader;
  readonly registers: PagingRegisters;
  /** MAXPHYADDR (QEMU's CPU models: 40 unless `phys-bits` says otherwise). */
  readonly physicalBits?: number;
  /** QEMU's memory map (QemuSession.physicalMemoryMap), when QMP is there. */
  readonly regions?: readonly PhysicalRegionJson[];
  readonly spaces?: readonly SpaceRequest[];
  /** Level 1: what the memory-model description yields at this stop. */
  readonly described?: DescribedState;
  /** Where the description came from (a file name, or `launch.json`), for `document.description.source`. */
  readonly descriptionSource?: string;
  /** Our guest's decoded snapshot (the descriptor level). */
  readonly guest?: MmSnapshot;
  readonly tracing?: TracingJson;
  readonly stop: number;
  readonly live?: boolean;
  readonly limits?: WalkLimits;
}

const PAGING_OF = (model: PagingModel): ViewSnapshot['pagingMode'] => model.kind;

interface Wanted {
  cr3: bigint;
  topTable: bigint;
  sources: Set<SpaceSource>;
  pid?: number;
  label?: string;
  firstSeenStop?: number;
  lastSeenStop?: number;
}

const SOURCE_ORDER: readonly SpaceSource[] = ['current', 'process', 'named', 'seen', 'traced'];

/** Builds the schema-3 document of this stop. */
export async function buildSnapshotDocument(src: DocumentSource): Promise<ViewSnapshot> {
  const r = src.registers;
  const model = pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer }, src.physicalBits);
  if (src.guest) return snapshotToJson(src.guest, { regions: src.regions, live: src.live, efer: r.efer, tracing: src.tracing, stop: src.stop });
  const described = src.described;
  const wanted = new Map<bigint, Wanted>();
  const want = (cr3: bigint, source: SpaceSource, extra: Omit<Wanted, 'cr3' | 'topTable' | 'sources'> = {}): Wanted | undefined => {
    if (model.kind === 'none') return undefined;
    const topTable = topTableAddress(model, cr3);
    let w = wanted.get(topTable);
    if (!w) {
      w = { cr3, topTable, sources: new Set() };
      wanted.set(topTable, w);
    }
    w.sources.add(source);
    if (source === 'current') w.cr3 = cr3;
    if (extra.pid !== undefined && w.pid === undefined) w.pid = extra.pid;
    if (extra.label !== undefined && w.label === undefined) w.label = extra.label;
    if (extra.firstSeenStop !== undefined) w.firstSeenStop = Math.min(w.firstSeenStop ?? extra.firstSeenStop, extra.firstSeenStop);
    if (extra.lastSeenStop !== undefined) w.lastSeenStop = Math.max(w.lastSeenStop ?? extra.lastSeenStop, extra.lastSeenStop);
    return w;
  };
  const current = want(r.cr3, 'current', { firstSeenStop: src.stop, lastSeenStop: src.stop });
  for (const p of described?.processes ?? []) {
    if (p.directoryPhys !== undefined) want(p.directoryPhys, 'process', { pid: p.pid, label: `pid ${p.pid} (${p.name})` });
  }
  for (const q of src.spaces ?? []) {
    want(q.cr3, q.source, { ...(q.pid !== undefined ? { pid: q.pid } : {}), ...(q.label !== undefined ? { label: q.label } : {}),
      ...(q.firstSeenStop !== undefined ? { firstSeenStop: q.firstSeenStop } : {}), ...(q.lastSeenStop !== undefined ? { lastSeenStop: q.lastSeenStop } : {}) });
  }

  const cache = new TableCache(src.read);
  const spaces: SpaceModel[] = [];
  const ordered = [...wanted.values()].sort((a, b) => rank(a) - rank(b) || (a.pid ?? Infinity) - (b.pid ?? Infinity) || (a.topTable < b.topTable ? -1 : 1));
  for (const w of ordered) spaces.push(await walkSpace(model, w, cache, src.limits, w === current));

  const byTop = new Map(spaces.map((s) => [BigInt(s.topTable), s]));
  const processes: ProcessDocJson[] = (described?.processes ?? []).map((p) => {
    const top = p.directoryPhys !== undefined && model.kind !== 'none' ? topTableAddress(model, p.directoryPhys) : undefined;
    return {
      pid: p.pid, name: p.name, state: p.state, current: p.current,
      space: top !== undefined ? byTop.get(top)?.id ?? null : null,
      directory: p.directoryPhys !== undefined ? Number(p.directoryPhys) : null,
      address: jsonAddress(p.address),
    };
  });
  const currentSpace = current ? spaces.find((s) => s.current) : undefined;
  const doc = assembleDocument({
    level: described ? 1 : 0,
    stop: src.stop,
    ...(src.live !== undefined ? { live: src.live } : {}),
    pagingMode: PAGING_OF(model),
    registers: r,
    nx: model.nx,
    currentSpace: currentSpace?.id ?? null,
    spaces,
    processes,
    ...(src.regions ? { regions: src.regions } : {}),
    allocators: described?.allocators ?? [],
    crossCheck: true,
    heapFrames: currentSpace ? heapFrames(described, currentSpace) : [],
    heaps: described?.heaps ?? [],
    findings: described?.findings ?? [],
    ...(described ? { description: { source: src.descriptionSource ?? 'memoryModel', errors: described.errors } } : {}),
    ...(src.tracing ? { tracing: src.tracing } : {}),
  });
  return doc;
}

function rank(w: Wanted): number {
  let best = SOURCE_ORDER.length;
  for (const s of w.sources) best = Math.min(best, SOURCE_ORDER.indexOf(s));
  return best;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

async function walkSpace(model: PagingModel, w: Wanted, cache: TableCache, limits: WalkLimits | undefined, current: boolean): Promise<SpaceModel> {
  const walk = await walkMappings(model, w.cr3, cache, limits ?? {});
  const runs: SpaceRun[] = walk.runs.map((x) => ({
    va: x.virtual, pa: Number(x.physical), bytes: Number(x.length), pageSize: Number(x.pageSize), flags: x.flags, writable: x.writable, user: x.user, nx: x.noExecute,
  }));
  const sources = SOURCE_ORDER.filter((s) => w.sources.has(s));
  const seenAt = !current && w.sources.has('seen') && w.lastSeenStop !== undefined ? ` (seen at stop ${w.lastSeenStop})` : '';
  return {
    id: tableSpaceId(w.topTable),
    label: w.label ?? (w.pid !== undefined ? `pid ${w.pid}` : `CR3 ${hex(w.cr3)}${seenAt}`),
    topTable: Number(w.topTable),
    cr3: w.cr3,
    paging: model.kind,
    sources,
    current,
    ...(w.pid !== undefined ? { pid: w.pid } : {}),
    ...(w.firstSeenStop !== undefined ? { firstSeenStop: w.firstSeenStop } : {}),
    ...(w.lastSeenStop !== undefined ? { lastSeenStop: w.lastSeenStop } : {}),
    runs,
    shared: walk.shared,
    pages: walk.pages + walk.shared.reduce((n, x) => n + x.pages, 0),
    tables: walk.tables.map(Number),
    walkFindings: walk.findings,
  };
}

/** The frames the heaps' blocks lie in, translated through the current space (bounded by the blocks listed). */
function heapFrames(described: DescribedState | undefined, space: SpaceModel): FrameSpan[] {
  if (!described?.heaps.length) return [];
  const spans: FrameSpan[] = [];
  const runs = space.runs;
  const find = (va: bigint): SpaceRun | undefined => {
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const run = runs[mid];
      if (va < run.va) hi = mid - 1;
      else if (va >= run.va + BigInt(run.bytes)) lo = mid + 1;
      else return run;
    }
    return undefined;
  };
  for (const h of described.heaps) {
    for (const b of h.blocks) {
      const start = BigInt(b.address);
      for (let page = start & ~0xfffn; page < start + BigInt(Math.max(b.size, 1)); page += 0x1000n) {
        const run = find(page);
        if (!run) continue;
        const f = Math.floor((run.pa + Number(page - run.va)) / FRAME);
        spans.push({ start: f, end: f + 1 });
        if (spans.length > 1 << 20) break;
      }
    }
  }
  return mergeSpans(spans.sort((a, b) => a.start - b.start));
}
