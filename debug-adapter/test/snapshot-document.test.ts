// The one snapshot builder (mm/model/system-snapshot.ts) on page tables built by hand: every
// frame state of the frame map, every level-0 finding kind on an image made to have it (and a
// clean image with none, with a direct map, a device mapping and the same frame at two addresses),
// the aggregation cap, counted and uncounted spaces, shared tables read once, and the level-1
// cross-checks against a described allocator.

import * as assert from 'assert';
import { buildSnapshotDocument, DocumentSource } from '../src/mm/model/system-snapshot';
import type { DescribedState } from '../src/mm/model/described-state';
import type { FrameMapState, PhysicalRegionJson } from '../src/mm/model/snapshot-document';
import type { ViewSnapshot } from '../src/mm/model/snapshot-json';

const P = 1n, W = 2n, U = 4n, PS = 0x80n, NX = 1n << 63n;
const CR0 = 0x80000011n, CR4_PAE = 0x20n, EFER_LMA = 0x500n, EFER_NXE = 0x800n;
const MIB = 1 << 20;
const KERNEL = 0xffffffff80000000n;

/** A 4-level image: tables allocated from 0x1000 upward in a 4 MiB RAM; upper levels fully permissive. */
class Image {
  readonly mem = Buffer.alloc(4 * MIB);
  reads = 0;
  private next = 0x1000;
  readonly tables: number[] = [];
  readonly root: number;
  constructor() {
    this.root = this.table();
  }
  table(): number {
    const t = this.next;
    this.next += 0x1000;
    this.tables.push(t);
    return t;
  }
  private entry(table: number, index: number): bigint {
    return this.mem.readBigUInt64LE(table + index * 8);
  }
  private child(table: number, index: number): number {
    const e = this.entry(table, index);
    if (e & P) return Number(e & 0xffffffffff000n);
    const t = this.table();
    this.mem.writeBigUInt64LE(BigInt(t) | P | W | U, table + index * 8);
    return t;
  }
  /** Maps one 4 KiB page (root: another top table to start from). */
  map(va: bigint, pa: number, flags: bigint, root = this.root): this {
    let t = root;
    for (const shift of [39n, 30n, 21n]) t = this.child(t, Number((va >> shift) & 511n));
    this.mem.writeBigUInt64LE(BigInt(pa) | flags | P, t + Number((va >> 12n) & 511n) * 8);
    return this;
  }
  /** Writes a raw PTE (for reserved bits). */
  raw(va: bigint, value: bigint): this {
    let t = this.root;
    for (const shift of [39n, 30n, 21n]) t = this.child(t, Number((va >> shift) & 511n));
    this.mem.writeBigUInt64LE(value, t + Number((va >> 12n) & 511n) * 8);
    return this;
  }
  /** A second top table sharing the first's upper half (a process's address space). */
  forkTop(): number {
    const t = this.table();
    this.mem.copy(this.mem, t + 256 * 8, this.root + 256 * 8, this.root + 4096);
    return t;
  }
  source(extra: Partial<DocumentSource> = {}, nxe = true): DocumentSource {
    return {
      read: async (a, n) => {
        this.reads++;
        if (a + BigInt(n) > BigInt(this.mem.length)) throw new Error('past the end of RAM');
        return this.mem.subarray(Number(a), Number(a) + n);
      },
      registers: { cr0: CR0, cr3: BigInt(this.root), cr4: CR4_PAE, efer: EFER_LMA | (nxe ? EFER_NXE : 0n) },
      stop: 1,
      ...extra,
    };
  }
}

const REGIONS: PhysicalRegionJson[] = [
  { base: 0, size: 0xa0000, kind: 'ram', name: 'pc.ram' },
  { base: 0xa0000, size: 0x20000, kind: 'device', name: 'vga-lowmem' },
  { base: 0x100000, size: 3 * MIB, kind: 'ram', name: 'pc.ram' },
  { base: 0xfee00000, size: 0x100000, kind: 'device', name: 'apic-msi' },
];

const kinds = (d: ViewSnapshot): string[] => d.findings.map((f) => f.kind).sort();

/** The state of frame `f` in the document's run list. */
function stateOf(d: ViewSnapshot, f: number): FrameMapState | undefined {
  return d.frames.mapping.find((r) => r[0] <= f && f < r[0] + r[1])?.[2];
}

