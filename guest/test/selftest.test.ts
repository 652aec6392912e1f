// Boots the guest's own tests (cmdline `selftest`) in QEMU at every RAM size of the matrix
// (16 MiB to 3 GiB, both ends included) and checks what they report: the plan, one ok line
// per test, the summary, the exit status, every test defined in the guest's C sources by
// name (so a deleted or renamed test fails here), the 10,000-operation stress, and the
// block count the memory manager finds.

import * as assert from 'assert';
import * as os from 'os';
import * as path from 'path';
import { runGuest, repoRoot, QemuRunResult } from './qemu-run';
import { parseSelftest, parseMmBlocks, lastNonBlankLine, SelftestReport } from './selftest-output';
import { guestTestsInSources, parseTestNames } from './guest-test-names';

/** QEMU exit status when the guest writes 0x10 to isa-debug-exit: every test passed. */
const EXIT_ALL_PASSED = 33;

/** RAM sizes (MiB) of the matrix; MMSCOPE_SELFTEST_SIZES="16,64" overrides. */
const MATRIX_MIB: readonly number[] = (process.env.MMSCOPE_SELFTEST_SIZES ?? '16,64,256,1024,2048,3072')
  .split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);

/** Boots run at once: two when the machine has two CPUs or more (MMSCOPE_SELFTEST_PARALLEL overrides). */
const PARALLEL = Math.max(1, Number(process.env.MMSCOPE_SELFTEST_PARALLEL ?? (os.cpus().length >= 2 ? 2 : 1)));

/** Wall-clock limit of one selftest boot (TCG is slow; the machine is shared). */
const SELFTEST_LIMIT_MS = Number(process.env.MMSCOPE_SELFTEST_SECONDS ?? 300) * 1000;
/** A size's boot may wait for the boots before it in the queue. */
const MOCHA_LIMIT_MS = SELFTEST_LIMIT_MS * Math.ceil(MATRIX_MIB.length / PARALLEL) + 30_000;

/** The operations the stress runs by default (guest/test/test_stress.c DEFAULT_OPS). */
const STRESS_OPS = 10_000;

/** Every test the guest's sources define: what each selftest boot must run and pass. */
const SOURCE_TESTS = guestTestsInSources(path.join(repoRoot(), 'guest'));

/** A few lines of context for assertion messages: how QEMU ended and the console's tail. */
function describeRun(run: QemuRunResult, tail = 15): string {
  const how = run.timedOut
    ? 'QEMU was killed at the time limit'
    : `QEMU exited with status ${run.exitCode ?? 'none'}${run.signal ? ` (signal ${run.signal})` : ''}`;
  const shown = run.lines.slice(-tail).map((l) => `    | ${l}`).join('\n');
  const stderr = run.stderr.trim() ? `\n  QEMU stderr: ${run.stderr.trim()}` : '';
  return `${how}; last ${Math.min(tail, run.lines.length)} of ${run.lines.length} console lines:\n${shown}${stderr}`;
}

function failingLines(report: SelftestReport): string[] {
  return [
    ...report.cases.filter((c) => !c.ok).map((c) => c.line),
    ...report.malformed.map((l) => `malformed: ${l}`),
    ...report.faults,
  ];
}

/** Checks plan, test lines, summary and exit status of a selftest boot. */
function assertCleanSelftest(run: QemuRunResult, report: SelftestReport): void {
  assert.ok(report.plan !== null, `no "selftest: plan N" line.\n${describeRun(run)}`);
  const plan = report.plan;
  assert.ok(plan > 0, `the plan announces ${plan} tests`);
  assert.ok(report.faults.length === 0, `the guest faulted:\n${describeRun(run)}`);
  const failing = failingLines(report);
  assert.ok(failing.length === 0, `${failing.length} failing or malformed test lines:\n  ${failing.join('\n  ')}`);
  assert.strictEqual(report.cases.length, plan,
    `the plan announces ${plan} tests but ${report.cases.length} test lines were printed.\n${describeRun(run)}`);
  const names = report.cases.map((c) => c.name);
  const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
  assert.ok(duplicates.length === 0, `test names printed more than once: ${duplicates.join(', ')}`);
  assert.strictEqual(lastNonBlankLine(run.lines), `selftest: ${plan} passed, 0 failed`,
    `the last console line is not the summary "selftest: ${plan} passed, 0 failed".\n${describeRun(run)}`);
  assert.strictEqual(run.timedOut, false, `the guest did not finish in time.\n${describeRun(run)}`);
  assert.strictEqual(run.exitCode, EXIT_ALL_PASSED,
    `expected QEMU exit status ${EXIT_ALL_PASSED} (all passed).\n${describeRun(run)}`);
}

