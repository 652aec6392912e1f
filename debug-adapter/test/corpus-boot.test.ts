// Sanity of the test corpus: every kernel of the gdb-comparison matrix builds (-Wall -Wextra
// -Werror), boots in QEMU with a VGA adapter (-vga std), prints its serial banner and the paging
// mode its control registers show (32-bit, PAE with NX, 4-level), sees the
// timer tick, runs its two worker threads to the end and leaves through isa-debug-exit with
// code 0 (QEMU's status 1). A kernel that faults prints "CPU exception" and exits with 3.

import * as assert from 'assert';
import { runGuest } from '../../guest/test/qemu-run';
import { BOOT_MATRIX, buildKernel, corpusMachine, CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, MATRIX, STYLES, variantId } from './corpus/build';

describe('corpus: every kernel boots and runs to its end', function () {
  this.timeout(120_000);
  for (const variant of BOOT_MATRIX) {
    it(`${variantId(variant)}: banner, paging, timer, workers, exit 0`, async () => {
      const kernel = buildKernel(variant);
      const { cpu, qemuBinary } = corpusMachine(variant);
      const run = await runGuest({
        kernelPath: kernel, cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, timeLimitMs: 60_000, extraArgs: [...CORPUS_QEMU_ARGS, ...(cpu ? ['-cpu', cpu] : [])], ...(qemuBinary ? { qemuBinary } : {}),
      });
      const text = run.lines.join('\n');
      assert.strictEqual(run.timedOut, false, `the kernel did not end within 60 s:\n${text}`);
      assert.strictEqual(run.lines[0], `corpus kernel ${variant.style} up`, `banner:\n${text}\n${run.stderr}`);
      assert.strictEqual(run.lines[1], `corpus: paging ${STYLES[variant.style].paging}`, `the paging mode (CR0/CR4/EFER):\n${text}`);
      const ticks = /^corpus: timer ok, ticks (\d+)$/.exec(run.lines[2] ?? '');
      assert.ok(ticks && Number(ticks[1]) >= 3, `the timer ticks:\n${text}`);
      assert.deepStrictEqual(run.lines.slice(3), ['corpus: workers start', 'corpus: done'], `the workers run to the end:\n${text}`);
      assert.strictEqual(run.exitCode, 1, `isa-debug-exit with code 0 gives QEMU status 1:\n${text}\n${run.stderr}`);
    });
  }
});

describe('corpus: the kernels need a VGA adapter', function () {
  this.timeout(120_000);
  it('without -vga std (only -nodefaults) the console finds no CRTC and the kernel says so', async () => {
    const variant = MATRIX[0];
    const run = await runGuest({ kernelPath: buildKernel(variant), cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, timeLimitMs: 60_000 });
    assert.deepStrictEqual(run.lines, [`corpus kernel ${variant.style} up`, 'corpus: no VGA text console (the CRTC cursor reads 0xffff)', 'corpus: failed'], run.stderr);
    assert.strictEqual(run.exitCode, (2 << 1) | 1);
  });
});

describe('corpus: the PAE kernels need a CPU with NX', function () {
  this.timeout(120_000);
  for (const variant of MATRIX.filter((v) => STYLES[v.style].paging === 'PAE, NX')) {
    it(`${variantId(variant)} on QEMU's default CPU (qemu32, no NX) says so and exits with 4`, async () => {
      const run = await runGuest({ kernelPath: buildKernel(variant), cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, timeLimitMs: 60_000, extraArgs: CORPUS_QEMU_ARGS });
      assert.deepStrictEqual(run.lines, ['corpus: the CPU has no NX (PAE styles need -cpu max or qemu32,+nx)'], run.stderr);
      assert.strictEqual(run.exitCode, (4 << 1) | 1);
    });
  }
});

describe('corpus: x86-64-direct-map needs a CPU with 1 GiB pages', function () {
  this.timeout(120_000);
  const variant = BOOT_MATRIX.find((v) => v.style === 'x86-64-direct-map');
  it('on QEMU\'s default qemu64 (no pdpe1gb) it says so and exits with 4', async () => {
    assert.ok(variant, 'x86-64-direct-map is in the boot matrix');
    const run = await runGuest({ kernelPath: buildKernel(variant), cmdline: '', memoryMiB: CORPUS_MEMORY_MIB, timeLimitMs: 60_000, extraArgs: CORPUS_QEMU_ARGS, qemuBinary: 'qemu-system-x86_64' });
    assert.deepStrictEqual(run.lines, ['corpus: the CPU has no 1 GiB pages (x86-64-direct-map needs -cpu max or qemu64,+pdpe1gb)'], run.stderr);
    assert.strictEqual(run.exitCode, (4 << 1) | 1);
  });
});
