// Swapping as the debugger sees it on the real guest: the demo (with its swapper process and the
// launcher's swap disk) is stopped with blocks on the disk; the snapshot follows swapped links
// through the slot table (full chain length, swapped positions marked with their slot), lists
// every swapped PTE with its slot, and finds nothing wrong.

import * as assert from 'assert';
import { MmSnapshot } from '../src/mm/model/snapshot';
import { SWAPPED_BLOCK } from '../src/mm/model/chain-table';
import { snapshotToJson } from '../src/mm/model/snapshot-json';
import { StoppedGuest, bootAndStop } from './guest-snapshot';

describe('mm snapshot of the demo guest while it swaps', function () {
  this.timeout(120_000);
  let guest: StoppedGuest | undefined;
  let snap: MmSnapshot;

  before(async function () {
    guest = await bootAndStop('demo', /heartbeat 4 /, 32);
    snap = await guest.snapshot();
  });

  after(async function () {
    await guest?.close();
  });

  it('reads the slot table of the launcher-made swap disk', function () {
    assert.ok(snap.swap, 'the snapshot has the swap section');
    assert.strictEqual(snap.swap.slotCount, 16384);
    assert.ok(snap.swap.outs > 0, `the swapper wrote blocks out (${snap.swap.outs})`);
    assert.strictEqual(snap.swap.slots.length, snap.swap.used, 'slots in use match the kernel counter');
  });

  it('decodes chains with swapped blocks at their full length, each slot once', function () {
    const swappedChains = snap.chains.filter((c) => c.swapped.length > 0);
    assert.ok(swappedChains.length > 0, 'some chain has blocks on the disk');
    const out = new Map(snap.swap!.slots.filter((s) => s.state === 'out').map((s) => [s.slot, s]));
    const seen = new Set<number>();
    for (const c of swappedChains) {
      assert.strictEqual(c.blockCount, c.blocks.length);
      assert.strictEqual(c.sizeBytes, c.blocks.length * 16384);
      assert.notStrictEqual(c.blocks[0], SWAPPED_BLOCK, 'the head is never swapped');
      for (const s of c.swapped) {
        assert.strictEqual(c.blocks[s.index], SWAPPED_BLOCK);
        assert.strictEqual(out.get(s.slot)?.chain, c.id, `slot ${s.slot} is chain ${c.id}'s`);
        assert.ok(!seen.has(s.slot));
        seen.add(s.slot);
      }
      assert.strictEqual(c.runs.reduce((n, r) => n + r.count, 0), c.blocks.length - c.swapped.length);
      assert.ok(!c.flags.frozen && !c.flags.contiguous && c.flags.swappable);
    }
    assert.strictEqual(seen.size, out.size, 'every swapped-out slot is reached by one link');
  });

  it('lists the swapped PTEs with the slot and page of their chain block', function () {
    const pages = snap.swap!.pages;
    assert.ok(pages.length > 0, 'some mapped page is swapped out');
    const byChain = new Map(snap.chains.map((c) => [c.id, c]));
    for (const pg of pages) {
      assert.ok(pg.chain !== undefined && pg.chainPage !== undefined, `0x${pg.virtual.toString(16)} is in the registry`);
      const c = byChain.get(pg.chain)!;
      const s = c.swapped.find((x) => x.index === Math.floor(pg.chainPage! / 4));
      assert.ok(s, `chain ${c.id} page ${pg.chainPage} is swapped out`);
      assert.strictEqual(pg.slot, s.slot);
      assert.strictEqual(pg.page, pg.chainPage! % 4);
      assert.strictEqual(pg.entry & 1, 0);
      assert.strictEqual(pg.entry, (pg.slot << 12) | (pg.page << 2) | 2);
    }
  });

  it('finds nothing wrong (no swap finding, no level-0 finding on swapped PTEs)', function () {
    assert.deepStrictEqual(snap.findings.map((f) => f.message), []);
    const doc = snapshotToJson(snap);
    assert.deepStrictEqual(doc.findings.map((f) => f.message), [], 'the document (level-0 checks included) finds nothing');
    assert.ok(doc.swap && doc.swap.pages.length > 0 && doc.chains.some((c) => c.swapped && c.swapped.length > 0), 'the JSON carries the swap section');
  });
});
