// gdb is the oracle for run control: for every kernel of the corpus matrix (five i386 boot styles,
// 32-bit and PAE paging, -O0/-O1/-O2/-Os, with and without frame pointers; with
// MMSCOPE_CORPUS_X64=1 also the x86-64 kernels), a seeded plan of stops (function and line
// breakpoints, each from a given round of the workers) and at least 200 step operations of each
// kind (next, step, finish, stepi) runs in `gdb -batch` and then, replaying gdb's rounds and
// operations, in the real adapter over DAP; every stop's state, pc, function, file, line,
// backtrace and frame-0 arguments/locals must agree. Kernels run two at a time
// (MMSCOPE_CORPUS_JOBS); the full matrix is bounded to about 15 minutes on a 2-core machine.

import * as assert from 'assert';
import { corpusGdbMatrix, variantId } from './corpus/build';
import { compareVariant, DEFAULT_OPTIONS, disagreements, formatReport, uncompared, VariantReport } from './corpus/compare';
import { STEP_KINDS } from './corpus/plan';

/** Each kind must be exercised at least this often per kernel (issue 11). */
const MIN_PER_KIND = 200;
const JOBS = Math.max(1, Number(process.env.MMSCOPE_CORPUS_JOBS ?? 2) || 2);
/** The i386 kernels; with MMSCOPE_CORPUS_X64=1 the x86-64 kernels too (X64_MATRIX). */
const KERNELS = corpusGdbMatrix();

describe('corpus: run control agrees with gdb on every corpus kernel', function () {
  this.timeout(30 * 60_000);
  const results = new Map<string, Promise<VariantReport>>();

  before(() => {
    // Start the comparisons in a pool of JOBS; each test awaits its own.
    const queue = [...KERNELS];
    const gates: (() => void)[] = [];
    let running = 0;
    const next = (): void => {
      while (running < JOBS && gates.length) {
        running++;
        (gates.shift() as () => void)();
      }
    };
    for (const variant of queue) {
      const started = new Promise<void>((resolve) => gates.push(resolve));
      const report = started.then(() => compareVariant(variant, DEFAULT_OPTIONS, 6)).finally(() => {
        running--;
        next();
      });
      report.catch(() => undefined); // awaited (and reported) by its test
      results.set(variantId(variant), report);
    }
    next();
  });

  for (const variant of KERNELS) {
    const id = variantId(variant);
    it(`${id}: every stop and step agrees with gdb`, async () => {
      const report = await (results.get(id) as Promise<VariantReport>);
      console.log(formatReport(report).replace(/^/gm, '      '));
      for (const kind of STEP_KINDS) {
        assert.ok(report.steps[kind].gdb >= MIN_PER_KIND, `${id}: gdb ran only ${report.steps[kind].gdb} ${kind} operations (the plan must give at least ${MIN_PER_KIND})`);
      }
      assert.strictEqual(report.aborted, undefined, `${id}: the replay ended early: ${report.aborted}`);
      assert.strictEqual(disagreements(report), 0, `${id}: ${disagreements(report)} stops/steps disagree with gdb (${uncompared(report)} more not compared after divergences)`);
      assert.strictEqual(uncompared(report), 0, `${id}: ${uncompared(report)} gdb stops/steps were not compared`);
    });
  }
});
