// The memory-model describer on a compiled C program (fixtures-c/memory_model.c, gcc -m32 -g),
// read from its linked image: every allocator shape, both process layouts and both heap layouts
// give exactly the states the program's data says, with no finding; then copies of the image
// are corrupted one way each and the matching finding (and only it) appears; descriptions with
// mistakes get one sentence per mistake and their other parts still work.

import * as assert from 'assert';
import { DebugSymbols } from '../src/symbols';
import { createDescriber, DescribeAccess } from '../src/mm/model/describer';
import { checkMemoryModel } from '../src/mm/model/memory-model-load';
import { loadDescriber } from '../src/mm/model/load-describer';
import { MemoryModelDescription } from '../src/mm/model/memory-model';
import { DescribedState } from '../src/mm/model/described-state';
import { FrameAllocState, FrameRun } from '../src/mm/model/snapshot-document';
import { build, readBytes } from './fixtures-c/compile';
import { ImageAccess } from './inspect-image-access';

const FULL: MemoryModelDescription = {
  name: 'fixture',
  directMapOffset: 0,
  processes: { list: 'task_head', next: 'next', pid: 'id', name: 'comm', state: '(enum pstate)state', directory: 'cr3 & ~0xfff', current: '$elem == running' },
  allocators: [
    { name: 'bits', shape: 'bitmap', bitmap: 'frame_bitmap', base: '(unsigned)&pool', units: 'pool_frames', counter: 'bitmap_free' },
    { name: 'list', shape: 'free-list', head: 'freelist', next: 'next', holds: 'virtual', base: '(unsigned)&pool', units: 16, counter: 'free_count' },
    { name: 'plist', shape: 'free-list', head: 'phys_head', holds: 'physical', nextOffset: 4, linkBytes: 4, base: '(unsigned)&pool', units: 16 },
    { name: 'stack', shape: 'free-stack', array: 'free_stack', count: 'free_top', holds: 'physical', base: '(unsigned)&pool', units: 16, counter: 'free_top' },
    { name: 'buddy', shape: 'buddy', orders: 4, head: 'free_area[$order]', next: 'next', base: '(unsigned)&pool', units: 16, counter: 'buddy_free' },
    { name: 'regions', shape: 'region-table', array: 'regions', count: 'nregions', start: 'base', length: 'len', type: 'type', free: ['R_FREE'], reserved: ['R_RESERVED'] },
    { name: 'chains', shape: 'chain-table', table: 'block_table', count: 'block_count', counter: 'blocks_free' },
  ],
  heaps: [
    { name: 'adjacent', first: 'heap_area', end: 'heap_end', size: 'size', used: 'magic == 0xA110C8ED', valid: 'magic == 0xA110C8ED || magic == 0xF4EEF4EE' },
    { name: 'linked', first: 'heap_head', next: 'next', size: 'size', sizeIncludesHeader: false, used: 'used' },
  ],
};

/** Frame runs from one letter per unit of `unitFrames` frames ('.' free, 'u' used, 'r' reserved), from `first`. */
function runsOf(first: number, letters: string, unitFrames = 1): FrameRun<FrameAllocState>[] {
  const out: [number, number, FrameAllocState][] = [];
  const name = (c: string): FrameAllocState => (c === '.' ? 'free' : c === 'r' ? 'reserved' : 'used');
  for (let i = 0; i < letters.length; ) {
    let j = i + 1;
    while (j < letters.length && letters[j] === letters[i]) j++;
    out.push([first + i * unitFrames, (j - i) * unitFrames, name(letters[i])]);
    i = j;
  }
  return out;
}

