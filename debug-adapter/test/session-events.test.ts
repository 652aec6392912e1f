// The session's flight recorder (mm/plugin/session-events.ts) on the booted demo guest: at a stop
// the store holds every event since boot (the ring has not wrapped yet), numbered without gaps;
// while the guest runs the periodic drain reads the RAM file; at the next stop the store ends at
// the guest's head.

import * as assert from 'assert';
import { QemuInstance, QemuSession, launchQemu } from '../../qemu-bridge/src';
import { DebugSymbols } from '../src/symbols';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';
import { SessionEvents } from '../src/mm/plugin/session-events';
import { MmEventKind } from '../src/mm/model/mm-history-event';
import * as fs from 'fs';
import { KERNEL } from './guest-snapshot';

describe('session event recorder (real guest)', function () {
  this.timeout(180000);
  let qemu: QemuInstance;
  let session: QemuSession;

  before(async () => {
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
    session = await QemuSession.attachTo(qemu);
    await session.rsp!.continue();
    await qemu.waitForSerial(/heartbeat 1 /, 90000);
  });
  after(async () => {
    session?.rsp?.close();
    await qemu?.shutdown();
  });

  it('drains at stops and while running, every event since boot, nothing lost', async () => {
    const symbols = new DebugSymbols(fs.readFileSync(KERNEL));
    const sym = symbols.elf.symbolByName('mm_debug_info')!;
    const events = new SessionEvents((a, n) => session.memory.readPhys(a, n), symbols.virtualToLoad(sym.value)!, { running: () => session.memory.running, periodMs: 20 });
    const rsp = session.rsp!;
    try {
      await rsp.interrupt(10000);
      await events.atStop();
      const recorder = events.active;
      assert.ok(recorder, 'our guest has a ring');
      const head1 = await recorder.readHead();
      assert.ok(head1 > 0 && head1 < recorder.geometry.capacity, `head ${head1}: the ring has not wrapped yet`);
      assert.strictEqual(events.store.length, head1);
      assert.strictEqual(events.store.seqAt(0), 1);
      assert.ok(events.store.tscKhz > 0, 'tsc_khz measured at boot');
      await rsp.continue();
      const drains = recorder.stats.drains;
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(recorder.stats.drains > drains, 'drained while running (RAM file)');
      await rsp.interrupt(10000);
      await events.atStop();
      const head2 = await recorder.readHead();
      assert.ok(head2 > head1);
      assert.strictEqual(events.store.length, head2);
      assert.strictEqual(events.store.lostCount, 0);
      for (let i = 0; i < events.store.length; i++) assert.strictEqual(events.store.seqAt(i), i + 1);
      const kinds = new Set(Array.from({ length: events.store.length }, (_, i) => events.store.kindAt(i)));
      for (const k of [MmEventKind.allocated, MmEventKind.freed, MmEventKind.mapped, MmEventKind.switch]) assert.ok(kinds.has(k), `kind ${k} recorded`);
      await rsp.continue();
    } finally {
      await events.close();
    }
  });
});
