// The snapshot's stable JSON form (docs/snapshot-schema.md): what the CLI prints with --json,
// what the live feed sends, and what "copy snapshot as JSON" copies.

import { ChainHandle, ChainMapping, MmSnapshot, SwapInfo } from './snapshot';
import { BlockRun, ChainFlags, SwappedBlock } from './chain-table';
import { Finding, FindingKind, SourceSite } from './findings';
import { DpmiBlockRecord, OwnerRecord, ProcessMode, ProcessState, XmsHandleRecord } from './guest-structures';
import type { DosArenaRecord, SwappedPte, V86TaskInfo } from './dos-arena';
import { MappingRun } from './address-space';
import type { AllocatorJson, FrameAllocState, FrameRun, PhysicalRegionJson, ProcessDocJson, SnapshotDocument, TracingJson } from './snapshot-document';
import { SpaceModel, SpaceRun } from './space-model';
import { assembleDocument } from './document-assembly';

export interface MappingJson {
  /** Exact: a number below 2^53, else a `0x` hex string (docs/snapshot-schema.md). Our guest's are always numbers. */
  readonly va: number;
  readonly pa: number;
  readonly size: number;
  /** Low 12 bits of the entry that maps it: the PTE, or the PDE of a 4 MiB page. */
  readonly flags: number;
  /** Execute-disable (NX in PAE and 4/5-level paging; always false in 32-bit paging). */
  readonly nx: boolean;
  /** Bytes per page of the run: 4096, 2 MiB, 4 MiB or 1 GiB. */
  readonly pageSize: number;
}

export function chainFlagBits(f: ChainFlags): number {
  return ((f.frozen ? 0x10000000 : 0) | (f.contiguous ? 0x20000000 : 0) | (f.swappable ? 0x40000000 : 0) | (f.user ? 0x80000000 : 0)) >>> 0;
}

export function chainFlagNames(f: ChainFlags): string[] {
  return (['frozen', 'contiguous', 'swappable', 'user'] as const).filter((k) => f[k]);
}

const toJsonRuns = (runs: readonly { virtual: number; physical: number; length: number; flags: number; pageSize: number; noExecute: boolean }[]): MappingJson[] =>
  runs.map((r) => ({ va: r.virtual, pa: r.physical, size: r.length, flags: r.flags, nx: r.noExecute, pageSize: r.pageSize }));

export interface ProcessJson extends ProcessDocJson {
  readonly pid: number;
  readonly name: string;
  readonly state: ProcessState;
  readonly current: boolean;
  /** Our guest: `pid:<N>` (every process has one: its UPD over the shared KPD). */
  readonly space: string;
  /** The KPD's physical address (all processes share it). */
  readonly directory: number;
  /** The PCB's kernel-virtual address (= pcb). */
  readonly address: number;
  readonly pcb: number;
  readonly upd: readonly number[];
  readonly updMatchesKpd: boolean | null;
  readonly mappings: readonly MappingJson[];
  /** How it runs: 'kernel' thread, ring-3 'user' process, DOS task in 'v86' mode or switched to a 'dpmi' client. */
  readonly mode?: ProcessMode;
  /** Why it ended (0: returned normally). */
  readonly exitCode?: number;
  /** DOS tasks: their struct v86_task and conventional memory (null: the record could not be read). */
  readonly v86?: V86TaskInfo | null;
  /** Pages its UPD holds swapped out (not-present PTEs with the swap mark). */
  readonly swappedPages?: readonly SwappedPte[];
}

export interface ChainJson {
  readonly id: number;
  readonly flags: number;
  readonly flagNames: readonly string[];
  /** Block indices in chain order; -1 where the block is swapped out (see `swapped`). */
  readonly blocks: readonly number[];
  readonly runs: readonly BlockRun[];
  /** Our guest's swapping: the chain's swapped-out blocks (position, slot); absent when none. */
  readonly swapped?: readonly SwappedBlock[];
  readonly sizeBytes: number;
  readonly owner: OwnerRecord;
  readonly site: SourceSite | null;
  readonly mappedAt: readonly ChainMapping[];
  readonly handles: readonly ChainHandle[];
}

/** The document of docs/snapshot-schema.md for our guest: the schema-3 document and the guest's sections. */
export interface SnapshotJson extends SnapshotDocument {
  readonly stop: number;
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly paging: boolean;
  readonly pse: boolean;
  readonly geometry: MmSnapshot['geometry'];
  readonly processes: readonly ProcessJson[];
  readonly mappings: readonly MappingJson[];
  /** The KPD's 1024 entries (0..63: the current process's UPD copy). */
  readonly kpd: readonly number[];
  readonly kernelMappings: readonly MappingJson[];
  readonly chains: readonly ChainJson[];
  readonly blocks: {
    readonly total: number; readonly free: number; readonly used: number; readonly reserved: number;
    readonly hole: number; readonly firmware: number; readonly kernel: number; readonly dos: number; readonly corrupt: number;
    readonly largestFreeRun: number; readonly fragmentationPercent: number; readonly map: string;
  };
  readonly xms: readonly XmsHandleRecord[];
  readonly dpmi: readonly DpmiBlockRecord[];
  /** Our guest's swapping: counters, the slots in use, every swapped PTE ("swapped out, slot N"). */
  readonly swap?: SwapInfo;
  readonly counters: MmSnapshot['counters'];
  /** The DOS arena's MCB chain. */
  readonly dos?: DosArenaRecord;
  /** The descriptor's findings (mm/findings.ts), then the level-0 ones. */
  readonly findings: readonly Finding[];
}