/** Checks that every test of the sources ran and passed, and that nothing else ran. */
function assertEverySourceTestPassed(report: SelftestReport): void {
  const byName = new Map(report.cases.map((c) => [c.name, c]));
  const missing = SOURCE_TESTS.filter((t) => !byName.has(t.name)).map((t) => `${t.name} (${t.file})`);
  assert.ok(missing.length === 0, `${missing.length} tests defined in the guest sources were not run:\n  ${missing.join('\n  ')}`);
  const failed = SOURCE_TESTS.map((t) => byName.get(t.name)!).filter((c) => !c.ok).map((c) => c.line);
  assert.ok(failed.length === 0, `tests failed:\n  ${failed.join('\n  ')}`);
  const known = new Set(SOURCE_TESTS.map((t) => t.name));
  const unknown = report.cases.map((c) => c.name).filter((n) => !known.has(n));
  assert.ok(unknown.length === 0, `the guest ran tests no source defines (stale kernel image?): ${unknown.join(', ')}`);
  assert.strictEqual(report.plan, SOURCE_TESTS.length,
    `the guest plans ${report.plan} tests, the sources define ${SOURCE_TESTS.length}`);
}

/** Checks that the `mm: N blocks` line matches `memoryMiB`: blocks*16 KiB in [size-1 MiB, size]. */
function assertBlocksMatchMemory(run: QemuRunResult, memoryMiB: number): void {
  const mm = parseMmBlocks(run.lines);
  assert.ok(mm, `no "mm: N blocks of 16 KiB, F free" line.\n${describeRun(run)}`);
  const kib = mm.blocks * 16;
  assert.ok(kib >= (memoryMiB - 1) * 1024 && kib <= memoryMiB * 1024,
    `with -m ${memoryMiB} the guest reports ${mm.blocks} blocks (${kib} KiB); ` +
    `expected between ${(memoryMiB - 1) * 1024} and ${memoryMiB * 1024} KiB`);
  assert.ok(mm.free > 0 && mm.free <= mm.blocks, `free count ${mm.free} is not in 1..${mm.blocks}`);
}

/** One boot of the matrix, with its wall time. */
interface MatrixRun {
  run: QemuRunResult;
  report: SelftestReport;
  wallMs: number;
}

let matrix: Map<number, Promise<MatrixRun>> | undefined;
let matrixStarted = 0;

/** Starts every boot of the matrix (once), at most PARALLEL at a time, the largest first. */
function matrixRun(memoryMiB: number): Promise<MatrixRun> {
  if (!matrix) {
    matrixStarted = Date.now();
    const queue = [...MATRIX_MIB].sort((a, b) => b - a);
    const starts = new Map<number, () => void>();
    matrix = new Map(queue.map((m) => [m, new Promise<void>((go) => starts.set(m, go)).then(async () => {
      const t0 = Date.now();
      const run = await runGuest({ cmdline: 'selftest', memoryMiB: m, timeLimitMs: SELFTEST_LIMIT_MS });
      return { run, report: parseSelftest(run.lines), wallMs: Date.now() - t0 };
    })]));
    let next = 0;
    const launch = (): void => {
      if (next >= queue.length) return;
      const m = queue[next++];
      starts.get(m)!();
      matrix!.get(m)!.finally(launch).catch(() => undefined);
    };
    for (let i = 0; i < PARALLEL; i++) launch();
  }
  return matrix.get(memoryMiB)!;
}

