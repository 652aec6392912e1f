// The incremental builder on the real guest: `fill churn` (fill's ~960 page tables and a thread
// that keeps allocating, mapping, unmapping and freeing chains) runs ~100 ms between stops; at
// each stop the snapshot built with the SnapshotCache kept over all earlier stops is deep-equal
// to a cold one of the same stopped state. Also the demo (swapping, DOS tasks, ring-3 processes).

import * as assert from 'assert';
import { GdbstubTier, GuestMemory, RspClient, parseInfoRegisters } from '../../qemu-bridge/src';
import { SnapshotCache, buildSnapshot } from '../src/mm/model/snapshot';
import { StoppedGuest, bootAndStop } from './guest-snapshot';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reuse {
  reusedSome: boolean;
  /** Stops at which the block table was updated (only the chains holding a changed entry walked again). */
  tableUpdates: number;
  /** Stops at which ChainInfo objects / address-space walks were kept from the stop before. */
  chainsKept: number;
  walksKept: number;
}

async function compareOverStops(guest: StoppedGuest, stops: number): Promise<Reuse> {
  const cache = new SnapshotCache();
  let reusedSome = false;
  let tableUpdates = 0;
  let chainsKept = 0;
  let walksKept = 0;
  for (let i = 0; i < stops; i++) {
    if (i > 0) {
      await guest.qmp.cont();
      await sleep(100);
      await guest.qmp.stop();
    }
    const r = parseInfoRegisters(await guest.qmp.humanMonitorCommand('info registers'));
    const registers = { cr0: r.get('cr0') ?? 0, cr3: r.get('cr3') ?? 0, cr4: r.get('cr4') ?? 0 };
    const src = { read: guest.read, descriptorPhys: guest.descriptorPhys, registers };
    const incremental = await buildSnapshot(src, cache);
    const cold = await buildSnapshot(src);
    assert.deepStrictEqual(incremental, cold, `stop ${i}`);
    if (i > 0 && cache.lastReused > 0) reusedSome = true;
    if (i > 0 && cache.lastTable === 'updated') tableUpdates++;
    if (i > 0 && cache.lastChainsKept > 0) chainsKept++;
    if (i > 0 && cache.lastWalksKept > 0) walksKept++;
  }
  return { reusedSome, tableUpdates, chainsKept, walksKept };
}

describe('SnapshotCache on the real guest: incremental equals cold at every stop', function () {
  this.timeout(240_000);

  it('over 40 stops of fill churn, reusing unchanged tables, chains and walks', async function () {
    const guest = await bootAndStop('fill churn', /heartbeat 1 /);
    try {
      const r = await compareOverStops(guest, 40);
      assert.ok(r.reusedSome, 'fill\'s page tables are found unchanged between stops');
      // The churner changes the block table at (nearly) every stop: it is updated, not decoded whole,
      // and the chains it did not touch are the same objects as at the stop before.
      assert.ok(r.tableUpdates >= 20, `the block table was updated incrementally at ${r.tableUpdates} of 39 stops`);
      assert.ok(r.chainsKept >= 20, `chains were kept at ${r.chainsKept} of 39 stops`);
      assert.ok(r.walksKept >= 1, `address-space walks were kept at ${r.walksKept} of 39 stops`);
    } finally {
      await guest.close();
    }
  });

  it('over 15 stops of the demo', async function () {
    const guest = await bootAndStop('demo', /heartbeat 2 /);
    try {
      await compareOverStops(guest, 15);
    } finally {
      await guest.close();
    }
  });

  it('through the gdbstub alone (pipelined 2 KiB reads), with a cache, equals the RAM file\'s cold snapshot over 6 stops of fill churn', async function () {
    const guest = await bootAndStop('fill churn', /heartbeat 1 /);
    const rsp = await RspClient.connect(guest.qemu.gdb);
    try {
      const memory = new GuestMemory([new GdbstubTier(rsp)]);
      memory.setRunning(true); // no per-stop cache of the tier: every read goes to the gdbstub
      const cache = new SnapshotCache();
      for (let i = 0; i < 6; i++) {
        if (i > 0) {
          await guest.qmp.cont();
          await sleep(100);
          await guest.qmp.stop();
        }
        const r = parseInfoRegisters(await guest.qmp.humanMonitorCommand('info registers'));
        const registers = { cr0: r.get('cr0') ?? 0, cr3: r.get('cr3') ?? 0, cr4: r.get('cr4') ?? 0 };
        const viaGdb = await buildSnapshot({ read: (a, n) => memory.readPhys(a, n), descriptorPhys: guest.descriptorPhys, registers }, cache);
        const cold = await buildSnapshot({ read: guest.read, descriptorPhys: guest.descriptorPhys, registers });
        assert.deepStrictEqual(viaGdb, cold, `stop ${i}`);
      }
      assert.ok(rsp.pipelineWindow > 16, 'reads keep more than 16 packets in flight');
    } finally {
      rsp.close();
      await guest.close();
    }
  });
});
