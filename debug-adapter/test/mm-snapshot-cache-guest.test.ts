// The incremental builder on the real guest: `fill churn` (fill's ~960 page tables and a thread
// that keeps allocating, mapping, unmapping and freeing chains) runs ~100 ms between stops; at
// each stop the snapshot built with the SnapshotCache kept over all earlier stops is deep-equal
// to a cold one of the same stopped state. Also the demo (swapping, DOS tasks, ring-3 processes).

import * as assert from 'assert';
import { parseInfoRegisters } from '../../qemu-bridge/src';
import { SnapshotCache, buildSnapshot } from '../src/mm/model/snapshot';
import { StoppedGuest, bootAndStop } from './guest-snapshot';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function compareOverStops(guest: StoppedGuest, stops: number): Promise<{ reusedSome: boolean }> {
  const cache = new SnapshotCache();
  let reusedSome = false;
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
  }
  return { reusedSome };
}

describe('SnapshotCache on the real guest: incremental equals cold at every stop', function () {
  this.timeout(240_000);

  it('over 25 stops of fill churn, reusing unchanged tables', async function () {
    const guest = await bootAndStop('fill churn', /heartbeat 1 /);
    try {
      const { reusedSome } = await compareOverStops(guest, 25);
      assert.ok(reusedSome, 'fill\'s page tables are found unchanged between stops');
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
});
