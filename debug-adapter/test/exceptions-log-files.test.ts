// QEMU's interrupt log switched on at run time and kept bounded (exceptions/interrupt-log-files.ts),
// on a real QEMU running our guest kernel (its ~1 kHz timer fills the log): the two files
// alternate at the limit, the tail parses into deliveries, `log none` stops the writes, and
// dispose removes the files.

import * as assert from 'assert';
import * as fs from 'fs';
import { launchQemu, QemuInstance, QemuSession } from '../../qemu-bridge/src';
import { InterruptLogFiles } from '../src/exceptions/interrupt-log-files';
import { parseInterruptLog } from '../src/exceptions/interrupt-log';
import { KERNEL } from './dap-fixture';

const LIMIT = 256 << 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const size = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : -1);

describe('exceptions: the interrupt log files (real QEMU, our guest)', function () {
  this.timeout(120_000);
  let instance: QemuInstance | undefined;
  let session: QemuSession | undefined;
  after(async () => {
    await session?.detach().catch(() => undefined);
    await instance?.shutdown(500);
  });

  it('alternates between two files at the limit, parses its tail, stops on `log none` and removes its files', async () => {
    assert.ok(fs.existsSync(KERNEL), `the guest kernel ${KERNEL} is missing; build it with make -C guest`);
    instance = await launchQemu({ kernel: KERNEL, cmdline: '', memoryMiB: 128 });
    session = await QemuSession.attachTo(instance);
    const qmp = session.qmp;
    assert.ok(qmp);
    const log = new InterruptLogFiles((line) => qmp.humanMonitorCommand(line), undefined, LIMIT);
    await log.start();
    const first = log.path;
    await qmp.cont();
    await instance.waitForSerial('heartbeat 1 ', 60_000);
    const seen = new Set<string>();
    let rotations = 0;
    for (let i = 0; i < 40 && rotations < 3; i++) {
      await sleep(100);
      if (await log.rotateIfLarge()) rotations++;
      seen.add(log.path);
    }
    assert.strictEqual(rotations, 3, 'the timer interrupts filled the log past the limit three times');
    assert.strictEqual(seen.size, 2);
    assert.ok(seen.has(first));
    const events = parseInterruptLog(log.tail());
    assert.ok(events.filter((e) => e.kind === 'delivered' && e.vector === 0x20).length > 10, 'timer interrupts in the tail');
    await log.stop();
    await sleep(200);
    const paths = [...seen];
    const sizes = paths.map(size);
    await sleep(500);
    assert.deepStrictEqual(paths.map(size), sizes, 'nothing is written after log none');
    log.dispose();
    assert.deepStrictEqual(paths.map(size), [-1, -1]);
  });
});
