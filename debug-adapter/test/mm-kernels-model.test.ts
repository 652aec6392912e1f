// Level 1 on the mm test kernels with descriptions a user wrote from docs/memory-model.md alone
// (fixtures-mm/<kernel>.model.json): at every checkpoint of every kernel the evaluated
// description's processes, every frame's allocator state, the counters, the buddy orders and the
// heap blocks equal the kernel's own dump; the snapshot document built with it has no level-1
// finding on a clean kernel, and each level-1 broken variant gets exactly the finding of its
// planted fault.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parseFlatMemoryMap } from '../../qemu-bridge/src';
import { loadDescriber } from '../src/mm/model/load-describer';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import type { DescribedState } from '../src/mm/model/described-state';
import type { PhysicalRegionJson } from '../src/mm/model/snapshot-document';
import { DebugSymbols } from '../src/symbols/debugSymbols';
import { MM_BREAKS, MM_DIR, mmKernel, mmKernelNames, MmKernelName, mmVariantId, MmVariant } from './fixtures-mm/build';
import { bootMmKernel, MmDump, MmKernelRun } from './fixtures-mm/mm-kernels';

const LEVEL1 = ['free-frame-mapped', 'frame-leaked', 'free-list-cycle', 'pointer-outside-ram', 'counter-mismatch', 'heap-corrupt', 'process-list-broken', 'free-frame-twice'];

async function describeAt(run: MmKernelRun, kernel: MmKernelName, regions: readonly PhysicalRegionJson[]): Promise<DescribedState> {
  const symbols = new DebugSymbols(fs.readFileSync(run.elf));
  const loaded = loadDescriber(`${kernel}.model.json`, MM_DIR, symbols);
  assert.deepStrictEqual(loaded.errors, [], 'the description loads without a mistake');
  const rsp = run.rsp;
  assert.ok(rsp);
  return loaded.describe({
    readVirtual: (address, length) => rsp.readMemory(Number(BigInt.asIntN(64, address)), length),
    readPhys: run.read,
    registers: await run.registers(),
    regions,
  });
}

/** The evaluated description against the kernel's dump: processes, frames, counters, orders, heaps. */
function compareWithDump(s: DescribedState, d: MmDump, arch: string): void {
  const procs = [...s.processes].sort((a, b) => a.pid - b.pid).map((p) => ({ pid: p.pid, name: p.name, state: p.state, directory: p.directoryPhys, address: p.address, current: p.current }));
  const want = [...d.processes].sort((a, b) => a.pid - b.pid).map((p) => ({ pid: p.pid, name: p.name, state: p.state, directory: p.directory, address: p.address, current: p.pid === d.currentPid }));
  assert.deepStrictEqual(procs, want, `checkpoint ${d.seq}: processes`);
  assert.strictEqual(s.allocators.length, d.allocators.length, 'one allocator per allocator of the dump');
  for (const [i, a] of d.allocators.entries()) {
    const ours = s.allocators[i];
    assert.strictEqual(ours.summary.name, a.name);
    assert.strictEqual(ours.summary.shape, a.shape);
    assert.deepStrictEqual(ours.frames, a.frames, `checkpoint ${d.seq}: ${a.name}'s frames`);
    const free = a.frames.filter((r) => r[2] === 'free').reduce((n, r) => n + r[1], 0);
    assert.deepStrictEqual([ours.summary.total, ours.summary.free], [a.count, free], `checkpoint ${d.seq}: ${a.name}'s totals`);
    const [counter] = Object.values(a.counters);
    assert.strictEqual(ours.summary.counter?.value, counter, `checkpoint ${d.seq}: ${a.name}'s counter`);
    if (a.freeByOrder) assert.deepStrictEqual(ours.summary.freeByOrder, a.freeByOrder, `checkpoint ${d.seq}: free blocks per order`);
  }
  const headerBytes = arch === 'x86-64' ? 16n : 12n;
  const heaps = Object.entries(d.heaps);
  assert.strictEqual(s.heaps.length, heaps.length, 'one heap per heap of the dump');
  for (const [i, [name, blocks]] of heaps.entries()) {
    const ours = s.heaps[i];
    assert.strictEqual(ours.name, name);
    // The document shows a block at its payload (header + headerBytes); the dump names the header.
    assert.deepStrictEqual(ours.blocks.map((b) => [BigInt(b.address), b.size, b.used]), blocks.map((b) => [b.address + headerBytes, b.size, b.used]), `checkpoint ${d.seq}: ${name}'s blocks`);
  }
}