/** A clean kernel: code RO+X, data RW+NX, a direct map (RW+NX, supervisor) of the user pages, user code and data, the LAPIC. */
function cleanImage(): Image {
  const img = new Image();
  for (let i = 0; i < 4; i++) img.map(KERNEL + BigInt(i * 0x1000), 0x200000 + i * 0x1000, 0n); // kernel code
  for (let i = 0; i < 4; i++) img.map(KERNEL + 0x10000n + BigInt(i * 0x1000), 0x210000 + i * 0x1000, W | NX); // kernel data
  for (let i = 0; i < 8; i++) img.map(0xffff888000000000n + BigInt(0x300000 + i * 0x1000), 0x300000 + i * 0x1000, W | NX); // direct map of the user pages
  img.map(0x400000n, 0x300000, U); // user code (RO+X), also in the direct map
  img.map(0x401000n, 0x301000, U | W | NX); // user data
  img.map(0xffffffffff5fe000n, 0xfee00000, W | NX); // the LAPIC (a device region)
  return img;
}

describe('snapshot document: the frame map and level-0 findings (hand-built page tables)', () => {
  it('a clean kernel has no finding; every frame state is exact', async () => {
    const img = cleanImage();
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), []);
    assert.strictEqual(d.schema, 3);
    assert.strictEqual(d.level, 0);
    assert.strictEqual(d.pagingMode, 'x86-64');
    assert.strictEqual(d.currentSpace, `pt:0x${img.root.toString(16)}`);
    const space = d.spaces[0];
    assert.deepStrictEqual([...space.tables].sort((a, b) => a - b), img.tables);
    assert.deepStrictEqual(space.sources, ['current']);
    assert.strictEqual(space.pages, 4 + 4 + 8 + 2 + 1);
    assert.strictEqual(d.frames.ramKnown, true);
    // Tables, the kernel's frames, the user frames mapped twice (direct map + user), RAM left, the VGA window, beyond RAM.
    for (const t of img.tables) assert.strictEqual(stateOf(d, t / 4096), 'table');
    assert.strictEqual(stateOf(d, 0x200), 'mapped');
    assert.strictEqual(stateOf(d, 0x213), 'mapped');
    assert.strictEqual(stateOf(d, 0x300), 'multi');
    assert.strictEqual(stateOf(d, 0x301), 'multi');
    assert.strictEqual(stateOf(d, 0x302), 'mapped');
    assert.strictEqual(stateOf(d, 0x100), 'unmapped');
    assert.strictEqual(stateOf(d, 0xa0), 'not-ram');
    assert.strictEqual(stateOf(d, 0x400), 'not-ram');
    assert.strictEqual(stateOf(d, 0xfee00), 'mapped');
    assert.strictEqual(d.frames.count, 0xfee01);
    assert.deepStrictEqual(d.frames.counts, {
      table: img.tables.length, mapped: 4 + 4 + 6 + 1, multi: 2,
      unmapped: 0xa0 + 0x300 - (img.tables.length + 16), 'not-ram': 0x60 + (0xfee00 - 0x400),
    });
    // Runs are sorted and cover 0..count exactly.
    let at = 0;
    for (const [first, count] of d.frames.mapping) {
      assert.strictEqual(first, at);
      at += count;
    }
    assert.strictEqual(at, d.frames.count);
  });

  it('without QEMU\'s map no frame is not-ram and nothing is outside RAM', async () => {
    const img = cleanImage().map(0x500000n, 0x7000000, W | NX | U);
    const d = await buildSnapshotDocument(img.source());
    assert.strictEqual(d.frames.ramKnown, false);
    assert.strictEqual(d.frames.counts['not-ram'], 0);
    assert.deepStrictEqual(kinds(d), []);
  });

  it('writable-executable: a writable page without NX while EFER.NXE is on; never without NXE', async () => {
    const img = cleanImage().map(KERNEL + 0x20000n, 0x220000, W).map(KERNEL + 0x21000n, 0x221000, W);
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['writable-executable']);
    assert.strictEqual(d.findings[0].virtual, (KERNEL + 0x20000n).toString(16).replace(/^/, '0x'));
    assert.match(d.findings[0].message, /8 KiB/);
    // The same kernel without NX bits and with NXE off: the CPU cannot forbid execution.
    const plain = new Image();
    plain.map(KERNEL, 0x200000, 0n).map(KERNEL + 0x20000n, 0x220000, W);
    assert.deepStrictEqual(kinds(await buildSnapshotDocument(plain.source({ regions: REGIONS }, false))), []);
  });

  it('user-writable-kernel: kernel code writable from user mode elsewhere, and a user-writable page in the upper half', async () => {
    const img = cleanImage().map(0x402000n, 0x201000, U | W | NX);
    let d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    // Kernel code writable from user mode is also a writable alias of code.
    assert.deepStrictEqual(kinds(d), ['user-writable-kernel', 'writable-code-alias']);
    assert.strictEqual(d.findings[0].physical, 0x201000);
    assert.match(d.findings[0].message, /kernel-only.*writable from user mode at 0x402000/);
    d = await buildSnapshotDocument(cleanImage().map(0xffff900000000000n, 0x230000, U | W | NX).source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['user-writable-kernel']);
    assert.match(d.findings[0].message, /upper canonical half/);
  });

  it('writable-code-alias: kernel code writable at another address; a user page\'s writable direct map is not one', async () => {
    const img = cleanImage().map(0xffff888000200000n, 0x200000, W | NX);
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['writable-code-alias']);
    assert.strictEqual(d.findings[0].physical, 0x200000);
    // User code aliased writable by the user: also one.
    const u = await buildSnapshotDocument(cleanImage().map(0x600000n, 0x300000, U | W | NX).source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(u), ['writable-code-alias']);
  });

  it('user-maps-page-table: a user-accessible mapping of a page-table page', async () => {
    const img = cleanImage();
    img.map(0x700000n, img.root, U | NX);
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['user-maps-page-table']);
    assert.strictEqual(d.findings[0].physical, img.root);
    assert.strictEqual(stateOf(d, img.root / 4096), 'table');
  });

  it('mapping-outside-ram: a leaf to no region; the VGA window and the LAPIC are devices', async () => {
    const img = cleanImage().map(KERNEL + 0x40000n, 0x80000000, W | NX).map(KERNEL + 0x41000n, 0xa0000, W | NX);
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['mapping-outside-ram']);
    assert.strictEqual(d.findings[0].physical, 0x80000000);
  });

  it('null-page-mapped: virtual page 0 present', async () => {
    const d = await buildSnapshotDocument(cleanImage().map(0n, 0x310000, NX).source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['null-page-mapped']);
    assert.strictEqual(d.findings[0].virtual, 0);
  });

  it('reserved-bits and unreadable-page-table come from the walker, once per entry', async () => {
    const img = cleanImage().raw(0x800000n, 0x0008000000320000n | P); // bit 51: above MAXPHYADDR 40
    // A PD entry to a table past the end of RAM.
    const d0 = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d0), ['reserved-bits']);
    const pdpt = Number(img.mem.readBigUInt64LE(img.root) & 0xffffffffff000n);
    const pd = Number(img.mem.readBigUInt64LE(pdpt) & 0xffffffffff000n);
    img.mem.writeBigUInt64LE(0x7000000n | P | W, pd + 100 * 8);
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS }));
    assert.deepStrictEqual(kinds(d), ['reserved-bits', 'unreadable-page-table']);
  });

  it('aggregates: a thousand separate W+X pages make 32 findings and one summary', async () => {
    const img = cleanImage();
    for (let i = 0; i < 1000; i++) img.map(0x10000000n + BigInt(i * 0x2000), 0x100000 + (i % 64) * 0x1000, W);
    const d = await buildSnapshotDocument(img.source());
    const wx = d.findings.filter((f) => f.kind === 'writable-executable');
    assert.strictEqual(wx.length, 33);
    assert.match(wx[32].message, /^968 more writable-executable findings/);
  });

  it('counted and uncounted spaces: a process space counts; a space only seen earlier makes no finding and colours no frame', async () => {
    const img = cleanImage();
    const proc = img.forkTop();
    img.map(0x400000n, 0x330000, U | W | NX, proc);
    img.reads = 0;
    const described: DescribedState = {
      processes: [{ pid: 7, name: 'sh', state: 'RUNNING', current: false, directoryPhys: BigInt(proc), address: 0xffff888000001000n }],
      allocators: [], heaps: [], findings: [], errors: [],
    };
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS, described }));
    assert.strictEqual(d.level, 1);
    assert.deepStrictEqual(d.spaces.map((s) => [s.id, s.sources, s.pid ?? null]), [[`pt:0x${img.root.toString(16)}`, ['current'], null], [`pt:0x${proc.toString(16)}`, ['process'], 7]]);
    assert.deepStrictEqual(d.processes, [{ pid: 7, name: 'sh', state: 'RUNNING', current: false, space: `pt:0x${proc.toString(16)}`, directory: proc, address: '0xffff888000001000' }]);
    assert.strictEqual(stateOf(d, 0x330), 'mapped');
    // The kernel half's tables are read once for both spaces.
    assert.strictEqual(img.reads, img.tables.length);
    // The same process space seen at an earlier stop only, with a user-writable kernel page: listed, not counted.
    img.map(0x402000n, 0x201000, U | W | NX, proc);
    const seen = await buildSnapshotDocument(img.source({ regions: REGIONS, spaces: [{ cr3: BigInt(proc), source: 'seen', firstSeenStop: 0, lastSeenStop: 0 }] }));
    assert.deepStrictEqual(seen.spaces.map((s) => s.sources), [['current'], ['seen']]);
    assert.deepStrictEqual(kinds(seen), []);
    assert.strictEqual(stateOf(seen, 0x330), 'unmapped');
    const named = await buildSnapshotDocument(img.source({ regions: REGIONS, spaces: [{ cr3: BigInt(proc), source: 'named' }] }));
    assert.deepStrictEqual(kinds(named), ['user-writable-kernel', 'writable-code-alias']);
  });
});

