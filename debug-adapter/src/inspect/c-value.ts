// Values of the C evaluator: a type plus where the object lives (memory, a register, nowhere)
// and its bytes once known; the per-stop memory cache they are read through; and the
// conversions between bytes and numbers (integers, bit fields, floats).

import { addressToBigInt, AddressWidth, wrapAddress } from '../../../qemu-bridge/src/address';
import { byteSizeOf, DwarfType, stripTypedefs } from '../symbols';
import { integerBytes } from '../symbols/byteReader';
import { EvaluationError } from './errors';
import { isFloat, isSigned } from './c-types';
import { TargetAccess } from './target-access';

export type ValueLocation =
  | { kind: 'memory'; address: number }
  | { kind: 'register'; name: string }
  | { kind: 'none' };

export interface BitField {
  /** Bit offset from the start of `location`'s first byte (little-endian numbering). */
  bitOffset: number;
  bitSize: number;
}

export interface CValue {
  readonly type: DwarfType;
  readonly location: ValueLocation;
  /** The value's bytes when known without reading memory (computed, register, implicit). */
  readonly bytes?: Uint8Array;
  readonly bitField?: BitField;
  /** Set when the value does not exist at this pc (gdb's `<optimized out>`). */
  readonly unavailable?: string;
}

const CHUNK = 256;

/** Memory reads through a cache of 256-byte chunks, valid for one stop. */
export class MemoryCache {
  private readonly chunks = new Map<number, Uint8Array | Error>();

  constructor(private readonly access: TargetAccess) {}

  /** Width of the target's addresses (the address rule of address.ts). */
  private get width(): AddressWidth {
    return this.access.addressWidth ?? 32;
  }

  clear(): void {
    this.chunks.clear();
  }

  /** `length` bytes at `address`. Throws EvaluationError naming the first unreadable address. */
  async read(address: number, length: number): Promise<Uint8Array> {
    address = wrapAddress(address, this.width);
    if (length === 0) return new Uint8Array(0);
    if (length > 16 * 1024 * 1024) throw new EvaluationError(`Refusing to read ${length} bytes at once; look at a smaller part of the object.`);
    const first = Math.floor(address / CHUNK);
    const last = Math.floor((address + length - 1) / CHUNK);
    // Fetch missing chunks in contiguous runs.
    let runStart = -1;
    const flush = async (end: number): Promise<void> => {
      if (runStart < 0) return;
      await this.fetch(runStart, end);
      runStart = -1;
    };
    for (let c = first; c <= last; c++) {
      if (this.chunks.has(c)) await flush(c);
      else if (runStart < 0) runStart = c;
    }
    await flush(last + 1);
    const out = new Uint8Array(length);
    for (let c = first; c <= last; c++) {
      const chunk = this.chunks.get(c);
      const chunkAddress = c * CHUNK;
      if (!chunk || chunk instanceof Error) return this.readDirect(address, length, Math.max(chunkAddress, address));
      const from = Math.max(address, chunkAddress);
      const to = Math.min(address + length, chunkAddress + CHUNK);
      out.set(chunk.subarray(from - chunkAddress, to - chunkAddress), from - address);
    }
    return out;
  }

  /** An uncached read for a range whose chunk is only partly readable (the end of a mapping). */
  private async readDirect(address: number, length: number, firstBad: number): Promise<Uint8Array> {
    try {
      const bytes = await this.access.readMemory(address, length);
      if (bytes.length >= length) return new Uint8Array(bytes.subarray(0, length));
    } catch {
      // reported below
    }
    throw new EvaluationError(`Cannot access memory at address 0x${addressToBigInt(wrapAddress(firstBad, this.width), this.width).toString(16)}.`);
  }

  private async fetch(firstChunk: number, endChunk: number): Promise<void> {
    const start = firstChunk * CHUNK;
    const length = (endChunk - firstChunk) * CHUNK;
    if (this.width === 32 && start + length > 0x100000000) {
      for (let c = firstChunk; c < endChunk; c++) this.chunks.set(c, new Error('beyond 4 GiB'));
      return;
    }
    try {
      const bytes = await this.access.readMemory(start, length);
      for (let c = firstChunk; c < endChunk; c++) {
        const off = (c - firstChunk) * CHUNK;
        this.chunks.set(c, bytes.length >= off + CHUNK ? new Uint8Array(bytes.subarray(off, off + CHUNK)) : new Error('short read'));
      }
    } catch (e) {
      if (endChunk - firstChunk === 1) {
        this.chunks.set(firstChunk, e instanceof Error ? e : new Error(String(e)));
        return;
      }
      // Part of the run may be readable (an unmapped page in the middle): retry chunk by chunk.
      for (let c = firstChunk; c < endChunk; c++) await this.fetch(c, c + 1);
    }
  }