async function regionsOf(run: MmKernelRun): Promise<PhysicalRegionJson[]> {
  return parseFlatMemoryMap(await run.qmp.humanMonitorCommand('info mtree -f')).map(({ base, size, kind, name }) => ({ base, size, kind, name }));
}

async function level1Findings(run: MmKernelRun, described: DescribedState, regions: readonly PhysicalRegionJson[], seq: number): Promise<string[]> {
  const doc = await buildSnapshotDocument({ read: run.read, registers: await run.registers(), regions, described, stop: seq });
  assert.strictEqual(doc.level, 1);
  return doc.findings.filter((f) => LEVEL1.includes(f.kind)).map((f) => `${f.kind}: ${f.message}`);
}

describe('level 1 on the mm test kernels, from descriptions written with docs/memory-model.md alone', function () {
  this.timeout(180_000);
  for (const kernel of mmKernelNames()) {
    it(`${kernel}: the description equals the kernel's own dump at every checkpoint, with no level-1 finding`, async () => {
      const run = await bootMmKernel({ kernel });
      try {
        const regions = await regionsOf(run);
        for (let seq = 1; seq <= mmKernel(kernel).checkpoints; seq++) {
          const d = seq === 1 ? (run.dump as MmDump) : await run.runToCheckpoint(seq);
          const s = await describeAt(run, kernel, regions);
          assert.deepStrictEqual(s.errors, [], `checkpoint ${seq}: no description mistake`);
          assert.deepStrictEqual(s.findings, [], `checkpoint ${seq}: no finding while decoding`);
          compareWithDump(s, d, run.machine.arch);
          assert.deepStrictEqual(await level1Findings(run, s, regions, seq), [], `checkpoint ${seq}: the document's level-1 findings`);
        }
      } finally {
        await run.close();
      }
    });
    for (const b of mmKernel(kernel).breaks.filter((x) => MM_BREAKS[x].level === 1)) {
      const v: MmVariant = { kernel, break: b };
      it(`${mmVariantId(v)}: exactly the ${MM_BREAKS[b].finding} finding at the last checkpoint`, async () => {
        const last = mmKernel(kernel).checkpoints;
        const run = await bootMmKernel(v, { checkpoint: last });
        try {
          const regions = await regionsOf(run);
          const s = await describeAt(run, kernel, regions);
          assert.deepStrictEqual(s.errors, []);
          const found = await level1Findings(run, s, regions, last);
          assert.deepStrictEqual([...new Set(found.map((f) => f.split(':')[0]))], [MM_BREAKS[b].finding], found.join('\n'));
        } finally {
          await run.close();
        }
      });
    }
    for (const b of mmKernel(kernel).breaks.filter((x) => MM_BREAKS[x].level === 2)) {
      it(`${mmVariantId({ kernel, break: b })}: no level-1 finding (the allocator's state is intact: only tracing sees a ${MM_BREAKS[b].finding})`, async () => {
        const last = mmKernel(kernel).checkpoints;
        const run = await bootMmKernel({ kernel, break: b }, { checkpoint: last });
        try {
          const regions = await regionsOf(run);
          const s = await describeAt(run, kernel, regions);
          compareWithDump(s, run.dump as MmDump, run.machine.arch);
          assert.deepStrictEqual(await level1Findings(run, s, regions, last), []);
        } finally {
          await run.close();
        }
      });
    }
  }
});

// The descriptions are the files a user would keep next to the kernel.
for (const kernel of mmKernelNames()) assert.ok(fs.existsSync(path.join(MM_DIR, `${kernel}.model.json`)), `${kernel}.model.json`);
