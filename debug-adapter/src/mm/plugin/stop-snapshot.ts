// What every consumer of a snapshot gets (the debug session, the live feed, the CLI): the
// schema-3 document of the one builder (model/system-snapshot.ts), and with our guest's
// descriptor its decoded MmSnapshot beside it (the console's chain/pd commands and the demo's
// text read it). takeSnapshot is the one place that turns readings of a stopped (or running)
// guest into that pair, at every level: our descriptor, a memory-model description, nothing.

import type { RegisterValues } from '../../../../qemu-bridge/src';
import { TableCache } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { pagingModel } from '../../../../qemu-bridge/src/paging/paging-modes';
import { physicalPieces } from '../../../../qemu-bridge/src/page-walker';
import { buildSnapshotDocument, DocumentSource } from '../model/system-snapshot';
import type { DescribedState } from '../model/described-state';
import type { PhysicalRegionJson, TracingJson } from '../model/snapshot-document';
import { ControlRegisters, MmSnapshot, PhysicalReader, SnapshotCache, buildSnapshot } from '../model/snapshot';
import type { ViewSnapshot } from '../model/snapshot-json';
import type { PagingRegisters } from '../model/paging-registers';
import type { SourceSite } from '../model/findings';

export interface StopSnapshot {
  /** The schema-3 document every view shows. */
  readonly document: ViewSnapshot;
  /** Our guest's decoded snapshot (descriptor level only). */
  readonly guest?: MmSnapshot;
}

/** What a memory-model description's evaluator reads a stopped kernel through (describe's DescribeAccess). */
export interface DescribeAccess {
  /** Kernel-virtual bytes, translated through the current address space by the one page walker. */
  readVirtual(address: bigint, length: number): Promise<Buffer>;
  readPhys(address: bigint, length: number): Promise<Buffer>;
  readonly registers: PagingRegisters;
  readonly regions?: readonly PhysicalRegionJson[];
}

/** Evaluates a memory-model description at one stop (describe's `Describer.evaluate`). */
export type DescribeFunction = (access: DescribeAccess) => Promise<DescribedState>;

/** Our guest's descriptor: where mm_debug_info is, and how code addresses become source sites. */
export interface GuestDescriptor {
  readonly descriptorPhys: number;
  readonly resolveSite?: (address: number) => SourceSite | undefined;
  /** A last look at the decoded snapshot before it becomes a document (the session drops an in-flight chain's leak). */
  readonly adjust?: (snapshot: MmSnapshot) => Promise<MmSnapshot>;
  /** What the builder keeps between this guest's snapshots (one per session; the result is the same without). */
  readonly cache?: SnapshotCache;
}

/** What mmscope knows of the kernel beyond its page tables. */
export interface KernelKnowledge {
  readonly descriptor?: GuestDescriptor;
  readonly describe?: DescribeFunction;
  /** Where the description came from (a file, `launch.json`), for the document. */
  readonly descriptionSource?: string;
  /** Level 2's state to put in the document. */
  readonly tracing?: () => TracingJson | undefined;
}

/**
 * Readings of one moment of the guest: the builder's own inputs (registers of the vCPU shown, while
 * running the last stop's; QEMU's map; the spaces beyond the current one), read through any tier.
 */
export type SnapshotReadings = Pick<DocumentSource, 'registers' | 'physicalBits' | 'regions' | 'spaces' | 'stop' | 'live'> & { readonly read: PhysicalReader };

/** The paging registers of a gdbstub register read, exact (EFER is 0 when the gdbstub has none: a CPU without long mode). */
export function pagingRegistersOf(regs: RegisterValues): PagingRegisters {
  const has = (name: string): boolean => regs.bytes(name) !== undefined;
  return { cr0: regs.big('cr0'), cr3: regs.big('cr3'), cr4: regs.big('cr4'), efer: has('efer') ? regs.big('efer') : 0n };
}

/** Our guest's control registers as its 32-bit decoder takes them. */
export function guestControlRegisters(r: PagingRegisters): ControlRegisters {
  const low = (v: bigint): number => Number(BigInt.asUintN(32, v));
  return { cr0: low(r.cr0), cr3: low(r.cr3), cr4: low(r.cr4) };
}

/** The description's evaluator's view of the guest at these readings. */
export function describeAccess(readings: SnapshotReadings): DescribeAccess {
  const r = readings.registers;
  const model = pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer }, readings.physicalBits);
  const readPhys = (address: bigint, length: number): Promise<Buffer> => readings.read(Number(address), length);
  const tables = new TableCache((a, n) => readings.read(Number(a), n));
  return {
    readPhys,
    async readVirtual(address, length) {
      const pieces = await physicalPieces(model, r.cr3, address, length, tables);
      const out = Buffer.alloc(length);
      for (const p of pieces) (await readings.read(p.physical, p.length)).copy(out, p.offset);
      return out;
    },
    registers: r,
    ...(readings.regions ? { regions: readings.regions } : {}),
  };
}

/** A description that cannot be evaluated at all still yields a document: its one mistake, nothing described. */
async function evaluate(describe: DescribeFunction, readings: SnapshotReadings): Promise<DescribedState> {
  try {
    return await describe(describeAccess(readings));
  } catch (e) {
    return { processes: [], allocators: [], heaps: [], findings: [], errors: [{ path: '', message: `The memory-model description could not be evaluated: ${e instanceof Error ? e.message : String(e)}` }] };
  }
}

/**
 * The snapshot of these readings at the level the knowledge allows. With the descriptor, a guest
 * whose descriptor cannot be decoded (early boot) makes it throw, with the decoder's sentence.
 */
export async function takeSnapshot(readings: SnapshotReadings, knowledge: KernelKnowledge = {}): Promise<StopSnapshot> {
  const d = knowledge.descriptor;
  let guest: MmSnapshot | undefined;
  if (d) {
    guest = await buildSnapshot({ read: readings.read, descriptorPhys: d.descriptorPhys, registers: guestControlRegisters(readings.registers), resolveSite: d.resolveSite, stop: readings.stop }, d.cache);
    if (d.adjust) guest = await d.adjust(guest);
  }
  const described = !guest && knowledge.describe ? await evaluate(knowledge.describe, readings) : undefined;
  const tracing = knowledge.tracing?.();
  const document = await buildSnapshotDocument({
    read: (a, n) => readings.read(Number(a), n),
    registers: readings.registers,
    ...(readings.physicalBits !== undefined ? { physicalBits: readings.physicalBits } : {}),
    ...(readings.regions ? { regions: readings.regions } : {}),
    ...(readings.spaces ? { spaces: readings.spaces } : {}),
    ...(described ? { described } : {}),
    ...(knowledge.descriptionSource !== undefined ? { descriptionSource: knowledge.descriptionSource } : {}),
    ...(guest ? { guest } : {}),
    ...(tracing ? { tracing } : {}),
    stop: readings.stop,
    ...(readings.live !== undefined ? { live: readings.live } : {}),
  });
  // Tracing's findings (a double free, a free never allocated) are findings of the document like any other.
  const found = tracing?.findings?.length ? { ...document, findings: [...document.findings, ...tracing.findings] } : document;
  return guest ? { document: found, guest } : { document: found };
}