  /** Forgets cached bytes overlapping a write. */
  invalidateRange(address: number, length: number): void {
    for (let c = Math.floor(address / CHUNK); c <= Math.floor((address + length - 1) / CHUNK); c++) this.chunks.delete(c);
  }
}

/** Reads a value's bytes (for bit fields: the bytes that hold its bits). Throws EvaluationError. */
export async function valueBytes(value: CValue, memory: MemoryCache, registers?: ReadonlyMap<string, number>): Promise<Uint8Array> {
  if (value.unavailable) throw new EvaluationError(`The value is ${value.unavailable} at this point of the program.`);
  if (value.bytes) return value.bytes;
  const size = storageSize(value);
  if (value.location.kind === 'memory') return memory.read(value.location.address, size);
  if (value.location.kind === 'register') {
    const v = registers?.get(value.location.name);
    if (v === undefined) throw new EvaluationError(`Register ${value.location.name} is not known in this frame.`);
    return integerBytes(BigInt(v), Math.max(size, 4)).subarray(0, size);
  }
  throw new EvaluationError('The value has no storage.');
}

/** Bytes covering the value (bit fields: from the byte of their first bit through their last bit). */
export function storageSize(value: CValue): number {
  if (value.bitField) return Math.ceil((value.bitField.bitOffset + value.bitField.bitSize) / 8);
  return byteSizeOf(value.type);
}


export function bytesToUnsigned(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** The integer held in `bytes` for `type` (sign-extended when the type is signed), honouring a bit field. */
export function decodeInteger(bytes: Uint8Array, type: DwarfType, bitField?: BitField): bigint {
  let raw = bytesToUnsigned(bytes);
  let bits = bytes.length * 8;
  if (bitField) {
    raw = (raw >> BigInt(bitField.bitOffset)) & ((1n << BigInt(bitField.bitSize)) - 1n);
    bits = bitField.bitSize;
  } else {
    const size = byteSizeOf(type) || bytes.length;
    bits = Math.min(bits, size * 8);
    raw = BigInt.asUintN(bits, raw);
  }
  if (bits === 0) return 0n;
  return isSigned(type) ? BigInt.asIntN(bits, raw) : raw;
}

/** The floating value held in `bytes` (4, 8, or x87 10/12/16-byte extended). */
export function decodeFloat(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length === 4) return view.getFloat32(0, true);
  if (bytes.length === 8) return view.getFloat64(0, true);
  if (bytes.length >= 10) {
    const mantissa = view.getBigUint64(0, true);
    const se = view.getUint16(8, true);
    const sign = se & 0x8000 ? -1 : 1;
    const exp = se & 0x7fff;
    if (exp === 0x7fff) return (mantissa << 1n) === 0n ? sign * Infinity : NaN;
    if (exp === 0 && mantissa === 0n) return sign * 0;
    return sign * Number(mantissa) * Math.pow(2, exp - 16383 - 63);
  }
  throw new EvaluationError(`Cannot read a ${bytes.length}-byte floating-point value.`);
}

export function encodeFloat(v: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (size === 4) view.setFloat32(0, v, true);
  else if (size === 8) view.setFloat64(0, v, true);
  else throw new EvaluationError(`Cannot write a ${size}-byte floating-point value.`);
  return out;
}

/** A computed (non-lvalue) value of `type` holding integer `v`. */
export function integerValue(type: DwarfType, v: bigint): CValue {
  return { type, location: { kind: 'none' }, bytes: integerBytes(v, byteSizeOf(type) || 4) };
}

export function floatValue(type: DwarfType, v: number): CValue {
  const size = byteSizeOf(type);
  if (size === 4 || size === 8) return { type, location: { kind: 'none' }, bytes: encodeFloat(v, size) };
  // long double results are carried as double.
  return { type: { kind: 'base', name: 'double', encoding: 0x4, byteSize: 8 }, location: { kind: 'none' }, bytes: encodeFloat(v, 8) };
}

/** The number in a scalar value (integers and pointers as bigint, floats as number). */
export async function scalarOf(value: CValue, memory: MemoryCache, registers?: ReadonlyMap<string, number>): Promise<bigint | number> {
  const bytes = await valueBytes(value, memory, registers);
  if (isFloat(value.type)) return decodeFloat(bytes);
  const s = stripTypedefs(value.type);
  if (s.kind === 'pointer') return bytesToUnsigned(bytes.subarray(0, s.byteSize || 4));
  return decodeInteger(bytes, value.type, value.bitField);
}
