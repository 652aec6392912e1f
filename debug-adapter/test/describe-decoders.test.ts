// The allocator shape decoders alone, on hand-built bytes and link maps: exact unit states and
// frame runs for clean inputs (no finding), one finding per kind of garbage, and bounded walks
// on cyclic or endless lists.

import * as assert from 'assert';
import {
  MAX_FINDINGS_PER_KIND, UNIT_FREE, UNIT_USED, UnitRange, bitmapBytes, capFindings, countUnits, decodeBitmap, decodeBuddy, decodeChainTableUnits, decodeFreeStack,
  decodeRegions, frameRuns, freeListUnits, walkFreeList,
} from '../src/mm/model/allocator-decoders';

const letters = (states: Uint8Array): string => Array.from(states, (s) => (s === UNIT_FREE ? '.' : s === UNIT_USED ? 'u' : 'r')).join('');
const RANGE: UnitRange = { base: 0x100000n, unitBytes: 4096, units: 8 };
const at = (unit: number): bigint => RANGE.base + BigInt(unit * 4096);

/** A free list as a map from a unit's address to the link it holds. */
function links(map: Record<number, bigint>): (link: bigint, physical: bigint) => Promise<bigint> {
  return async (_link, physical) => {
    const unit = Number((physical - RANGE.base) / 4096n);
    if (!(unit in map)) throw new Error('unreadable');
    return map[unit];
  };
}
const identity = async (v: bigint): Promise<bigint> => v;

