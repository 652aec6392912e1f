// DWARF 5's indexed forms with 8-byte addresses, in the 32-bit and the 64-bit DWARF format:
// DW_FORM_addrx1 through .debug_addr, DW_FORM_strx1 through .debug_str_offsets,
// DW_FORM_rnglistx/loclistx through the offset tables of .debug_rnglists/.debug_loclists, and
// every list entry kind that carries an address. gcc writes these forms only into split DWARF
// (.dwo), which the reader does not load, so the units are assembled here byte by byte; the
// expected values are the ones written.

import * as assert from 'assert';
import { formatAddress } from '../../qemu-bridge/src/address';
import { DebugInfo } from '../src/symbols/debugInfo';
import { DW_AT, DW_FORM, DW_LLE, DW_RLE, DW_TAG } from '../src/symbols/dwarfConstants';
import { DwarfSections } from '../src/symbols/dwarfSections';
import { dieLocation } from '../src/symbols/locationLists';
import { dieRanges } from '../src/symbols/rangeLists';

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

const le = (v: bigint, size: number): number[] => Array.from({ length: size }, (_, i) => Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));

/** A section contribution: unit length (4 bytes, or 0xffffffff + 8 in the 64-bit format) and body. */
function unit(body: number[], wide: boolean): number[] {
  return wide ? [0xff, 0xff, 0xff, 0xff, ...le(BigInt(body.length), 8), ...body] : [...le(BigInt(body.length), 4), ...body];
}

const CU_LOW = 0xffffffff80100000n;
const SECOND = 0xffffffff80100400n;

function sections(wide: boolean): DwarfSections {
  const off = wide ? 8 : 4;
  const header = wide ? 12 : 4; // the length field
  const abbrev = [
    1, DW_TAG.compile_unit, 1,
    DW_AT.name, DW_FORM.strx1, DW_AT.str_offsets_base, DW_FORM.sec_offset, DW_AT.addr_base, DW_FORM.sec_offset,
    DW_AT.rnglists_base, DW_FORM.sec_offset, ...uleb(DW_AT.loclists_base), DW_FORM.sec_offset,
    DW_AT.low_pc, DW_FORM.addrx1, DW_AT.high_pc, DW_FORM.data4, 0, 0,
    2, DW_TAG.subprogram, 1, DW_AT.name, DW_FORM.strx1, DW_AT.ranges, DW_FORM.rnglistx, 0, 0,
    3, DW_TAG.variable, 0, DW_AT.name, DW_FORM.string, DW_AT.location, DW_FORM.loclistx, 0, 0,
    0,
  ];
  const str = [...Buffer.from('unit.c\0mapper\0')];
  const strOffsets = unit([5, 0, 0, 0, ...le(0n, off), ...le(7n, off)], wide);
  const addr = unit([5, 0, 8, 0, ...le(CU_LOW, 8), ...le(SECOND, 8)], wide);
  const rangeList = [
    DW_RLE.startx_length, 1, ...uleb(0x20),
    DW_RLE.offset_pair, ...uleb(0x10), ...uleb(0x18),
    DW_RLE.base_addressx, 1,
    DW_RLE.offset_pair, ...uleb(0x40), ...uleb(0x50),
    DW_RLE.startx_endx, 0, 1,
    DW_RLE.base_address, ...le(0xffffffff80200000n, 8),
    DW_RLE.offset_pair, ...uleb(0), ...uleb(4),
    DW_RLE.start_end, ...le(0xffffffff80100800n, 8), ...le(0xffffffff80100810n, 8),
    DW_RLE.start_length, ...le(0xffffffff80100900n, 8), ...uleb(0x30),
    DW_RLE.end_of_list,
  ];
  const rnglists = unit([5, 0, 8, 0, ...le(1n, 4), ...le(BigInt(off), off), ...rangeList], wide);
  const locList = [
    DW_LLE.startx_length, 0, ...uleb(0x10), 1, 0x50,
    DW_LLE.offset_pair, ...uleb(0x10), ...uleb(0x20), 1, 0x55,
    DW_LLE.base_addressx, 1,
    DW_LLE.offset_pair, ...uleb(0), ...uleb(8), 1, 0x53,
    DW_LLE.start_length, ...le(0xffffffff80100900n, 8), ...uleb(8), 2, 0x91, 0x70,
    DW_LLE.start_end, ...le(0xffffffffffff0000n, 8), ...le(0xffffffffffff0010n, 8), 1, 0x56,
    DW_LLE.end_of_list,
  ];
  const loclists = unit([5, 0, 8, 0, ...le(1n, 4), ...le(BigInt(off), off), ...locList], wide);
  const listsBase = header + 2 + 1 + 1 + 4;
  const cuBody = [
    5, 0, 1, 8, ...le(0n, off),
    1, 0, ...le(BigInt(header + 4), off), ...le(BigInt(header + 4), off), ...le(BigInt(listsBase), off), ...le(BigInt(listsBase), off), 0, ...le(0x1000n, 4),
    2, 1, 0,
    3, ...Buffer.from('pte\0'), 0,
    0,
    0,
  ];
  const empty = new Uint8Array(0);
  return {
    info: new Uint8Array(unit(cuBody, wide)), abbrev: new Uint8Array(abbrev), str: new Uint8Array(str), lineStr: empty,
    strOffsets: new Uint8Array(strOffsets), addr: new Uint8Array(addr), line: empty, ranges: empty,
    rnglists: new Uint8Array(rnglists), loc: empty, loclists: new Uint8Array(loclists), frame: empty, ehFrame: empty, ehFrameAddress: 0,
  };
}