describe('guest test names from the C sources', function () {
  it('parses TEST(group, name) definitions and ignores comments and the macro', function () {
    const names = parseTestNames([
      '#define TEST(group, name) \\',
      '/* TEST(not, this) */',
      'TEST(chain, alloc_free)',
      '  TEST( hheap , seed_example )',
      '// TEST(nor, that)',
      'x = TEST(inline, call);',
    ].join('\n'));
    assert.deepStrictEqual(names, ['chain.alloc_free', 'hheap.seed_example']);
  });

  it('finds the guest tests, each name defined once', function () {
    assert.ok(SOURCE_TESTS.length >= 100, `only ${SOURCE_TESTS.length} TEST definitions found under guest/`);
    for (const known of ['boot.multiboot_memory', 'map.seed_example', 'stress.random_10k', 'stress.exhaustion']) {
      assert.ok(SOURCE_TESTS.some((t) => t.name === known), `${known} not found in the sources`);
    }
    const names = SOURCE_TESTS.map((t) => t.name);
    const twice = SOURCE_TESTS.filter((t, i) => names.indexOf(t.name) !== i).map((t) => `${t.name} (${t.file})`);
    assert.ok(twice.length === 0, `tests defined more than once: ${twice.join(', ')}`);
  });
});

for (const memoryMiB of MATRIX_MIB) {
  describe(`guest selftest (-m ${memoryMiB})`, function () {
    this.timeout(MOCHA_LIMIT_MS);
    let run: QemuRunResult;
    let report: SelftestReport;

    before(async function () {
      ({ run, report } = await matrixRun(memoryMiB));
    });

    it('announces a plan, passes every planned test and exits with status 33', function () {
      assertCleanSelftest(run, report);
    });

    it('runs every test the guest sources define, by name, and each passes', function () {
      assertEverySourceTestPassed(report);
    });

    it(`runs the ${STRESS_OPS}-operation stress to its end`, function () {
      assert.ok(run.lines.some((l) => l.startsWith('stress: seed ') && l.includes(` ${STRESS_OPS} operations`)),
        `no "stress: seed N, ${STRESS_OPS} operations" line.\n${describeRun(run)}`);
      assert.ok(run.lines.some((l) => l.startsWith('stress: done,')), `no "stress: done" line.\n${describeRun(run)}`);
    });

    it(`reports a block count that matches -m ${memoryMiB}`, function () {
      assertBlocksMatchMemory(run, memoryMiB);
    });
  });
}

describe('guest selftest matrix timing', function () {
  this.timeout(MOCHA_LIMIT_MS);
  it(`ran ${MATRIX_MIB.length} sizes, ${PARALLEL} at a time`, async function () {
    const runs = await Promise.all(MATRIX_MIB.map(async (m) => [m, await matrixRun(m)] as const));
    const total = Date.now() - matrixStarted;
    // Reported, not asserted: wall times depend on the machine (figures in docs/benchmarks.md).
    console.log(`      selftest matrix: ${runs.map(([m, r]) => `${m} MiB ${(r.wallMs / 1000).toFixed(1)} s`).join(', ')}; ` +
      `wall ${(total / 1000).toFixed(1)} s with ${PARALLEL} at a time`);
    assert.strictEqual(runs.length, MATRIX_MIB.length);
  });
});

describe('guest selftest filter (selftest only=boot. at -m 16)', function () {
  this.timeout(SELFTEST_LIMIT_MS + 30_000);
  let run: QemuRunResult;
  let report: SelftestReport;

  before(async function () {
    run = await runGuest({ cmdline: 'selftest only=boot.', memoryMiB: 16, timeLimitMs: SELFTEST_LIMIT_MS });
    report = parseSelftest(run.lines);
  });

  it('passes every boot test and exits with status 33', function () {
    assertCleanSelftest(run, report);
  });

  it('runs exactly the boot.* tests of the sources', function () {
    const ran = report.cases.map((c) => c.name).sort();
    const want = SOURCE_TESTS.map((t) => t.name).filter((n) => n.startsWith('boot.')).sort();
    assert.deepStrictEqual(ran, want, 'the only=boot. filter ran another set of tests');
  });
});
