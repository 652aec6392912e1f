// The address rule (docs/addresses.md): i386 addresses unsigned 32-bit, x86-64 addresses the signed
// 64-bit value, exact within ±2^53; every conversion checked at the edges.

import * as assert from 'assert';
import {
  addressFromBigInt, addressToBigInt, AddressNotRepresentableError, formatAddress, parseAddress, readAddress, wrapAddress,
} from '../src/address';

describe('address', () => {
  it('holds the x86-64 kernel half as negative numbers, exactly', () => {
    assert.strictEqual(addressFromBigInt(0xffffffff80100000n, 64), -2146435072);
    assert.strictEqual(addressFromBigInt(0xffff800000000000n, 64), -(2 ** 47));
    assert.strictEqual(addressFromBigInt(0x00007fffffffffffn, 64), 2 ** 47 - 1);
    assert.strictEqual(addressFromBigInt(0xffffffffffffffffn, 64), -1);
    assert.strictEqual(addressFromBigInt(-1n, 64), -1);
    assert.strictEqual(addressFromBigInt(0n, 64), 0);
    // the edges of exactness
    assert.strictEqual(addressFromBigInt(BigInt(Number.MAX_SAFE_INTEGER), 64), Number.MAX_SAFE_INTEGER);
    assert.strictEqual(addressFromBigInt(TWO64 - BigInt(Number.MAX_SAFE_INTEGER), 64), -Number.MAX_SAFE_INTEGER);
    assert.throws(() => addressFromBigInt(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 64), AddressNotRepresentableError);
    assert.throws(() => addressFromBigInt(0x8000000000000000n, 64), /0x8000000000000000 is not a 64-bit address/);
    assert.throws(() => addressFromBigInt(TWO64, 64), AddressNotRepresentableError);
    assert.throws(() => addressFromBigInt(-(1n << 63n) - 1n, 64), AddressNotRepresentableError);
  });

  it('keeps i386 addresses unsigned 32-bit', () => {
    assert.strictEqual(addressFromBigInt(0xc0100000n, 32), 0xc0100000);
    assert.strictEqual(addressFromBigInt(-1n, 32), 0xffffffff);
    assert.throws(() => addressFromBigInt(0x100000000n, 32), AddressNotRepresentableError);
    assert.strictEqual(addressToBigInt(0xc0100000, 32), 0xc0100000n);
    assert.strictEqual(addressToBigInt(-1, 32), 0xffffffffn);
    assert.throws(() => addressToBigInt(2 ** 32, 32), AddressNotRepresentableError);
  });

  it('gives back the unsigned value', () => {
    assert.strictEqual(addressToBigInt(-2146435072, 64), 0xffffffff80100000n);
    assert.strictEqual(addressToBigInt(0x100000, 64), 0x100000n);
    assert.throws(() => addressToBigInt(2 ** 60, 64), AddressNotRepresentableError);
    assert.throws(() => addressToBigInt(1.5, 64), AddressNotRepresentableError);
    for (const v of [0n, 1n, 0xffffffff80000000n, 0xffffffffffffffffn, 0x1fffffffffffffn, 0xffe0000000000001n]) {
      assert.strictEqual(addressToBigInt(addressFromBigInt(v, 64), 64), v);
    }
  });

  it('wraps address arithmetic to the width', () => {
    assert.strictEqual(wrapAddress(0xffffffff + 2, 32), 1);
    assert.strictEqual(wrapAddress(-1, 32), 0xffffffff);
    assert.strictEqual(wrapAddress(-2146435072 + 0x10, 64), -2146435056);
    // an unsigned value that arrived as a (non-safe, but exactly held) number
    assert.strictEqual(wrapAddress(0xffffffff80100000, 64), -2146435072);
    assert.throws(() => wrapAddress(2 ** 60, 64), AddressNotRepresentableError);
    assert.throws(() => wrapAddress(0.5, 64), AddressNotRepresentableError);
    assert.throws(() => wrapAddress(NaN, 64), AddressNotRepresentableError);
  });

  it('formats unsigned with the width in digits', () => {
    assert.strictEqual(formatAddress(-2146435072, 64), '0xffffffff80100000');
    assert.strictEqual(formatAddress(0x1000, 64), '0x0000000000001000');
    assert.strictEqual(formatAddress(0xc0100000, 32), '0xc0100000');
    assert.strictEqual(formatAddress(0x10, 32), '0x00000010');
  });

  it('parses hex, decimal and signed text', () => {
    assert.strictEqual(parseAddress('0xffffffff80100000', 64), -2146435072);
    assert.strictEqual(parseAddress(' 0xFFFFFFFF`80100000 ', 64), -2146435072);
    assert.strictEqual(parseAddress('0xffff_ffff_8010_0000', 64), -2146435072);
    assert.strictEqual(parseAddress('-2146435072', 64), -2146435072);
    assert.strictEqual(parseAddress('4096', 32), 4096);
    assert.strictEqual(parseAddress('0xc0100000', 32), 0xc0100000);
    assert.throws(() => parseAddress('0x1_0000_0000', 32), AddressNotRepresentableError);
    assert.throws(() => parseAddress('main', 64), /"main" is not a 64-bit address/);
    assert.throws(() => parseAddress('0x', 64), AddressNotRepresentableError);
    assert.throws(() => parseAddress('0x8000000000000000', 64), AddressNotRepresentableError);
  });

  it('reads little-endian addresses from bytes', () => {
    const buf = Buffer.from('00001080ffffffff' + '0000c0ff' + '00', 'hex');
    assert.strictEqual(readAddress(buf, 0, 64), -2146435072);
    assert.strictEqual(readAddress(buf, 8, 32), 0xffc00000);
    assert.strictEqual(readAddress(buf.subarray(8), 0, 32), 0xffc00000);
    assert.throws(() => readAddress(buf, 6, 64), RangeError);
    assert.throws(() => readAddress(Buffer.from('0000000000000080', 'hex'), 0, 64), AddressNotRepresentableError);
  });
});

const TWO64 = 1n << 64n;