/** The sections only our guest's descriptor gives (docs/snapshot-schema.md, "Guest sections"). */
export type GuestSections = Omit<SnapshotJson, keyof SnapshotDocument>;
/** A process as the views see it: the document's, with our guest's fields when there. */
export type ViewProcessJson = ProcessDocJson & Partial<Omit<ProcessJson, keyof ProcessDocJson>>;
/** What every view shows: the schema-3 document of any kernel, with our guest's sections when it is ours. */
export type ViewSnapshot = Omit<SnapshotDocument, 'processes'> & { readonly processes: readonly ViewProcessJson[] } & Partial<GuestSections>;

/** What the session knows beyond the guest's snapshot (QEMU's map, whether it was read while running, EFER). */
export interface GuestDocumentContext {
  readonly regions?: readonly PhysicalRegionJson[];
  readonly live?: boolean;
  readonly efer?: bigint;
  readonly tracing?: TracingJson;
  /** The stop number (default: the snapshot's). */
  readonly stop?: number;
}

const toSpaceRuns = (runs: readonly MappingRun[]): SpaceRun[] =>
  runs.map((r) => ({ va: BigInt(r.virtual), pa: r.physical, bytes: r.length, pageSize: r.pageSize, flags: r.flags, writable: r.writable, user: r.user, nx: r.noExecute }));

/** Page tables a run of directory entries refers to (present, not a 4 MiB page). */
function tablesOf(pde: readonly number[], first: number, end: number, pse: boolean): number[] {
  const out: number[] = [];
  for (let i = first; i < end && i < pde.length; i++) {
    const e = pde[i] >>> 0;
    if (e & 1 && !(pse && e & 0x80)) out.push((e & ~0xfff) >>> 0);
  }
  return out;
}

const ALLOC_OF: Record<string, FrameAllocState> = { '.': 'free', C: 'used', c: 'used', X: 'used', _: 'reserved', F: 'reserved', K: 'reserved', D: 'reserved' };

/** The chain table as an allocator: one unit per 16 KiB block, its four frames in the block's state. */
function chainTableAllocator(s: MmSnapshot): { summary: AllocatorJson; frames: FrameRun<FrameAllocState>[] } {
  const perBlock = s.geometry.blockSize / 4096;
  const frames: [number, number, FrameAllocState][] = [];
  const map = s.blocks.map;
  const byCode = new Array<FrameAllocState>(128).fill('used');
  for (const [c, state] of Object.entries(ALLOC_OF)) byCode[c.charCodeAt(0)] = state;
  let last: [number, number, FrameAllocState] | undefined;
  for (let b = 0; b < map.length; b++) {
    const state = byCode[map.charCodeAt(b) & 127];
    if (last && last[2] === state) last[1] += perBlock;
    else frames.push((last = [b * perBlock, perBlock, state]));
  }
  return {
    summary: { name: 'chain-table', shape: 'chain-table', unitBytes: s.geometry.blockSize, total: s.geometry.blockCount,
      free: s.blocks.free, used: s.blocks.used + s.blocks.corrupt, reserved: s.blocks.reserved },
    frames,
  };
}

/** The guest's address spaces: `kernel` (the KPD's kernel half) and `pid:<N>` (its UPD over the KPD, with the kernel half). */
function guestSpaces(s: MmSnapshot): { spaces: SpaceModel[]; current: string } {
  const g = s.geometry;
  const kernelFirst = g.kernelBase >>> 22;
  const kernelRuns = toSpaceRuns(s.kernel.mappings);
  const kernelTables = [g.kpdPhys, ...tablesOf(s.kernel.pde, kernelFirst, 1024, s.registers.pse)];
  const currentProcess = s.processes.find((p) => p.current);
  const paging = s.registers.paging ? 'x86-32' : 'none';
  const base = { topTable: g.kpdPhys, paging, shared: [], walkFindings: [] } as const;
  const spaces: SpaceModel[] = [{
    ...base, id: 'kernel', label: 'kernel (KPD)', cr3: BigInt(currentProcess ? g.kpdPhys : s.registers.cr3), sources: currentProcess ? ['descriptor'] : ['current', 'descriptor'], current: !currentProcess,
    runs: kernelRuns, pages: s.kernel.mappings.reduce((n, r) => n + r.pages, 0), tables: kernelTables,
  }];
  for (const p of s.processes) {
    const runs = [...toSpaceRuns(p.mappings), ...kernelRuns].sort((a, b) => (a.va < b.va ? -1 : a.va > b.va ? 1 : 0));
    spaces.push({
      ...base, id: `pid:${p.pid}`, label: `pid ${p.pid} (${p.name})`, cr3: BigInt(p.current ? s.registers.cr3 : g.kpdPhys),
      sources: p.current ? ['current', 'process'] : ['process'], current: p.current, pid: p.pid, runs,
      pages: [...p.mappings, ...s.kernel.mappings].reduce((n, r) => n + r.pages, 0),
      tables: [...new Set([...kernelTables, ...tablesOf(p.upd, 0, p.upd.length, s.registers.pse)])],
    });
  }
  return { spaces, current: currentProcess ? `pid:${currentProcess.pid}` : 'kernel' };
}

