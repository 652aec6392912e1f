// The one page walker (paging/) on page tables built by hand in a buffer, for every x86 paging
// mode: mode detection from CR0/CR4/EFER, every page size, permissions combined over the levels,
// NX, global pages, protection keys, PSE-36, reserved bits as findings, non-present entries with
// content, shared tables read once, a recursive entry, tables past the end of RAM, and seeded
// random (fuzzed) images on which the walk must end, bounded, without throwing.

import * as assert from 'assert';
import { decodeEntry, describeEntryFlags } from '../src/paging/page-entry';
import { LeafSpanMemo, mappingRanges, mergeLeaves, TableCache, walkAddress, walkAddressSpace, walkMappings, walkMappings32 } from '../src/paging/page-table-walk';
import { canonical, pagingModel, PagingModel } from '../src/paging/paging-modes';
import { jsonAddress, parseJsonAddress, translateVirtual, translationStepLines } from '../src/paging/translation-steps';
import { physicalPieces } from '../src/page-walker';
import { PageNotPresentError } from '../src/errors';
import { seededRandom } from './seeded-random';

const CR0_PG = 0x80000000;
const CR4_PSE = 0x10;
const CR4_PAE = 0x20;
const CR4_PGE = 0x80;
const CR4_LA57 = 0x1000;
const CR4_PKE = 1 << 22;
const EFER_LMA = 0x400;
const EFER_NXE = 0x800;

/** A guest-physical memory of `size` bytes with 32- and 64-bit entry writers and a read counter. */
function ram(size = 0x40000): { mem: Buffer; reads: bigint[]; read: (a: bigint, n: number) => Promise<Buffer>; put32: (a: number, v: number) => void; put64: (a: number, v: bigint) => void } {
  const mem = Buffer.alloc(size);
  const reads: bigint[] = [];
  return {
    mem,
    reads,
    read: async (a, n) => {
      reads.push(a);
      if (a + BigInt(n) > BigInt(mem.length)) throw new Error(`physical ${a.toString(16)} is past the end of RAM`);
      return mem.subarray(Number(a), Number(a) + n);
    },
    put32: (a, v) => mem.writeUInt32LE(v >>> 0, a),
    put64: (a, v) => mem.writeBigUInt64LE(v, a),
  };
}

const X64 = (cr4 = CR4_PAE, efer = EFER_LMA | EFER_NXE): PagingModel => pagingModel({ cr0: CR0_PG | 1, cr4, efer });

describe('paging: mode detection', () => {
  it('detects the four modes and paging off from CR0/CR4/EFER', () => {
    assert.strictEqual(pagingModel({ cr0: 1, cr4: 0 }).kind, 'none');
    const m32 = pagingModel({ cr0: CR0_PG, cr4: CR4_PSE });
    assert.deepStrictEqual([m32.kind, m32.levels.map((l) => l.level), m32.levels[0].largePage], ['x86-32', ['PD', 'PT'], 0x400000n]);
    assert.strictEqual(pagingModel({ cr0: CR0_PG, cr4: 0 }).levels[0].largePage, undefined, 'without CR4.PSE, PS is ignored');
    const pae = pagingModel({ cr0: CR0_PG, cr4: CR4_PAE, efer: EFER_NXE });
    assert.deepStrictEqual([pae.kind, pae.levels.map((l) => `${l.level}/${l.entries}`), pae.nx], ['pae', ['PDPT/4', 'PD/512', 'PT/512'], true]);
    const l4 = X64(CR4_PAE | CR4_PKE | CR4_PGE);
    assert.deepStrictEqual([l4.kind, l4.virtualBits, l4.levels.map((l) => l.level), l4.protectionKeys, l4.globalPages], ['x86-64', 48, ['PML4', 'PDPT', 'PD', 'PT'], true, true]);
    const l5 = X64(CR4_PAE | CR4_LA57);
    assert.deepStrictEqual([l5.kind, l5.virtualBits, l5.levels.length], ['x86-64-la57', 57, 5]);
    // EFER.LME alone (not yet active) is still PAE paging.
    assert.strictEqual(pagingModel({ cr0: CR0_PG, cr4: CR4_PAE, efer: 0x100 }).kind, 'pae');
  });
  it('sign-extends 48- and 57-bit addresses', () => {
    assert.strictEqual(canonical(X64(), 0x800000000000n), 0xffff800000000000n);
    assert.strictEqual(canonical(X64(), 0x7fffffffffffn), 0x7fffffffffffn);
    assert.strictEqual(canonical(X64(CR4_PAE | CR4_LA57), 0x100000000000000n), 0xff00000000000000n);
  });
});

