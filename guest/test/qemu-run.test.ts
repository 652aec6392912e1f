// Tests of the QEMU boot helper: clear errors when QEMU or the kernel is missing, and
// QEMU really gone after a time limit or an early stop (real qemu-system-i386, real kernel).

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runGuest, defaultKernelPath, QemuNotFoundError, KernelNotFoundError, QemuRunResult } from './qemu-run';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('qemu-run', function () {
  this.timeout(60_000);

  it('rejects with KernelNotFoundError when the kernel image is missing', async function () {
    const missing = path.join(os.tmpdir(), `mmscope-no-such-kernel-${process.pid}.elf`);
    await assert.rejects(runGuest({ cmdline: 'selftest', memoryMiB: 16, timeLimitMs: 5000, kernelPath: missing }),
      (err: unknown) => err instanceof KernelNotFoundError && err.message.includes(missing));
  });

  it('rejects with QemuNotFoundError when the QEMU binary is missing', async function () {
    // Any existing file will do as the kernel: QEMU never starts.
    const kernel = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-'));
    const file = path.join(kernel, 'kernel.elf');
    fs.writeFileSync(file, '');
    try {
      await assert.rejects(
        runGuest({ cmdline: 'selftest', memoryMiB: 16, timeLimitMs: 5000, kernelPath: file,
          qemuBinary: 'mmscope-no-such-qemu' }),
        (err: unknown) => err instanceof QemuNotFoundError && /apt-get install/.test(err.message));
    } finally {
      fs.rmSync(kernel, { recursive: true, force: true });
    }
  });

  describe('with the real kernel', function () {
    before(function () {
      if (!fs.existsSync(defaultKernelPath())) {
        throw new Error(`${defaultKernelPath()} is missing; build the guest with "make -C guest".`);
      }
    });

    it('kills QEMU at the time limit and reports timedOut', async function () {
      const result: QemuRunResult = await runGuest({ cmdline: 'demo', memoryMiB: 32, timeLimitMs: 3000 });
      assert.strictEqual(result.timedOut, true, `QEMU ended by itself: status ${result.exitCode}`);
      assert.strictEqual(result.exitCode, null);
      assert.ok(result.signal, 'QEMU should have been ended by a signal');
      assert.strictEqual(processExists(result.pid), false, `QEMU pid ${result.pid} is still alive`);
    });

    it('stops QEMU as soon as the stop predicate matches', async function () {
      const result = await runGuest({
        cmdline: 'demo', memoryMiB: 32, timeLimitMs: 50_000,
        stopWhen: (line) => line.startsWith('mm: '),
      });
      assert.strictEqual(result.stoppedEarly, true, `no "mm: " line: ${result.lines.join(' / ')}`);
      assert.strictEqual(result.timedOut, false);
      assert.ok(result.lines.some((l) => l.startsWith('mm: ')));
      assert.strictEqual(processExists(result.pid), false, `QEMU pid ${result.pid} is still alive`);
    });
  });
});
