// The injected faults are still found live: for every kind of mm-findings-injected.test.ts, the
// demo boots with `inject=KIND`, keeps running, and the live reader (the seqlock read the
// session's live snapshots and `mmscope serve` use) reads a snapshot from the RAM file while it
// runs: the injected finding must be in that running-guest snapshot, and nothing unexplained.

import * as assert from 'assert';
import { QemuSession, launchQemu } from '../../qemu-bridge/src';
import { LiveReader } from '../src/mm/plugin/live-reader';
import { pagingRegistersOf } from '../src/mm/plugin/stop-snapshot';
import { INJECTED_CASES } from './injected-cases';
import { KERNEL, descriptorPhysOf } from './guest-snapshot';
import { guestSwapDiskMiB } from '../src/session/guest-kernel';

describe('mm findings on deliberately broken guests, read live (running guest)', function () {
  this.timeout(120_000);
  for (const [kind, expected] of INJECTED_CASES) {
    it(`finds ${expected[0]} live after inject=${kind}`, async function () {
      const qemu = await launchQemu({ kernel: KERNEL, cmdline: `demo inject=${kind}`, memoryMiB: 32, swapDiskMiB: guestSwapDiskMiB(KERNEL) });
      const session = await QemuSession.attachTo(qemu);
      try {
        const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
        await rsp.continue();
        await qemu.waitForSerial(/heartbeat 1 t=\d+ms injected=/, 90_000);
        await rsp.interrupt();
        const registers = pagingRegistersOf(await rsp.readRegisters());
        await rsp.continue();
        assert.ok(rsp.running, 'the guest runs while the snapshot is read');
        const reader = new LiveReader();
        const snap = await reader.take(
          { read: (a, n) => session.memory.readPhys(a, n), registers, stop: -1, live: true },
          { descriptor: { descriptorPhys: descriptorPhysOf() } },
        );
        assert.ok(rsp.running, 'still running: the snapshot was live');
        assert.strictEqual(snap.document.live, true);
        const findings = snap.guest?.findings ?? [];
        assert.ok(findings.some((f) => f.kind === expected[0]), `no ${expected[0]} finding live; got ${JSON.stringify(findings.map((f) => f.message))}`);
        const unexplained = findings.filter((f) => !expected.includes(f.kind));
        assert.deepStrictEqual(unexplained.map((f) => f.message), [], 'findings the injection does not explain');
        assert.strictEqual(reader.stats.checked, 1, 'read under the seqlock');
      } finally {
        session.rsp?.close();
        session.qmp?.close();
        if (qemu.alive) qemu.kill('SIGKILL');
        await qemu.exited;
      }
    });
  }
});
