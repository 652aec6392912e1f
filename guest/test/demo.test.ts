// Boots the guest's demo workload (cmdline `demo`) for a while and checks that it keeps
// running: heartbeat lines with increasing numbers and no CPU fault. QEMU is killed after.

import * as assert from 'assert';
import { runGuest, QemuRunResult } from './qemu-run';
import { parseHeartbeat } from './selftest-output';

/** How long the demo runs; MMSCOPE_DEMO_SECONDS overrides the 150 s default (the issue asks for minutes). */
const DEMO_SECONDS = Number(process.env.MMSCOPE_DEMO_SECONDS ?? 150);
/** At least this many heartbeats (one per guest second) must appear: the guest ran the whole time. */
const MIN_HEARTBEATS = Math.max(3, Math.floor(DEMO_SECONDS / 5));

describe(`guest demo (${DEMO_SECONDS} s at -m 128)`, function () {
  this.timeout(DEMO_SECONDS * 1000 + 60_000);
  let run: QemuRunResult;

  before(async function () {
    run = await runGuest({
      cmdline: 'demo',
      memoryMiB: 128,
      timeLimitMs: DEMO_SECONDS * 1000,
      // A fault ends the demo; no need to wait for the rest of the time.
      stopWhen: (line) => line.startsWith('FAULT:'),
    });
  });

  function tail(): string {
    return run.lines.slice(-10).map((l) => `    | ${l}`).join('\n') +
      (run.stderr.trim() ? `\n  QEMU stderr: ${run.stderr.trim()}` : '');
  }

  it('prints no FAULT: line', function () {
    const faults = run.lines.filter((l) => l.startsWith('FAULT:'));
    assert.ok(faults.length === 0, `the demo faulted:\n${tail()}`);
  });

  it('keeps running until it is stopped', function () {
    assert.ok(run.timedOut,
      `QEMU ended by itself with status ${run.exitCode ?? 'none'} (signal ${run.signal ?? 'none'}) ` +
      `before ${DEMO_SECONDS} s:\n${tail()}`);
  });

  it(`prints at least ${MIN_HEARTBEATS} heartbeats with increasing numbers`, function () {
    const beats = run.lines.map(parseHeartbeat).filter((n): n is number => n !== null);
    assert.ok(beats.length >= MIN_HEARTBEATS,
      `${beats.length} heartbeat lines in ${DEMO_SECONDS} s (${run.lines.length} console lines):\n${tail()}`);
    const notIncreasing = beats.filter((n, i) => i > 0 && n <= beats[i - 1]);
    assert.ok(notIncreasing.length === 0, `heartbeat numbers do not increase: ${beats.join(', ')}`);
  });

  it('kills its faulting ring-3 processes and starts a replacement for each', function () {
    // guest/demo/user_demo.c: "user: pid N (ualloc) killed: ..." from the kernel, then the
    // supervisor's "user demo: pid N killed (exit_code 0x1VV), K killed so far; replacement pid M".
    const killed = run.lines.map((l) => /^user: pid (\d+) \(ualloc\) killed: /.exec(l)).filter((m) => m !== null).map((m) => Number(m[1]));
    const replaced = new Map<number, number>();
    for (const l of run.lines) {
      const m = /^user demo: pid (\d+) killed \(exit_code 0x1[0-9a-f]{2}\), \d+ killed so far; replacement pid (\d+)$/.exec(l);
      if (m) replaced.set(Number(m[1]), Number(m[2]));
    }
    assert.ok(killed.length >= 3, `${killed.length} user processes killed in ${DEMO_SECONDS} s:\n${tail()}`);
    // The last kill may come right before QEMU is stopped, before the supervisor's next look.
    const unreplaced = killed.slice(0, -1).filter((pid) => !(replaced.get(pid) ?? 0));
    assert.deepStrictEqual(unreplaced, [], 'killed user processes without a replacement');
  });
});
