// updateChainTable against decodeChainTable: a table churned like the guest's allocator does it
// (chains allocated from free blocks, freed, grown, shrunk, relinked, swapped out through a slot
// table, and now and then corrupted) is decoded incrementally from the previous step's decoding
// and whole at every step; the two must be deep-equal, and unchanged chains must be the old
// objects (which is what makes the incremental decoding cheap).

import * as assert from 'assert';
import { CT_END, CT_FREE, CT_HEAD, CT_RESERVED_BASE, CT_SWAPPED_BASE, ChainTable, SWAP_FREE, SWAP_OUT, SwapSlots, decodeChainTable, updateChainTable } from '../src/mm/model/chain-table';

/** A small deterministic PRNG (xorshift32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

interface Churn {
  readonly entries: Uint32Array;
  readonly slots: SwapSlots;
  step(): void;
}

function churn(n: number, slotCount: number, seed: number, corruptEvery: number): Churn {
  const r = rng(seed);
  const entries = new Uint32Array(n).fill(CT_FREE);
  entries[0] = CT_RESERVED_BASE + 2; // kernel
  const slots: SwapSlots = {
    count: slotCount, swappedBase: CT_SWAPPED_BASE,
    state: new Uint32Array(slotCount), chain: new Uint32Array(slotCount), next: new Uint32Array(slotCount), block: new Uint32Array(slotCount),
  };
  const chains = new Map<number, number[]>(); // head -> blocks (a swapped block is -1 - slot)
  let steps = 0;
  const freeBlocks = (k: number): number[] => {
    const out: number[] = [];
    for (let tries = 0; out.length < k && tries < 8 * k + 16; tries++) {
      const b = 1 + Math.floor(r() * (n - 1));
      if (entries[b] === CT_FREE && !out.includes(b)) out.push(b);
    }
    return out.length === k ? out : [];
  };
  const write = (head: number, blocks: number[]): void => {
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      const next = i + 1 < blocks.length ? blocks[i + 1] : undefined;
      const link = next === undefined ? CT_END : next < 0 ? CT_SWAPPED_BASE + (-1 - next) : next;
      if (b < 0) {
        slots.next[-1 - b] = link;
        continue;
      }
      entries[b] = (b === head ? CT_HEAD : 0) | link;
    }
  };
  const free = (head: number): void => {
    for (const b of chains.get(head) ?? []) {
      if (b >= 0) entries[b] = CT_FREE;
      else slots.state[-1 - b] = SWAP_FREE;
    }
    chains.delete(head);
  };
  return {
    entries, slots,
    step(): void {
      steps++;
      pending?.();
      pending = undefined;
      const ops = 1 + Math.floor(r() * 6);
      for (let o = 0; o < ops; o++) {
        const heads = [...chains.keys()];
        const pick = heads.length ? heads[Math.floor(r() * heads.length)] : -1;
        const what = r();
        if (what < 0.4 || pick < 0) {
          const blocks = freeBlocks(1 + Math.floor(r() * 8));
          if (blocks.length) {
            chains.set(blocks[0], blocks);
            write(blocks[0], blocks);
          }
        } else if (what < 0.65) {
          free(pick);
        } else if (what < 0.8) {
          const blocks = chains.get(pick) as number[];
          const more = freeBlocks(1 + Math.floor(r() * 3));
          blocks.push(...more);
          write(pick, blocks);
        } else if (what < 0.9) {
          // Swap out a block that is not the head, to a free slot.
          const blocks = chains.get(pick) as number[];
          const at = 1 + Math.floor(r() * (blocks.length - 1));
          const slot = slots.state.indexOf(SWAP_FREE);
          if (blocks.length > 1 && blocks[at] >= 0 && slot >= 0) {
            entries[blocks[at]] = CT_FREE;
            blocks[at] = -1 - slot;
            slots.state[slot] = SWAP_OUT;
            slots.chain[slot] = pick;
            write(pick, blocks);
          }
        } else {
          // Shrink: the last block goes back to the free pool.
          const blocks = chains.get(pick) as number[];
          if (blocks.length > 1) {
            const last = blocks.pop() as number;
            if (last >= 0) entries[last] = CT_FREE;
            else slots.state[-1 - last] = SWAP_FREE;
            write(pick, blocks);
          }
        }
      }
      if (corruptEvery && steps % corruptEvery === 0) {
        // A corruption, repaired at the next step (a link into another chain, or a dangling one).
        const heads = [...chains.keys()];
        if (heads.length) {
          const h = heads[Math.floor(r() * heads.length)];
          const blocks = chains.get(h) as number[];
          const b = blocks.filter((x) => x >= 0)[0];
          const saved = entries[b];
          entries[b] = (saved & 0xf8000000) | (r() < 0.5 ? heads[0] : n + 5);
          const repair = (): void => {
            entries[b] = saved;
          };
          pending = repair;
        }
      }
    },
  };
  // eslint-disable-next-line no-var
  var pending: (() => void) | undefined;
}

function copySlots(s: SwapSlots): SwapSlots {
  return { count: s.count, swappedBase: s.swappedBase, state: s.state.slice(), chain: s.chain.slice(), next: s.next.slice(), block: s.block.slice() };
}

describe('updateChainTable: incremental decoding of the block table equals the whole decoding', function () {
  for (const [n, slotCount, seed, corruptEvery] of [[4096, 0, 7, 0], [4096, 64, 11, 0], [20000, 256, 3, 9], [600, 16, 5, 4]] as const) {
    it(`${n} blocks, ${slotCount} swap slots, seed ${seed}${corruptEvery ? `, a corruption every ${corruptEvery} steps` : ''}`, function () {
      const c = churn(n, slotCount, seed, corruptEvery);
      for (let i = 0; i < 200; i++) c.step();
      let prevEntries = c.entries.slice();
      let prevSlots = copySlots(c.slots);
      let prev: ChainTable = decodeChainTable(prevEntries, slotCount ? prevSlots : undefined);
      let keptSome = 0;
      let updated = 0;
      let withFindings = 0;
      for (let i = 0; i < 300; i++) {
        c.step();
        const entries = c.entries.slice();
        const slots = copySlots(c.slots);
        // The caller's rule (snapshot.ts): an update only with the same slot table.
        const sameSlots = Buffer.from(slots.state.buffer).equals(Buffer.from(prevSlots.state.buffer)) && Buffer.from(slots.next.buffer).equals(Buffer.from(prevSlots.next.buffer));
        const whole = decodeChainTable(entries, slotCount ? slots : undefined);
        const next = sameSlots ? updateChainTable(prev, prevEntries, entries, slotCount ? slots : undefined) : { table: whole, removed: [], added: [] };
        assert.deepStrictEqual(next.table, whole, `step ${i}`);
        if (whole.findings.length) withFindings++;
        if (next.added.length || next.removed.length) {
          updated++;
          const old = new Set(prev.chains);
          keptSome += next.table.chains.filter((x) => old.has(x)).length > 0 ? 1 : 0;
          for (const a of next.added) assert.ok(!old.has(a), 'walked chains are new objects');
        }
        prev = next.table;
        prevEntries = entries;
        prevSlots = slots;
      }
      if (corruptEvery) assert.ok(withFindings > 0, 'some steps had findings (decoded whole)');
      else assert.strictEqual(withFindings, 0, 'the churn alone makes no findings');
      assert.ok(updated > 50, `the table was updated incrementally (${updated} of 300 steps)`);
      assert.strictEqual(keptSome, updated, 'every incremental step kept the unchanged chains\' objects');
    });
  }
});
