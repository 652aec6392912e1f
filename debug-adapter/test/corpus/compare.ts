// One corpus comparison: build the kernel, plan from the seed, run the plan in gdb, replay it in
// the adapter, and summarise (stops and steps compared, disagreements, the first differences).

import { buildKernel, corpusMachine, CorpusVariant, variantId } from './build';
import { runDapSide, ComparedStop, DapRun } from './dap-side';
import { runGdbSide } from './gdb-side';
import { makePlan, Plan, STEP_KINDS, StepKind } from './plan';
import { Difference, normaliseFunctionName } from './records';

export interface CompareOptions {
  seed: number;
  /** Planned operations per kind (gdb skips `finish` in frames that never return). */
  opsPerKind: number;
  sequenceLength: number;
}

export const DEFAULT_OPTIONS: CompareOptions = { seed: 11, opsPerKind: 230, sequenceLength: 10 };

export interface KindCount {
  /** Operations gdb ran. */
  gdb: number;
  /** Operations compared (replayed in the adapter). */
  compared: number;
  /** Compared operations where any field differed. */
  disagreed: number;
}

export interface VariantReport {
  id: string;
  kernel: string;
  plan: Plan;
  /** Breakpoint stops (and the entry stop) compared / disagreeing. */
  stops: { gdb: number; compared: number; disagreed: number };
  steps: Record<StepKind, KindCount>;
  divergences: number;
  sessions: number;
  differenceCount: number;
  /** Differences by field (a stop may count in several). */
  byField: Record<string, number>;
  firstDifferences: Difference[];
  gdbMs: number;
  dapMs: number;
  aborted?: string;
  /** The adapter's error texts (failed requests, missing stops) with their counts. */
  errors: Record<string, number>;
  /** Counts of the symptoms issue 11 names (see `symptoms`). */
  symptoms: Symptoms;
}

/**
 * The three run-control symptoms issue 11 reports, as this comparison sees them:
 * `earlyFunctionBreakpoint`: a function-breakpoint stop in gdb's function but before gdb's stop:
 * at a lower pc (before the end of the prologue), or at the same pc shown on an earlier line
 * (the function's opening line, where gdb shows the first line of the body); `runaway`: a step whose adapter side ran
 * to the kernel's end or did not stop, where gdb stopped (by kind); `stateMismatch`: a request
 * refused because the guest is "running" although the session had reported a stop.
 */
export interface Symptoms {
  earlyFunctionBreakpoint: number;
  runaway: Record<StepKind, number>;
  stateMismatch: number;
}

export function summarise(variant: CorpusVariant, kernel: string, plan: Plan, gdbViews: { op: string }[], dap: DapRun, gdbMs: number, keep = 8): VariantReport {
  const steps = Object.fromEntries(STEP_KINDS.map((k) => [k, { gdb: 0, compared: 0, disagreed: 0 }])) as Record<StepKind, KindCount>;
  const stops = { gdb: 0, compared: 0, disagreed: 0 };
  for (const v of gdbViews) {
    if (v.op === 'break' || v.op === 'entry') stops.gdb++;
    else if ((STEP_KINDS as readonly string[]).includes(v.op)) steps[v.op as StepKind].gdb++;
  }
  const byField: Record<string, number> = {};
  const all: Difference[] = [];
  const count = (c: ComparedStop): void => {
    const bad = c.differences.length > 0;
    const op = c.gdb.op;
    if (op === 'break' || op === 'entry') {
      stops.compared++;
      if (bad) stops.disagreed++;
    } else if (op !== 'resync') {
      steps[op].compared++;
      if (bad) steps[op].disagreed++;
    }
    for (const d of c.differences) {
      byField[d.field] = (byField[d.field] ?? 0) + 1;
      all.push(d);
    }
  };
  dap.compared.forEach(count);
  const errors: Record<string, number> = {};
  const symptoms: Symptoms = { earlyFunctionBreakpoint: 0, runaway: { next: 0, step: 0, finish: 0, stepi: 0 }, stateMismatch: 0 };
  for (const c of dap.compared) {
    const e = c.ours.error;
    if (e) {
      const key = e.replace(/0x[0-9a-f]+/g, '0x…').replace(/\d+ ms/g, 'N ms');
      errors[key] = (errors[key] ?? 0) + 1;
      if (/running/i.test(e)) symptoms.stateMismatch++;
    }
    const op = c.gdb.op;
    const planned = c.gdb.stop >= 0 ? plan.stops[c.gdb.stop] : undefined;
    const g0 = c.gdb.frames[0];
    const m0 = c.ours.frames[0];
    if ((op === 'entry' || (op === 'break' && planned?.function)) && c.gdb.pc !== undefined && c.ours.pc !== undefined && g0 && m0 &&
      normaliseFunctionName(m0.function) === g0.function && (c.ours.pc < c.gdb.pc || (c.ours.pc === c.gdb.pc && m0.line < g0.line))) symptoms.earlyFunctionBreakpoint++;
    if ((STEP_KINDS as readonly string[]).includes(op) && !c.gdb.exited && c.gdb.frames.length > 0 &&
      (c.ours.exited || /no stop within/.test(c.ours.error ?? ''))) symptoms.runaway[op as StepKind]++;
  }
  return {
    errors, symptoms,
    id: variantId(variant), kernel, plan, stops, steps, divergences: dap.divergences, sessions: dap.sessions,
    differenceCount: all.length, byField, firstDifferences: all.slice(0, keep), gdbMs, dapMs: dap.ms,
    ...(dap.aborted ? { aborted: dap.aborted } : {}),
  };
}

