// The snapshot's stable JSON form (docs/snapshot-schema.md): what the CLI prints with --json,
// what the live feed sends, and what "copy snapshot as JSON" copies.

import { ChainHandle, ChainMapping, MmSnapshot } from './snapshot';
import { BlockRun, ChainFlags } from './chain-table';
import { Finding, SourceSite } from './findings';
import { DpmiBlockRecord, OwnerRecord, ProcessState, XmsHandleRecord } from './guest-structures';

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

export interface ProcessJson {
  readonly pid: number;
  readonly name: string;
  readonly state: ProcessState;
  readonly current: boolean;
  readonly pcb: number;
  readonly upd: readonly number[];
  readonly updMatchesKpd: boolean | null;
  readonly mappings: readonly MappingJson[];
}

export interface ChainJson {
  readonly id: number;
  readonly flags: number;
  readonly flagNames: readonly string[];
  readonly blocks: readonly number[];
  readonly runs: readonly BlockRun[];
  readonly sizeBytes: number;
  readonly owner: OwnerRecord;
  readonly site: SourceSite | null;
  readonly mappedAt: readonly ChainMapping[];
  readonly handles: readonly ChainHandle[];
}

/** The document of docs/snapshot-schema.md. */
export interface SnapshotJson {
  readonly schema: number;
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
  readonly counters: MmSnapshot['counters'];
  readonly findings: readonly Finding[];
}

/** The JSON document for one snapshot (plain data, safe to JSON.stringify). */
export function snapshotToJson(s: MmSnapshot): SnapshotJson {
  const current = s.processes.find((p) => p.current);
  const mappings = [...toJsonRuns(current?.mappings ?? []), ...toJsonRuns(s.kernel.mappings)].sort((a, b) => a.va - b.va);
  return {
    schema: s.schema,
    stop: s.stop,
    cr0: s.registers.cr0,
    cr3: s.registers.cr3,
    cr4: s.registers.cr4,
    paging: s.registers.paging,
    pse: s.registers.pse,
    geometry: s.geometry,
    processes: s.processes.map((p) => ({
      pid: p.pid, name: p.name, state: p.state, current: p.current, pcb: p.pcbAddress, upd: p.upd,
      updMatchesKpd: p.updMatchesKpd ?? null, mappings: toJsonRuns(p.mappings),
    })),
    mappings,
    kpd: s.kernel.pde,
    kernelMappings: toJsonRuns(s.kernel.mappings),
    chains: s.chains.map((c) => ({
      id: c.id, flags: chainFlagBits(c.flags), flagNames: chainFlagNames(c.flags), blocks: c.blocks, runs: c.runs,
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
    counters: s.counters,
    findings: s.findings,
  };
}
