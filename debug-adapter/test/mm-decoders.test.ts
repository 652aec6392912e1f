// The memory-manager decoders on hand-built images (test/fixtures/mm-image.ts): exact chains,
// every finding kind from a deliberate corruption, translation steps, diffs, the JSON form, and
// a seeded fuzz on random and mutated images that must never hang or crash.

import * as assert from 'assert';
import { buildSnapshot, MmSnapshot } from '../src/mm/model/snapshot';
import { CT_END, CT_FREE, CT_SWAPPABLE, CT_FROZEN, CT_CONTIG, CT_USER, decodeChainTable } from '../src/mm/model/chain-table';
import { DescriptorError, decodeDescriptor, DESCRIPTOR_SIZE } from '../src/mm/model/descriptor';
import { translateAddress } from '../src/mm/model/translate';
import { diffSnapshots } from '../src/mm/model/diff';
import { snapshotToJson } from '../src/mm/model/snapshot-json';
import { LAYOUT, MmImage, REGISTERS, VBASE } from './fixtures/mm-image';

const snap = (img: MmImage): Promise<MmSnapshot> => buildSnapshot({ read: img.read, descriptorPhys: LAYOUT.descriptor, registers: REGISTERS });
const kinds = (s: MmSnapshot): string[] => s.findings.map((f) => f.kind).sort();

/** A clean image: two processes, a user chain in process 1, a kernel chain, a contiguous one. */
function cleanImage(): { img: MmImage; user: number; kernel: number; contig: number } {
  const img = new MmImage();
  img.addProcess('worker');
  const user = img.addChain([200, 201, 205], CT_USER);
  img.mapChain(user, 0x00400000, { pid: 1 });
  const kernel = img.addChain([300, 301], CT_FROZEN, 3);
  img.mapChain(kernel, 0xd0000000, { flags: 3 });
  const contig = img.addChain([400, 401, 402, 403], CT_CONTIG | CT_FROZEN, 7);
  return { img, user, kernel, contig };
}

