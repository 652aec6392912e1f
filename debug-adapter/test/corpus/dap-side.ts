// The mmscope side: the real adapter process (out/debug-adapter/src/adapter.js) driven over DAP by
// @vscode/debugadapter-testsupport's DebugClient, replaying what gdb did (gdb's rounds, gdb's
// operations) and comparing every stop as it comes. On the first stop of a sequence whose
// location differs from gdb's, the rest of that sequence is not replayed (it would compare
// different executions); the next stop starts afresh from its breakpoint, in a new session if
// this one has already passed the breakpoint's round or can no longer answer.

import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { ADAPTER, killQemu, qemuMarker, stopClient } from '../dap-fixture';
import { CORPUS_MEMORY_MIB, CORPUS_QEMU_ARGS, CorpusMachine, KERNEL_SOURCE_DIR } from './build';
import { Plan, StepKind } from './plan';
import { compareStop, Difference, StopView } from './records';

export interface ComparedStop {
  gdb: StopView;
  ours: StopView;
  /** Index in the sequence (-1: the breakpoint stop). */
  index: number;
  differences: Difference[];
}

export interface DapRun {
  compared: ComparedStop[];
  /** gdb operations not replayed because an earlier stop of their sequence diverged, by kind. */
  notReplayed: Record<StepKind, number>;
  /** Sequences whose replay stopped at a divergence. */
  divergences: number;
  sessions: number;
  ms: number;
  /** Why the replay ended early, if it did. */
  aborted?: string;
}

const STOP_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_SESSIONS = 80;
const GUARD_FUNCTION = 'yield';
const GUARD_ROUNDS = 2;
const MAX_FRAMES = 24;

type SessionEvent = { kind: 'stopped'; body: DebugProtocol.StoppedEvent['body'] } | { kind: 'terminated' } | { kind: 'timeout' };

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))),
  ]);
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** One adapter session on one QEMU. */
class Session {
  readonly marker = qemuMarker();
  private events: SessionEvent[] = [];
  private waiter: (() => void) | undefined;
  terminated = false;
  threadId = 1;

  private constructor(readonly dc: DebugClient) {
    dc.on('stopped', (e: DebugProtocol.StoppedEvent) => this.push({ kind: 'stopped', body: e.body }));
    dc.on('terminated', () => this.push({ kind: 'terminated' }));
    dc.on('exited', () => this.push({ kind: 'terminated' }));
  }

  private push(e: SessionEvent): void {
    if (e.kind === 'terminated') this.terminated = true;
    this.events.push(e);
    this.waiter?.();
  }

  /** Forget events seen so far (call right before a resuming request). */
  clearEvents(): void {
    this.events = [];
  }

