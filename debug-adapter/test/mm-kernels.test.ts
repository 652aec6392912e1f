// The mm test kernels (fixtures-mm, docs/testing-mm-kernels.md) against themselves and QEMU:
// every kernel and broken variant boots and reaches each of its checkpoints; each dump is
// self-consistent (runs cover the allocator exactly, the kernel's counter agrees unless the
// variant planted a mismatch, the running process's directory is CR3, directories differ) and
// says which fault the variant planted and nothing else; at every checkpoint of the clean
// kernels the project's page walker (walkMappings) sees exactly the pages QEMU's `info tlb`
// lists, and two checkpoints run in different address spaces.

import * as assert from 'assert';
import { parseInfoTlb } from '../../qemu-bridge/src';
import { MappingRange, PhysicalBytesReader, SharedSubtree, TableCache, WalkFinding, walkMappings } from '../../qemu-bridge/src/paging/page-table-walk';
import { pagingModel } from '../../qemu-bridge/src/paging/paging-modes';
import type { PagingRegisters } from '../src/mm/model/paging-registers';
import { MM_BREAKS, mmKernel, mmKernelNames, mmVariantId, mmVariants, MmVariant } from './fixtures-mm/build';
import { bootMmKernel, MmDump, MmKernelRun, parseMmDump } from './fixtures-mm/mm-kernels';

interface SpaceSnapshot { readonly mappings: readonly MappingRange[]; readonly shared: readonly SharedSubtree[]; readonly findings: readonly WalkFinding[] }

/** The address space `registers.cr3` names, walked by the one page walker. */
async function walkSpace(src: { read: PhysicalBytesReader; registers: PagingRegisters; stop?: number }): Promise<SpaceSnapshot> {
  const r = src.registers;
  const walk = await walkMappings(pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer }), r.cr3, new TableCache(src.read));
  return { mappings: walk.runs, shared: walk.shared, findings: walk.findings };
}

/** info tlb's nine letters (X G P D A C T U W) for a page of a run. */
function letters(m: SpaceSnapshot['mappings'][number]): string {
  const f = m.flags;
  const l = (on: boolean, c: string): string => (on ? c : '-');
  return [l(m.noExecute, 'X'), l((f & 0x100) !== 0, 'G'), l(m.pageSize > 4096n, 'P'), l((f & 0x40) !== 0, 'D'), l((f & 0x20) !== 0, 'A'),
    l((f & 0x10) !== 0, 'C'), l((f & 8) !== 0, 'T'), l((f & 4) !== 0, 'U'), l((f & 2) !== 0, 'W')].join('');
}

/** Every page of the walk: virtual -> "physical letters". */
function walkedPages(s: SpaceSnapshot): Map<bigint, string> {
  const out = new Map<bigint, string>();
  for (const m of s.mappings) {
    for (let off = 0n; off < m.length; off += m.pageSize) out.set(m.virtual + off, `${(m.physical + off).toString(16)} ${letters(m)}`);
  }
  return out;
}

/** The dump's own consistency: what holds whatever the variant. */
function checkDump(v: MmVariant, d: MmDump, cr3: bigint): void {
  assert.strictEqual(d.kernel, v.kernel);
  assert.strictEqual(d.variant, v.break ?? 'clean');
  assert.strictEqual(d.cr3, cr3 & ~0xfffn, 'the dump was made in the address space the checkpoint stops in');
  const current = d.processes.find((p) => p.pid === d.currentPid);
  assert.ok(current, `the running process ${d.currentPid} is listed`);
  assert.strictEqual(current.directory, d.cr3, "CR3 is the running process's own directory");
  const dirs = d.processes.filter((p) => p.directory !== 0n).map((p) => p.directory);
  assert.strictEqual(new Set(dirs).size, dirs.length, 'every process has its own directory');
  assert.strictEqual(new Set(d.processes.map((p) => p.pid)).size, d.processes.length, 'pids are unique');
  assert.ok(d.allocators.length >= 1);
  for (const a of d.allocators) {
    assert.strictEqual(a.shape, mmKernel(v.kernel).shape);
    const free = a.frames.filter((r) => r[2] === 'free').reduce((n, r) => n + r[1], 0);
    const used = a.frames.filter((r) => r[2] === 'used').reduce((n, r) => n + r[1], 0);
    assert.ok(free > 0 && used > 0, `${a.name}: ${free} free, ${used} used`);
    const k = mmKernel(v.kernel);
    assert.deepStrictEqual(Object.keys(a.calls), [k.alloc, k.free], `${a.name}: the dump counts the calls of the functions build.ts names`);
    // Every run allocates before checkpoint 1 and destroys a process before the last one.
    assert.ok(a.calls[k.alloc] > 0 && (d.seq < k.checkpoints || a.calls[k.free] > 0), `${a.name}: ${JSON.stringify(a.calls)}`);
    for (const [name, value] of Object.entries(a.counters)) {
      const mismatch = d.planted.find((p) => p.kind === 'counter-mismatch');
      if (mismatch) {
        assert.strictEqual(BigInt(value), mismatch.values.counter, `${a.name}.${name} is the planted value`);
        assert.strictEqual(BigInt(free), mismatch.values.actual, `${a.name}: the actual free count is the one the plant names`);
      } else assert.strictEqual(value, free, `${a.name}.${name} counts the free frames`);
    }
  }
}