describe('describe: allocator shape decoders', () => {
  it('bitmap: lsb first by byte, msb first by word, either bit value meaning used', () => {
    assert.strictEqual(letters(decodeBitmap(Uint8Array.of(0b00000101, 0b10000000), 16).states), 'u.u............u');
    assert.strictEqual(letters(decodeBitmap(Uint8Array.of(0b00000101, 0b10000000), 16, { used: 0 }).states), '.u.uuuuuuuuuuuu.');
    // msb in a 16-bit little-endian word 0x8001: unit 0 is bit 15 (set), unit 15 is bit 0 (set).
    assert.strictEqual(letters(decodeBitmap(Uint8Array.of(0x01, 0x80), 16, { bitOrder: 'msb', wordBytes: 2 }).states), 'u..............u');
    assert.strictEqual(bitmapBytes(17), 3);
    assert.strictEqual(bitmapBytes(17, { bitOrder: 'msb', wordBytes: 4 }), 4);
  });

  it('frame runs: 16 KiB units cover four frames each, from the base frame', () => {
    const states = Uint8Array.of(UNIT_FREE, UNIT_FREE, UNIT_USED, 2);
    assert.deepStrictEqual(frameRuns(states, 0x100000n, 16384), [[0x100, 8, 'free'], [0x108, 4, 'used'], [0x10c, 4, 'reserved']]);
    assert.deepStrictEqual(countUnits(states), { free: 2, used: 1, reserved: 1 });
  });

  it('free list: a clean list, then a cycle, a link outside the range, a link outside RAM, an unreadable unit', async () => {
    const clean = await walkFreeList('a', 'free list', at(1), RANGE, identity, links({ 1: at(3), 3: at(7), 7: 0n }));
    assert.deepStrictEqual(clean, { units: [1, 3, 7], findings: [] });
    assert.strictEqual(letters(freeListUnits(RANGE, clean).states), 'u.u.uuu.');

    const cycle = await walkFreeList('a', 'free list', at(1), RANGE, identity, links({ 1: at(3), 3: at(1) }));
    assert.deepStrictEqual(cycle.units, [1, 3]);
    assert.deepStrictEqual(cycle.findings.map((f) => [f.kind, f.message]), [['free-list-cycle', 'The free list of allocator "a" comes back to 0x101000 after 2 links: it is a cycle.']]);

    const outside = await walkFreeList('a', 'free list', at(1), RANGE, identity, links({ 1: 0x9000n }));
    assert.deepStrictEqual(outside.findings.map((f) => [f.kind, f.message]), [['pointer-outside-ram', 'The free list of allocator "a" links to 0x9000 (link 1), outside the memory it manages (0x100000..0x107fff).']]);

    const notRam = await walkFreeList('a', 'free list', at(1), { ...RANGE, regions: [{ base: 0, size: 0x102000, kind: 'ram', name: 'pc.ram' }] }, identity, links({ 1: at(3) }));
    assert.deepStrictEqual(notRam.units, [1]);
    assert.deepStrictEqual(notRam.findings.map((f) => f.kind), ['pointer-outside-ram']);

    const unreadable = await walkFreeList('a', 'free list', at(1), RANGE, identity, links({}));
    assert.deepStrictEqual(unreadable.findings.map((f) => f.message), ['The free unit at 0x101000 on the free list of allocator "a" cannot be read.']);

    const unmapped = await walkFreeList('a', 'free list', 0xc0001000n, RANGE, async () => undefined, links({}));
    assert.deepStrictEqual(unmapped.findings.map((f) => f.message), ['The free list of allocator "a" links to 0xc0001000 (link 0), which is not mapped.']);
  });

  it('free list: a ring through every unit stops after one visit of each (reads bounded by the units)', async () => {
    let reads = 0;
    const ring = async (_l: bigint, p: bigint): Promise<bigint> => {
      reads++;
      return RANGE.base + ((p - RANGE.base + 4096n) % BigInt(RANGE.units * 4096));
    };
    const walk = await walkFreeList('a', 'free list', at(0), RANGE, identity, ring);
    assert.strictEqual(reads, RANGE.units);
    assert.deepStrictEqual(walk.units, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepStrictEqual(walk.findings.map((f) => f.kind), ['free-list-cycle']);
  });

  it('free stack: entries free their units; repeats and strays are findings', () => {
    const clean = decodeFreeStack('s', RANGE, [{ raw: 0n, physical: at(0) }, { raw: 0n, physical: at(5) }]);
    assert.deepStrictEqual([letters(clean.states), clean.findings], ['.uuuu.uu', []]);
    const bad = decodeFreeStack('s', RANGE, [{ raw: 1n, physical: at(5) }, { raw: 2n, physical: at(5) }, { raw: 3n, physical: 0x200000n }, { raw: 0xc0000000n, physical: undefined }]);
    assert.deepStrictEqual(bad.findings.map((f) => f.kind), ['free-frame-twice', 'pointer-outside-ram', 'pointer-outside-ram']);
    assert.strictEqual(letters(bad.states), 'uuuuu.uu');
  });

  it('buddy: blocks of 2^order units; misaligned, past-the-end and overlapping blocks are findings', () => {
    const clean = decodeBuddy('b', RANGE, [{ units: [1], findings: [] }, { units: [2], findings: [] }, { units: [4], findings: [] }]);
    assert.deepStrictEqual([letters(clean.states), clean.freeByOrder, clean.findings], ['u.......', [1, 1, 1], []]);
    const bad = decodeBuddy('b', RANGE, [{ units: [4], findings: [] }, { units: [3, 6], findings: [] }, { units: [4], findings: [] }, { units: [8], findings: [] }]);
    assert.deepStrictEqual(bad.findings.map((f) => f.kind), ['pointer-outside-ram', 'free-frame-twice', 'pointer-outside-ram']);
    assert.match(bad.findings[0].message, /order-1 free block at 0x103000 .* is not aligned to 2 units/);
    assert.match(bad.findings[2].message, /order-3 free block at 0x108000 .* runs past the end/);
    // Alignment is of the absolute frame number: with the range from frame 0x101, unit 1 (frame 0x102) starts an order-1 block, unit 0 cannot.
    const shifted: UnitRange = { ...RANGE, base: 0x101000n };
    assert.deepStrictEqual(decodeBuddy('b', shifted, [{ units: [], findings: [] }, { units: [1], findings: [] }]).findings, []);
    assert.deepStrictEqual(decodeBuddy('b', shifted, [{ units: [], findings: [] }, { units: [0], findings: [] }]).findings.map((f) => f.kind), ['pointer-outside-ram']);
  });

  it('regions: later regions win, partial frames count whole, wrapping regions are findings', () => {
    const r = decodeRegions('r', [
      { start: 0x1000n, length: 0x4000n, state: 'free' },
      { start: 0x3000n, length: 0x800n, state: 'reserved' },
      { start: 0x10000n, length: 0x1000n, state: 'used' },
    ], 1 << 20);
    assert.deepStrictEqual(r.frames, [[1, 2, 'free'], [3, 1, 'reserved'], [4, 1, 'free'], [0x10, 1, 'used']]);
    assert.deepStrictEqual(r.counts, { free: 3, used: 1, reserved: 1 });
    const wrap = decodeRegions('r', [{ start: 0xfffffffffffff000n, length: 0x2000n, state: 'free' }], 1 << 20);
    assert.deepStrictEqual(wrap.findings.map((f) => f.kind), ['pointer-outside-ram']);
  });

  it('chain table: the chain-table decoder\'s states and findings', () => {
    const clean = decodeChainTableUnits('c', Uint32Array.of(0x07fffff2, 0x08000002, 0x07ffffff, 0x07fffffe));
    assert.deepStrictEqual([letters(clean.states), clean.findings], ['ruu.', []]);
    const bad = decodeChainTableUnits('c', Uint32Array.of(0x07fffff2, 0x08000002, 0x00000002, 0x07fffffe));
    assert.deepStrictEqual(bad.findings.map((f) => [f.kind, f.allocator, f.chain]), [['chain-cycle', 'c', 1]]);
  });

  it('findings of one kind past twenty become one sentence (a garbage stack stays readable)', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({ raw: BigInt(i), physical: 0x40000000n + BigInt(i) * 4096n }));
    const decoded = decodeFreeStack('s', RANGE, entries);
    assert.strictEqual(decoded.findings.length, 1000);
    const capped = capFindings('s', decoded.findings);
    assert.strictEqual(capped.length, MAX_FINDINGS_PER_KIND + 1);
    assert.deepStrictEqual(capped.slice(0, 20), decoded.findings.slice(0, 20));
    assert.strictEqual(capped[20].message, 'Allocator "s" has 980 more pointer-outside-ram findings like the ones above.');
    assert.deepStrictEqual(capFindings('s', decoded.findings.slice(0, 20)), decoded.findings.slice(0, 20));
  });
});
