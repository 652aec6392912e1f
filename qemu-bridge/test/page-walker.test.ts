// The page walker on its own, over page tables built in a buffer: 4 KiB and 4 MiB pages, CR4.PSE
// off, not-present entries at both levels, ranges crossing pages, and PSE-36 high bits.

import * as assert from 'assert';
import { translate, translateRange } from '../src/page-walker';
import { PageNotPresentError } from '../src/errors';

const PD = 0x1000;
const PT = 0x2000;

function memory(): { mem: Buffer; reads: number[]; read: (a: number, n: number) => Promise<Buffer> } {
  const mem = Buffer.alloc(0x10000);
  mem.writeUInt32LE(PT | 3, PD + 0 * 4); // 0..4 MiB -> table
  mem.writeUInt32LE(0x00400000 | 0x83, PD + 0x300 * 4); // 0xC0000000 -> 4 MiB at 4 MiB
  mem.writeUInt32LE(0x00400000 | 0x83 | (0x3 << 13), PD + 0x301 * 4); // PSE-36: physical bits 32-33 set
  mem.writeUInt32LE(0x00005000 | 1, PT + 0 * 4); // 0x0000 -> 0x5000
  mem.writeUInt32LE(0x00009000 | 1, PT + 1 * 4); // 0x1000 -> 0x9000
  mem.writeUInt32LE(0x0000a000 | 1, PT + 2 * 4); // 0x2000 -> 0xA000 (contiguous with the previous)
  const reads: number[] = [];
  return {
    mem,
    reads,
    read: async (a, n) => {
      reads.push(a);
      return mem.subarray(a, a + n);
    },
  };
}

describe('page-walker', () => {
  it('translates 4 KiB pages through a page table', async () => {
    const { read } = memory();
    const t = await translate(0x1234, PD, { pse: true }, read);
    assert.strictEqual(t.physical, 0x9234);
    assert.strictEqual(t.pageSize, 4096);
    assert.strictEqual(t.tableEntryAddress, PT + 4);
  });
  it('translates 4 MiB pages when CR4.PSE is set', async () => {
    const { read } = memory();
    const t = await translate(0xc0123456, PD, { pse: true }, read);
    assert.strictEqual(t.physical, 0x00523456);
    assert.strictEqual(t.pageSize, 4 << 20);
  });
  it('includes PSE-36 high physical bits of 4 MiB pages', async () => {
    const { read } = memory();
    const t = await translate(0xc0400010, PD, { pse: true }, read);
    assert.strictEqual(t.physical, 3 * 2 ** 32 + 0x00400010);
  });
  it('ignores the PS bit when CR4.PSE is clear (the entry points to a page table)', async () => {
    const { mem, read } = memory();
    mem.writeUInt32LE(0x0000b000 | 1, 0x00400000 & 0xffff); // not reachable: the buffer is 64 KiB
    await assert.rejects(translate(0xc0000000, PD, { pse: false }, async (a, n) => (a < mem.length ? read(a, n) : Buffer.alloc(n))), (e: unknown) => {
      assert.ok(e instanceof PageNotPresentError);
      assert.strictEqual(e.level, 'table');
      assert.strictEqual(e.entryAddress, 0x00400000);
      return true;
    });
  });
  it('names the address and level of a not-present entry', async () => {
    const { read } = memory();
    await assert.rejects(translate(0x80000000, PD, { pse: true }, read), (e: unknown) => {
      assert.ok(e instanceof PageNotPresentError);
      assert.strictEqual(e.level, 'directory');
      assert.strictEqual(e.entryAddress, PD + 0x200 * 4);
      assert.match(e.message, /0x80000000 is not mapped: the page-directory entry at physical 0x00001800/);
      return true;
    });
    await assert.rejects(translate(0x3000, PD, { pse: true }, read), (e: unknown) => e instanceof PageNotPresentError && e.level === 'table' && e.entryAddress === PT + 12);
  });
  it('merges physically contiguous pages into runs and reads each table once', async () => {
    const { read, reads } = memory();
    const runs = await translateRange(0x0ff0, 0x2000 - 0x10 + 0x20, PD, { pse: true }, read);
    assert.deepStrictEqual(runs, [
      { virtual: 0x0ff0, physical: 0x5ff0, length: 0x10 },
      { virtual: 0x1000, physical: 0x9000, length: 0x2000 },
    ]);
    assert.deepStrictEqual(reads, [PD, PT]);
  });
  it('rejects ranges outside 32 bits', async () => {
    const { read } = memory();
    await assert.rejects(translateRange(0xfffffff0, 0x20, PD, { pse: true }, read), /leaves the 4 GiB/);
  });
});
