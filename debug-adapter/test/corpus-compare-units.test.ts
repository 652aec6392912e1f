// Units of the corpus comparison without QEMU: the normalisation of gdb's and the adapter's
// stops (records.ts), what counts as the same execution point, and the seeded plan.

import * as assert from 'assert';
import { seededRandom } from '../../qemu-bridge/test/seeded-random';
import { makePlan, STEP_KINDS } from './corpus/plan';
import { compareStop, fromGdb, StopView, valueMap } from './corpus/records';
import { BOOT_MATRIX, buildKernel, corpusGdbMatrix, MATRIX, STYLES, X64_MATRIX } from './corpus/build';

const frames = [{ function: 'fib', file: 'work.c', line: 44 }, { function: 'do_round', file: 'round.c', line: 17 }];
const gdbStop = (over: Partial<StopView> = {}): StopView => ({ stop: 3, op: 'next', pc: 0x1000n, frames, values: [['n', '5'], ['a', '<optimized out>']], ...over });

describe('corpus: comparison units', () => {
  it('equal stops have no differences and are the same execution point', () => {
    const r = compareStop(gdbStop(), gdbStop(), 0);
    assert.deepStrictEqual(r.differences, []);
    assert.strictEqual(r.sameLocation, true);
  });

  it('a different line at the same pc is a difference but not a divergence', () => {
    const ours = gdbStop({ frames: [{ ...frames[0], line: 43 }, frames[1]] });
    const r = compareStop(gdbStop(), ours, 0);
    assert.deepStrictEqual(r.differences.map((d) => d.field), ['line', 'backtrace']);
    assert.strictEqual(r.sameLocation, true);
  });

  it('a different pc or state is a divergence', () => {
    assert.strictEqual(compareStop(gdbStop(), gdbStop({ pc: 0x1004n }), 0).sameLocation, false);
    const exited = compareStop(gdbStop(), { stop: 3, op: 'next', frames: [], values: [], exited: true }, 0);
    assert.strictEqual(exited.sameLocation, false);
    assert.deepStrictEqual(exited.differences.map((d) => d.field), ['state']);
  });

  it('a breakpoint stop in another round is a divergence', () => {
    const g = gdbStop({ op: 'break', round: 7 });
    const r = compareStop(g, gdbStop({ op: 'break', round: 9 }), -1);
    assert.deepStrictEqual(r.differences.map((d) => d.field), ['round']);
    assert.strictEqual(r.sameLocation, false);
  });

  it('optimized out must be optimized out on both sides; the adapter\'s spellings map to gdb\'s', () => {
    const shown = compareStop(gdbStop(), gdbStop({ values: [['n', '5'], ['a', '7']] }), 0);
    assert.deepStrictEqual(shown.differences.map((d) => [d.field, d.gdb, d.mmscope]), [['values', 'a = <optimized out>', 'a = 7']]);
    assert.deepStrictEqual(compareStop(gdbStop(), gdbStop({ values: [['n', '5'], ['a', 'optimized out']] }), 0).differences, []);
  });

  it('x@entry is compared as x and must show the entry value; shadowed names keep the innermost', () => {
    const g = gdbStop({ values: [['n@entry', '5']] });
    assert.deepStrictEqual(compareStop(g, gdbStop({ values: [['n', '5']] }), 0).differences, []);
    const d = compareStop(g, gdbStop({ values: [['n', '<optimized out>']] }), 0).differences;
    assert.deepStrictEqual(d.map((x) => x.gdb), ['n@entry = 5']);
    const m = valueMap([['i', '1'], ['i (line 12)', '2']]);
    assert.deepStrictEqual([...m.entries()], [['i', { value: '1', entry: false }]]);
  });

  it('names on one side only and missing frames are differences', () => {
    const d = compareStop(gdbStop(), gdbStop({ values: [['n', '5'], ['a', '<optimized out>'], ['extra', '1']], frames: [frames[0]] }), 0).differences;
    assert.deepStrictEqual(d.map((x) => x.field), ['backtrace', 'values']);
    assert.match(d[1].mmscope, /extra = 1/);
  });

  it("the adapter's interrupt suffix is not a difference", () => {
    const ours = gdbStop({ frames: [{ ...frames[0], function: 'fib [interrupt 32]' }, frames[1]] });
    assert.deepStrictEqual(compareStop(gdbStop(), ours, 0).differences, []);
  });

  it("reads gdb-oracle.py's records (args then locals; the break round; a 64-bit pc exactly)", () => {
    const v = fromGdb({ stop: 1, op: 'break', pc: '0xffffffff80100010', frames: [{ function: 'f', file: 'a.c', line: 2, pc: '0xffffffff80100010' }], args: [['x', '1']], locals: [['y', '2']], round: 4, breakRound: 3 });
    assert.deepStrictEqual(v, { stop: 1, op: 'break', pc: 0xffffffff80100010n, frames: [{ function: 'f', file: 'a.c', line: 2 }], values: [['x', '1'], ['y', '2']], round: 4, breakRound: 3 });
  });

  it('the plan is seeded: same seed same plan, other seed other plan, every kind as often as asked', () => {
    const kernel = buildKernel(MATRIX[0]);
    const a = makePlan(kernel, { seed: 5, opsPerKind: 40, sequenceLength: 10 });
    assert.deepStrictEqual(makePlan(kernel, { seed: 5, opsPerKind: 40, sequenceLength: 10 }), a);
    assert.notDeepStrictEqual(makePlan(kernel, { seed: 6, opsPerKind: 40, sequenceLength: 10 }).stops, a.stops);
    const ops = a.stops.flatMap((s) => s.ops);
    for (const k of STEP_KINDS) assert.strictEqual(ops.filter((o) => o === k).length, k === 'finish' ? 60 : 40);
    assert.ok(a.stops.some((s) => s.function) && a.stops.some((s) => s.file), 'both function and line breakpoints');
    const rounds = a.stops.map((s) => s.round);
    assert.deepStrictEqual([...rounds].sort((x, y) => x - y), rounds, 'rounds increase');
    const r = seededRandom(1);
    assert.notStrictEqual(r(), r());
  });

  it('the gdb matrix takes the x86-64 kernels unless MMSCOPE_CORPUS_X64=0; every kernel boots', () => {
    assert.ok(X64_MATRIX.length > 0 && X64_MATRIX.every((v) => STYLES[v.style].arch === 'x86-64'));
    assert.ok(MATRIX.every((v) => STYLES[v.style].arch === 'i386'));
    assert.deepStrictEqual(corpusGdbMatrix({}), [...MATRIX, ...X64_MATRIX]);
    assert.deepStrictEqual(corpusGdbMatrix({ MMSCOPE_CORPUS_X64: '0' }), MATRIX);
    assert.deepStrictEqual(BOOT_MATRIX, [...MATRIX, ...X64_MATRIX]);
  });
});