describe('describe: every shape on a compiled image', function () {
  this.timeout(120_000);
  let symbols: DebugSymbols;
  let poolFrame: number;
  const sym = (name: string): number => {
    const s = symbols.elf.symbolByName(name);
    assert.ok(s, name);
    return s.value;
  };
  /** A fresh image (each test corrupts its own copy) and its DescribeAccess (paging off: virtual = physical). */
  const image = (): { access: DescribeAccess; image: ImageAccess } => {
    const img = new ImageAccess(symbols);
    return {
      image: img,
      access: {
        registers: { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n },
        readVirtual: (a, n) => img.readMemory(Number(a), n),
        readPhys: (a, n) => img.readMemory(Number(a), n),
      },
    };
  };
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return b;
  };
  const evaluate = (d: MemoryModelDescription, access: DescribeAccess): Promise<DescribedState> => createDescriber(d, symbols).evaluate(access);
  const allocator = (s: DescribedState, name: string) => {
    const a = s.allocators.find((x) => x.summary.name === name);
    assert.ok(a, `allocator ${name} in ${s.allocators.map((x) => x.summary.name).join(', ')}; errors: ${JSON.stringify(s.errors)}`);
    return a;
  };
  const kinds = (s: DescribedState): string[] => s.findings.map((f) => f.kind);

  before(() => {
    symbols = new DebugSymbols(readBytes(build('memory_model.c', { flags: ['-O0'] })));
    poolFrame = sym('pool') / 4096;
    assert.ok(Number.isInteger(poolFrame));
  });

  describe('a clean image', () => {
    let s: DescribedState;
    before(async () => {
      s = await evaluate(FULL, image().access);
    });

    it('has no description error and no finding', () => {
      assert.deepStrictEqual(s.errors, []);
      assert.deepStrictEqual(s.findings, []);
    });

    it('bitmap: a set bit is used (0x30f3), base at pool', () => {
      const a = allocator(s, 'bits');
      assert.deepStrictEqual(a.frames, runsOf(poolFrame, 'uu..uuuu....uu..'));
      assert.deepStrictEqual([a.summary.total, a.summary.free, a.summary.used, a.summary.reserved], [16, 8, 8, 0]);
      assert.deepStrictEqual(a.summary.counter, { expression: 'bitmap_free', value: 8, agrees: true });
    });

    it('bitmap: used 0 inverts it; msb order in 32-bit words reverses it', async () => {
      const inverted = await evaluate({ allocators: [{ name: 'b', shape: 'bitmap', bitmap: 'frame_bitmap', units: 16, used: 0, base: '(unsigned)&pool' }] }, image().access);
      assert.deepStrictEqual(allocator(inverted, 'b').frames, runsOf(poolFrame, '..uu....uuuu..uu'));
      // msb-first in a 32-bit word: unit i is bit 31 - i; 0x000030f3 has bits 31..16 clear.
      const msb = await evaluate({ allocators: [{ name: 'b', shape: 'bitmap', bitmap: 'frame_bitmap', units: 32, bitOrder: 'msb', base: '(unsigned)&pool' }] }, image().access);
      assert.deepStrictEqual(allocator(msb, 'b').frames, runsOf(poolFrame, '..................uu....uuuu..uu'));
    });

    it('free-list: virtual links through next (1 -> 4 -> 6)', () => {
      const a = allocator(s, 'list');
      assert.deepStrictEqual(a.frames, runsOf(poolFrame, 'u.uu.u.uuuuuuuuu'));
      assert.deepStrictEqual(a.summary.counter?.agrees, true);
    });

    it('free-list: physical links at an offset (2 -> 7)', () => {
      assert.deepStrictEqual(allocator(s, 'plist').frames, runsOf(poolFrame, 'uu.uuuu.uuuuuuuu'));
    });

    it('free-stack of physical addresses (5, 11, 0)', () => {
      assert.deepStrictEqual(allocator(s, 'stack').frames, runsOf(poolFrame, '.uuuu.uuuuu.uuuu'));
    });

    it('free-stack of frame numbers', async () => {
      const { access, image: img } = image();
      await img.writeMemory(sym('frame_stack'), Buffer.concat([u32(poolFrame + 15), u32(poolFrame + 14)]));
      await img.writeMemory(sym('frame_top'), u32(2));
      const r = await evaluate({ allocators: [{ name: 'f', shape: 'free-stack', array: 'frame_stack', count: 'frame_top', base: '(unsigned)&pool', units: 16 }] }, access);
      assert.deepStrictEqual(r.findings, []);
      assert.deepStrictEqual(allocator(r, 'f').frames, runsOf(poolFrame, 'uuuuuuuuuuuuuu..'));
    });

    it('buddy: order 0 (9, 3), order 1 (10), order 2 (12)', () => {
      const a = allocator(s, 'buddy');
      assert.deepStrictEqual(a.frames, runsOf(poolFrame, 'uuu.uuuuu.......'));
      assert.deepStrictEqual(a.summary.freeByOrder, [2, 1, 1, 0]);
      assert.strictEqual(a.summary.free, 8);
      assert.deepStrictEqual(a.summary.counter?.agrees, true);
    });

    it('region-table: free, used and reserved regions by type; uncovered frames absent', () => {
      const a = allocator(s, 'regions');
      assert.deepStrictEqual(a.frames, [[0x100, 4, 'free'], [0x104, 2, 'used'], [0x200, 1, 'reserved']]);
      assert.deepStrictEqual([a.summary.total, a.summary.free, a.summary.used, a.summary.reserved], [7, 4, 2, 1]);
    });

    it('chain-table: 16 KiB blocks through the chain-table decoder', () => {
      const a = allocator(s, 'chains');
      assert.deepStrictEqual(a.frames, runsOf(0, 'ruu.uur.', 4));
      assert.deepStrictEqual([a.summary.unitBytes, a.summary.free, a.summary.used, a.summary.reserved], [16384, 2, 4, 2]);
      assert.deepStrictEqual(a.summary.counter?.agrees, true);
    });

    it('processes as a linked list: pid, name, state (enumerator), physical directory, current', () => {
      assert.deepStrictEqual(s.processes, [
        { pid: 1, name: 'init', state: 'P_SLEEPING', current: false, address: BigInt(sym('tasks')), directoryPhys: 0x123000n },
        { pid: 3, name: 'shell', state: 'P_RUNNING', current: true, address: BigInt(sym('tasks') + 2 * 32), directoryPhys: 0x789000n },
        { pid: 7, name: 'worker', state: 'P_READY', current: false, address: BigInt(sym('tasks') + 32), directoryPhys: 0x456000n },
      ]);
    });

    it('processes as an array with a filter, virtual directories, and as an array of pointers', async () => {
      const arr = await evaluate({ directMapOffset: 0, processes: { array: 'ptable', pid: 'pid', name: 'name', state: 'state', directory: 'pgdir', directoryHolds: 'virtual', filter: 'state != P_UNUSED', current: '$elem == cpu_proc' } }, image().access);
      assert.deepStrictEqual(arr.errors, []);
      assert.deepStrictEqual(arr.processes.map((p) => [p.pid, p.name, p.state, p.current, p.directoryPhys]), [
        [1, 'initcode', 'P_RUNNING', true, BigInt(sym('kpgdir'))], [2, 'sh', 'P_READY', false, BigInt(sym('upgdir'))]]);
      const ptrs = await evaluate({ processes: { array: 'procs_by_slot', pid: 'pid', name: 'name' } }, image().access);
      assert.deepStrictEqual(ptrs.processes.map((p) => [p.pid, p.name]), [[2, 'sh'], [1, 'initcode']]);
    });

    it('heaps: adjacent headers up to the end, and linked headers; payload addresses and sizes', () => {
      const [adjacent, linked] = s.heaps;
      const area = sym('heap_area');
      assert.deepStrictEqual(adjacent, { name: 'adjacent', truncated: false, usedBytes: 32 + 160, freeBytes: 16, blocks: [
        { address: area + 16, size: 32, used: true }, { address: area + 64, size: 16, used: false }, { address: area + 96, size: 160, used: true }] });
      const m = sym('mblocks');
      assert.deepStrictEqual(linked, { name: 'linked', truncated: false, usedBytes: 400, freeBytes: 200, blocks: [
        { address: m + 12, size: 100, used: true }, { address: m + 24, size: 200, used: false }, { address: m + 36, size: 300, used: true }] });
    });
  });

  describe('a corrupted image: one finding each', () => {
    const pool = (i: number): number => sym('pool') + i * 4096;

    it('free-list-cycle: the last free frame links back to the first', async () => {
      const { access, image: img } = image();
      await img.writeMemory(pool(6), u32(pool(1)));
      const r = await evaluate({ allocators: [FULL.allocators![1]] }, access);
      assert.deepStrictEqual(kinds(r), ['free-list-cycle']);
      assert.match(r.findings[0].message, /allocator "list" comes back to 0x[0-9a-f]+ after 3 links/);
      assert.deepStrictEqual(allocator(r, 'list').frames, runsOf(poolFrame, 'u.uu.u.uuuuuuuuu'));
    });

    it('pointer-outside-ram: a link leaves the managed frames, or QEMU says it is not RAM', async () => {
      const { access, image: img } = image();
      await img.writeMemory(pool(4), u32(0x12345000));
      const r = await evaluate({ allocators: [FULL.allocators![1]] }, access);
      assert.deepStrictEqual(kinds(r), ['pointer-outside-ram', 'counter-mismatch']);
      assert.match(r.findings[0].message, /links to 0x12345000 \(link 2\), outside the memory it manages/);
      const ram = await evaluate({ allocators: [FULL.allocators![1]] }, { ...image().access, regions: [{ base: 0, size: pool(4), kind: 'ram', name: 'pc.ram' }] });
      assert.deepStrictEqual(kinds(ram), ['pointer-outside-ram', 'counter-mismatch']);
      assert.match(ram.findings[0].message, /not RAM in QEMU's memory map/);
    });

    it('free-frame-twice: a stack entry repeated; overlapping buddy blocks', async () => {
      const { access, image: img } = image();
      await img.writeMemory(sym('free_stack') + 4, u32(pool(5)));
      const r = await evaluate({ allocators: [FULL.allocators![3]] }, access);
      assert.deepStrictEqual(kinds(r), ['free-frame-twice', 'counter-mismatch']);
      const b = image();
      await b.image.writeMemory(sym('free_area') + 4, u32(pool(12)));
      const buddy = await evaluate({ allocators: [FULL.allocators![4]] }, b.access);
      assert.deepStrictEqual(kinds(buddy), ['free-frame-twice', 'counter-mismatch']);
    });

    it('pointer-outside-ram: a buddy block not aligned to its order', async () => {
      const { access, image: img } = image();
      await img.writeMemory(sym('free_area') + 4, u32(pool(11)));
      const r = await evaluate({ allocators: [FULL.allocators![4]] }, access);
      assert.deepStrictEqual(kinds(r), ['pointer-outside-ram', 'counter-mismatch']);
      assert.match(r.findings[0].message, /order-1 free block at 0x[0-9a-f]+ .* is not aligned to 2 units/);
    });

    it('counter-mismatch: the kernel counts another number of free units', async () => {
      const { access, image: img } = image();
      await img.writeMemory(sym('bitmap_free'), u32(7));
      const r = await evaluate({ allocators: [FULL.allocators![0]] }, access);
      assert.deepStrictEqual(r.findings.map((f) => [f.kind, f.severity, f.message]), [['counter-mismatch', 'warning', 'Allocator "bits" counts 7 free units (bitmap_free) but 8 are free in its bitmap.']]);
    });

    it('process-list-broken: a loop that does not come back to the first, and a link to unreadable memory', async () => {
      const loop = image();
      await loop.image.writeMemory(sym('tasks') + 32 + 28, u32(sym('tasks') + 64));
      const r = await evaluate({ processes: FULL.processes }, loop.access);
      assert.deepStrictEqual(kinds(r), ['process-list-broken']);
      assert.deepStrictEqual(r.processes.map((p) => p.pid), [1, 3, 7]);
      const bad = image();
      await bad.image.writeMemory(sym('tasks') + 64 + 28, u32(0xdead0000));
      const b = await evaluate({ processes: FULL.processes }, bad.access);
      assert.deepStrictEqual(b.findings.map((f) => f.message), ['The process list points at 0xdead0000 (process 2), which cannot be read.']);
      assert.deepStrictEqual(b.processes.map((p) => p.pid), [1, 3]);
      const circular = image();
      await circular.image.writeMemory(sym('tasks') + 32 + 28, u32(sym('tasks')));
      assert.deepStrictEqual(kinds(await evaluate({ processes: FULL.processes }, circular.access)), [], 'a circular list back to the first is not broken');
    });

    it('heap-corrupt: a bad magic, a zero size, a block past the end, a loop', async () => {
      const cases: [number, number, RegExp][] = [
        [16 * 3 + 4, 0x12345678, /is not valid \(magic == 0xA110C8ED \|\| magic == 0xF4EEF4EE is false\)/],
        [16 * 3, 0, /gives the size 0, which is no size/],
        [16 * 5, 4096, /runs past the heap's end/],
      ];
      for (const [offset, value, message] of cases) {
        const { access, image: img } = image();
        await img.writeMemory(sym('heap_area') + offset, u32(value));
        const r = await evaluate({ heaps: [FULL.heaps![0]] }, access);
        assert.deepStrictEqual(kinds(r), ['heap-corrupt'], String(message));
        assert.match(r.findings[0].message, message);
        assert.strictEqual(r.heaps[0].truncated, true);
      }
      const { access, image: img } = image();
      await img.writeMemory(sym('mblocks') + 12 * 2 + 8, u32(sym('mblocks')));
      const r = await evaluate({ heaps: [FULL.heaps![1]] }, access);
      assert.deepStrictEqual(kinds(r), ['heap-corrupt']);
      assert.match(r.findings[0].message, /come back to 0x[0-9a-f]+ after 3 blocks/);
    });

    it('chain-table: the chain-table decoder\'s own findings, with the allocator named', async () => {
      const { access, image: img } = image();
      await img.writeMemory(sym('block_table') + 5 * 4, u32(5)); // chain 4: 4 -> 5 -> 5
      const r = await evaluate({ allocators: [FULL.allocators![6]] }, access);
      assert.deepStrictEqual(r.findings.map((f) => [f.kind, f.allocator]), [['chain-cycle', 'chains']]);
    });
  });

  it('garbage everywhere: every data object overwritten with pseudo-random bytes still evaluates, bounded, without a throw', async () => {
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const names = ['pool', 'frame_bitmap', 'freelist', 'phys_head', 'free_stack', 'free_top', 'free_area', 'regions', 'nregions', 'block_table', 'tasks', 'task_head',
      'ptable', 'heap_area', 'heap_end', 'mblocks', 'heap_head', 'pool_frames', 'block_count'];
    for (let round = 0; round < 5; round++) {
      const { access, image: img } = image();
      for (const name of names) {
        const sym = symbols.elf.symbolByName(name);
        assert.ok(sym);
        const bytes = Buffer.alloc(Math.min(sym.size, 8192));
        for (let i = 0; i < bytes.length; i++) bytes[i] = random() & (round % 2 ? 0xff : 0x0f);
        await img.writeMemory(sym.value, bytes);
      }
      const r = await evaluate(FULL, access);
      assert.ok(r.heaps.every((h) => h.blocks.length <= 65536));
      assert.ok(r.processes.length <= 4096);
      for (const e of r.errors) assert.match(e.message, /^\S.*[.]$/, e.message);
      for (const f of r.findings) assert.match(f.message, /^[A-Z].*[.]$/, f.message);
    }
  });

  describe('mistakes in a description: one sentence each, the rest still works', () => {
    it('unknown symbols, members, non-pointers and unreadable memory name the expression', async () => {
      const d: MemoryModelDescription = {
        processes: { list: 'task_head', next: 'next', pid: 'id', name: 'no_such_member_x', state: 'state' },
        allocators: [
          { name: 'a', shape: 'free-list', head: 'freelst', next: 'next', units: 16 },
          { name: 'b', shape: 'bitmap', bitmap: 'frame_bitmap', units: 16, base: '(unsigned)&pool' },
          { name: 'c', shape: 'chain-table', table: 'block_count', count: 8 },
          { name: 'd', shape: 'bitmap', bitmap: '(unsigned *)0xdead0000', units: 16 },
          { name: 'e', shape: 'free-list', head: 'freelist', next: 'nxt', base: '(unsigned)&pool', units: 16 },
        ],
        heaps: [{ name: 'h', first: '0x1000', end: 'heap_end', size: 'size', used: 'used' }],
      };
      const r = await evaluate(d, image().access);
      assert.deepStrictEqual(r.errors.map((e) => [e.path, e.expression]), [
        ['processes.name', 'no_such_member_x'],
        ['allocators[0].head', 'freelst'],
        ['allocators[2].table', 'block_count'],
        ['allocators[3].bitmap', '(unsigned *)0xdead0000'],
        ['allocators[4].next', 'nxt'],
        ['heaps[0].first', '0x1000'],
      ]);
      for (const e of r.errors) assert.match(e.message, /^\S+ "[^"]+"[: ].*[.]$/, e.message);
      assert.match(r.errors[0].message, /No symbol "no_such_member_x"/);
      assert.match(r.errors[2].message, /is a unsigned int|not an array or a pointer/);
      assert.match(r.errors[3].message, /Cannot access memory at address 0xdead0000/);
      // The parts without mistakes still work: the processes (without names) and bitmap b.
      assert.deepStrictEqual(r.processes.map((p) => [p.pid, p.name]), [[1, ''], [3, ''], [7, '']]);
      assert.deepStrictEqual(r.allocators.map((a) => a.summary.name), ['b']);
      assert.deepStrictEqual(r.findings, []);
    });

    it('syntax errors and assignments are found once, when the description is parsed', () => {
      const describer = createDescriber({ allocators: [{ name: 'a', shape: 'bitmap', bitmap: 'frame_bitmap +', units: 'pool_frames = 3' }] }, symbols);
      assert.deepStrictEqual(describer.errors.map((e) => e.path), ['allocators[0].bitmap', 'allocators[0].units']);
      assert.match(describer.errors[0].message, /^allocators\[0\]\.bitmap "frame_bitmap \+" is not a C expression: /);
      assert.strictEqual(describer.errors[1].message, 'allocators[0].units "pool_frames = 3" assigns; a description only reads the kernel\'s memory.');
    });

    it('registers are not known; $index and $order only where they are bound', async () => {
      const r = await evaluate({ allocators: [{ name: 'a', shape: 'bitmap', bitmap: 'frame_bitmap', units: '$eax' }, { name: 'b', shape: 'bitmap', bitmap: 'frame_bitmap', units: '$order' }] }, image().access);
      assert.deepStrictEqual(r.errors.map((e) => e.message), [
        'allocators[0].units "$eax": $eax is not known in a description: it has no registers; element expressions know $elem and $index, a buddy head $order.',
        'allocators[1].units "$order": $order is not known here (only in a buddy allocator\'s head).',
      ]);
    });

    it('loadDescriber: the loader\'s and the parser\'s mistakes come with every evaluation; no symbols, one sentence', async () => {
      const value = { procesess: {}, allocators: [FULL.allocators![0], { name: 'x', shape: 'bitmap', bitmap: 'frame_bitmap +', units: 4 }] };
      const loaded = loadDescriber(value, '.', symbols);
      assert.strictEqual(loaded.source, 'launch configuration');
      assert.deepStrictEqual(loaded.errors.map((e) => e.path), ['', 'allocators[1].bitmap']);
      const r = await loaded.describe(image().access);
      assert.deepStrictEqual(r.errors.map((e) => e.path), ['', 'allocators[1].bitmap']);
      assert.deepStrictEqual(r.allocators.map((a) => a.summary.name), ['bits']);
      const bare = await loadDescriber(value, '.', undefined).describe(image().access);
      assert.deepStrictEqual(bare.allocators, []);
      assert.match(bare.errors[bare.errors.length - 1].message, /needs the kernel ELF with its debug information/);
    });

    it('a checked description from JSON evaluates like the object', async () => {
      const checked = checkMemoryModel(JSON.parse(JSON.stringify(FULL)));
      assert.deepStrictEqual(checked.errors, []);
      assert.ok(checked.description);
      const a = await evaluate(checked.description, image().access);
      const b = await evaluate(FULL, image().access);
      assert.deepStrictEqual(a, b);
    });
  });
});