describe('mm decoders on hand-built images', function () {
  it('decodes chains, runs, flags, counts and where they are mapped', async function () {
    const { img, user, kernel, contig } = cleanImage();
    const s = await snap(img);
    assert.deepStrictEqual(s.findings, []);
    assert.deepStrictEqual(s.chains.map((c) => c.id), [user, kernel, contig]);
    const u = s.chains[0];
    assert.deepStrictEqual(u.blocks, [200, 201, 205]);
    assert.deepStrictEqual(u.runs, [{ first: 200, count: 2 }, { first: 205, count: 1 }]);
    assert.deepStrictEqual(u.flags, { frozen: false, contiguous: false, swappable: false, user: true });
    assert.deepStrictEqual(u.mappedAt, [{ space: 1, virtual: 0x400000, length: 3 * 16384, firstPage: 0 }]);
    assert.strictEqual(u.owner.kind, 'kernel');
    assert.strictEqual(u.owner.seq, 1);
    assert.deepStrictEqual(s.chains[1].mappedAt, [{ space: 'kernel', virtual: 0xd0000000, length: 2 * 16384, firstPage: 0 }]);
    assert.strictEqual(s.blocks.used, 9);
    assert.strictEqual(s.blocks.free, img.freeBlocks);
    assert.strictEqual(s.blocks.reserved, LAYOUT.lowmapEnd / 16384);
    assert.strictEqual(s.blocks.map[200] + s.blocks.map[201] + s.blocks.map[202], 'Cc.');
    assert.deepStrictEqual(s.processes.map((p) => [p.pid, p.name, p.current]), [[0, 'kernel', true], [1, 'worker', false]]);
    assert.strictEqual(s.processes[0].updMatchesKpd, true);
    const run = s.processes[1].mappings[0];
    assert.deepStrictEqual([run.virtual, run.physical, run.length, run.flags], [0x400000, 200 * 16384, 2 * 16384, 7]);
  });

  it('computes the largest free run and fragmentation', function () {
    const t = new Uint32Array(10).fill(CT_FREE);
    t[3] = 0x08000000 | CT_END; // a head in the middle
    const d = decodeChainTable(t);
    assert.strictEqual(d.largestFreeRun, 6);
    assert.strictEqual(d.fragmentationPercent, 100 - Math.floor((6 * 100) / 9));
  });

  const corruptions: ReadonlyArray<[string, (x: ReturnType<typeof cleanImage>) => void]> = [
    ['free-block-mapped', ({ img, kernel }) => img.setEntry(kernel + 1, CT_FREE)],
    ['block-in-two-chains', ({ img, user }) => img.setEntry(205, 301)],
    ['chain-cycle', ({ img }) => img.setEntry(205, 201)],
    ['dangling-link', ({ img }) => img.setEntry(205, 250)],
    ['flags-on-body', ({ img }) => img.setEntry(201, img.entry(201) | CT_SWAPPABLE)],
    ['contiguous-not-contiguous', ({ img, contig }) => { img.setEntry(contig + 1, 410); img.setEntry(410, contig + 2); }],
    ['contiguous-not-frozen', ({ img, contig }) => img.setEntry(contig, img.entry(contig) & ~CT_FROZEN)],
    ['orphan-block', ({ img }) => img.setEntry(500, CT_END)],
    ['corrupt-entry', ({ img }) => img.setEntry(500, 0x07fffff9)],
    ['stale-upd', ({ img }) => img.u32(LAYOUT.kpd + 5 * 4, LAYOUT.ptPool | 7)],
    ['user-mapping-above-limit', ({ img, user }) => img.mapPage(0x40000000, user * 16384, { flags: 7 })],
    ['kernel-page-user-writable', ({ img }) => { img.u32(LAYOUT.kpd + 768 * 4, LAYOUT.directMapTable | 7); img.u32(LAYOUT.directMapTable + 4, 0x1000 | 7); }],
    ['handle-to-freed-chain', ({ img }) => img.setXmsHandles([{ handle: 3, chain: 460 }])],
    ['leaked-chain', ({ img }) => img.addChain([450, 451])],
    ['process-list-broken', ({ img }) => img.u32(img.pcbPhys(1) + 24 + 256, img.pcbPhys(0) + VBASE)],
    ['unreadable-page-table', ({ img }) => img.u32(LAYOUT.kpd + 900 * 4, 0xfff00003)],
    // A 4 MiB page with bit 21 set: reserved, the CPU faults on any access through it.
    ['reserved-bits', ({ img }) => img.u32(LAYOUT.kpd + 901 * 4, 0x00a00083)],
  ];
  for (const [kind, corrupt] of corruptions) {
    it(`reports ${kind} for a deliberate corruption`, async function () {
      const x = cleanImage();
      corrupt(x);
      const s = await snap(x.img);
      assert.ok(kinds(s).includes(kind), `findings: ${JSON.stringify(s.findings.map((f) => f.message))}`);
    });
  }

  it('translates user and kernel addresses step by step', async function () {
    const { img, user } = cleanImage();
    const s = await snap(img);
    const t = await translateAddress(s, img.read, 0x00404123, 1);
    assert.strictEqual(t.directorySource, 'upd');
    assert.deepStrictEqual(t.steps.map((x) => [x.level, x.index]), [['PD', 1], ['PT', 4]]);
    assert.strictEqual(t.steps[0].entryAddress, undefined, 'a UPD entry lives in the PCB, not in the KPD');
    assert.strictEqual(t.steps[0].raw, `0x${(s.processes.find((p) => p.pid === 1)?.upd[1] ?? 0).toString(16).padStart(8, "0")}`);
    assert.strictEqual(t.pageSize, 4096);
    assert.strictEqual(t.physical, 201 * 16384 + 0x123);
    assert.strictEqual(t.block, 201);
    assert.strictEqual(t.chain, user);
    assert.strictEqual(t.chainPage, 4);
    const k = await translateAddress(s, img.read, 0xc0001004);
    assert.strictEqual(k.directorySource, 'kpd');
    assert.strictEqual(k.physical, 0x1004);
    assert.strictEqual(k.steps[0].entryAddress, s.geometry.kpdPhys + (0xc0001004 >>> 22) * 4);
    assert.strictEqual(k.chain, undefined);
    const missing = await translateAddress(s, img.read, 0x00400000, 0);
    assert.match(missing.notMapped ?? '', /not present/);
    await assert.rejects(translateAddress(s, img.read, 0x1000, 9), /no process 9/);
  });

  it('diffs snapshots: added, freed, resized, renamed, mappings', async function () {
    const x = cleanImage();
    const a = await snap(x.img);
    x.img.freeChain(x.kernel);
    x.img.mem.fill(0, LAYOUT.kpd + (0xd0000000 >>> 22) * 4, LAYOUT.kpd + (0xd0000000 >>> 22) * 4 + 4);
    const added = x.img.addChain([470], 0);
    x.img.mapChain(added, 0xd1000000, { flags: 3 });
    x.img.setEntry(205, 206); x.img.setEntry(206, CT_END);         // the user chain grows by one block
    const seq = x.img.u32(LAYOUT.owners + x.contig * 16 + 4);     // the contiguous chain's head moves
    x.img.freeChain(x.contig);
    const moved = x.img.addChain([420, 421, 422, 423], CT_CONTIG | CT_FROZEN, 7);
    x.img.u32(LAYOUT.owners + moved * 16 + 4, seq);
    const b = await snap(x.img);
    const d = diffSnapshots(a, b);
    const byKind = (k: string): number[] => d.chains.filter((c) => c.kind === k).map((c) => c.id);
    assert.deepStrictEqual(byKind('freed'), [x.kernel]);
    assert.deepStrictEqual(byKind('added'), [added]);
    assert.deepStrictEqual(byKind('resized'), [x.user]);
    assert.deepStrictEqual(d.chains.filter((c) => c.kind === 'renamed'), [{ id: moved, kind: 'renamed', previous: x.contig }]);
    assert.ok(d.mappings.some((m) => m.space === 'kernel' && m.kind === 'unmapped' && m.virtual === 0xd0000000));
    assert.ok(d.mappings.some((m) => m.space === 'kernel' && m.kind === 'mapped' && m.virtual === 0xd1000000));
    assert.ok(d.changedBlocks.includes(206) && d.changedBlocks.includes(470));
  });

  it('writes the documented JSON fields', async function () {
    const { img, user } = cleanImage();
    const j = snapshotToJson(await snap(img)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.strictEqual(j.cr3, LAYOUT.kpd);
    assert.strictEqual(j.processes[1].upd.length, 64);
    assert.deepStrictEqual(Object.keys(j.processes[0]).slice(0, 4), ['pid', 'name', 'state', 'current']);
    assert.ok(j.mappings.some((m: { va: number; pa: number; size: number; flags: number }) => m.va === 0xc0000000 && m.pa === 0 && m.flags === 3));
    const c = j.chains.find((x: { id: number }) => x.id === user);
    assert.deepStrictEqual([c.flags, c.blocks], [0x80000000, [200, 201, 205]]);
    assert.deepStrictEqual([j.blocks.total, j.blocks.free, j.blocks.reserved], [img.blockCount, img.freeBlocks, 128]);
    assert.deepStrictEqual(j.findings, []);
    JSON.parse(JSON.stringify(j));
  });

  it('refuses a descriptor with a wrong magic, version or size in one sentence', function () {
    const img = new MmImage();
    const good = img.mem.subarray(LAYOUT.descriptor, LAYOUT.descriptor + DESCRIPTOR_SIZE);
    assert.strictEqual(decodeDescriptor(good).blockCount, img.blockCount);
    for (const [off, value, re] of [[0, 1, /magic/], [4, 9, /version 9/], [8, 4, /says it is 4 bytes/]] as const) {
      const bad = Buffer.from(good);
      bad.writeUInt32LE(value, off);
      assert.throws(() => decodeDescriptor(bad), (e: Error) => e instanceof DescriptorError && re.test(e.message) && !e.message.includes('\n'));
    }
  });

  it('survives seeded random and mutated images without hanging or crashing', async function () {
    this.timeout(120_000);
    let seed = 0x2545f491;
    const rnd = (): number => {
      seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
      return seed;
    };
    const base = cleanImage().img;
    const regions = [
      [LAYOUT.blockTable, base.blockCount * 4], [LAYOUT.kpd, 4096], [LAYOUT.ptPool, 0x3000],
      [LAYOUT.pcbs, 0x400], [LAYOUT.vars, 0x100], [LAYOUT.owners, base.blockCount * 16],
    ] as const;
    let built = 0;
    for (let i = 0; i < 1000; i++) {
      const img = new MmImage();
      base.mem.copy(img.mem);
      const mutations = 1 + (rnd() % 64);
      for (let m = 0; m < mutations; m++) {
        const [start, len] = regions[rnd() % regions.length];
        const at = start + ((rnd() % (len / 4)) * 4);
        const r = rnd() % 4;
        img.u32(at, r === 0 ? rnd() : r === 1 ? rnd() % base.blockCount : r === 2 ? CT_END : (rnd() & 0xfffff000) | 7);
      }
      if (i % 10 === 0) for (let b = 0; b < base.blockCount; b++) img.setEntry(b, rnd()); // an all-random table
      const s = await snap(img);
      assert.ok(s.chains.length <= base.blockCount);
      built++;
    }
    assert.strictEqual(built, 1000);
  });
});
