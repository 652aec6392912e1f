// Our guest's snapshot as the schema-3 document (the descriptor level): the demo guest stopped
// in QEMU, its MmSnapshot through buildSnapshotDocument with QEMU's memory map. Spaces `kernel`
// and `pid:<N>`, the current one equal to `info tlb`; processes with their space, directory and
// PCB; the chain table as the allocator layer (16 KiB units, four frames each, in the block
// table's states); page-table frames; no level-0 finding on the clean demo.

import * as assert from 'assert';
import { parseFlatMemoryMap, parseInfoTlb } from '../../qemu-bridge/src';
import { MmSnapshot } from '../src/mm/model/snapshot';
import { buildSnapshotDocument } from '../src/mm/model/system-snapshot';
import { snapshotToJson, ViewSnapshot } from '../src/mm/model/snapshot-json';
import { StoppedGuest, bootAndStop } from './guest-snapshot';
import { compareSpaceWithTlb } from './document-oracle';

const LEVEL0 = ['writable-executable', 'user-writable-kernel', 'writable-code-alias', 'user-maps-page-table', 'mapping-outside-ram', 'null-page-mapped', 'reserved-bits', 'unreadable-page-table'];

function stateAt<S extends string>(runs: readonly (readonly [number, number, S])[], f: number): S | undefined {
  return runs.find((r) => r[0] <= f && f < r[0] + r[1])?.[2];
}

describe('snapshot document of our demo guest (schema 3, descriptor level)', function () {
  this.timeout(120_000);
  let guest: StoppedGuest | undefined;
  let snap: MmSnapshot;
  let doc: ViewSnapshot;
  let tlbText = '';

  before(async function () {
    guest = await bootAndStop('demo', /heartbeat 3 /);
    tlbText = await guest.qmp.humanMonitorCommand('info tlb');
    const regions = parseFlatMemoryMap(await guest.qmp.humanMonitorCommand('info mtree -f'));
    snap = await guest.snapshot();
    const g = guest;
    const r = g.registers;
    doc = await buildSnapshotDocument({
      read: (a, n) => g.read(Number(a), n), registers: { cr0: BigInt(r.cr0), cr3: BigInt(r.cr3), cr4: BigInt(r.cr4), efer: 0n }, regions, guest: snap, stop: 4,
    });
  });

  after(async function () {
    await guest?.close();
  });

  it('is a schema-3 document at the descriptor level that keeps every guest section', () => {
    assert.deepStrictEqual([doc.schema, doc.level, doc.pagingMode, doc.stop], [3, 'descriptor', 'x86-32', 4]);
    assert.ok(doc.chains && doc.blocks && doc.kpd && doc.geometry && doc.counters && doc.kernelMappings);
    assert.strictEqual(doc.kpd?.length, 1024);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(doc)).schema, 3);
  });

  it('spaces kernel and pid:N; the current one equals info tlb page by page', () => {
    assert.deepStrictEqual(doc.spaces.map((s) => s.id), ['kernel', ...snap.processes.map((p) => `pid:${p.pid}`)]);
    const current = snap.processes.find((p) => p.current);
    assert.ok(current);
    assert.strictEqual(doc.currentSpace, `pid:${current.pid}`);
    const space = doc.spaces.find((s) => s.id === doc.currentSpace);
    assert.ok(space?.current && space.sources.includes('current') && space.sources.includes('process'));
    assert.deepStrictEqual(compareSpaceWithTlb(space, parseInfoTlb(tlbText), 'x86-32'), []);
    assert.ok(doc.spaces.every((s) => s.topTable === snap.geometry.kpdPhys && s.tables.includes(snap.geometry.kpdPhys)));
  });

  it('processes carry their space, the shared KPD and their PCB', () => {
    for (const p of doc.processes) {
      assert.ok(doc.spaces.some((s) => s.id === p.space && s.pid === p.pid));
      assert.strictEqual(p.directory, snap.geometry.kpdPhys);
      assert.strictEqual(p.address, p.pcb);
    }
  });

  it('the chain table is the allocator layer: four frames per block, in the block table\'s states', () => {
    assert.deepStrictEqual(doc.allocators, [{
      name: 'chain-table', shape: 'chain-table', unitBytes: 16384, total: snap.geometry.blockCount,
      free: snap.blocks.free, used: snap.blocks.used + snap.blocks.corrupt, reserved: snap.blocks.reserved,
    }]);
    const allocation = doc.frames.allocation ?? [];
    const want: Record<string, string> = { '.': 'free', C: 'used', c: 'used', X: 'used', _: 'reserved', F: 'reserved', K: 'reserved', D: 'reserved' };
    for (let b = 0; b < snap.blocks.map.length; b++) {
      for (let f = b * 4; f < b * 4 + 4; f++) assert.strictEqual(stateAt(allocation, f), want[snap.blocks.map[b]], `frame ${f} of block ${b}`);
    }
    assert.deepStrictEqual(doc.frames.allocationCounts, { free: snap.blocks.free * 4, used: (snap.blocks.used + snap.blocks.corrupt) * 4, reserved: snap.blocks.reserved * 4 });
  });

  it('frames: every page info tlb maps is mapped, the page tables are tables, RAM is known', () => {
    assert.strictEqual(doc.frames.ramKnown, true);
    for (const e of parseInfoTlb(tlbText)) {
      const bytes = e.large ? 0x400000 : 0x1000;
      for (let off = 0; off < bytes; off += 0x1000) {
        const s = stateAt(doc.frames.mapping, Math.floor((e.physical + off) / 4096));
        assert.ok(s === 'mapped' || s === 'multi' || s === 'table', `frame of 0x${(e.virtual + off).toString(16)}: ${s}`);
      }
    }
    for (const t of new Set(doc.spaces.flatMap((s) => s.tables))) assert.strictEqual(stateAt(doc.frames.mapping, t / 4096), 'table');
    const c = doc.frames.counts;
    assert.strictEqual(c.mapped + c.multi + c.table + c.unmapped + c['not-ram'], doc.frames.count);
  });

  it('no level-0 finding on the clean demo; without QEMU\'s map RAM is unknown', () => {
    assert.deepStrictEqual(doc.findings.filter((f) => LEVEL0.includes(f.kind)).map((f) => f.message), []);
    const bare = snapshotToJson(snap);
    assert.strictEqual(bare.frames.ramKnown, false);
    assert.strictEqual(bare.frames.counts['not-ram'], 0);
  });
});
