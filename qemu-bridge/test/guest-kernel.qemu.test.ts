// The bridge against our real guest (guest/build/kernel.elf, cmdline `demo`): boot it, let it
// print heartbeats, attach, and read its higher-half kernel (mm_debug_info) through our page
// walker, checked against QEMU's info tlb and pmemsave. Fails, saying how to build it, when the guest is missing.

import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { launchQemu, parseInfoTlb, QemuInstance, QemuSession, QmpClient } from '../src';
import { GUEST_KERNEL, requireGuestKernel } from './fixtures/guest-kernel';

const KERNEL = GUEST_KERNEL;

describe('bridge against the guest kernel (demo)', function () {
  this.timeout(90000);
  let qemu: QemuInstance | undefined;
  let session: QemuSession | undefined;

  before(() => {
    requireGuestKernel(KERNEL);
  });
  after(async () => {
    await session?.detach();
    await qemu?.shutdown();
  });

  it('boots, prints heartbeats, and mm_debug_info reads the same through our walker and through QEMU', async () => {
    const nm = execFileSync('nm', [KERNEL], { encoding: 'latin1' });
    const m = /^([0-9a-f]+) \w mm_debug_info$/m.exec(nm);
    assert.ok(m, 'the kernel exports mm_debug_info');
    const symbol = parseInt(m[1], 16);
    qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 128 });
    const boot = await QmpClient.connect(qemu.qmp);
    await boot.cont();
    boot.close();
    await qemu.waitForSerial(/heartbeat \d+/, 60000);
    assert.match(qemu.serialText, /mm: \d+ blocks of 16 KiB, \d+ free/);
    session = await QemuSession.attachTo(qemu);
    assert.strictEqual(session.wasRunningAtAttach, true);
    const cr3 = await session.cr3();
    const ours = await session.memory.readVirt(symbol, 64, cr3);
    const qmp = session.qmp as QmpClient;
    const page = parseInfoTlb(await qmp.humanMonitorCommand('info tlb')).find((e) => {
      const size = e.large ? 4 << 20 : 4096;
      return symbol >= e.virtual && symbol < e.virtual + size;
    });
    assert.ok(page, 'QEMU maps mm_debug_info');
    const file = `${qemu.ramPath}.oracle`;
    await qmp.pmemsave(page.physical + (symbol - page.virtual), 64, file);
    const theirs = fs.readFileSync(file);
    fs.rmSync(file);
    assert.ok(ours.equals(theirs));
    assert.ok(ours.some((b) => b !== 0), 'the descriptor is not all zeros');
  });
});