type Mapping = SpaceSnapshot['mappings'][number];

/** The mapping of va in a walked space (and the physical address va lands on). */
function at(space: SpaceSnapshot, va: bigint): { m: Mapping; pa: bigint } | undefined {
  const m = space.mappings.find((x) => va >= x.virtual && va < x.virtual + x.length);
  return m ? { m, pa: m.physical + (va - m.virtual) } : undefined;
}

/** Every (space, mapping) that maps physical pa, over the given spaces. */
function mappingsOf(spaces: readonly SpaceSnapshot[], pa: bigint): Mapping[] {
  return spaces.flatMap((s) => s.mappings.filter((m) => pa >= m.physical && pa < m.physical + m.length));
}

function stateOf(d: MmDump, frame: number): string | undefined {
  for (const a of d.allocators) for (const [first, n, state] of a.frames) if (frame >= first && frame < first + n) return state;
  return undefined;
}

/**
 * The planted fault is really there, seen from outside the kernel: in the page tables (the
 * walker over the RAM file), in the allocator's own memory, or on the console.
 */
async function checkPlantedFault(run: MmKernelRun, v: MmVariant, d: MmDump): Promise<void> {
  const p = d.planted[0];
  const va = p.values.va ?? 0n;
  const pa = p.values.pa ?? 0n;
  const frame = Number(p.values.frame ?? 0n);
  const registers = await run.registers();
  const current = await walkSpace({ read: run.read, registers });
  const spaces = await Promise.all(d.processes.map((q) => walkSpace({ read: run.read, registers: { ...registers, cr3: q.directory } })));
  const here = at(current, va);
  const where = here ? `0x${here.pa.toString(16)} ${here.m.writable ? 'W' : '-'}${here.m.user ? 'U' : '-'}${here.m.noExecute ? 'X' : '-'}` : 'unmapped';
  switch (v.break) {
    case 'wx':
      assert.ok(here && here.pa === pa && here.m.writable && !here.m.noExecute, `0x${va.toString(16)} maps 0x${pa.toString(16)} writable and executable (${where})`);
      assert.ok((registers.efer & 0x800n) !== 0n, 'EFER.NXE is on');
      break;
    case 'user-kernel-alias':
      assert.ok(here && here.pa === pa && here.m.user && here.m.writable, `0x${va.toString(16)} maps 0x${pa.toString(16)} user-writable (${where})`);
      assert.ok(mappingsOf([current], pa).some((m) => !m.user && !m.writable), 'the page is also mapped kernel-only and read-only');
      break;
    case 'code-alias':
      assert.ok(here && here.pa === pa && here.m.writable, `0x${va.toString(16)} maps 0x${pa.toString(16)} writable (${where})`);
      assert.ok(mappingsOf([current], pa).some((m) => !m.writable && !m.noExecute), 'the page is also mapped as code');
      break;
    case 'user-page-table': {
      assert.ok(here && here.pa === pa && here.m.user, `0x${va.toString(16)} maps 0x${pa.toString(16)} for user mode (${where})`);
      // The page at pa is the last-level table holding va's own entry: that entry points at pa.
      const entrySize = d.paging === 'x86-32' ? 4 : 8;
      const index = d.paging === 'x86-32' ? Number((va >> 12n) & 1023n) : Number((va >> 12n) & 511n);
      const entry = await run.read(pa + BigInt(index * entrySize), entrySize);
      const target = entrySize === 4 ? BigInt(entry.readUInt32LE(0)) : entry.readBigUInt64LE(0);
      assert.strictEqual(target & 0x000ffffffffff000n, pa, 'the mapped page is the page table of its own mapping');
      break;
    }
    case 'outside-ram':
      assert.ok(here && here.pa === pa, `0x${va.toString(16)} maps 0x${pa.toString(16)} (${where})`);
      assert.ok(pa >= BigInt(run.qemu.memoryBytes), `0x${pa.toString(16)} is above the guest's ${run.qemu.memoryBytes} bytes of RAM`);
      break;
    case 'null-page':
      assert.ok(at(current, 0n), 'virtual 0 is mapped');
      break;
    case 'reserved-bit':
      assert.ok(current.findings.some((f) => f.kind === 'reserved-bits' && f.virtual === va), `the walker reports reserved bits at 0x${va.toString(16)}: ${current.findings.map((f) => f.text).join('; ')}`);
      break;
    case 'use-after-free': {
      assert.strictEqual(stateOf(d, frame), 'free', `frame ${frame} is free in the dump`);
      const mapped = spaces.filter((s) => { const x = at(s, va); return x && x.pa === BigInt(frame) * 4096n && x.m.user; });
      assert.strictEqual(mapped.length, 1, `frame ${frame} is still mapped at 0x${va.toString(16)} in one process`);
      break;
    }
    case 'leak': {
      const frames = Number(p.values.frames ?? 1n);
      for (let f = frame; f < frame + frames; f++) {
        assert.strictEqual(stateOf(d, f), 'used', `frame ${f} is used in the dump`);
        const maps = mappingsOf([current, ...spaces], BigInt(f) * 4096n);
        assert.ok(maps.every((m) => !m.user), `frame ${f} is in no process's user pages`);
        if (mmKernel(v.kernel).directBase === undefined) assert.deepStrictEqual(maps, [], `frame ${f} is mapped nowhere (the kernel has no direct map)`);
      }
      break;
    }
    case 'counter':
      break; // checkDump compared the counter with the runs
    case 'free-list-cycle':
    case 'free-list-outside-ram': {
      // The planted frame's next pointer, read from the RAM file: the direct-map address of `next`.
      const next = (await run.read(BigInt(frame) * 4096n, 8)).readBigUInt64LE(0);
      const base = mmKernel(v.kernel).directBase ?? 0n;
      const expected = base + (v.break === 'free-list-cycle' ? (p.values.next ?? 0n) * 4096n : p.values.next ?? 0n);
      assert.strictEqual(next, expected, `frame ${frame}'s next pointer`);
      if (v.break === 'free-list-cycle') assert.strictEqual(stateOf(d, Number(p.values.next)), 'free', 'it points back into the free list');
      break;
    }
    case 'double-free':
    case 'free-never-allocated':
      assert.ok(run.qemu.serialText.includes(`free_frame(${frame}): not allocated`), 'the kernel saw the bad free');
      break;
    default:
      assert.fail(`no oracle for ${String(v.break)}`);
  }
}

