// Boots the guest's benchmarks (cmdline `bench`, -m 256) in QEMU and checks that every figure
// line appears once with a positive number and its unit, then `bench: done` and exit status 33.
// No timing assertions: the figures themselves go to docs/benchmarks.md (npm run bench:guest).

import * as assert from 'assert';
import { runGuest, QemuRunResult } from './qemu-run';
import { parseBench, BenchReport, GUEST_BENCH_FIGURES } from './bench-output';

/** QEMU exit status when the guest writes 0x10 to isa-debug-exit. */
const EXIT_SUCCESS = 33;
/** Wall-clock limit of the boot (a few seconds normally; TCG on a shared machine is slow). */
const BENCH_LIMIT_MS = Number(process.env.MMSCOPE_BENCH_SECONDS ?? 240) * 1000;

describe('guest bench (-m 256)', function () {
  this.timeout(BENCH_LIMIT_MS + 30_000);
  let run: QemuRunResult;
  let report: BenchReport;

  before(async function () {
    run = await runGuest({
      cmdline: 'bench',
      memoryMiB: 256,
      timeLimitMs: BENCH_LIMIT_MS,
      stopWhen: (line) => line.startsWith('FAULT:'),
    });
    report = parseBench(run.lines);
  });

  function tail(): string {
    return run.lines.slice(-12).map((l) => `    | ${l}`).join('\n') +
      (run.stderr.trim() ? `\n  QEMU stderr: ${run.stderr.trim()}` : '');
  }

  it('prints no FAULT: line and no malformed bench line', function () {
    assert.deepStrictEqual(report.faults, [], `the guest faulted:\n${tail()}`);
    assert.deepStrictEqual(report.malformed, [], `malformed bench lines:\n${tail()}`);
  });

  it('prints every figure once, positive and in its unit', function () {
    for (const want of GUEST_BENCH_FIGURES) {
      const found = report.figures.filter((f) => f.name === want.name);
      assert.strictEqual(found.length, 1, `"bench ${want.name} ..." printed ${found.length} times:\n${tail()}`);
      assert.strictEqual(found[0].unit, want.unit, `unit of ${want.name}: ${found[0].line}`);
      assert.ok(Number.isFinite(found[0].value) && found[0].value > 0, `${want.name} is not positive: ${found[0].line}`);
    }
    const unknown = report.figures.filter((f) => !GUEST_BENCH_FIGURES.some((w) => w.name === f.name));
    assert.deepStrictEqual(unknown.map((f) => f.line), [], 'figures this test does not know');
  });

  it('moves at most the 4096 blocks of the scattered movable chains', function () {
    const moved = report.figures.find((f) => f.name === 'defrag_64mib_moved');
    assert.ok(moved, `no defrag_64mib_moved line:\n${tail()}`);
    assert.ok(Number.isInteger(moved.value) && moved.value <= 4096, moved.line);
  });

  it('ends with "bench: done" and exit status 33', function () {
    assert.ok(report.done, `no "bench: done" line:\n${tail()}`);
    assert.strictEqual(run.timedOut, false, `the guest did not finish in time:\n${tail()}`);
    assert.strictEqual(run.exitCode, EXIT_SUCCESS, `QEMU exit status ${run.exitCode}:\n${tail()}`);
  });
});
