// Decoders for the guest's own records that the descriptor locates: owner records, PCBs, the
// XMS/DPMI handle tables (struct vector) and the last memory-manager event. Pure: bytes in, records out.

import { MmDebugInfo } from './descriptor';

export const OWNER_KINDS = ['none', 'kernel', 'page-table', 'heap', 'stack', 'xms', 'dpmi', 'dma', 'framebuffer', 'process', 'test'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number] | 'unknown';

export interface OwnerRecord {
  readonly caller: number;
  readonly seq: number;
  readonly sizeBytes: number;
  readonly kind: OwnerKind;
  readonly handle: number;
}

export function decodeOwner(buf: Buffer, offset: number, d: MmDebugInfo): OwnerRecord {
  const kind = buf.readUInt16LE(offset + d.ownerOffKind);
  return {
    caller: buf.readUInt32LE(offset + d.ownerOffCaller),
    seq: buf.readUInt32LE(offset + d.ownerOffSeq),
    sizeBytes: buf.readUInt32LE(offset + d.ownerOffSize),
    kind: OWNER_KINDS[kind] ?? 'unknown',
    handle: buf.readUInt16LE(offset + d.ownerOffHandle),
  };
}

export const PROCESS_STATES = ['unused', 'ready', 'running', 'sleeping', 'zombie'] as const;
export type ProcessState = (typeof PROCESS_STATES)[number] | 'unknown';

/** How a process runs (enum proc_mode, guest/include/proc.h). */
export const PROCESS_MODES = ['kernel', 'user', 'v86', 'dpmi'] as const;
export type ProcessMode = (typeof PROCESS_MODES)[number] | 'unknown';

export interface PcbRecord {
  readonly address: number;
  readonly pid: number;
  readonly name: string;
  readonly state: ProcessState;
  readonly upd: readonly number[];
  readonly next: number;
  /** Descriptor version 2: how it runs, its struct v86_task (DOS tasks, else 0) and its exit code. */
  readonly mode: ProcessMode;
  readonly v86: number;
  readonly exitCode: number;
}

export function decodePcb(buf: Buffer, address: number, d: MmDebugInfo): PcbRecord {
  const nameBytes = buf.subarray(d.pcbOffName, d.pcbOffName + d.pcbNameLen);
  const nul = nameBytes.indexOf(0);
  const name = nameBytes.subarray(0, nul < 0 ? nameBytes.length : nul).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  const upd: number[] = [];
  for (let i = 0; i < d.updEntries; i++) upd.push(buf.readUInt32LE(d.pcbOffUpd + i * 4));
  const state = buf.readUInt32LE(d.pcbOffState);
  const field = (off: number): number => (off > 0 && off + 4 <= buf.length ? buf.readUInt32LE(off) : 0);
  return {
    address, pid: buf.readUInt32LE(d.pcbOffPid), name, state: PROCESS_STATES[state] ?? 'unknown', upd, next: buf.readUInt32LE(d.pcbOffNext),
    mode: PROCESS_MODES[field(d.pcbOffMode)] ?? 'unknown', v86: field(d.pcbOffV86), exitCode: field(d.pcbOffExitCode),
  };
}

export const V86_STATUSES = ['running', 'passed', 'failed', 'killed'] as const;
export type V86Status = (typeof V86_STATUSES)[number] | 'unknown';

/** struct v86_task (guest/include/v86.h): a DOS task's first megabyte and its own report. */
export interface V86TaskRecord {
  readonly address: number;
  /** The private chain mapped from linear 0 (IVT, BIOS data, PSP, program, stack). */
  readonly lowChain: number;
  readonly lowPages: number;
  /** Owner id of its MCB blocks (pid + 1). */
  readonly mcbOwner: number;
  readonly pspSeg: number;
  readonly status: V86Status;
}