describe('paging: 32-bit paging', () => {
  it('4 KiB and 4 MiB pages, PSE-36, permissions of both levels, reserved bit 21', async () => {
    const { read, put32 } = ram();
    const model = pagingModel({ cr0: CR0_PG, cr4: CR4_PSE | CR4_PGE });
    put32(0x1000 + 0 * 4, 0x2000 | 0x7); // PD[0] -> PT, user, writable
    put32(0x2000 + 5 * 4, 0x9000 | 0x105); // PT[5]: user, read-only, global
    put32(0x1000 + 0x300 * 4, 0x00400000 | 0x83 | (0x5 << 13)); // 4 MiB page at 0x5_0040_0000
    put32(0x1000 + 0x301 * 4, 0x00800000 | 0x83 | (1 << 21)); // reserved bit 21
    put32(0x1000 + 0x302 * 4, 0xabcd0000); // not present, with content
    const w = await walkAddress(model, 0x1000, 0x5123, read);
    assert.ok(w.kind === 'mapped');
    assert.deepStrictEqual([w.physical, w.pageSize, w.writable, w.user, w.global, w.steps.map((s) => s.level)], [0x9123n, 0x1000n, false, true, true, ['PD', 'PT']]);
    const big = await walkAddress(model, 0x1000, 0xc0012345, read);
    assert.ok(big.kind === 'mapped');
    assert.deepStrictEqual([big.physical, big.pageSize], [0x500412345n, 0x400000n]);
    assert.strictEqual((await walkAddress(model, 0x1000, 0xc0400000, read)).kind, 'reserved-bits');
    const space = await walkAddressSpace(model, 0x1000, read);
    assert.deepStrictEqual(space.leaves.map((l) => [l.virtual, l.physical, l.pageSize]), [[0x5000n, 0x9000n, 0x1000n], [0xc0000000n, 0x500400000n, 0x400000n]]);
    assert.deepStrictEqual(space.findings.map((f) => [f.kind, f.virtual]), [['reserved-bits', 0xc0400000n]]);
    assert.match(space.findings[0].text, /PD entry for 0xc0400000 .* has reserved bits 0x200000 set/);
    assert.deepStrictEqual(space.nonPresent.map((n) => [n.virtual, n.raw]), [[0xc0800000n, 0xabcd0000n]]);
    // Runs straight from the walk, over a slice of the directory, or with another copy of its entries (a process's UPD).
    const all = await walkMappings(model, 0x1000, read);
    assert.deepStrictEqual(all.runs, mappingRanges(space.leaves));
    assert.deepStrictEqual(all.runs.map((r) => [r.virtual, r.pages, r.flags, r.global]), [[0x5000n, 1, 0x105, true], [0xc0000000n, 1, 0x83, false]]);
    const kernelHalf = await walkMappings(model, 0x1000, read, {}, { first: 0x300, count: 0x100 });
    assert.deepStrictEqual(kernelHalf.runs.map((r) => r.virtual), [0xc0000000n]);
    const upd = Buffer.alloc(4096);
    upd.writeUInt32LE(0x2000 | 0x7, 4); // the process maps the same PT at 4 MiB
    const proc = await walkMappings(model, 0x1000, read, {}, { first: 0, count: 64, table: upd });
    assert.deepStrictEqual(proc.runs.map((r) => [r.virtual, r.physical]), [[0x405000n, 0x9000n]]);
  });
});