const hex = (a: number): string => formatAddress(a, 64);

describe('symbols: DWARF 5 indexed forms with 8-byte addresses', () => {
  for (const wide of [false, true]) {
    it(`${wide ? '64-bit' : '32-bit'} DWARF format: addrx, strx, rnglistx and loclistx resolve to kernel-half addresses`, () => {
      const info = new DebugInfo(sections(wide));
      assert.strictEqual(info.units.length, 1);
      const u = info.units[0];
      assert.strictEqual(u.offsetSize, wide ? 8 : 4);
      assert.strictEqual(u.addressSize, 8);
      const root = u.root;
      assert.strictEqual(root.name, 'unit.c');
      assert.strictEqual(hex(root.lowPc!), '0xffffffff80100000');
      assert.strictEqual(hex(root.highPc!), '0xffffffff80101000');
      assert.strictEqual(hex(u.indexedAddress(1)), '0xffffffff80100400');
      const fn = root.children[0];
      assert.strictEqual(fn.tag, DW_TAG.subprogram);
      assert.strictEqual(fn.name, 'mapper');
      assert.deepStrictEqual(dieRanges(fn).map((r) => [hex(r.start), hex(r.end)]), [
        ['0xffffffff80100400', '0xffffffff80100420'], // startx_length
        ['0xffffffff80100010', '0xffffffff80100018'], // offset_pair from the unit's low_pc
        ['0xffffffff80100440', '0xffffffff80100450'], // offset_pair after base_addressx
        ['0xffffffff80100000', '0xffffffff80100400'], // startx_endx
        ['0xffffffff80200000', '0xffffffff80200004'], // offset_pair after base_address
        ['0xffffffff80100800', '0xffffffff80100810'], // start_end
        ['0xffffffff80100900', '0xffffffff80100930'], // start_length
      ]);
      const variable = fn.children[0];
      assert.strictEqual(variable.name, 'pte');
      const loc = dieLocation(variable, DW_AT.location);
      assert.strictEqual(loc.kind, 'list');
      if (loc.kind !== 'list') return;
      assert.deepStrictEqual(loc.entries.map((e) => [hex(e.start), hex(e.end), [...e.expression]]), [
        ['0xffffffff80100000', '0xffffffff80100010', [0x50]],
        ['0xffffffff80100010', '0xffffffff80100020', [0x55]],
        ['0xffffffff80100400', '0xffffffff80100408', [0x53]],
        ['0xffffffff80100900', '0xffffffff80100908', [0x91, 0x70]],
        ['0xffffffffffff0000', '0xffffffffffff0010', [0x56]],
      ]);
    });
  }
});