export function decodeV86Task(buf: Buffer, address: number, d: MmDebugInfo): V86TaskRecord {
  return {
    address,
    lowChain: buf.readUInt32LE(d.v86OffLowChain),
    lowPages: buf.readUInt32LE(d.v86OffLowPages),
    mcbOwner: buf.readUInt16LE(d.v86OffMcbOwner),
    pspSeg: buf.readUInt16LE(d.v86OffPspSeg),
    status: V86_STATUSES[buf.readUInt32LE(d.v86OffStatus)] ?? 'unknown',
  };
}


/** struct vector { void *data; uint32_t length, capacity, elem_size; } */
export interface VectorHeader {
  readonly data: number;
  readonly length: number;
  readonly capacity: number;
  readonly elemSize: number;
}

export function decodeVector(buf: Buffer): VectorHeader {
  return { data: buf.readUInt32LE(0), length: buf.readUInt32LE(4), capacity: buf.readUInt32LE(8), elemSize: buf.readUInt32LE(12) };
}

export interface XmsHandleRecord {
  readonly handle: number;
  readonly lockCount: number;
  readonly chain: number;
  readonly sizeKb: number;
  readonly ownerPid: number;
}

/** Decodes the elements a vector's data holds (those that are in `buf` whole). */
function decodeElements<T>(buf: Buffer, v: VectorHeader, decode: (offset: number) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < v.length && (i + 1) * v.elemSize <= buf.length; i++) out.push(decode(i * v.elemSize));
  return out;
}

export function decodeXmsHandles(buf: Buffer, v: VectorHeader, d: MmDebugInfo): XmsHandleRecord[] {
  return decodeElements(buf, v, (o) => ({
    handle: buf.readUInt16LE(o + d.xmsOffHandle),
    lockCount: buf.readUInt16LE(o + d.xmsOffLockCount),
    chain: buf.readUInt32LE(o + d.xmsOffChain),
    sizeKb: buf.readUInt32LE(o + d.xmsOffSizeKb),
    ownerPid: buf.readUInt32LE(o + d.xmsOffOwnerPid),
  }));
}

export interface DpmiBlockRecord {
  readonly handle: number;
  readonly chain: number;
  readonly linear: number;
  readonly size: number;
  readonly ownerPid: number;
  readonly lockCount: number;
}

export function decodeDpmiBlocks(buf: Buffer, v: VectorHeader, d: MmDebugInfo): DpmiBlockRecord[] {
  return decodeElements(buf, v, (o) => ({
    handle: buf.readUInt32LE(o + d.dpmiOffHandle),
    chain: buf.readUInt32LE(o + d.dpmiOffChain),
    linear: buf.readUInt32LE(o + d.dpmiOffLinear),
    size: buf.readUInt32LE(o + d.dpmiOffSize),
    ownerPid: buf.readUInt32LE(o + d.dpmiOffOwnerPid),
    lockCount: buf.readUInt32LE(o + d.dpmiOffLockCount),
  }));
}

export const EVENT_KINDS = ['none', 'allocated', 'freed', 'resized', 'mapped', 'unmapped', 'defrag', 'xms', 'dpmi', 'dos'] as const;
export type EventKind = (typeof EVENT_KINDS)[number] | 'unknown';

/** struct mm_event (guest/include/mm_event.h): what the last memory-manager call did. */
export interface MmEvent {
  readonly kind: EventKind;
  readonly chain: number;
  readonly blocks: number;
  readonly flags: number;
  readonly arg: number;
  readonly status: number;
  readonly caller: number;
  readonly pid: number;
  readonly seq: number;
}

export const MM_EVENT_SIZE = 36;

export function decodeEvent(buf: Buffer): MmEvent {
  const u = (i: number): number => buf.readUInt32LE(i * 4);
  return { kind: EVENT_KINDS[u(0)] ?? 'unknown', chain: u(1), blocks: u(2), flags: u(3), arg: u(4), status: u(5), caller: u(6), pid: u(7), seq: u(8) };
}