describe('paging: PAE', () => {
  it('PDPT, 2 MiB and 4 KiB pages, NX from any level, PDPTE reserved bits, NX reserved without EFER.NXE', async () => {
    const { read, put64 } = ram();
    const nxe = pagingModel({ cr0: CR0_PG, cr4: CR4_PAE, efer: EFER_NXE });
    const NX = 1n << 63n;
    put64(0x1000 + 0 * 8, 0x2000n | 1n); // PDPT[0] -> PD (0-1 GiB)
    put64(0x1000 + 3 * 8, 0x3000n | 1n); // PDPT[3] -> PD (3-4 GiB)
    put64(0x2000 + 1 * 8, 0x4000n | 0x7n | NX); // PD[1] -> PT, NX at the directory
    put64(0x4000 + 2 * 8, 0x123456000n | 0x7n); // 4 KiB page above 4 GiB
    put64(0x3000 + 0 * 8, 0x40000000n | 0x83n); // 2 MiB page at 1 GiB for 0xc0000000
    put64(0x3000 + 1 * 8, 0x40200000n | 0x83n | (1n << 13n)); // reserved bit 13 in a 2 MiB entry
    const w = await walkAddress(nxe, 0x1000 | 0x18, 0x00202abc, read); // CR3 keeps bits 31:5
    assert.ok(w.kind === 'mapped');
    assert.deepStrictEqual([w.physical, w.noExecute, w.writable, w.user, w.steps.map((s) => s.level)], [0x123456abcn, true, true, true, ['PDPT', 'PD', 'PT']]);
    const big = await walkAddress(nxe, 0x1000, 0xc0100000, read);
    assert.ok(big.kind === 'mapped');
    assert.deepStrictEqual([big.physical, big.pageSize, big.noExecute], [0x40100000n, 0x200000n, false]);
    assert.strictEqual((await walkAddress(nxe, 0x1000, 0xc0200000, read)).kind, 'reserved-bits');
    // Without EFER.NXE bit 63 is reserved.
    const noNx = pagingModel({ cr0: CR0_PG, cr4: CR4_PAE });
    assert.strictEqual((await walkAddress(noNx, 0x1000, 0x00202abc, read)).kind, 'reserved-bits');
    // A PDPTE with NX set (reserved there); RW and A (which QEMU sets itself) are not called reserved.
    assert.strictEqual(decodeEntry(nxe, nxe.levels[0], 0x2000n | 1n | (1n << 63n)).reserved, 1n << 63n);
    assert.strictEqual(decodeEntry(nxe, nxe.levels[0], 0x2000n | 0x23n).reserved, 0n);
    const space = await walkAddressSpace(nxe, 0x1000, read);
    assert.deepStrictEqual(space.leaves.map((l) => l.virtual), [0x202000n, 0xc0000000n]);
    assert.deepStrictEqual(space.findings.map((f) => f.virtual), [0xc0200000n]);
  });
});