/** The document's level-0 findings in the guest's Finding form (its addresses are 32-bit numbers). */
const asGuestFinding = (f: SnapshotDocument['findings'][number]): Finding => ({
  kind: f.kind as FindingKind, severity: f.severity, message: f.message,
  ...(f.virtual !== undefined ? { virtual: Number(f.virtual) } : {}), ...(f.physical !== undefined ? { physical: f.physical } : {}),
  ...(f.space !== undefined ? { space: f.space } : {}), ...(f.pid !== undefined ? { pid: f.pid } : {}),
});

/**
 * A DOS task's first megabyte starts with its interrupt vector table at virtual 0 (v86.h): the
 * level-0 null-page-mapped warning is no news about its space.
 */
const dosTaskNullPage = (f: SnapshotDocument['findings'][number], dosSpaces: ReadonlySet<string>): boolean =>
  f.kind === 'null-page-mapped' && f.space !== undefined && dosSpaces.has(f.space);

/** The JSON document for one snapshot (plain data, safe to JSON.stringify). */
export function snapshotToJson(s: MmSnapshot, ctx: GuestDocumentContext = {}): SnapshotJson {
  const current = s.processes.find((p) => p.current);
  const mappings = [...toJsonRuns(current?.mappings ?? []), ...toJsonRuns(s.kernel.mappings)].sort((a, b) => a.va - b.va);
  const { spaces, current: currentSpace } = guestSpaces(s);
  const efer = ctx.efer ?? 0n;
  const dosSpaces = new Set(s.processes.filter((p) => p.v86).map((p) => `pid:${p.pid}`));
  const doc = assembleDocument({
    level: 'descriptor', stop: ctx.stop ?? s.stop, ...(ctx.live !== undefined ? { live: ctx.live } : {}),
    pagingMode: s.registers.paging ? 'x86-32' : 'none',
    registers: { cr0: BigInt(s.registers.cr0 >>> 0), cr3: BigInt(s.registers.cr3 >>> 0), cr4: BigInt(s.registers.cr4 >>> 0), efer },
    nx: false, currentSpace, spaces, processes: [], ...(ctx.regions ? { regions: ctx.regions } : {}),
    allocators: [chainTableAllocator(s)], crossCheck: false, ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
  });
  return {
    ...doc,
    schema: s.schema,
    stop: ctx.stop ?? s.stop,
    cr0: s.registers.cr0,
    cr3: s.registers.cr3,
    cr4: s.registers.cr4,
    paging: s.registers.paging,
    pse: s.registers.pse,
    geometry: s.geometry,
    processes: s.processes.map((p) => ({
      pid: p.pid, name: p.name, state: p.state, current: p.current, space: `pid:${p.pid}`, directory: s.geometry.kpdPhys, address: p.pcbAddress,
      pcb: p.pcbAddress, upd: p.upd,
      updMatchesKpd: p.updMatchesKpd ?? null, mappings: toJsonRuns(p.mappings),
      mode: p.mode, exitCode: p.exitCode, ...(p.v86 !== undefined ? { v86: p.v86 } : {}), swappedPages: p.swappedPages,
    })),
    mappings,
    kpd: s.kernel.pde,
    kernelMappings: toJsonRuns(s.kernel.mappings),
    chains: s.chains.map((c) => ({
      id: c.id, flags: chainFlagBits(c.flags), flagNames: chainFlagNames(c.flags), blocks: c.blocks, runs: c.runs,
      ...(c.swapped.length ? { swapped: c.swapped } : {}),
      sizeBytes: c.sizeBytes, owner: c.owner, site: c.site ?? null,
      mappedAt: c.mappedAt, handles: c.handles,
    })),
    blocks: {
      total: s.geometry.blockCount, free: s.blocks.free, used: s.blocks.used, reserved: s.blocks.reserved,
      hole: s.blocks.hole, firmware: s.blocks.firmware, kernel: s.blocks.kernel, dos: s.blocks.dos, corrupt: s.blocks.corrupt,
      largestFreeRun: s.blocks.largestFreeRun, fragmentationPercent: s.blocks.fragmentationPercent, map: s.blocks.map,
    },
    xms: s.xms,
    dpmi: s.dpmi,
    ...(s.swap ? { swap: s.swap } : {}),
    counters: s.counters,
    ...(s.dos ? { dos: s.dos } : {}),
    ...(s.swap ? { swap: s.swap } : {}),
    findings: [...s.findings, ...doc.findings.filter((f) => !dosTaskNullPage(f, dosSpaces)).map(asGuestFinding)],
  };
}
