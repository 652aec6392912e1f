// The interrupt descriptor table as the CPU reads it: IDTR from QEMU's `info registers`
// ("IDT=     base limit"; the gdbstub does not report IDTR) and 32-bit gates decoded from guest
// memory. Pure. Handler addresses assume a flat code segment (base 0), as every 32-bit kernel
// we know of uses; the selector is reported so a caller can say otherwise.

export interface Idtr {
  readonly base: number;
  readonly limit: number;
}

/** IDTR from `info registers` text; undefined when the line is missing. */
export function parseIdtr(infoRegisters: string): Idtr | undefined {
  const m = /^IDT=\s*([0-9a-fA-F]+)\s+([0-9a-fA-F]+)/m.exec(infoRegisters);
  if (!m) return undefined;
  return { base: parseInt(m[1], 16) >>> 0, limit: parseInt(m[2], 16) };
}

export type GateType = 'interrupt' | 'trap' | 'task' | 'interrupt16' | 'trap16' | 'invalid';

export interface Gate {
  readonly vector: number;
  readonly present: boolean;
  readonly type: GateType;
  readonly dpl: number;
  readonly selector: number;
  /** The handler's entry (offset in the selector's segment). */
  readonly offset: number;
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

/** The vectors an IDT of `limit` covers (a gate is inside when its last byte is within the limit). */
export function vectorInside(idtr: Idtr, vector: number): boolean {
  return vector * 8 + 7 <= idtr.limit;
}

/**
 * The handler entry of each vector in `vectors` whose 32-bit gate is present; vectors outside
 * the limit, not present, or with a task or 16-bit gate have none (the CPU would fault again).
 */
export function handlerEntries(idtr: Idtr, table: Uint8Array, vectors: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of vectors) {
    if (!vectorInside(idtr, v)) continue;
    const g = decodeGate(table, v);
    if (g && g.present && (g.type === 'interrupt' || g.type === 'trap')) out.set(v, g.offset);
  }
  return out;
}
