// Process modes, DOS tasks, the DOS arena's MCB chain, swapped-out pages and the swap counters
// on hand-built images (test/fixtures/mm-image.ts), and the two DOS findings (mcb-chain-broken,
// v86-foreign-memory) from deliberate corruptions, with none on the clean image.

import * as assert from 'assert';
import { buildSnapshot, MmSnapshot } from '../src/mm/model/snapshot';
import { snapshotToJson } from '../src/mm/model/snapshot-json';
import { decodeMcbChain, decodeSwappedPte, isSwappedPte } from '../src/mm/model/dos-arena';
import { DOS_ARENA, LAYOUT, MmImage, REGISTERS } from './fixtures/mm-image';
import { ARENA_PARAS, dosImage } from './fixtures/dos-image';

const snap = (img: MmImage): Promise<MmSnapshot> => buildSnapshot({ read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS });

describe('DOS tasks, process modes and swapped pages on hand-built images', function () {
  it('decodes modes, DOS tasks, the MCB chain, swapped-out pages and the swap counters, with no finding', async function () {
    const { img, low2 } = dosImage();
    const s = await snap(img);
    assert.deepStrictEqual(s.findings, []);
    assert.deepStrictEqual(s.processes.map((p) => [p.pid, p.mode]), [[0, 'kernel'], [1, 'user'], [2, 'v86'], [3, 'dpmi']]);
    assert.strictEqual(s.processes[0].v86, undefined);
    const t = s.processes[2].v86;
    assert.ok(t);
    assert.deepStrictEqual([t.lowChain, t.lowPages, t.mcbOwner, t.pspSeg, t.status, t.lowChainBytes], [low2, 16, 3, 0x100, 'passed', 65536]);
    assert.deepStrictEqual(t.mcbBlocks, [0x1000, 0x1000 + 0x101 + 0x21 + 0x41]);
    assert.strictEqual(t.mcbParagraphs, 0x110);
    assert.deepStrictEqual(t.xmsHandles, [1]);
    assert.deepStrictEqual(t.dpmiHandles, []);
    assert.deepStrictEqual(s.processes[3].v86?.mcbBlocks, []);
    assert.strictEqual(s.processes[3].v86?.status, 'running');
    const dos = s.dos;
    assert.ok(dos);
    assert.strictEqual(dos.broken, undefined);
    assert.deepStrictEqual(dos.blocks.map((b) => [b.type, b.owner, b.name]), [['M', 3, 'DOSPROG'], ['M', 8, 'SC'], ['M', 0, ''], ['M', 3, ''], ['Z', 0, '']]);
    assert.strictEqual(dos.usedParagraphs, 0x130);
    assert.strictEqual(dos.freeParagraphs + dos.usedParagraphs + dos.blocks.length, DOS_ARENA.endSeg - DOS_ARENA.firstMcbSeg);
    assert.deepStrictEqual(s.processes[1].swappedPages, [{ virtual: 0x405000, slot: 7, page: 1, entry: (7 << 12) | (1 << 2) | 2 }]);
    assert.deepStrictEqual(s.processes[2].swappedPages, []);
    const swap = s.swap;
    assert.ok(swap, 'the swap section');
    assert.deepStrictEqual({ slotCount: swap.slotCount, used: swap.used, outs: swap.outs, ins: swap.ins }, { slotCount: 256, used: 3, outs: 12, ins: 9 });
    assert.deepStrictEqual(swap.pages.map((p) => [p.space, p.virtual, p.slot, p.page]), [[1, 0x405000, 7, 1]], 'the swapped PTE, once');
  });

  it('writes the new fields into the JSON document, and no null-page warning for a DOS task\'s vector table', async function () {
    const { img } = dosImage();
    const j = JSON.parse(JSON.stringify(snapshotToJson(await snap(img))));
    assert.deepStrictEqual(j.findings, []);
    assert.strictEqual(j.processes[2].mode, 'v86');
    assert.strictEqual(j.processes[2].v86.mcbOwner, 3);
    assert.strictEqual(j.processes[1].swappedPages[0].slot, 7);
    assert.strictEqual(j.dos.blocks.length, 5);
    assert.strictEqual(j.swap.used, 3);
    // A ring-3 process that maps page 0 still gets the warning.
    img.mapPage(0, 200 * 16384, { pid: 1 });
    const k = snapshotToJson(await snap(img));
    assert.deepStrictEqual(k.findings.map((f) => [f.kind, f.space]), [['null-page-mapped', 'pid:1']]);
  });

  const mcbCorruptions: ReadonlyArray<[string, (img: MmImage) => void, RegExp]> = [
    ['a bad type byte', (img) => img.writeMcbChain([{ type: 'M', owner: 3, paragraphs: 0x100 }, { type: 0x58, owner: 0, paragraphs: 5 }]), /segment 0x1101.*type byte is 0x58/],
    ['a block running past the arena', (img) => img.writeMcbChain([{ type: 'M', owner: 3, paragraphs: 0xff00 }]), /runs to segment .* past the arena's end/],
    ['a last block short of the arena end', (img) => img.writeMcbChain([{ type: 'Z', owner: 0, paragraphs: 0x100 }]), /last block \('Z'\) but ends at segment 0x1101/],
    ['a middle block at the arena end', (img) => img.writeMcbChain([{ type: 'M', owner: 0, paragraphs: ARENA_PARAS }]), /another block follows/],
    ['an unformatted arena', (img) => img.mem.fill(0, DOS_ARENA.firstMcbSeg * 16, DOS_ARENA.firstMcbSeg * 16 + 16), /type byte is 0x0/],
  ];
  for (const [what, corrupt, message] of mcbCorruptions) {
    it(`reports mcb-chain-broken for ${what}`, async function () {
      const { img } = dosImage();
      corrupt(img);
      const s = await snap(img);
      assert.deepStrictEqual(s.findings.map((f) => f.kind), ['mcb-chain-broken'], JSON.stringify(s.findings));
      assert.match(s.findings[0].message, message);
    });
  }

  it('walks an MCB chain of one-paragraph steps without hanging, and stops at the first damage', function () {
    const paras = DOS_ARENA.endSeg - DOS_ARENA.firstMcbSeg;
    const mem = Buffer.alloc(paras * 16);
    for (let i = 0; i < paras; i++) mem[i * 16] = 0x4d; // every paragraph an empty 'M'
    const a = decodeMcbChain(mem, DOS_ARENA.firstMcbSeg, DOS_ARENA.endSeg);
    assert.strictEqual(a.blocks.length, paras);
    assert.match(a.broken?.reason ?? '', /another block follows/);
  });

  it('survives seeded random and mutated arenas: every walk ends, sound or broken', function () {
    const paras = DOS_ARENA.endSeg - DOS_ARENA.firstMcbSeg;
    let seed = 14;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    let broken = 0;
    for (let i = 0; i < 200; i++) {
      const mem = Buffer.alloc(paras * 16);
      // A sound chain of random blocks, then a few random bytes changed.
      let m = 0;
      const headers: number[] = [];
      while (m < paras) {
        headers.push(m * 16);
        const size = Math.min(rnd(3) === 0 ? rnd(8) : rnd(0x2000), paras - m - 1);
        const last = m + 1 + size >= paras || rnd(50) === 0;
        const sz = last ? paras - m - 1 : size;
        mem[m * 16] = last ? 0x5a : 0x4d;
        mem.writeUInt16LE(rnd(4), m * 16 + 1);
        mem.writeUInt16LE(sz, m * 16 + 3);
        m += 1 + sz;
      }
      // Every other arena: a byte of an MCB's type, owner or size changed, and a random byte anywhere.
      if (i % 2) {
        mem[headers[rnd(headers.length)] + rnd(5)] = rnd(256);
        mem[rnd(mem.length)] = rnd(256);
      }
      const a = decodeMcbChain(mem, DOS_ARENA.firstMcbSeg, DOS_ARENA.endSeg);
      if (a.broken) broken++;
      else assert.strictEqual(a.blocks.reduce((n, b) => n + 1 + b.paragraphs, 0), paras, 'a sound walk tiles the arena');
      assert.ok(a.blocks.length <= paras);
    }
    assert.ok(broken > 0 && broken < 200, `${broken} of 200 walks found damage`);
  });

  const foreign: ReadonlyArray<[string, (x: ReturnType<typeof dosImage>) => void, RegExp]> = [
    ['its private range mapping another chain', ({ img, user }) => img.mapPage(0x3000, user * 16384 + 4096, { pid: 2 }), /DOS task 2 \(dosprog\) maps 0x3000 .* chain 200, not its own low chain 320/],
    ['another DOS task\'s low chain', ({ img, low3 }) => img.mapPage(0x9c000, low3 * 16384, { pid: 2 }), /maps 0x9c000 .* the low chain 330 of DOS task 3/],
    ['another process\'s XMS memory', ({ img, xmsChain }) => img.mapPage(0xa0000, xmsChain * 16384, { pid: 3 }), /DOS task 3 \(dostwo\) maps 0xa0000 .* XMS handle 0x1 of process 2/],
    ['an arena page not identity mapped', ({ img }) => { for (let p = 0; p < 2; p++) img.mapPage(0x20000 + p * 4096, 0x30000 + p * 4096, { pid: 3 }); }, /maps 0x20000\.\.0x21fff .* frame 0x30000 instead of the DOS arena's frame 0x20000/],
  ];
  for (const [what, corrupt, message] of foreign) {
    it(`reports v86-foreign-memory for ${what}`, async function () {
      const x = dosImage();
      corrupt(x);
      const s = await snap(x.img);
      assert.deepStrictEqual(s.findings.map((f) => f.kind), ['v86-foreign-memory'], JSON.stringify(s.findings));
      assert.match(s.findings[0].message, message);
    });
  }

  it('decodes swapped PTEs by the descriptor\'s encoding only when not present', function () {
    const d = { pteSwapMark: 2, pteSwapPageShift: 2, pteSwapSlotShift: 12 };
    assert.strictEqual(isSwappedPte((9 << 12) | (3 << 2) | 2, d), true);
    assert.strictEqual(isSwappedPte((9 << 12) | 3, d), false); // present and writable
    assert.strictEqual(isSwappedPte(0, d), false);
    assert.deepStrictEqual(decodeSwappedPte(0xfffff00e, d), { slot: 0xfffff, page: 3 });
  });
});
