// The walker's LeafSpanMemo: a TableCache with a memo, handed the same Buffer object again for an
// unchanged table, replays the spans of its last scan; every walk equals a walk without the memo,
// also after tables change (a new Buffer), gain non-present entries with content or reserved
// bits (never remembered), or are met with other inherited access.

import * as assert from 'assert';
import { LeafSpanMemo, TableCache, walkMappings } from '../src/paging/page-table-walk';
import { pagingModel } from '../src/paging/paging-modes';
import { seededRandom } from './seeded-random';

const model = pagingModel({ cr0: 0x80000000, cr4: 0x10 });
const KPD = 0x1000;

/** Pages of memory as Buffer objects: a page keeps its object until `put` writes it (a copy then). */
class Pages {
  private readonly pages = new Map<number, Buffer>();
  page(a: number): Buffer {
    const base = a & ~0xfff;
    let p = this.pages.get(base);
    if (!p) this.pages.set(base, (p = Buffer.alloc(4096)));
    return p;
  }
  put(a: number, v: number): void {
    const copy = Buffer.from(this.page(a));
    copy.writeUInt32LE(v >>> 0, a & 0xfff);
    this.pages.set(a & ~0xfff, copy);
  }
  read = async (a: bigint, n: number): Promise<Buffer> => {
    if (n !== 4096 || Number(a) % 4096) throw new Error('whole pages only');
    return this.page(Number(a));
  };
}

async function sameAsPlain(mem: Pages, memo: LeafSpanMemo, what: string): Promise<void> {
  const withMemo = await walkMappings(model, KPD, new TableCache(mem.read, memo));
  const plain = await walkMappings(model, KPD, new TableCache(mem.read));
  assert.deepStrictEqual(withMemo, plain, what);
}

describe('page walker: spans remembered across walks (LeafSpanMemo)', function () {
  it('replays unchanged tables and equals a plain walk after every kind of change', async function () {
    const mem = new Pages();
    // Two tables: one user and writable, one supervisor read-only above; mixed runs in each.
    mem.put(KPD + 0 * 4, 0x2000 | 7);
    mem.put(KPD + 1 * 4, 0x3000 | 1);
    for (let i = 0; i < 1024; i++) if (i % 7) mem.put(0x2000 + i * 4, (0x100000 + i * 0x1000) | (i % 5 ? 7 : 0x67));
    for (let i = 0; i < 300; i++) mem.put(0x3000 + i * 4, (0x400000 + (i >> 1) * 0x2000) | 3);
    const memo = new LeafSpanMemo();
    await sameAsPlain(mem, memo, 'the first walk');
    const t = await mem.read(0x2000n, 4096);
    assert.ok(memo.get(t, '11000'), 'a clean table is remembered with its access');
    await sameAsPlain(mem, memo, 'nothing changed');
    mem.put(0x2000 + 10 * 4, 0x900000 | 5);
    await sameAsPlain(mem, memo, 'an entry changed');
    mem.put(0x3000 + 500 * 4, 0xabc000); // non-present with content: listed, so never replayed
    await sameAsPlain(mem, memo, 'a non-present entry with content');
    assert.strictEqual(memo.get(await mem.read(0x3000n, 4096), '00000'), undefined);
    await sameAsPlain(mem, memo, 'again');
    mem.put(0x2000 + 20 * 4, 0x00500000 | 0x201); // an ignored bit: a new span
    await sameAsPlain(mem, memo, 'a flag bit');
    mem.put(KPD + 0 * 4, 0x2000 | 5); // the same table, read-only from above: other access
    await sameAsPlain(mem, memo, 'other inherited access');
    mem.put(KPD + 2 * 4, 0x2000 | 7); // the same table reached twice
    await sameAsPlain(mem, memo, 'a table reached twice');
  });

  it('equals a plain walk over seeded random changes', async function () {
    const fraction = seededRandom(0x5eed);
    const rnd = (): number => Math.floor(fraction() * 0x100000000);
    const mem = new Pages();
    for (let d = 0; d < 8; d++) mem.put(KPD + d * 4, (0x10000 + d * 0x1000) | 7);
    const memo = new LeafSpanMemo();
    for (let round = 0; round < 200; round++) {
      for (let k = rnd() % 6; k > 0; k--) {
        const table = 0x10000 + (rnd() % 8) * 0x1000;
        const r = rnd() % 4;
        mem.put(table + (rnd() % 1024) * 4, r === 0 ? 0 : r === 1 ? rnd() : ((0x200000 + (rnd() % 64) * 0x1000) | 7));
      }
      if (rnd() % 10 === 0) mem.put(KPD + (rnd() % 8) * 4, (0x10000 + (rnd() % 8) * 0x1000) | (rnd() % 2 ? 7 : 5));
      await sameAsPlain(mem, memo, `round ${round}`);
    }
  });
});