/** Which checkpoints must show the variant's fault: level-0 faults from boot on, the others at the last checkpoint. */
function plantedAt(v: MmVariant, seq: number): string[] {
  if (!v.break) return [];
  const b = MM_BREAKS[v.break];
  return b.level === 0 || seq === mmKernel(v.kernel).checkpoints ? [b.finding] : [];
}

describe('mm test kernels: boot, checkpoints, their own dumps', function () {
  this.timeout(120_000);
  for (const v of mmVariants()) {
    it(`${mmVariantId(v)} reaches its ${mmKernel(v.kernel).checkpoints} checkpoints with a consistent dump naming its planted fault`, async () => {
      const run = await bootMmKernel(v);
      try {
        for (let seq = 1; seq <= mmKernel(v.kernel).checkpoints; seq++) {
          const d = seq === 1 ? (run.dump as MmDump) : await run.runToCheckpoint(seq);
          assert.strictEqual(d.seq, seq);
          checkDump(v, d, (await run.registers()).cr3);
          assert.deepStrictEqual(d.planted.map((p) => p.kind), plantedAt(v, seq), `checkpoint ${seq}: planted faults`);
          if (d.planted.length) await checkPlantedFault(run, v, d);
        }
      } finally {
        await run.close();
      }
    });
  }
});