  async waitStop(ms: number): Promise<SessionEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = this.events.shift();
      if (e) {
        if (e.kind === 'stopped' && e.body.threadId !== undefined) this.threadId = e.body.threadId;
        return e;
      }
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Starts the adapter, launches the kernel and stops at kmain (function breakpoint). */
  static async launch(kernel: string, machine: CorpusMachine): Promise<Session> {
    const dc = new DebugClient('node', ADAPTER, 'mmscope', { stdio: ['pipe', 'pipe', 'pipe'] });
    dc.defaultTimeout = REQUEST_TIMEOUT_MS;
    await dc.start();
    const s = new Session(dc);
    try {
      await withTimeout(Promise.all([
        dc.initializeRequest({ adapterID: 'mmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' }),
        dc.waitForEvent('initialized').then(async () => {
          await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'kmain' }] });
          await dc.configurationDoneRequest();
        }),
        dc.launch({
          kernel, cmdline: '', memory: CORPUS_MEMORY_MIB, stopOnEntry: false, qemuArgs: [...CORPUS_QEMU_ARGS, '-name', s.marker],
          ...(machine.cpu ? { cpu: machine.cpu } : {}), ...(machine.qemuBinary ? { qemuPath: machine.qemuBinary } : {}),
        } as DebugProtocol.LaunchRequestArguments),
      ]), 60_000, 'launch');
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  async close(): Promise<void> {
    await stopClient(this.dc);
    killQemu(this.marker);
  }

  /** The stop as the comparison sees it. */
  async capture(stop: number, op: StopView['op']): Promise<StopView> {
    const view: StopView = { stop, op, frames: [], values: [] };
    try {
      const st = await withTimeout(this.dc.stackTraceRequest({ threadId: this.threadId, startFrame: 0, levels: MAX_FRAMES }), REQUEST_TIMEOUT_MS, 'stackTrace');
      const frames = st.body.stackFrames.slice(0, MAX_FRAMES);
      view.frames = frames.map((f) => ({ function: f.name, file: f.source?.path ? path.basename(f.source.path) : null, line: f.source ? f.line : 0 }));
      if (frames[0]?.instructionPointerReference) view.pc = BigInt(frames[0].instructionPointerReference);
      if (frames[0]) {
        const scopes = await withTimeout(this.dc.scopesRequest({ frameId: frames[0].id }), REQUEST_TIMEOUT_MS, 'scopes');
        const locals = scopes.body.scopes.find((s) => s.presentationHint === 'locals') ?? scopes.body.scopes.find((s) => s.name === 'Locals');
        if (locals) {
          const vars = await withTimeout(this.dc.variablesRequest({ variablesReference: locals.variablesReference }), REQUEST_TIMEOUT_MS, 'variables');
          view.values = vars.body.variables.map((v) => [v.name, v.value]);
        }
      }
    } catch (e) {
      view.error = `capture failed: ${message(e)}`;
    }
    return view;
  }

  async round(): Promise<number | undefined> {
    try {
      const st = await withTimeout(this.dc.stackTraceRequest({ threadId: this.threadId, levels: 1 }), REQUEST_TIMEOUT_MS, 'stackTrace');
      const frameId = st.body.stackFrames[0]?.id;
      const r = await withTimeout(this.dc.evaluateRequest({ expression: 'corpus_round', context: 'watch', ...(frameId !== undefined ? { frameId } : {}) }), REQUEST_TIMEOUT_MS, 'evaluate');
      const n = Number(r.body.result);
      return Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends a resuming request and waits for its stop; fills `view` with what happened. */
  async resume(request: () => Promise<unknown>, stop: number, op: StopView['op']): Promise<{ view: StopView; hit?: number[] }> {
    this.clearEvents();
    try {
      await withTimeout(request(), REQUEST_TIMEOUT_MS, op);
    } catch (e) {
      // A refused request: the session should still be stopped where it was.
      const view = await this.capture(stop, op);
      view.error = message(e);
      return { view };
    }
    let e = await this.waitStop(STOP_TIMEOUT_MS);
    let note: string | undefined;
    if (e.kind === 'timeout') {
      note = `no stop within ${STOP_TIMEOUT_MS} ms (paused)`;
      this.clearEvents();
      await withTimeout(this.dc.pauseRequest({ threadId: this.threadId }), REQUEST_TIMEOUT_MS, 'pause').catch(() => undefined);
      e = await this.waitStop(5000);
    }
    if (e.kind === 'terminated' || this.terminated) return { view: { stop, op, frames: [], values: [], exited: true, ...(note ? { error: note } : {}) } };
    if (e.kind === 'timeout') return { view: { stop, op, frames: [], values: [], error: note ?? 'no stop' } };
    const view = await this.capture(stop, op);
    if (note) view.error = note;
    return { view, ...(e.body.hitBreakpointIds ? { hit: e.body.hitBreakpointIds } : {}) };
  }
}

function requestFor(s: Session, op: StepKind): () => Promise<unknown> {
  const threadId = s.threadId;
  switch (op) {
    case 'next': return () => s.dc.nextRequest({ threadId });
    case 'step': return () => s.dc.stepInRequest({ threadId });
    case 'finish': return () => s.dc.stepOutRequest({ threadId });
    case 'stepi': return () => s.dc.stepInRequest({ threadId, granularity: 'instruction' });
  }
}

/** Replays gdb's run of `plan` (its views) in the adapter and compares stop by stop. */
export async function runDapSide(kernel: string, plan: Plan, gdbViews: readonly StopView[], machine: CorpusMachine = {}): Promise<DapRun> {
  const started = Date.now();
  const result: DapRun = { compared: [], notReplayed: { next: 0, step: 0, finish: 0, stepi: 0 }, divergences: 0, sessions: 0, ms: 0 };
  const record = (gdb: StopView, ours: StopView, index: number): boolean => {
    const { differences, sameLocation } = compareStop(gdb, ours, index);
    result.compared.push({ gdb, ours, index, differences });
    return sameLocation;
  };
  let session: Session | undefined;
  const open = async (): Promise<Session> => {
    if (session) await session.close();
    session = undefined;
    if (result.sessions >= MAX_SESSIONS) throw new Error(`gave up after ${MAX_SESSIONS} sessions`);
    result.sessions++;
    const s = await Session.launch(kernel, machine);
    const e = await s.waitStop(60_000);
    if (e.kind !== 'stopped') {
      await s.close();
      throw new Error(`the session did not stop at kmain (${e.kind})`);
    }
    session = s;
    return s;
  };
  try {
    let s = await open();
    const entry = gdbViews.find((v) => v.op === 'entry');
    if (entry) record(entry, await s.capture(-1, 'entry'), -1);

    for (let i = 0; i < plan.stops.length; i++) {
      const planned = plan.stops[i];
      const views = gdbViews.filter((v) => v.stop === i);
      const gBreak = views.find((v) => v.op === 'break');
      if (!gBreak) break; // gdb's run ended before this stop
      const ops = views.filter((v) => v.op !== 'break');
      const round = gBreak.breakRound ?? planned.round;

      // Resynchronise: a session that ended, cannot answer, or is past the round starts afresh.
      const now = s.terminated ? undefined : await s.round();
      if (now === undefined || now >= round) s = await open();

      const condition = `corpus_round >= ${round}`;
      const functions: DebugProtocol.FunctionBreakpoint[] = [{ name: GUARD_FUNCTION, condition: `corpus_round >= ${round + GUARD_ROUNDS}` }];
      if (planned.function) functions.unshift({ name: planned.function, condition });
      const fb = await s.dc.setFunctionBreakpointsRequest({ breakpoints: functions });
      const source = planned.file ? { path: path.join(KERNEL_SOURCE_DIR, planned.file) } : undefined;
      let mainBp: DebugProtocol.Breakpoint | undefined = planned.function ? fb.body.breakpoints[0] : undefined;
      const guardId = fb.body.breakpoints[planned.function ? 1 : 0]?.id;
      if (source) {
        const lb = await s.dc.setBreakpointsRequest({ source, breakpoints: [{ line: planned.line ?? 0, condition }] });
        mainBp = lb.body.breakpoints[0];
      }
      if (gBreak.error && !gBreak.exited && gBreak.frames.length === 0) {
        // gdb could not set this breakpoint: the adapter must refuse it too.
        record(gBreak, { stop: i, op: 'break', frames: [], values: [], ...(mainBp?.verified ? {} : { error: mainBp?.message ?? 'not verified' }) }, -1);
        await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
        if (source) await s.dc.setBreakpointsRequest({ source, breakpoints: [] });
        continue;
      }
      const { view, hit } = await s.resume(() => s.dc.continueRequest({ threadId: s.threadId }), i, 'break');
      if (!view.exited && hit && guardId !== undefined && hit.includes(guardId) && !(mainBp?.id !== undefined && hit.includes(mainBp.id))) view.guard = true;
      view.breakRound = round;
      if (view.frames.length) {
        const at = await s.round();
        if (at !== undefined) view.round = at;
      }
      const clearAll = async (): Promise<void> => {
        if (s.terminated) return;
        await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] }).catch(() => undefined);
        if (source) await s.dc.setBreakpointsRequest({ source, breakpoints: [] }).catch(() => undefined);
      };
      // The breakpoint stays during the sequence (as gdb's does): a step may end at it.
      const armMain = async (): Promise<void> => {
        if (s.terminated) return;
        await s.dc.setFunctionBreakpointsRequest({ breakpoints: planned.function ? [{ name: planned.function, condition }] : [] }).catch(() => undefined);
        if (source) await s.dc.setBreakpointsRequest({ source, breakpoints: [{ line: planned.line ?? 0, condition }] }).catch(() => undefined);
      };
      await clearAll();
      let same = record(gBreak, view, -1);
      // Only worth it when the adapter stopped early in the same round (not after a guard hit).
      const early = !view.guard && view.round !== undefined && gBreak.round !== undefined && view.round <= gBreak.round;
      if (!same && early && !s.terminated && gBreak.pc !== undefined && view.frames.length > 0 && !gBreak.guard) {
        // The breakpoint stop differs (e.g. placed before the prologue's end): go on to gdb's pc
        // with an instruction breakpoint so that the steps from there are still compared.
        await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x' + gBreak.pc.toString(16) }] }).catch(() => undefined);
        const again = await s.resume(() => s.dc.continueRequest({ threadId: s.threadId }), i, 'resync');
        await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [] }).catch(() => undefined);
        if (again.view.frames.length) {
          const at = await s.round();
          if (at !== undefined) again.view.round = at;
        }
        same = compareStop(gBreak, again.view, -1).sameLocation;
        if (!same) result.compared.push({ gdb: { ...gBreak, op: 'resync' }, ours: again.view, index: -1, differences: compareStop(gBreak, again.view, -1).differences });
      }
      if (gBreak.exited) break;
      if (!same) {
        result.divergences++;
        for (const o of ops) result.notReplayed[o.op as StepKind]++;
        continue;
      }
      await armMain();
      for (let k = 0; k < ops.length; k++) {
        const g = ops[k];
        const op = g.op as StepKind;
        const { view: mine } = await s.resume(requestFor(s, op), i, op);
        if (!record(g, mine, k)) {
          result.divergences++;
          for (const o of ops.slice(k + 1)) result.notReplayed[o.op as StepKind]++;
          break;
        }
        if (g.exited) break;
      }
      await clearAll();
    }
  } catch (e) {
    result.aborted = message(e);
  } finally {
    await (session as Session | undefined)?.close();
    result.ms = Date.now() - started;
  }
  return result;
}
