// Level 1 on the mm test kernels (fixtures-mm, docs/testing-mm-kernels.md), kernels that are not
// ours: each kernel's memory-model description (fixtures-mm/<kernel>.model.json, written from
// docs/memory-model.md alone), evaluated at every checkpoint on real QEMU, gives
// exactly what the kernel's own serial dump says: every frame's allocator state, the counters,
// buddy orders, the process list (pid, name, state, directory, struct, the running one) and the
// heap; clean kernels have no finding and no description error, and the broken variants of the
// structural faults (free-list cycle, pointer outside RAM, counter) get their finding.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugSymbols } from '../src/symbols';
import { createDescriber, Describer } from '../src/mm/model/describer';
import { loadMemoryModel } from '../src/mm/model/memory-model-load';
import { DescribedState } from '../src/mm/model/described-state';
import { FrameAllocState, FrameRun } from '../src/mm/model/snapshot-document';
import { mmKernel, mmKernelNames, MmKernelName, MmVariant } from './fixtures-mm/build';
import { bootMmKernel, MmDump, MmKernelRun } from './fixtures-mm/mm-kernels';
import { describeAccess } from './describe-access';

/** The kernels' descriptions, written by the kernels' author from docs/memory-model.md alone. */
const DESCRIPTIONS = path.join(__dirname, '..', '..', '..', 'debug-adapter', 'test', 'fixtures-mm');

/** Runs merged: adjacent runs of one state become one. */
function merged(runs: readonly FrameRun<FrameAllocState>[]): [number, number, FrameAllocState][] {
  const out: [number, number, FrameAllocState][] = [];
  for (const [first, count, state] of runs) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === first && last[2] === state) last[1] += count;
    else out.push([first, count, state]);
  }
  return out;
}

function describerFor(kernel: MmKernelName, elf: string): Describer {
  const loaded = loadMemoryModel(`${kernel}.model.json`, DESCRIPTIONS);
  assert.deepStrictEqual(loaded.errors, [], `${kernel}'s description`);
  assert.ok(loaded.description);
  const describer = createDescriber(loaded.description, new DebugSymbols(new Uint8Array(fs.readFileSync(elf))));
  assert.deepStrictEqual(describer.errors, []);
  return describer;
}

async function evaluateAt(run: MmKernelRun, describer: Describer): Promise<DescribedState> {
  return describer.evaluate(describeAccess((a, n) => run.read(BigInt(a), n), await run.registers()));
}

/** The described state equals the kernel's own dump. */
function compareWithDump(kernel: MmKernelName, s: DescribedState, d: MmDump, headerBytes: number): void {
  const at = `${kernel} checkpoint ${d.seq}`;
  assert.deepStrictEqual(
    s.processes.map((p) => ({ pid: p.pid, name: p.name, state: p.state, directory: p.directoryPhys ?? 0n, address: p.address })).sort((a, b) => a.pid - b.pid),
    d.processes.map((p) => ({ pid: p.pid, name: p.name, state: p.state, directory: p.directory, address: p.address })).sort((a, b) => a.pid - b.pid),
    `${at}: processes`);
  assert.deepStrictEqual(s.processes.filter((p) => p.current).map((p) => p.pid), d.currentPid ? [d.currentPid] : [], `${at}: the running process`);
  assert.deepStrictEqual(s.allocators.map((a) => a.summary.name), d.allocators.map((a) => a.name), `${at}: allocators`);
  for (const theirs of d.allocators) {
    const ours = s.allocators.find((a) => a.summary.name === theirs.name);
    assert.ok(ours);
    assert.strictEqual(ours.summary.shape, theirs.shape);
    assert.deepStrictEqual(merged(ours.frames), merged(theirs.frames), `${at}: ${theirs.name}'s frames`);
    for (const [, value] of Object.entries(theirs.counters)) assert.strictEqual(ours.summary.counter?.value, value, `${at}: ${theirs.name}'s counter`);
    if (theirs.freeByOrder) assert.deepStrictEqual(ours.summary.freeByOrder, theirs.freeByOrder, `${at}: free blocks per order`);
  }
  assert.deepStrictEqual(s.heaps.map((h) => h.name), Object.keys(d.heaps), `${at}: heaps`);
  for (const h of s.heaps) {
    const theirs = d.heaps[h.name];
    assert.ok(theirs);
    assert.deepStrictEqual(h.blocks.map((b) => ({ address: BigInt(b.address) - BigInt(headerBytes), size: b.size, used: b.used })), theirs.map((b) => ({ ...b })), `${at}: heap ${h.name}`);
    assert.strictEqual(h.truncated, false);
  }
}

describe('describe: the mm test kernels through their descriptions, against their own dumps', function () {
  this.timeout(300_000);

  for (const kernel of mmKernelNames()) {
    const info = mmKernel(kernel);
    it(`${kernel} (${info.shape}): every checkpoint equals the kernel's dump, with no finding and no mistake`, async () => {
      const run = await bootMmKernel({ kernel });
      try {
        const describer = describerFor(kernel, run.elf);
        for (let seq = 1; seq <= info.checkpoints; seq++) {
          const dump = seq === 1 ? run.dump : await run.runToCheckpoint(seq);
          assert.ok(dump);
          const s = await evaluateAt(run, describer);
          assert.deepStrictEqual(s.errors, [], `${kernel} checkpoint ${seq}`);
          assert.deepStrictEqual(s.findings, [], `${kernel} checkpoint ${seq}`);
          compareWithDump(kernel, s, dump, run.machine.arch === 'x86-64' ? 16 : 12);
        }
      } finally {
        await run.close();
      }
    });
  }

  const broken: { variant: MmVariant; kind: string }[] = [];
  for (const kernel of mmKernelNames()) {
    for (const b of mmKernel(kernel).breaks) {
      if (b === 'counter') broken.push({ variant: { kernel, break: b }, kind: 'counter-mismatch' });
      if (b === 'free-list-cycle') broken.push({ variant: { kernel, break: b }, kind: 'free-list-cycle' });
      if (b === 'free-list-outside-ram') broken.push({ variant: { kernel, break: b }, kind: 'pointer-outside-ram' });
    }
  }
  for (const { variant, kind } of broken) {
    it(`${variant.kernel} ${variant.break}: ${kind} at the last checkpoint, and only it`, async () => {
      const info = mmKernel(variant.kernel);
      const run = await bootMmKernel(variant, { checkpoint: info.checkpoints });
      try {
        const s = await evaluateAt(run, describerFor(variant.kernel, run.elf));
        assert.deepStrictEqual(s.errors, []);
        assert.deepStrictEqual(s.findings.map((f) => f.kind), [kind], JSON.stringify(s.findings));
        assert.ok(run.dump?.planted.some((p) => p.kind === kind), `the kernel planted ${kind}`);
        if (kind === 'counter-mismatch') {
          const planted = run.dump?.planted.find((p) => p.kind === kind);
          const [a] = s.allocators;
          assert.strictEqual(BigInt(a.summary.counter?.value ?? -1), planted?.values.counter);
          assert.strictEqual(BigInt(a.summary.free), planted?.values.actual);
        }
      } finally {
        await run.close();
      }
    });
  }
});