describe('paging: 4-level and 5-level', () => {
  it('1 GiB, 2 MiB and 4 KiB pages in the higher half, protection keys, PS reserved in a PML4E, the shared table read once', async () => {
    const { read, put64, reads } = ram();
    const model = X64(CR4_PAE | CR4_PKE | CR4_PGE);
    // PML4 at 0x1000: [511] -> PDPT 0x2000 (kernel at 0xffffffff80000000), [256] -> PDPT 0x3000 (direct map)
    put64(0x1000 + 511 * 8, 0x2000n | 3n);
    put64(0x1000 + 256 * 8, 0x3000n | 3n);
    put64(0x1000 + 255 * 8, 0x5000n | 3n | 0x80n); // PS in a PML4E: reserved
    put64(0x2000 + 510 * 8, 0x4000n | 3n); // -> PD for 0xffffffff80000000
    put64(0x4000 + 0 * 8, 0x00000000n | 0x83n | (1n << 8n)); // 2 MiB global
    put64(0x4000 + 1 * 8, 0x6000n | 3n); // -> PT
    put64(0x6000 + 0 * 8, 0x7000n | 3n | (0x5n << 59n)); // 4 KiB with key 5
    put64(0x3000 + 0 * 8, 0x00000000n | 0x83n); // 1 GiB at the start of the direct map
    put64(0x3000 + 1 * 8, 0x40000000n | 0x83n); // the next GiB
    put64(0x3000 + 2 * 8, 0x4000n | 3n); // a second reference to the PD at 0x4000 (shared)
    const k = await walkAddress(model, 0x1000, 0xffffffff80200234n, read);
    assert.ok(k.kind === 'mapped');
    assert.deepStrictEqual([k.physical, k.pageSize, k.steps.map((s) => s.level), k.steps[3].entry.protectionKey], [0x7234n, 0x1000n, ['PML4', 'PDPT', 'PD', 'PT'], 5]);
    const g = await walkAddress(model, 0x1000, 0xffffffff80000010n, read);
    assert.ok(g.kind === 'mapped' && g.global && g.pageSize === 0x200000n);
    const d = await walkAddress(model, 0x1000, 0xffff800040000123n, read);
    assert.ok(d.kind === 'mapped' && d.pageSize === 0x40000000n && d.physical === 0x40000123n);
    assert.strictEqual((await walkAddress(model, 0x1000, 0x0000800000000000n, read)).kind, 'non-canonical');
    reads.length = 0;
    const space = await walkAddressSpace(model, 0x1000, read);
    assert.deepStrictEqual(space.leaves.map((l) => [l.virtual.toString(16), l.pageSize.toString(16)]), [
      ['ffff800000000000', '40000000'], ['ffff800040000000', '40000000'],
      ['ffff800080000000', '200000'], ['ffff800080200000', '1000'],
      ['ffffffff80000000', '200000'], ['ffffffff80200000', '1000'],
    ]);
    assert.deepStrictEqual(space.findings.map((f) => [f.kind, f.level, f.virtual.toString(16)]), [['reserved-bits', 'PML4', '7f8000000000']]);
    // Tables: PML4, two PDPTs, the shared PD and its PT, each read once.
    assert.strictEqual(space.tablesRead, 5);
    assert.deepStrictEqual([...new Set(reads)].length, reads.length);
    // The direct map's two GiB pages merge into one run.
    assert.deepStrictEqual(mergeLeaves(space.leaves).slice(0, 1).map((r) => [r.virtual.toString(16), r.length.toString(16)]), [['ffff800000000000', '80000000']]);
    assert.strictEqual(describeEntryFlags(space.leaves[4].entry), 'P RW PS G');
  });
  it('the plain translation every view shows: exact raw entries (NX in bit 63), exact addresses, one sentence when not mapped', async () => {
    const { read, put64 } = ram();
    const model = X64();
    put64(0x1000 + 511 * 8, 0x2000n | 3n);
    put64(0x2000 + 510 * 8, 0x4000n | 3n);
    put64(0x4000 + 1 * 8, 0x6000n | 3n);
    put64(0x6000 + 3 * 8, 0x7000n | 0x63n | (1n << 63n)); // 4 KiB, accessed, dirty, NX
    const t = await translateVirtual(model, 0x1000, 0xffffffff80203456n, read);
    assert.strictEqual(t.virtual, '0xffffffff80203456', 'above 2^53: a hex string');
    assert.deepStrictEqual([t.physical, t.pageSize, t.nx, t.writable, t.user], [0x7456, 4096, true, true, false]);
    assert.deepStrictEqual(t.steps.map((s) => [s.level, s.index, s.entryAddress, s.raw]), [
      ['PML4', 511, 0x1000 + 511 * 8, '0x0000000000002003'], ['PDPT', 510, 0x2000 + 510 * 8, '0x0000000000004003'],
      ['PD', 1, 0x4000 + 8, '0x0000000000006003'], ['PT', 3, 0x6000 + 24, '0x8000000000007063'],
    ]);
    assert.strictEqual(t.steps[3].describe, 'P RW A D NX');
    assert.match(translationStepLines(t)[3], /^PT\[3\] = 0x8000000000007063 at 0x6018  P RW A D NX$/);
    const missing = await translateVirtual(model, 0x1000, 0xffffffff80204000n, read);
    assert.deepStrictEqual([missing.physical, missing.notMapped], [undefined, 'the PT entry 4 is not present']);
    assert.strictEqual((await translateVirtual(model, 0x1000, 0x0000800000000000n, read)).notMapped, '0x800000000000 is not a canonical address in this paging mode');
    // A 32-bit walk: 8-digit raw entries, numbers for every address.
    const small = ram();
    small.put32(0x1000 + 0x300 * 4, 0x00400083);
    const k = await translateVirtual(pagingModel({ cr0: CR0_PG, cr4: CR4_PSE }), 0x1000, 0xc0012345, small.read);
    assert.deepStrictEqual([k.virtual, k.physical, k.pageSize, k.steps.map((s) => s.raw)], [0xc0012345, 0x412345, 0x400000, ['0x00400083']]);
    // The JSON rule, both ways.
    assert.deepStrictEqual([jsonAddress(2n ** 53n - 1n), jsonAddress(2n ** 53n)], [Number.MAX_SAFE_INTEGER, '0x20000000000000']);
    assert.strictEqual(parseJsonAddress('0xffffffff80203456'), 0xffffffff80203456n);
  });
  it('virtual ranges to physical pieces in long mode (reads and writes of guest-virtual memory): across pages, merged when contiguous, the first hole named', async () => {
    const { read, put64 } = ram();
    const model = X64();
    put64(0x1000 + 511 * 8, 0x2000n | 3n);
    put64(0x2000 + 510 * 8, 0x4000n | 3n);
    put64(0x4000 + 0 * 8, 0x200000n | 0x83n); // 2 MiB at 0xffffffff80000000 -> 0x200000
    put64(0x4000 + 1 * 8, 0x6000n | 3n); // then 4 KiB pages
    put64(0x6000 + 0 * 8, 0x400000n | 3n); // 0xffffffff80200000 -> 0x400000: contiguous with the 2 MiB page's end
    put64(0x6000 + 1 * 8, 0x9000n | 3n);
    const tables = new TableCache(read);
    const pieces = await physicalPieces(model, 0x1000, 0xffffffff801fff00n, 0x1200, tables);
    assert.deepStrictEqual(pieces, [{ offset: 0, physical: 0x3fff00, length: 0x1100 }, { offset: 0x1100, physical: 0x9000, length: 0x100 }]);
    await assert.rejects(physicalPieces(model, 0x1000, 0xffffffff80201ff0n, 0x20, tables), (e: unknown) => {
      assert.ok(e instanceof PageNotPresentError);
      assert.strictEqual(e.level, 'PT');
      assert.match(e.message, /^Virtual address 0xffffffff80202000 is not mapped: the PT entry at physical 0x00006010 \(0x00000000\) is not present/);
      return true;
    });
  });
  it('5-level: a PML5 above, 57-bit sign extension', async () => {
    const { read, put64 } = ram();
    const model = X64(CR4_PAE | CR4_LA57);
    put64(0x1000 + 511 * 8, 0x2000n | 3n); // PML5[511]
    put64(0x2000 + 511 * 8, 0x3000n | 3n); // PML4[511]
    put64(0x3000 + 510 * 8, 0x4000n | 3n); // PDPT[510]
    put64(0x4000 + 0 * 8, 0x200000n | 0x83n); // 2 MiB
    const w = await walkAddress(model, 0x1000, 0xffffffff80001000n, read);
    assert.ok(w.kind === 'mapped');
    assert.deepStrictEqual([w.physical, w.steps.map((s) => s.level)], [0x201000n, ['PML5', 'PML4', 'PDPT', 'PD']]);
    const space = await walkAddressSpace(model, 0x1000, read);
    assert.deepStrictEqual(space.leaves.map((l) => l.virtual), [0xffffffff80000000n]);
  });
  it('a table shared terabytes over (a KASAN-style zero shadow) is decoded once and the walk stays bounded, every page counted', async () => {
    const { read, put64, reads } = ram();
    const model = X64();
    for (let i = 0; i < 512; i++) put64(0x4000 + i * 8, 0x9000n | 0x1n | (1n << 63n)); // PT: 512 read-only NX pages of one zero page
    for (let i = 0; i < 512; i++) put64(0x3000 + i * 8, 0x4000n | 3n); // PD: every entry the same PT
    for (let i = 0; i < 512; i++) put64(0x2000 + i * 8, 0x3000n | 3n); // PDPT: every entry the same PD
    for (let i = 0; i < 16; i++) put64(0x1000 + (256 + i) * 8, 0x2000n | 3n); // 16 PML4 entries: 8 TiB of shadow
    put64(0x1000 + 511 * 8, 0x5000n | 3n); // and a normal kernel mapping after it
    put64(0x5000 + 510 * 8, 0x6000n | 3n);
    put64(0x6000, 0x200000n | 0x83n);
    const space = await walkAddressSpace(model, 0x1000, read, { maxRepeatedLeaves: 4096 });
    const listed = space.leaves.length;
    const counted = listed + space.shared.reduce((n, s) => n + s.pages, 0);
    assert.strictEqual(counted, 16 * 512 * 512 * 512 + 1, 'every page of the shadow is counted, listed or as a shared subtree');
    assert.ok(listed <= 512 + 4096 + 1, `listed ${listed} leaves`);
    assert.strictEqual(space.tablesRead, 6);
    assert.strictEqual(new Set(reads).size, reads.length, 'each table read once');
    // The shared subtrees say which table and where it was walked first; they cover the rest of the shadow.
    assert.ok(space.shared.every((s) => s.sameAs < s.virtual && (s.tableAddress === 0x4000n || s.tableAddress === 0x3000n || s.tableAddress === 0x2000n)));
    const bytes = space.leaves.filter((l) => l.virtual < 0xffff880000000000n).reduce((n, l) => n + l.pageSize, 0n) + space.shared.reduce((n, s) => n + s.bytes, 0n);
    assert.strictEqual(bytes, 16n << 39n);
    assert.deepStrictEqual(space.leaves[space.leaves.length - 1].virtual, 0xffffffff80000000n, 'the walk goes on after the shadow');
    const runs = await walkMappings(model, 0x1000, read, { maxRepeatedLeaves: 4096 });
    assert.deepStrictEqual(runs.runs, mappingRanges(space.leaves));
    assert.strictEqual(runs.shared.length, space.shared.length);
  });
  it('a recursive PML4 entry maps the tables themselves and the walk stays finite', async () => {
    const { read, put64 } = ram();
    const model = X64();
    put64(0x1000 + 510 * 8, 0x1000n | 3n); // recursive slot
    put64(0x1000 + 0 * 8, 0x2000n | 3n);
    put64(0x2000 + 0 * 8, 0x3000n | 3n);
    put64(0x3000 + 0 * 8, 0x4000n | 3n);
    put64(0x4000 + 7 * 8, 0x9000n | 3n); // 0x7000 -> 0x9000
    const space = await walkAddressSpace(model, 0x1000, read);
    assert.ok(space.leaves.some((l) => l.virtual === 0x7000n && l.physical === 0x9000n));
    // Through the recursive slot the PT at 0x4000 appears as a page (PML4[510] PDPT[0] PD[0] PT[0]).
    assert.ok(space.leaves.some((l) => l.virtual === 0xffffff0000000000n && l.physical === 0x4000n), 'the recursive mapping shows the tables as pages');
    assert.strictEqual(space.tablesRead, 4);
  });
  it('a table past the end of RAM is a finding, and the walk goes on', async () => {
    const { read, put64 } = ram(0x8000);
    const model = X64();
    put64(0x1000 + 0 * 8, 0x7fff000n | 3n); // past RAM
    put64(0x1000 + 1 * 8, 0x2000n | 3n);
    put64(0x2000 + 0 * 8, 0x0n | 0x83n);
    const space = await walkAddressSpace(model, 0x1000, read);
    assert.deepStrictEqual(space.findings.map((f) => f.kind), ['unreadable-table']);
    assert.match(space.findings[0].text, /PDPT table at physical 0x7fff000 \(for virtual 0x0\) cannot be read .*past the end of RAM/);
    assert.deepStrictEqual(space.leaves.map((l) => l.virtual), [0x8000000000n]);
    assert.strictEqual((await walkAddress(model, 0x1000, 0x1000n, read)).kind, 'unreadable');
  });
});

