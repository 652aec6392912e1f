// The interrupt descriptor table as the CPU reads it: IDTR from QEMU's `info registers`
// ("IDT=     base limit"; the gdbstub does not report IDTR) and the gates decoded from guest
// memory: 8-byte gates in protected mode, 16-byte gates (offset 63:0, IST) in long mode (SDM vol.
// 3A, 6.11 and 6.14.1). Pure. Handler addresses assume a flat code segment (base 0), as every
// kernel we know of uses (long mode ignores the base anyway); the selector is reported so a
// caller can say otherwise. Addresses follow the adapter's rule (qemu-bridge/src/address.ts).

import { addressFromBigInt, AddressWidth } from '../../../qemu-bridge/src/address';

export interface Idtr {
  readonly base: number;
  readonly limit: number;
}

/**
 * IDTR from `info registers` text; undefined when the line is missing. `width` 64 takes the
 * 64-bit base (qemu-system-x86_64 prints 16 digits) as a 64-bit address; 32 its low 32 bits.
 */
export function parseIdtr(infoRegisters: string, width: AddressWidth = 32): Idtr | undefined {
  const m = /^IDT=\s*([0-9a-fA-F]+)\s+([0-9a-fA-F]+)/m.exec(infoRegisters);
  if (!m) return undefined;
  const base = BigInt(`0x${m[1]}`);
  return { base: width === 64 ? addressFromBigInt(base, 64) : Number(base & 0xffffffffn), limit: parseInt(m[2], 16) };
}

export type GateType = 'interrupt' | 'trap' | 'task' | 'interrupt16' | 'trap16' | 'invalid';

export interface Gate {
  readonly vector: number;
  readonly present: boolean;
  readonly type: GateType;
  readonly dpl: number;
  readonly selector: number;
  /** The handler's entry (offset in the selector's segment; a 64-bit address for a long-mode gate). */
  readonly offset: number;
  /** The interrupt stack table slot of a long-mode gate (0: none). */
  readonly ist?: number;
}

/** The gate format the CPU reads: 8-byte protected-mode gates, or 16-byte long-mode gates. */
export type GateFormat = 'protected' | 'long';

/** Bytes of one gate in `format`. */
export function gateSize(format: GateFormat): 8 | 16 {
  return format === 'long' ? 16 : 8;
}

const TYPES: Record<number, GateType> = { 0x5: 'task', 0x6: 'interrupt16', 0x7: 'trap16', 0xe: 'interrupt', 0xf: 'trap' };

/** Decodes the 8-byte gate of `vector` from the table's bytes (starting at the IDT base). */
export function decodeGate(table: Uint8Array, vector: number): Gate | undefined {
  const at = vector * 8;
  if (at + 8 > table.length) return undefined;
  const b = Buffer.from(table.buffer, table.byteOffset + at, 8);
  const access = b[5];
  return {
    vector,
    present: (access & 0x80) !== 0,
    type: TYPES[access & 0x1f] ?? 'invalid',
    dpl: (access >> 5) & 3,
    selector: b.readUInt16LE(2),
    offset: (b.readUInt16LE(0) | (b.readUInt16LE(6) << 16)) >>> 0,
  };
}

/** Long mode has only 64-bit interrupt and trap gates; every other type is invalid there. */
const LONG_TYPES: Record<number, GateType> = { 0xe: 'interrupt', 0xf: 'trap' };

/** Decodes the 16-byte long-mode gate of `vector` (offset 15:0, 31:16, 63:32; IST in byte 4). */
export function decodeLongGate(table: Uint8Array, vector: number): Gate | undefined {
  const at = vector * 16;
  if (at + 16 > table.length) return undefined;
  const b = Buffer.from(table.buffer, table.byteOffset + at, 16);
  const access = b[5];
  const offset = BigInt(b.readUInt16LE(0)) | (BigInt(b.readUInt16LE(6)) << 16n) | (BigInt(b.readUInt32LE(8)) << 32n);
  return {
    vector,
    present: (access & 0x80) !== 0,
    type: LONG_TYPES[access & 0x1f] ?? 'invalid',
    dpl: (access >> 5) & 3,
    selector: b.readUInt16LE(2),
    offset: addressFromBigInt(offset, 64),
    ist: b[4] & 7,
  };
}

/** The vectors an IDT of `limit` covers (a gate is inside when its last byte is within the limit). */
export function vectorInside(idtr: Idtr, vector: number, format: GateFormat = 'protected'): boolean {
  const size = gateSize(format);
  return vector * size + size - 1 <= idtr.limit;
}

/**
 * The handler entry of each vector in `vectors` whose 32-bit (or, in long mode, 64-bit) gate is
 * present; vectors outside the limit, not present, or with a task, 16-bit or (long mode) invalid
 * gate have none (the CPU would fault again).
 */
export function handlerEntries(idtr: Idtr, table: Uint8Array, vectors: readonly number[], format: GateFormat = 'protected'): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of vectors) {
    if (!vectorInside(idtr, v, format)) continue;
    const g = format === 'long' ? decodeLongGate(table, v) : decodeGate(table, v);
    if (g && g.present && (g.type === 'interrupt' || g.type === 'trap')) out.set(v, g.offset);
  }
  return out;
}