/**
 * The plan's seed for one variant: the base seed mixed with the style, level and frame-pointer
 * setting, so that kernels with the same code generation (the styles differ only in addresses)
 * still get different stops.
 */
export function variantSeed(base: number, variant: CorpusVariant): number {
  let h = (base >>> 0) ^ 0x811c9dc5;
  for (const ch of variantId(variant)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Runs one variant end to end. */
export async function compareVariant(variant: CorpusVariant, options: CompareOptions = DEFAULT_OPTIONS, keep = 8): Promise<VariantReport> {
  const kernel = buildKernel(variant);
  const plan = makePlan(kernel, { ...options, seed: variantSeed(options.seed, variant) });
  const machine = corpusMachine(variant);
  const gdb = await runGdbSide(kernel, plan, machine);
  const dap = await runDapSide(kernel, plan, gdb.views, machine);
  return summarise(variant, kernel, plan, gdb.views, dap, gdb.ms, keep);
}

/** Disagreements of a report: stops + steps that differed (0 means gdb-exact). */
export function disagreements(r: VariantReport): number {
  return r.stops.disagreed + STEP_KINDS.reduce((n, k) => n + r.steps[k].disagreed, 0);
}

/** Compared operations of a report that are missing (not replayed after a divergence or abort). */
export function uncompared(r: VariantReport): number {
  return r.stops.gdb - r.stops.compared + STEP_KINDS.reduce((n, k) => n + r.steps[k].gdb - r.steps[k].compared, 0);
}

function describeStopOf(r: VariantReport, d: Difference): string {
  const s = r.plan.stops[d.stop];
  const where = d.stop < 0 ? 'entry (tbreak kmain)' : s.function ? `break ${s.function} (round ${s.round})` : `break ${s.file}:${s.line} (round ${s.round})`;
  return d.index < 0 ? where : `${where}, op #${d.index} ${d.op}`;
}

/** Human-readable report: counts, then the first differences, gdb vs mmscope side by side. */
export function formatReport(r: VariantReport): string {
  const lines: string[] = [];
  lines.push(`${r.id}  (plan seed ${r.plan.seed}, ${r.plan.stops.length} planned stops; gdb ${(r.gdbMs / 1000).toFixed(1)} s, mmscope ${(r.dapMs / 1000).toFixed(1)} s, ${r.sessions} session(s))`);
  lines.push(`  stops:  ${r.stops.compared}/${r.stops.gdb} compared, ${r.stops.disagreed} disagree`);
  for (const k of STEP_KINDS) {
    const c = r.steps[k];
    lines.push(`  ${k.padEnd(7)} ${c.compared}/${c.gdb} compared, ${c.disagreed} disagree`);
  }
  lines.push(`  divergences (sequence cut short): ${r.divergences}; not compared: ${uncompared(r)}; disagreements: ${disagreements(r)}`);
  if (Object.keys(r.byField).length) lines.push(`  differences by field: ${Object.entries(r.byField).map(([f, n]) => `${f} ${n}`).join(', ')}`);
  const y = r.symptoms;
  lines.push(`  symptoms: function breakpoint before gdb's (lower pc or opening line) ${y.earlyFunctionBreakpoint}; ran away (to the end or no stop): ${STEP_KINDS.map((k) => `${k} ${y.runaway[k]}`).join(', ')}; "running" refusals ${y.stateMismatch}`);
  for (const [e, n] of Object.entries(r.errors)) lines.push(`  mmscope error x${n}: ${e}`);
  if (r.aborted) lines.push(`  ABORTED: ${r.aborted}`);
  for (const d of r.firstDifferences) {
    lines.push(`  - ${describeStopOf(r, d)}: ${d.field}`);
    lines.push(`      gdb:     ${d.gdb}`);
    lines.push(`      mmscope: ${d.mmscope}`);
  }
  return lines.join('\n');
}