describe('snapshot document: level-1 cross-checks (a described allocator)', () => {
  it('free-frame-mapped, frame-leaked (one finding per span), and the description\'s own findings and errors', async () => {
    const img = cleanImage();
    // Frames 0x200..0x203 kernel code (mapped), 0x340..0x343 unmapped, 0x350 unmapped but holding a heap block, table frames.
    const described: DescribedState = {
      processes: [],
      allocators: [{
        summary: { name: 'bitmap0', shape: 'bitmap', unitBytes: 4096, total: 0x400, free: 0, used: 0, reserved: 0 },
        frames: [[0x1, 1, 'free'], [0x200, 2, 'free'], [0x202, 2, 'used'], [0x340, 4, 'used'], [0x350, 1, 'used'], [0x360, 16, 'free'], [0x400, 0x400, 'reserved']],
      }],
      heaps: [{ name: 'kheap', blocks: [{ address: '0xffffffff80000000', size: 64, used: true }], usedBytes: 64, freeBytes: 0, truncated: false }],
      findings: [{ kind: 'free-list-cycle', severity: 'error', message: 'the free list loops back', allocator: 'bitmap0' }],
      errors: [{ path: 'allocators[1].bitmap', expression: 'frame_map', message: 'frame_map is not a symbol of the kernel.' }],
    };
    const d = await buildSnapshotDocument(img.source({ regions: REGIONS, described, descriptionSource: 'model.json' }));
    const byKind = (k: string) => d.findings.filter((f) => f.kind === k);
    assert.deepStrictEqual(byKind('free-frame-mapped').map((f) => f.physical), [0x1000, 0x200000]);
    assert.deepStrictEqual(byKind('frame-leaked').map((f) => f.physical), [0x340000, 0x350000]);
    assert.strictEqual(byKind('free-list-cycle').length, 1);
    assert.deepStrictEqual(d.description, { source: 'model.json', errors: described.errors });
    assert.deepStrictEqual(d.frames.allocationCounts, { free: 19, used: 7, reserved: 0x400 });
    // Mapped now: no longer a leak.
    const heaped = await buildSnapshotDocument(img.map(0x5000000n, 0x350000, W | NX).source({ regions: REGIONS, described }));
    assert.deepStrictEqual(heaped.findings.filter((f) => f.kind === 'frame-leaked').map((f) => f.physical), [0x340000]);
  });

  it('a direct map of all RAM is no use of a free frame; a user mapping of one is', async () => {
    const img = new Image();
    // The kernel maps frames 0x100..0x1ff at 0xffff888000100000 (one offset): its direct map.
    for (let f = 0x100; f < 0x200; f++) img.map(0xffff888000000000n + BigInt(f * 0x1000), f * 0x1000, W | NX);
    const allocator = (frames: DescribedState['allocators'][number]['frames']): DescribedState => ({
      processes: [], heaps: [], findings: [], errors: [],
      allocators: [{ summary: { name: 'buddy', shape: 'buddy', unitBytes: 4096, total: 0x100, free: 0xf0, used: 0x10, reserved: 0 }, frames }],
    });
    const described = allocator([[0x100, 0x10, 'used'], [0x110, 0xf0, 'free']]);
    let d = await buildSnapshotDocument(img.source({ regions: REGIONS, described }));
    assert.deepStrictEqual(kinds(d), []);
    img.map(0x400000n, 0x150000, U | W | NX);
    d = await buildSnapshotDocument(img.source({ regions: REGIONS, described }));
    assert.deepStrictEqual(d.findings.map((f) => [f.kind, f.physical]), [['free-frame-mapped', 0x150000]]);
    // The allocators' frames set the frame count when they reach past RAM and every mapping.
    const far = await buildSnapshotDocument(img.source({ described: allocator([[0x100, 0x10, 'used'], [0x110, 0x1000, 'free']]) }));
    assert.strictEqual(far.frames.count, 0x1110);
  });
});