describe('paging: fuzzed images', () => {
  it('random tables in every mode: every walk ends within its limits, never throws, and agrees with single-address walks', async function () {
    this.timeout(60_000);
    const random = seededRandom(20261203);
    const models = [
      pagingModel({ cr0: CR0_PG, cr4: CR4_PSE }), pagingModel({ cr0: CR0_PG, cr4: CR4_PAE, efer: EFER_NXE }),
      X64(CR4_PAE | CR4_PKE), X64(CR4_PAE | CR4_LA57),
    ];
    let leaves = 0;
    let findings = 0;
    for (let round = 0; round < 40; round++) {
      const model = models[round % models.length];
      const { mem, read } = ram(0x20000);
      // Entries that mostly point back into this small RAM (cycles, self-references, sharing), some past it, some garbage.
      for (let off = 0; off < mem.length; off += 8) {
        const r = random();
        if (r < 0.6) continue;
        const target = BigInt(Math.floor(random() * (r < 0.95 ? 0x20 : 0x100000))) << 12n;
        const flags = BigInt(Math.floor(random() * 0x1000));
        const high = random() < 0.1 ? BigInt(Math.floor(random() * 0x10000)) << 48n : 0n;
        mem.writeBigUInt64LE((high | target | flags) & ((1n << 64n) - 1n), off);
      }
      const cache = new TableCache(read);
      const space = await walkAddressSpace(model, 0x1000, cache, { maxLeaves: 20000, maxTables: 2000 });
      assert.ok(space.leaves.length <= 20000 && space.tablesRead <= 2001);
      leaves += space.leaves.length;
      findings += space.findings.length;
      // The run walk (no object per page) gives exactly the runs of the leaf walk, and the same findings.
      const runs = await walkMappings(model, 0x1000, cache, { maxLeaves: 20000, maxTables: 2000 });
      assert.deepStrictEqual(runs.runs, mappingRanges(space.leaves), `${model.kind} round ${round}`);
      assert.deepStrictEqual([runs.pages, runs.findings, runs.nonPresent, runs.shared], [space.leaves.length, space.findings, space.nonPresent, space.shared]);
      // Ten leaves per image, walked alone, land where the whole walk says.
      for (let i = 0; i < Math.min(10, space.leaves.length); i++) {
        const leaf = space.leaves[Math.floor(random() * space.leaves.length)];
        const w = await walkAddress(model, 0x1000, leaf.virtual + 5n, read);
        assert.ok(w.kind === 'mapped', `${model.kind} ${leaf.virtual.toString(16)}: ${w.kind}`);
        assert.strictEqual(w.physical, leaf.physical + 5n);
        assert.strictEqual(w.pageSize, leaf.pageSize);
        assert.deepStrictEqual([w.writable, w.user, w.noExecute], [leaf.writable, leaf.user, leaf.noExecute]);
      }
    }
    assert.ok(leaves > 1000 && findings > 40, `the images exercised the walker (${leaves} leaves, ${findings} findings)`);
  });
});

