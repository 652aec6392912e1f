// Inlined and tail-call frames as gdb 13 shows them, on one -O2 corpus kernel (fib inlined into itself, the
// rotate/always_inline helpers, tail_a/tail_b): the seeded plan runs in gdb and in the adapter,
// and every breakpoint stop (function breakpoints on inlined copies, line breakpoints inside
// inlined code) and every stepi must show gdb's frames: the inlined calls gdb hides at the stop
// pc are hidden, a breakpoint's own inlined copy is shown, stepi hides none.

import * as assert from 'assert';
import { buildKernel } from './corpus/build';
import { compareVariant, DEFAULT_OPTIONS, disagreements, formatReport, summarise, variantSeed } from './corpus/compare';
import { runDapSide } from './corpus/dap-side';
import { runGdbSide } from './corpus/gdb-side';
import { makePlan, Plan, PlannedStop } from './corpus/plan';

describe('corpus: inlined frames at breakpoint stops and after stepi agree with gdb (higher-half-c0 -O2)', function () {
  this.timeout(240_000);
  it('no breakpoint stop and no stepi differs from gdb', async () => {
    const report = await compareVariant({ style: 'higher-half-c0', opt: 'O2', framePointer: true }, DEFAULT_OPTIONS, 6);
    const text = formatReport(report);
    assert.strictEqual(report.aborted, undefined, text);
    assert.ok(report.stops.compared >= 100, text);
    assert.strictEqual(report.stops.disagreed, 0, text);
    assert.ok(report.steps.stepi.compared >= 200, text);
    assert.strictEqual(report.steps.stepi.disagreed, 0, text);
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

describe('corpus: next and finish through the nested inlined tail calls tail_a/tail_b agree with gdb (higher-half-c0 -O2)', function () {
  this.timeout(240_000);
  it('every stop of the plan stops that break in tail_a/tail_b (work.c 104-114) is gdb\'s', async () => {
    // gcc inlines tail_b into tail_a and tail_a into that copy, several levels deep. gdb's "stepped
    // into inlined function" applies only when the frame stepped (inline depth included) is the one
    // with the hidden calls; hidden calls deeper than it are stepped through like any inlined code.
    const variant = { style: 'higher-half-c0', opt: 'O2', framePointer: true } as const;
    const kernel = buildKernel(variant);
    const full = makePlan(kernel, { ...DEFAULT_OPTIONS, seed: variantSeed(DEFAULT_OPTIONS.seed, variant) });
    const inTails = (s: PlannedStop): boolean =>
      s.function === 'tail_a' || s.function === 'tail_b' || (s.file === 'work.c' && s.line !== undefined && s.line >= 104 && s.line <= 114);
    const plan: Plan = { ...full, stops: full.stops.filter(inTails) };
    assert.ok(plan.stops.length >= 6, `only ${plan.stops.length} planned stops in tail_a/tail_b`);
    const gdb = await runGdbSide(kernel, plan);
    const dap = await runDapSide(kernel, plan, gdb.views);
    const report = summarise(variant, kernel, plan, gdb.views, dap, gdb.ms, 6);
    const text = formatReport(report);
    assert.strictEqual(report.aborted, undefined, text);
    assert.ok(report.steps.next.compared + report.steps.finish.compared >= 30, text);
    assert.strictEqual(disagreements(report), 0, text);
  });
});
