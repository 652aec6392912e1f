// The QMP client against a real QEMU: greeting, status, stop/cont with events, system_reset,
// HMP commands, command errors, and quit (SHUTDOWN then the socket closes).

import * as assert from 'assert';
import { ConnectionClosedError, QemuInstance, QmpClient, QmpCommandError } from '../src';
import { launchTestImage, runUntilReady } from './fixtures/qemu-fixture';

describe('QMP client against QEMU (test image)', function () {
  this.timeout(60000);
  let qemu: QemuInstance;
  let qmp: QmpClient;
  before(async () => {
    qemu = await launchTestImage({ noReboot: false }); // so system_reset resets instead of exiting
    qmp = await QmpClient.connect(qemu.qmp);
  });
  after(async () => {
    qmp?.close();
    await qemu?.shutdown();
  });

  it('reads the greeting and starts in prelaunch under -S', async () => {
    assert.strictEqual(qmp.greeting?.version.major, 7);
    assert.ok(qmp.greeting?.capabilities.includes('oob'));
    assert.deepStrictEqual(await qmp.queryStatus(), { running: false, status: 'prelaunch' });
  });

  it('cont and stop change the status and emit RESUME and STOP', async () => {
    const resumed = qmp.waitForEvent('RESUME');
    await runUntilReady(qemu, qmp);
    await resumed;
    assert.deepStrictEqual(await qmp.queryStatus(), { running: true, status: 'running' });
    const stopped = qmp.waitForEvent('STOP');
    await qmp.stop();
    assert.ok((await stopped).timestampMs > 0);
    assert.deepStrictEqual(await qmp.queryStatus(), { running: false, status: 'paused' });
  });

  it('system_reset emits RESET with its reason', async () => {
    const reset = qmp.waitForEvent('RESET');
    await qmp.systemReset();
    assert.strictEqual((await reset).data.reason, 'host-qmp-system-reset');
  });

  it('runs HMP commands and reports unknown commands as QmpCommandError', async () => {
    assert.match(await qmp.humanMonitorCommand('info status'), /VM status/);
    await assert.rejects(qmp.execute('no-such-command'), (e: unknown) => e instanceof QmpCommandError && e.errorClass === 'CommandNotFound');
    await assert.rejects(qmp.pmemsave(0, 16, '/nonexistent-dir/x'), QmpCommandError);
  });

  it('quit emits SHUTDOWN, QEMU exits, and later commands get ConnectionClosedError', async () => {
    const events: string[] = [];
    const stream = (async () => {
      for await (const e of qmp.events()) events.push(e.event);
    })();
    await qmp.quit();
    await qemu.exited;
    await stream;
    assert.ok(events.includes('SHUTDOWN'));
    await assert.rejects(qmp.queryStatus(), ConnectionClosedError);
  });
});
