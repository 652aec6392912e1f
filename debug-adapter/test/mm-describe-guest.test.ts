// Our guest described by its built-in memory-model description (the general mechanism, not the
// descriptor): booted in QEMU, stopped through QMP, its described processes, chain-table block
// states and heap compared with the descriptor's snapshot and the kernel's own counters.

import * as assert from 'assert';
import * as fs from 'fs';
import { DebugSymbols } from '../src/symbols';
import { MmSnapshot } from '../src/mm/model/snapshot';
import { createDescriber } from '../src/mm/model/describer';
import { loadMemoryModel } from '../src/mm/model/memory-model-load';
import { DescribedState } from '../src/mm/model/described-state';
import { FrameRun, FrameAllocState } from '../src/mm/model/snapshot-document';
import { KERNEL, StoppedGuest, bootAndStop } from './guest-snapshot';
import { describeAccess } from './describe-access';

/** One character per 16 KiB block from 4 KiB frame runs (4 frames a block): '.' free, 'u' used, 'r' reserved. */
function blockLetters(runs: readonly FrameRun<FrameAllocState>[], blocks: number): string {
  const out = Buffer.alloc(blocks, '?');
  for (const [first, count, state] of runs) {
    for (let f = first; f < first + count; f += 4) out[f / 4] = (state === 'free' ? '.' : state === 'used' ? 'u' : 'r').charCodeAt(0);
  }
  return out.toString('latin1');
}

describe('describe: our guest through its built-in description', function () {
  this.timeout(180_000);
  let guest: StoppedGuest | undefined;
  let snap: MmSnapshot;
  let described: DescribedState;
  let heapUsed = 0;

  before(async function () {
    guest = await bootAndStop('demo', /heartbeat 3 /);
    snap = await guest.snapshot();
    const symbols = new DebugSymbols(new Uint8Array(fs.readFileSync(KERNEL)));
    const loaded = loadMemoryModel('builtin:mmscope-guest', '.');
    assert.deepStrictEqual(loaded.errors, []);
    assert.ok(loaded.description);
    const describer = createDescriber(loaded.description, symbols);
    assert.deepStrictEqual(describer.errors, []);
    described = await describer.evaluate(describeAccess(guest.read, guest.registers));
    const usedBytes = symbols.globalsNamed('used_bytes')[0];
    assert.ok(usedBytes);
    const at = symbols.elf.symbolByName('used_bytes');
    assert.ok(at);
    heapUsed = (await guest.read(at.value - 0xc0000000, 4)).readUInt32LE(0);
  });

  after(async function () {
    await guest?.close();
  });

  it('evaluates without a mistake or a finding on the clean demo', function () {
    assert.deepStrictEqual(described.errors, []);
    assert.deepStrictEqual(described.findings, []);
  });

  it('lists the processes of the descriptor snapshot: pid, name, state, the current one, the KPD as directory', function () {
    const ours = described.processes.map((p) => ({ pid: p.pid, name: p.name, state: p.state.replace(/^PROC_/, '').toLowerCase(), current: p.current, address: Number(p.address) }));
    const theirs = snap.processes.map((p) => ({ pid: p.pid, name: p.name, state: p.state, current: p.current, address: p.pcbAddress }));
    assert.deepStrictEqual(ours, theirs);
    assert.strictEqual(theirs.filter((p) => p.current).length, 1);
    for (const p of described.processes) assert.strictEqual(p.directoryPhys, BigInt(snap.geometry.kpdPhys));
  });

  it('gives every block the state the descriptor snapshot gives it', function () {
    const [chains] = described.allocators;
    assert.ok(chains);
    assert.strictEqual(chains.summary.shape, 'chain-table');
    assert.strictEqual(chains.summary.unitBytes, 16384);
    const expected = snap.blocks.map.replace(/[Cc]/g, 'u').replace(/[_FKD]/g, 'r').replace(/X/g, 'u');
    assert.strictEqual(blockLetters(chains.frames, snap.geometry.blockCount), expected);
    assert.deepStrictEqual(
      { total: chains.summary.total, free: chains.summary.free, used: chains.summary.used, reserved: chains.summary.reserved },
      { total: snap.geometry.blockCount, free: snap.blocks.free, used: snap.blocks.used + snap.blocks.corrupt, reserved: snap.blocks.reserved });
    assert.deepStrictEqual(chains.summary.counter, { expression: 'mm_free_blocks', value: snap.blocks.free, agrees: true });
  });

  it('walks the kernel heap: its used bytes (headers included) equal the kernel\'s used_bytes', function () {
    const [heap] = described.heaps;
    assert.ok(heap && heap.blocks.length > 1, `heap blocks: ${heap?.blocks.length}`);
    assert.strictEqual(heap.truncated, false);
    const used = heap.blocks.filter((b) => b.used);
    assert.strictEqual(heap.usedBytes + used.length * 16, heapUsed);
    assert.strictEqual(heap.blocks[0].address, 0xd0000010);
  });
});
