// Guest virtual addresses as JavaScript numbers, exactly, for 32-bit and 64-bit targets.
//
// The rule (docs/addresses.md): on a 32-bit target an address is its unsigned 32-bit value; on a
// 64-bit target it is its *signed* 64-bit value, so the kernel half (0xffff8000_00000000 and up) is
// negative. Every canonical 48-bit address (and everything within ±2^53) is then exact in a double.
// Every conversion between that number and bytes, bigints or text goes through this module.

import { BridgeError } from './errors';

/** Width of a target's virtual addresses, in bits. */
export type AddressWidth = 32 | 64;

/** An address (or a value used as one) that cannot be held exactly under the address rule. */
export class AddressNotRepresentableError extends BridgeError {
  constructor(readonly text: string, readonly width: AddressWidth) {
    super('ADDRESS_NOT_REPRESENTABLE', `The address ${text} is not a ${width}-bit address mmscope can hold exactly (64-bit addresses must lie within ±2^53 as signed values); check the value.`);
  }
}

const TWO_32 = 1n << 32n;
const TWO_63 = 1n << 63n;
const TWO_64 = 1n << 64n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function hexOf(value: bigint): string {
  return value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/**
 * The number that holds `value` as a `width`-bit address. `value` may be given unsigned
 * (0..2^width-1) or signed (-2^(width-1)..-1); it is reduced modulo 2^width. Throws
 * AddressNotRepresentableError when it lies outside both ranges or (64-bit) is not exact as a number.
 */
export function addressFromBigInt(value: bigint, width: AddressWidth): number {
  const modulus = width === 32 ? TWO_32 : TWO_64;
  if (value >= modulus || value < -(modulus >> 1n)) throw new AddressNotRepresentableError(hexOf(value), width);
  const unsigned = value < 0n ? value + modulus : value;
  if (width === 32) return Number(unsigned);
  const signed = unsigned >= TWO_63 ? unsigned - TWO_64 : unsigned;
  if (signed > MAX_SAFE || signed < -MAX_SAFE) throw new AddressNotRepresentableError(hexOf(unsigned), width);
  return Number(signed);
}

/** The unsigned value (0..2^width-1) of the address number `a`. */
export function addressToBigInt(a: number, width: AddressWidth): bigint {
  if (!Number.isSafeInteger(a)) throw new AddressNotRepresentableError(String(a), width);
  const modulus = width === 32 ? TWO_32 : TWO_64;
  const v = BigInt(a);
  if (v >= modulus || v < -(modulus >> 1n)) throw new AddressNotRepresentableError(String(a), width);
  return v < 0n ? v + modulus : v;
}

/**
 * The address number for the result `n` of address arithmetic (a sum, an unsigned value read as a
 * number): 32-bit wraps modulo 2^32 (`n >>> 0`); 64-bit takes an integer in -2^63..2^64-1 into the
 * signed range and throws when that is not exact.
 */
export function wrapAddress(n: number, width: AddressWidth): number {
  if (width === 32) return n >>> 0;
  if (Number.isSafeInteger(n)) return n;
  if (!Number.isInteger(n)) throw new AddressNotRepresentableError(String(n), width);
  return addressFromBigInt(BigInt(n), width);
}

/** "0x" and 8 (32-bit) or 16 (64-bit) lower-case hex digits of the unsigned address. */
export function formatAddress(a: number, width: AddressWidth): string {
  return `0x${addressToBigInt(a, width).toString(16).padStart(width / 4, '0')}`;
}

/**
 * The address number for `text`: hex with "0x" (underscores and a "_" or "`" digit separator
 * allowed, as gdb and WinDbg print them) or decimal, optionally with a leading "-" (a signed value).
 * Throws AddressNotRepresentableError for anything else.
 */
export function parseAddress(text: string, width: AddressWidth): number {
  const trimmed = text.trim();
  const m = /^(-?)(?:0[xX]([0-9a-fA-F][0-9a-fA-F_`]*)|([0-9]+))$/.exec(trimmed);
  if (!m) throw new AddressNotRepresentableError(JSON.stringify(text), width);
  const magnitude = m[2] !== undefined ? BigInt(`0x${m[2].replace(/[_`]/g, '')}`) : BigInt(m[3]);
  return addressFromBigInt(m[1] ? -magnitude : magnitude, width);
}

/** The little-endian address of `width` bits at `offset` in `buf`. */
export function readAddress(buf: Uint8Array, offset: number, width: AddressWidth): number {
  const bytes = width / 8;
  if (!Number.isInteger(offset) || offset < 0 || offset + bytes > buf.length) {
    throw new RangeError(`Cannot read a ${width}-bit address at offset ${offset} of a ${buf.length}-byte buffer.`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (width === 32) return view.getUint32(offset, true);
  return addressFromBigInt(view.getBigUint64(offset, true), 64);
}
