// A bounds-checked little-endian cursor over a byte slice. Every read past the end throws a
// typed error (chosen by the caller through `fail`), so hostile input never turns into a
// RangeError or a silent wrong value.

import { addressFromBigInt } from '../../../qemu-bridge/src/address';

const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** `v` as `size` little-endian bytes (two's complement for negative values). */
export function integerBytes(v: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Builds the error thrown when a read runs out of bounds or meets a bad encoding. */
export type FailFactory = (detail: string) => Error;

export class ByteReader {
  /** Current absolute offset into `bytes`. */
  offset: number;

  /**
   * Reads `bytes` between `start` and `end` (absolute offsets). `what` names the data in
   * error messages, `fail` builds the error to throw.
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly fail: FailFactory,
    readonly what: string,
    start = 0,
    readonly end = bytes.length,
  ) {
    if (start < 0 || end > bytes.length || start > end) {
      throw fail(`${what}: range ${start}..${end} lies outside ${bytes.length} bytes`);
    }
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  get atEnd(): boolean {
    return this.offset >= this.end;
  }

  /** A new reader over [offset, offset+length) of the same bytes. */
  sub(offset: number, length: number, what = this.what): ByteReader {
    if (offset < 0 || length < 0 || offset + length > this.end) {
      throw this.fail(`${what} runs past the end of ${this.what}`);
    }
    return new ByteReader(this.bytes, this.fail, what, offset, offset + length);
  }

  seek(offset: number): void {
    if (offset < 0 || offset > this.end) throw this.fail(`${this.what}: offset ${offset} out of bounds`);
    this.offset = offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) throw this.fail(`${this.what} is truncated at offset ${at}`);
    this.offset = at + n;
    return at;
  }

  skip(n: number): void {
    this.need(n);
  }

  u8(): number {
    return this.bytes[this.need(1)];
  }

  s8(): number {
    return (this.u8() << 24) >> 24;
  }

  u16(): number {
    const at = this.need(2);
    return this.bytes[at] | (this.bytes[at + 1] << 8);
  }

  s16(): number {
    return (this.u16() << 16) >> 16;
  }

  u24(): number {
    const at = this.need(3);
    return this.bytes[at] | (this.bytes[at + 1] << 8) | (this.bytes[at + 2] << 16);
  }

  u32(): number {
    const at = this.need(4);
    const b = this.bytes;
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
  }

  s32(): number {
    return this.u32() | 0;
  }

  u64(): bigint {
    const lo = BigInt(this.u32());
    const hi = BigInt(this.u32());
    return (hi << 32n) | lo;
  }

  /** An unsigned integer of 1, 2, 4 or 8 bytes; 8-byte values must fit in a JS number. */
  unsigned(size: number): number {
    switch (size) {
      case 1: return this.u8();
      case 2: return this.u16();
      case 4: return this.u32();
      case 8: return this.safe(this.u64());
      default: throw this.fail(`${this.what}: unsupported integer size ${size}`);
    }
  }

  /**
   * A target address of `size` bytes as the address rule holds it (docs/addresses.md): 4 bytes
   * unsigned, 8 bytes the signed 64-bit value (the x86-64 kernel half is negative); fails when an
   * 8-byte address lies outside ±2^53.
   */
  address(size: number): number {
    if (size !== 8) return this.unsigned(size);
    const at = this.offset;
    const v = this.u64();
    try {
      return addressFromBigInt(v, 64);
    } catch {
      throw this.fail(`${this.what}: address 0x${v.toString(16)} at offset ${at} is not a canonical address`);
    }
  }

  /** Converts to number, failing when the value does not fit. */
  safe(v: bigint): number {
    if (v > MAX_SAFE || v < MIN_SAFE) {
      throw this.fail(`${this.what}: value ${v} is too large`);
    }
    return Number(v);
  }

  ulebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.u8();
      if (shift < 128n) result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if ((byte & 0x80) === 0) return result;
    }
  }

  slebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    let byte: number;
    do {
      byte = this.u8();
      if (shift < 128n) result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte & 0x80);
    if (byte & 0x40 && shift < 128n) result -= 1n << shift;
    return result;
  }

  /** Unsigned LEB128 as a number (fast path for small values). */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
      if (mul > 2 ** 56) {
        // Keep consuming so the cursor stays consistent, then refuse the value.
        while (this.u8() & 0x80) { /* skip */ }
        throw this.fail(`${this.what}: LEB128 value too large`);
      }
    }
    if (result > Number.MAX_SAFE_INTEGER) throw this.fail(`${this.what}: LEB128 value too large`);
    return result;
  }

  /** Unsigned LEB128: a number when it fits in 49 bits (the common case), else a bigint. */
  ulebAny(): number | bigint {
    const start = this.offset;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
    this.offset = start;
    return toNumberIfSafe(this.ulebBig());
  }

  /** Signed LEB128: a number when it fits in 49 bits, else a bigint. */
  slebAny(): number | bigint {
    const start = this.offset;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) return byte & 0x40 ? result - mul : result;
    }
    this.offset = start;
    return toNumberIfSafe(this.slebBig());
  }

  /** Signed LEB128 as a number. */
  sleb(): number {
    return this.safe(this.slebBig());
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const start = this.offset;
    let i = start;
    while (i < this.end && this.bytes[i] !== 0) i++;
    if (i >= this.end) throw this.fail(`${this.what}: unterminated string at offset ${start}`);
    this.offset = i + 1;
    return textDecoder.decode(this.bytes.subarray(start, i));
  }

  bytesOf(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** A bigint as a number when it is exactly representable, else unchanged. */
export function toNumberIfSafe(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : v;
}

/** Reads a NUL-terminated string at `offset` in a string section. */
export function readCString(bytes: Uint8Array, offset: number, fail: FailFactory, what: string): string {
  if (!Number.isInteger(offset) || offset < 0 || offset >= bytes.length) {
    throw fail(`${what}: string offset ${offset} out of bounds`);
  }
  return new ByteReader(bytes, fail, what, offset).cstring();
}
