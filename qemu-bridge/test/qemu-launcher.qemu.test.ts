// The launcher and the faults a user meets: startup, ports, missing QEMU or kernel, QEMU's own
// error text, RAM file removal, QEMU killed mid-read, the QMP socket closing, and the guarantee
// that no QEMU outlives its owner even when the owner is killed with SIGKILL.

import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import {
  ConnectionClosedError,
  KernelNotFoundError,
  launchQemu,
  PortInUseError,
  QemuNotFoundError,
  QemuSession,
  QemuStartupError,
  QmpClient,
  RspClient,
} from '../src';
import { buildTestImage, IMAGE } from './fixtures/test-image';
import { launchTestImage, startReadyImage } from './fixtures/qemu-fixture';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('QEMU launcher and faults', function () {
  this.timeout(60000);

  it('starts paused with both endpoints answering and a RAM file, and removes the file on shutdown', async () => {
    const q = await launchTestImage();
    try {
      assert.ok(q.ramPath && q.ramPath.startsWith('/dev/shm/'));
      assert.strictEqual(fs.statSync(q.ramPath).size, IMAGE.memoryMiB << 20);
      assert.strictEqual(q.gdb.host, '127.0.0.1');
      const qmp = await QmpClient.connect(q.qmp);
      assert.strictEqual((await qmp.queryStatus()).status, 'prelaunch');
      qmp.close();
      const rsp = await RspClient.connect(q.gdb);
      assert.strictEqual(rsp.wasRunningAtConnect, false);
      rsp.close();
    } finally {
      await q.shutdown();
    }
    assert.strictEqual(fs.existsSync(q.ramPath as string), false);
    assert.strictEqual(alive(q.pid), false);
  });

  it('attaches a sparse swap disk as the primary IDE master when asked, and removes it on shutdown', async () => {
    const q = await launchTestImage({ swapDiskMiB: 8 });
    const disk = q.swapDiskPath as string;
    try {
      assert.ok(disk && fs.existsSync(disk), 'the launcher made the disk file');
      assert.strictEqual(fs.statSync(disk).size, 8 << 20);
      assert.ok(fs.statSync(disk).blocks * 512 < 8 << 20, 'the file is sparse');
      const qmp = await QmpClient.connect(q.qmp);
      const block = await qmp.humanMonitorCommand('info block');
      qmp.close();
      assert.ok(block.includes(disk), `QEMU has the disk: ${block}`);
      assert.match(block, /ide0-hd0/);
    } finally {
      await q.shutdown();
    }
    assert.strictEqual(fs.existsSync(disk), false);
    const plain = await launchTestImage();
    try {
      assert.strictEqual(plain.swapDiskPath, undefined, 'no disk unless asked (other kernels launch as before)');
    } finally {
      await plain.shutdown();
    }
  });

  it('reports the guest exit status (isa-debug-exit) and removes the RAM file', async () => {
    const { qemu, qmp } = await startReadyImage();
    const rsp = await RspClient.connect(qemu.gdb);
    await rsp.writeRegister('eip', buildTestImage().symbol('exit_ok'));
    await rsp.continue();
    const exit = await qemu.exited;
    qmp.close();
    rsp.close();
    assert.strictEqual(exit.code, 33);
    assert.strictEqual(fs.existsSync(qemu.ramPath as string), false);
  });

  it('a missing qemu-system-i386 gives QemuNotFoundError', async () => {
    await assert.rejects(launchQemu({ kernel: buildTestImage().path, qemuBinary: 'qemu-system-i386-does-not-exist' }), (e: unknown) => {
      assert.ok(e instanceof QemuNotFoundError);
      assert.match(e.message, /was not found; install it with/);
      return true;
    });
  });

  it('a missing kernel gives KernelNotFoundError', async () => {
    await assert.rejects(launchQemu({ kernel: '/nonexistent/kernel.elf' }), (e: unknown) => e instanceof KernelNotFoundError && e.message === 'The kernel file /nonexistent/kernel.elf does not exist; build it first or pass another path with --kernel.');
  });

  it('a port already in use gives PortInUseError', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await assert.rejects(launchQemu({ kernel: buildTestImage().path, gdbPort: port, memoryMiB: 32 }), (e: unknown) => e instanceof PortInUseError && e.port === port);
    } finally {
      server.close();
    }
  });

  it("startup failure reports QEMU's own stderr and leaves no RAM file", async () => {
    const before = fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`mmscope-ram-${process.pid}-`));
    await assert.rejects(launchQemu({ kernel: buildTestImage().path, memoryMiB: 32, extraArgs: ['-device', 'no-such-device-xyz'] }), (e: unknown) => {
      assert.ok(e instanceof QemuStartupError);
      assert.match(e.message, /no-such-device-xyz/);
      return true;
    });
    const after = fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`mmscope-ram-${process.pid}-`));
    assert.deepStrictEqual(after, before);
  });

  it('QEMU killed in the middle of a gdbstub read gives ConnectionClosedError, and QMP closes too', async () => {
    const { qemu, qmp } = await startReadyImage();
    qmp.close();
    const session = await QemuSession.attach({ gdb: qemu.gdb, qmp: qemu.qmp });
    const rsp = session.rsp as RspClient;
    await rsp.setPhysicalMemoryMode(true);
    const reading = rsp.readMemory(0, 16 << 20, false);
    const qmpClosed = new Promise((r) => session.qmp?.onClose(r));
    setTimeout(() => qemu.kill('SIGKILL'), 30);
    await assert.rejects(reading, (e: unknown) => e instanceof ConnectionClosedError && /QEMU probably exited/.test(e.message));
    assert.ok((await qmpClosed) instanceof ConnectionClosedError);
    await assert.rejects((session.qmp as QmpClient).queryStatus(), ConnectionClosedError);
    await session.detach();
    await qemu.exited;
  });

  for (const mode of ['both', 'reaper', 'pdeathsig'] as const) {
    it(`no QEMU survives an owner killed with SIGKILL (guard: ${mode})`, async () => {
      const script = path.join(__dirname, 'fixtures', 'owner-process.js');
      const owner = spawn(process.execPath, [script, mode, buildTestImage().path, 'swap'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      owner.stderr.on('data', (c) => (err += c));
      const info = await new Promise<{ pid: number; ram: string; swap: string }>((resolve, reject) => {
        owner.stdout.on('data', (c) => {
          out += c;
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
        });
        owner.once('exit', () => reject(new Error(`owner exited early: ${err}`)));
      });
      assert.ok(alive(info.pid));
      assert.ok(fs.existsSync(info.ram));
      assert.ok(fs.existsSync(info.swap));
      owner.kill('SIGKILL');
      const gone = await waitFor(() => !alive(info.pid), 10000);
      if (!gone) process.kill(info.pid, 'SIGKILL');
      assert.ok(gone, 'QEMU outlived its owner');
      if (mode !== 'pdeathsig') {
        assert.ok(await waitFor(() => !fs.existsSync(info.ram), 10000), 'the RAM file outlived the owner');
        assert.ok(await waitFor(() => !fs.existsSync(info.swap), 10000), 'the swap disk outlived the owner');
      } else {
        fs.rmSync(info.ram, { force: true }); // without the reaper nobody removes it: the reason the reaper exists
        fs.rmSync(info.swap, { force: true });
      }
    });
  }
});
