// Inlined and tail-call frames as gdb 13 shows them, on one -O2 corpus kernel (fib inlined into itself, the
// rotate/always_inline helpers, tail_a/tail_b): the seeded plan runs in gdb and in the adapter,
// and every breakpoint stop (function breakpoints on inlined copies, line breakpoints inside
// inlined code) and every stepi must show gdb's frames: the inlined calls gdb hides at the stop
// pc are hidden, a breakpoint's own inlined copy is shown, stepi hides none.

import * as assert from 'assert';
import { VariantReport, compareVariant, DEFAULT_OPTIONS, formatReport } from './corpus/compare';

describe('corpus: inlined frames at breakpoint stops and after stepi agree with gdb (higher-half-c0 -O2)', function () {
  this.timeout(240_000);
  let report: VariantReport;
  let text: string;
  before(async () => {
    report = await compareVariant({ style: 'higher-half-c0', opt: 'O2', framePointer: true }, DEFAULT_OPTIONS, 6);
    text = formatReport(report);
  });

  it('no breakpoint stop and no stepi differs from gdb', () => {
    assert.strictEqual(report.aborted, undefined, text);
    assert.ok(report.stops.compared >= 100, text);
    assert.strictEqual(report.stops.disagreed, 0, text);
    assert.ok(report.steps.stepi.compared >= 200, text);
    assert.strictEqual(report.steps.stepi.disagreed, 0, text);
  });

  // fib inlined into itself: `next` from line 45 steps through the nested inlined copies to line
  // 46 (not to the exits of line 45's code, nor to the start of a nested copy); `finish` out of an
  // inlined copy runs on past the copies that begin inside it; `next` over yield() in
  // compute_with_yield comes back in its own frame, not the other thread's.
  it('no next and no finish differs from gdb (fib inlined into itself, yield)', () => {
    assert.strictEqual(report.aborted, undefined, text);
    assert.ok(report.steps.next.compared >= 200, text);
    assert.strictEqual(report.steps.next.disagreed, 0, text);
    assert.ok(report.steps.finish.compared >= 300, text);
    assert.strictEqual(report.steps.finish.disagreed, 0, text);
  });
});

describe('corpus: tail-call frames agree with gdb (higher-half-80 -Os)', function () {
  this.timeout(240_000);
  it('every backtrace shows the frames gdb adds for tail calls (pick_op jumping to apply)', async () => {
    const report = await compareVariant({ style: 'higher-half-80', opt: 'Os', framePointer: true }, DEFAULT_OPTIONS, 6);
    const text = formatReport(report);
    assert.strictEqual(report.aborted, undefined, text);
    assert.ok(report.stops.compared >= 100, text);
    assert.strictEqual(report.byField.backtrace ?? 0, 0, text);
  });
});