describe('paging: 32-bit runs of consecutive frames (the walker\'s fast path for an entry that continues its span)', () => {
  it('every page of the runs is where a single-address walk lands, and no two runs could be one', async function () {
    const model = pagingModel({ cr0: CR0_PG, cr4: CR4_PSE });
    const { put32, read } = ram(0x10000);
    const random = seededRandom(20261204);
    // Directory at 0x1000; tables at 0x2000..0x5fff (four of them), entries built in runs.
    for (let t = 0; t < 4; t++) put32(0x1000 + t * 4, (0x2000 + t * 0x1000) | 0x7);
    let frame = 0x100000;
    let flags = 0x7;
    for (let i = 0; i < 4096; i++) {
      const r = random();
      if (r < 0.03) flags = [0x7, 0x5, 0x67, 0x27, 0x3][Math.floor(random() * 5)]; // new low bits: a new run
      else if (r < 0.06) frame = Math.floor(random() * 0x100000) * 0x1000; // a jump
      else if (r < 0.08) {
        put32(0x2000 + i * 4, 0); // a hole; the next entry continues the frames as if there were none
        frame += 0x1000;
        continue;
      } else if (r < 0.09) {
        put32(0x2000 + i * 4, 0x12345600); // not present, with content
        continue;
      } else if (r < 0.095) frame = 0xfffff000; // the last frame below 4 GiB: the next one wraps to 0
      put32(0x2000 + i * 4, ((frame >>> 0) | flags) >>> 0);
      frame = (frame + 0x1000) >>> 0;
    }
    for (const memo of [undefined, new LeafSpanMemo()]) {
      for (let pass = 0; pass < 2; pass++) {
        const w = await walkMappings32(model, 0x1000, new TableCache(read, memo));
        const pages = new Map<number, { physical: number; flags: number; writable: boolean; user: boolean }>();
        for (const run of w.runs) {
          for (let k = 0; k < run.pages; k++) pages.set(run.virtual + k * 4096, { physical: run.physical + k * 4096, flags: run.flags, writable: run.writable, user: run.user });
        }
        let mapped = 0;
        for (let v = 0; v < 4 * 1024 * 4096; v += 4096) {
          const one = await walkAddress(model, 0x1000, v, read);
          const p = pages.get(v);
          if (one.kind !== 'mapped') {
            assert.strictEqual(p, undefined, `0x${v.toString(16)} is not mapped`);
            continue;
          }
          mapped++;
          assert.deepStrictEqual(p, { physical: Number(one.physical), flags: one.steps[one.steps.length - 1].entry.flags, writable: one.writable, user: one.user }, `0x${v.toString(16)}`);
        }
        assert.strictEqual(pages.size, mapped);
        for (let i = 1; i < w.runs.length; i++) {
          const a = w.runs[i - 1];
          const b = w.runs[i];
          const joinable = a.virtual + a.length === b.virtual && a.physical + a.length === b.physical && a.flags === b.flags && a.writable === b.writable && a.user === b.user;
          assert.ok(!joinable, `runs ${i - 1} and ${i} continue each other`);
        }
        assert.ok(w.runs.length > 50 && mapped > 3000, `${w.runs.length} runs, ${mapped} pages`);
      }
    }
  });
});
