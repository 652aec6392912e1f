// The gdb side of the comparison on the x86-64 corpus kernels (X64_MATRIX) alone, a check of the
// oracle itself (corpus-gdb.test.ts compares the same plans with the adapter): gdb-oracle.py runs each kernel's seeded plan under qemu-system-x86_64 with
// `set architecture i386:x86-64`, every stop is a real one (no failed command, the kernel never
// ends early), each kind runs at least 200 times, every pc and frame lies in the kernel's 64-bit
// image, and every backtrace ends where the kernel's unwind information says (thread_start or
// _start), with no frame gdb cannot name.

import * as assert from 'assert';
import { buildKernel, corpusMachine, X64_MATRIX, variantId } from './corpus/build';
import { DEFAULT_OPTIONS, variantSeed } from './corpus/compare';
import { GdbRun, runGdbSide } from './corpus/gdb-side';
import { makePlan, Plan, STEP_KINDS } from './corpus/plan';

const KERNEL_BASE = 0xffffffff80100000n;

describe('corpus: gdb runs the plan on the x86-64 kernels', function () {
  this.timeout(300_000);
  const runs = new Map<string, Promise<{ plan: Plan; run: GdbRun }>>();

  before(() => {
    // Two lanes, one run after the other in each: two kernels at a time.
    const lanes: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
    X64_MATRIX.forEach((variant, i) => {
      const result = lanes[i % 2].then(async () => {
        const kernel = buildKernel(variant);
        const plan = makePlan(kernel, { ...DEFAULT_OPTIONS, seed: variantSeed(DEFAULT_OPTIONS.seed, variant) });
        return { plan, run: await runGdbSide(kernel, plan, corpusMachine(variant)) };
      });
      lanes[i % 2] = result.catch(() => undefined); // a failure is reported by its own test
      runs.set(variantId(variant), result);
    });
  });

  for (const variant of X64_MATRIX) {
    const id = variantId(variant);
    it(`${id}: every stop in the 64-bit kernel, every backtrace to its outermost frame`, async () => {
      const { plan, run } = await (runs.get(id) as Promise<{ plan: Plan; run: GdbRun }>);
      const views = run.views;
      assert.strictEqual(views[0].op, 'entry');
      assert.strictEqual(views[0].frames[0]?.function, 'kmain', `${id}: the first stop is kmain:\n${run.log.slice(-2000)}`);
      for (const kind of STEP_KINDS) {
        const n = views.filter((v) => v.op === kind).length;
        assert.ok(n >= 200, `${id}: gdb ran only ${n} ${kind} operations`);
      }
      assert.strictEqual(views.filter((v) => v.op === 'break').length, plan.stops.length, `${id}: a stop per planned breakpoint`);
      for (const v of views) {
        const where = `${id}: stop ${v.stop} ${v.op}`;
        assert.strictEqual(v.error, undefined, `${where}: gdb failed: ${v.error}`);
        assert.strictEqual(v.exited, undefined, `${where}: the kernel ended`);
        assert.ok(v.pc !== undefined && v.pc >= KERNEL_BASE, `${where}: pc ${v.pc?.toString(16)} is not in the kernel`);
        assert.ok(v.frames.length > 0 && v.frames.every((f) => f.function !== null), `${where}: a frame gdb cannot name: ${JSON.stringify(v.frames)}`);
        const outermost = v.frames[v.frames.length - 1].function;
        // gdb-oracle.py records up to 24 frames; a deeper backtrace is cut there.
        if (v.frames.length < 24) assert.ok(outermost === 'thread_start' || outermost === '_start', `${where}: the backtrace ends at ${outermost}`);
      }
    });
  }
});