describe("mm test kernels: the walker's address space equals QEMU's info tlb at every checkpoint", function () {
  this.timeout(180_000);
  for (const kernel of mmKernelNames()) {
    it(`${kernel}: every page, physical address and flag; distinct CR3s at the checkpoints`, async () => {
      let run: MmKernelRun | undefined;
      try {
        run = await bootMmKernel({ kernel });
        const cr3s = new Set<bigint>();
        for (let seq = 1; seq <= mmKernel(kernel).checkpoints; seq++) {
          if (seq > 1) await run.runToCheckpoint(seq);
          const registers = await run.registers();
          cr3s.add(registers.cr3);
          const space = await walkSpace({ read: run.read, registers, stop: seq });
          assert.deepStrictEqual(space.findings.map((f) => f.text), [], 'the walk finds nothing wrong in a clean kernel');
          assert.deepStrictEqual(space.shared, [], 'no table is reached twice');
          const ours = walkedPages(space);
          const tlb = parseInfoTlb(await run.qmp.humanMonitorCommand('info tlb'));
          // QEMU 7.2's PAE info tlb leaves NX in its physical column (facts): 52 bits.
          const theirs = new Map(tlb.map((t) => [t.virtualExact, `${(t.physicalExact & ((1n << 52n) - 1n)).toString(16)} ${t.flags}`]));
          const differ = [...theirs].filter(([va, t]) => ours.get(va) !== t).slice(0, 8).map(([va, t]) => `${va.toString(16)}: QEMU ${t}, ours ${ours.get(va) ?? 'missing'}`);
          const extra = [...ours.keys()].filter((va) => !theirs.has(va)).slice(0, 8).map((va) => `${va.toString(16)}: ours ${ours.get(va)}, not in info tlb`);
          assert.deepStrictEqual([...differ, ...extra], [], `checkpoint ${seq}: pages that differ (QEMU lists ${theirs.size})`);
          assert.ok(theirs.size > 20, `checkpoint ${seq}: info tlb lists ${theirs.size} pages`);
          const users = [...theirs.values()].filter((t) => t.endsWith('UW')).length;
          assert.ok(users >= 2, `checkpoint ${seq}: the running process has user pages (${users})`);
        }
        assert.ok(cr3s.size >= 2, `checkpoints ran in ${cr3s.size} address space(s)`);
      } finally {
        await run?.close();
      }
    });
  }
});

describe('mm test kernels: the dump parser', () => {
  const good = [
    'noise before', 'mm begin 2 kernel=bitmap variant=clean', 'mm paging x86-32 cr3=0x144000 ram=0x2000000', 'mm current 2',
    'mm process 2 shell RUNNING dir=0x144000 struct=0x104020', 'mm allocator frames bitmap unit=4096 first=256 count=10',
    'mm frames frames 256 4 used', 'mm frames frames 260 6 free', 'mm counter frames bitmap_free 6', 'mm calls frames alloc_frame=12 free_frame=3', 'mm end 2 lines=10', 'mm done',
  ];
  it('reads every field of a whole dump', () => {
    const d = parseMmDump(good.join('\n'), 2);
    assert.deepStrictEqual([d.kernel, d.variant, d.paging, d.cr3, d.ramBytes, d.currentPid], ['bitmap', 'clean', 'x86-32', 0x144000n, 0x2000000, 2]);
    assert.deepStrictEqual(d.processes, [{ pid: 2, name: 'shell', state: 'RUNNING', directory: 0x144000n, address: 0x104020n }]);
    assert.deepStrictEqual(d.allocators[0].frames, [[256, 4, 'used'], [260, 6, 'free']]);
    assert.deepStrictEqual(d.allocators[0].counters, { bitmap_free: 6 });
    assert.deepStrictEqual(d.allocators[0].calls, { alloc_frame: 12, free_frame: 3 });
  });
  const broken: [string, (lines: string[]) => string[], RegExp][] = [
    ['an absent dump', (l) => l.filter((x) => !x.startsWith('mm begin')), /no "mm begin 2"/],
    ['a dump cut short', (l) => l.filter((x) => !x.startsWith('mm end')), /no end line/],
    ['a lost line', (l) => l.filter((x) => !x.startsWith('mm current')), /says 10 lines, there are 9/],
    ['runs that do not cover the allocator', (l) => l.map((x) => x.replace('260 6 free', '261 5 free')), /skip or overlap at frame 261/],
    ['a bad number', (l) => l.map((x) => x.replace('dir=0x144000', 'dir=144000')), /"144000" is not a hex number/],
    ['a foreign line inside', (l) => [...l.slice(0, 4), 'panic: x', ...l.slice(4)], /a foreign line inside the dump/],
  ];
  for (const [what, edit, message] of broken) {
    it(`says what is wrong with ${what}`, () => assert.throws(() => parseMmDump(edit(good).join('\n'), 2), message));
  }
});
