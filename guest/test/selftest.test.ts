// Boots the guest's own tests (cmdline `selftest`) in QEMU and checks what they report:
// the plan, one ok line per test, the summary, the exit status, the required test names,
// and the block count the memory manager finds at several memory sizes.

import * as assert from 'assert';
import { runGuest, QemuRunResult } from './qemu-run';
import { parseSelftest, parseMmBlocks, lastNonBlankLine, SelftestReport } from './selftest-output';

/**
 * Guest tests that must exist and pass. Edit this list when the guest's test names change;
 * the guest prints every name on its own `test NAME ... ok` line.
 */
const REQUIRED_TESTS: readonly string[] = [
  // boot: higher half, memory map, the debugger's descriptor
  'boot.multiboot_memory', 'boot.higher_half', 'boot.debug_descriptor',
  // chains: every operation and its error paths
  'chain.alloc_free', 'chain.flags_only_on_head', 'chain.invalid_ids', 'chain.double_free_and_stale_id',
  'chain.bad_arguments', 'chain.out_of_memory', 'chain.resize_grow_and_shrink', 'chain.resize_contiguous_refused',
  'chain.freeze_swappable', 'chain.contiguous_dma', 'chain.page_physical', 'chain.owner_records',
  // mapping, the seed's own example, refusals, dirty bits
  'map.seed_example', 'map.kpd_pages_and_offset', 'map.upd_of_current_process', 'map.upd_of_another_space',
  'map.refusals', 'map.shrink_unmaps_tail', 'map.dirty_and_clean',
  // processes switched by the timer, UPD copied into the KPD
  'proc.timer_switches_upds',
  // defragmentation: a failing contiguous allocation made to work; contents and mappings kept; policy
  'defrag.makes_contiguous_allocation_succeed', 'defrag.compaction_keeps_mappings_and_data',
  'defrag.head_move_renames_chain', 'defrag.policy_runs_on_spread_and_fragmentation',
  // XMS, DPMI, DOS memory, ISA DMA buffers
  'xms.alloc_free', 'xms.lock_makes_contiguous', 'xms.move_conv_to_ext', 'xms.invalid_handle', 'xms.umb_not_implemented',
  'dpmi.alloc_free_maps_chain', 'dpmi.resize_moves_block', 'dpmi.lock_unlock_region', 'dpmi.free_invalid_handle',
  'dos.alloc_free', 'dos.free_coalesces_neighbours', 'dos.corrupt_mcb_detected', 'dma.buffer_sizes',
  // the virtual device that uses dirty bits, the kernel's Vector
  'vfb.scan_finds_written_pages', 'vector.push_at_remove', 'vector.process_table_is_a_vector',
  // 10,000 random operations with the invariant checker after each
  'stress.random_10k', 'stress.exhaustion',
];

/** QEMU exit status when the guest writes 0x10 to isa-debug-exit: every test passed. */
const EXIT_ALL_PASSED = 33;

/** Wall-clock limit of one selftest boot (TCG is slow; the machine is shared). */
const SELFTEST_LIMIT_MS = Number(process.env.MMSCOPE_SELFTEST_SECONDS ?? 300) * 1000;
const MOCHA_LIMIT_MS = SELFTEST_LIMIT_MS + 30_000;

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

describe('guest selftest (-m 64)', function () {
  this.timeout(MOCHA_LIMIT_MS);
  const memoryMiB = 64;
  let run: QemuRunResult;
  let report: SelftestReport;

  before(async function () {
    run = await runGuest({ cmdline: 'selftest', memoryMiB, timeLimitMs: SELFTEST_LIMIT_MS });
    report = parseSelftest(run.lines);
  });

  it('announces a plan, passes every planned test and exits with status 33', function () {
    assertCleanSelftest(run, report);
  });

  it('runs every required test and each passes', function () {
    const byName = new Map(report.cases.map((c) => [c.name, c]));
    const missing = REQUIRED_TESTS.filter((n) => !byName.has(n));
    assert.ok(missing.length === 0,
      `required guest tests not run: ${missing.join(', ')}\n  ran: ${[...byName.keys()].join(', ')}`);
    const failed = REQUIRED_TESTS.map((n) => byName.get(n)!).filter((c) => !c.ok).map((c) => c.line);
    assert.ok(failed.length === 0, `required guest tests failed:\n  ${failed.join('\n  ')}`);
  });

  it('reports a block count that matches -m 64', function () {
    assertBlocksMatchMemory(run, memoryMiB);
  });
});

for (const memoryMiB of [16, 3072]) {
  describe(`guest boot tests at -m ${memoryMiB} (selftest only=boot.)`, function () {
    this.timeout(MOCHA_LIMIT_MS);
    let run: QemuRunResult;
    let report: SelftestReport;

    before(async function () {
      run = await runGuest({ cmdline: 'selftest only=boot.', memoryMiB, timeLimitMs: SELFTEST_LIMIT_MS });
      report = parseSelftest(run.lines);
    });

    it('passes every boot test and exits with status 33', function () {
      assertCleanSelftest(run, report);
    });

    it('runs only tests named boot.*', function () {
      const others = report.cases.map((c) => c.name).filter((n) => !n.startsWith('boot.'));
      assert.ok(others.length === 0, `the only=boot. filter let other tests run: ${others.join(', ')}`);
    });

    it(`reports a block count that matches -m ${memoryMiB}`, function () {
      assertBlocksMatchMemory(run, memoryMiB);
    });
  });
}
