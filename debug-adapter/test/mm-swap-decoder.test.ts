// The chain decoder's swapped links on hand-built tables: the shapes the real guest makes are in
// mm-swap-guest.test.ts; these are the corner cases only a hand-built table reaches (a slot past
// the table, a slot that links to another slot, no slot table at all).

import * as assert from 'assert';
import { CT_END, CT_FREE, CT_FROZEN, CT_HEAD, CT_RESERVED_BASE, CT_SWAPPABLE, CT_SWAPPED_BASE, SWAPPED_BLOCK, SWAP_FREE, SWAP_OUT, SwapSlots, decodeChainTable } from '../src/mm/model/chain-table';

function slots(list: { state: number; chain: number; next: number }[], count = list.length): SwapSlots {
  const s: SwapSlots = { count, swappedBase: CT_SWAPPED_BASE, state: new Uint32Array(count), chain: new Uint32Array(count), next: new Uint32Array(count), block: new Uint32Array(count) };
  list.forEach((x, i) => {
    s.state[i] = x.state;
    s.chain[i] = x.chain;
    s.next[i] = x.next;
  });
  return s;
}

/** 8 blocks: 0 reserved, the rest free, then `set` applied. */
function table(set: Record<number, number>): Uint32Array {
  const t = new Uint32Array(8).fill(CT_FREE);
  t[0] = CT_RESERVED_BASE;
  for (const [b, e] of Object.entries(set)) t[Number(b)] = e >>> 0;
  return t;
}

describe('chain decoder: swapped links', function () {
  it('follows a link through its slot, and a slot into another slot, at full length', function () {
    const t = table({ 1: CT_HEAD | CT_SWAPPABLE | 2, 2: CT_SWAPPED_BASE + 0, 3: CT_END });
    const s = slots([{ state: SWAP_OUT, chain: 1, next: CT_SWAPPED_BASE + 1 }, { state: SWAP_OUT, chain: 1, next: 3 }]);
    const d = decodeChainTable(t, s);
    assert.deepStrictEqual(d.findings, []);
    const c = d.chains[0];
    assert.deepStrictEqual(c.blocks, [1, 2, SWAPPED_BLOCK, SWAPPED_BLOCK, 3]);
    assert.deepStrictEqual(c.swapped, [{ index: 2, slot: 0 }, { index: 3, slot: 1 }]);
    assert.deepStrictEqual(c.runs, [{ first: 1, count: 2 }, { first: 3, count: 1 }]);
    assert.strictEqual(c.complete, true);
    assert.deepStrictEqual(Array.from(d.slotChain ?? []), [1, 1]);
  });

  it('without a slot table (not our v2 guest) a swapped link is a dangling link', function () {
    const d = decodeChainTable(table({ 1: CT_HEAD | 2, 2: CT_SWAPPED_BASE + 0 }));
    assert.deepStrictEqual(d.findings.map((f) => f.kind), ['dangling-link']);
    assert.deepStrictEqual(d.chains[0].swapped, []);
  });

  it("'opaque' (our format, no slot table: a description of our guest) ends the walk without a finding", function () {
    const d = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | 2, 2: CT_SWAPPED_BASE + 0, 3: CT_END }), 'opaque');
    assert.deepStrictEqual(d.findings, []);
    assert.deepStrictEqual(d.chains[0].blocks, [1, 2, SWAPPED_BLOCK]);
    assert.strictEqual(d.counts.used, 3);
    const plain = decodeChainTable(table({ 1: CT_HEAD | 2, 2: CT_END, 3: CT_END }), 'opaque');
    assert.deepStrictEqual(plain.findings.map((f) => f.kind), ['orphan-block'], 'orphans are still found without swapped links');
  });

  it('a slot past the table is a dangling link; a free slot is swap-slot-free-in-use', function () {
    const past = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | (CT_SWAPPED_BASE + 5) }), slots([{ state: SWAP_OUT, chain: 1, next: CT_END }]));
    assert.deepStrictEqual(past.findings.map((f) => f.kind), ['dangling-link']);
    const free = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | CT_SWAPPED_BASE }), slots([{ state: SWAP_FREE, chain: 0, next: 0 }]));
    assert.deepStrictEqual(free.findings.map((f) => [f.kind, f.slot, f.chain]), [['swap-slot-free-in-use', 0, 1]]);
    assert.strictEqual(free.chains[0].complete, false);
  });

  it('two links to one slot are swap-slot-shared; a frozen chain with a block out is swapped-frozen-chain', function () {
    const shared = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | CT_SWAPPED_BASE, 2: CT_HEAD | CT_SWAPPABLE | CT_SWAPPED_BASE }), slots([{ state: SWAP_OUT, chain: 1, next: CT_END }]));
    assert.deepStrictEqual(shared.findings.map((f) => [f.kind, f.chain, f.otherChain, f.slot]), [['swap-slot-shared', 2, 1, 0]]);
    const frozen = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | CT_FROZEN | CT_SWAPPED_BASE }), slots([{ state: SWAP_OUT, chain: 1, next: CT_END }]));
    assert.deepStrictEqual(frozen.findings.map((f) => f.kind), ['swapped-frozen-chain']);
    assert.strictEqual(frozen.chains[0].blocks.length, 2);
  });

  it('a slot that leads back to itself is a cycle, not a hang', function () {
    const d = decodeChainTable(table({ 1: CT_HEAD | CT_SWAPPABLE | CT_SWAPPED_BASE }), slots([{ state: SWAP_OUT, chain: 1, next: CT_SWAPPED_BASE }]));
    assert.deepStrictEqual(d.findings.map((f) => f.kind), ['chain-cycle']);
  });
});
