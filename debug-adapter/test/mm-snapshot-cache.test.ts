// The incremental builder (SnapshotCache) on the hand-built image: after every mutation between
// two snapshots, the snapshot built with the cache kept from the earlier ones is deep-equal to
// one built cold. The mutations touch each input the cache keeps (page tables, the block table,
// the owners, the KPD, the swap state), then seeded random words in the same regions.

import * as assert from 'assert';
import { CT_END, CT_FROZEN, CT_USER } from '../src/mm/model/chain-table';
import { MmSnapshot, SnapshotCache, buildSnapshot } from '../src/mm/model/snapshot';
import { LAYOUT, MmImage, REGISTERS } from './fixtures/mm-image';

const build = (img: MmImage, cache?: SnapshotCache): Promise<MmSnapshot> =>
  buildSnapshot({ read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS }, cache);

async function sameAsCold(img: MmImage, cache: SnapshotCache, what: string): Promise<MmSnapshot> {
  const incremental = await build(img, cache);
  const cold = await build(img);
  assert.deepStrictEqual(incremental, cold, `after ${what}`);
  return incremental;
}

function image(): { img: MmImage; user: number; kernel: number } {
  const img = new MmImage();
  img.addProcess('worker');
  img.addProcess('other');
  const user = img.addChain([200, 201, 205], CT_USER);
  img.mapChain(user, 0x00400000, { pid: 1 });
  const kernel = img.addChain([300, 301], CT_FROZEN, 3);
  img.mapChain(kernel, 0xd0000000, { flags: 3 });
  return { img, user, kernel };
}

describe('SnapshotCache: incremental snapshots equal cold ones', function () {
  it('reuses unchanged page tables and the block table, and re-decodes what changed', async function () {
    const { img, user } = image();
    const cache = new SnapshotCache();
    await sameAsCold(img, cache, 'the first snapshot');
    const tablesRead = cache.lastRead;
    await sameAsCold(img, cache, 'nothing changed');
    assert.strictEqual(cache.lastReused, tablesRead, 'every block of tables is the same object again');
    assert.ok(cache.chainTable, 'the decoded block table is kept');
    const keptTable = cache.chainTable.table;
    await sameAsCold(img, cache, 'nothing changed, again');
    assert.strictEqual(cache.chainTable.table, keptTable, 'an unchanged block table is not decoded again');

    // A page mapped in an existing table of process 1, then unmapped.
    const c2 = img.addChain([210], CT_USER);
    img.mapChain(c2, 0x00440000, { pid: 1 });
    await sameAsCold(img, cache, 'a new chain mapped into an existing table');
    assert.ok(cache.lastReused < cache.lastRead, 'the changed block of tables is read again');
    img.u32((img.u32(img.pcbPhys(1) + 24 + 1 * 4) & 0xfffff000) + 0x40 * 4, 0); // UPD entry 1 (PCB offset 24), page 0x40
    await sameAsCold(img, cache, 'a page unmapped');

    // A new table (a new directory entry) in process 2, then the chain freed under it (a finding).
    const c3 = img.addChain([220, 221], CT_USER);
    img.mapChain(c3, 0x00800000, { pid: 2 });
    await sameAsCold(img, cache, 'a new page table');
    img.freeChain(c3);
    const s = await sameAsCold(img, cache, 'a mapped chain freed');
    assert.ok(s.findings.some((f) => f.kind === 'free-block-mapped'));

    // Flags and reserved bits in a leaf entry, a swapped-out PTE, a KPD entry changed.
    img.mapChain(img.addChain([230], CT_USER), 0x00c00000, { pid: 1, flags: 0x5 });
    await sameAsCold(img, cache, 'a read-only mapping');
    img.setSwapCounters({ slotCount: 8, used: 1, outs: 1, ins: 0 });
    await sameAsCold(img, cache, 'the swap counters');
    img.swapOutPte(0x00400000, 1, 3, 0, user);
    await sameAsCold(img, cache, 'a swapped-out PTE');
    img.u32(LAYOUT.kpd + 900 * 4, 0x00170000 | 0x83);
    await sameAsCold(img, cache, 'a 4 MiB page in the KPD');
    img.setEntry(250, CT_END | 0x12345);
    await sameAsCold(img, cache, 'a corrupt block-table entry');
  });

  it('stays equal to cold over seeded random mutations of the cached regions', async function () {
    this.timeout(120_000);
    let seed = 0x1234567;
    const rnd = (): number => {
      seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
      return seed;
    };
    const { img } = image();
    const regions = [
      [LAYOUT.blockTable, img.blockCount * 4], [LAYOUT.kpd, 4096], [LAYOUT.ptPool, 0x3000],
      [LAYOUT.owners, img.blockCount * 16],
    ] as const;
    const cache = new SnapshotCache();
    for (let i = 0; i < 200; i++) {
      const mutations = rnd() % 4; // none sometimes: the cache must serve an unchanged image too
      for (let m = 0; m < mutations; m++) {
        const [start, len] = regions[rnd() % regions.length];
        const at = start + ((rnd() % (len / 4)) * 4);
        const r = rnd() % 4;
        img.u32(at, r === 0 ? rnd() : r === 1 ? rnd() % img.blockCount : r === 2 ? CT_END : (rnd() & 0x003ff000) | 7);
      }
      await sameAsCold(img, cache, `random mutation round ${i}`);
    }
  });
});
