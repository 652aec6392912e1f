// Allocation tracing and CR3 tracing through DAP, against the real adapter, QEMU and gdb, on a
// kernel that is not ours (fixtures-c/trace_kernel.c: kalloc/kfree used by two kernel threads,
// calls in flight on two stacks at once, a nested kalloc). The kernel dumps every call on its
// serial port as it sees it; every traced call must be that call (same order, same frame, same
// return address), every site must be gdb's function and line for the caller, the live set must be
// the kernel's own, and every page directory the kernel switches to must be among the traced
// CR3 values. The user's line breakpoints and `next` still behave while the tracing breakpoints
// are armed; the double-free and never-allocated variants give their findings, the clean one none.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { build, fixtureDir, gdbBatch, run } from './fixtures-c/compile';
import { endSessionLeavingNoQemu, qemuMarker, resumeAndStop, startClient } from './dap-fixture';
import { markerLine } from './source-markers';
import { buildSmpKernel } from './smp-kernel/build';
import type { FindingDocJson, SnapshotDocument, TracingJson } from '../src/mm/model/snapshot-document';
import * as path from 'path';

const SOURCE = path.join(fixtureDir, 'trace_kernel.c');
const TRACING = { alloc: { function: 'kalloc', returns: 'physical' }, free: { function: 'kfree' } };

interface TracingBody {
  tracing: TracingJson | null;
  findings: FindingDocJson[];
  counts: { allocCalls: number; allocReturns: number; failed: number; frees: number; abandoned: number };
  pendingCalls: number;
  spaces: { cr3: string; hits: number }[];
  cr3Sites: number[];
  cr3Loads: number;
  history?: { kind: 'alloc' | 'free'; address: string; returnAddress: string; thread: number }[];
}

interface DumpLine {
  kind: 'A' | 'F';
  frame: number;
  ret: number;
  thread: number;
}

function parseDump(serial: string): { calls: DumpLine[]; directories: number[]; live: number[]; done: boolean } {
  const calls: DumpLine[] = [];
  const directories: number[] = [];
  const live: number[] = [];
  for (const line of serial.split(/\r?\n/)) {
    let m = /^([AF]) 0x([0-9a-f]{8}) 0x([0-9a-f]{8}) ([12])$/.exec(line.trim());
    if (m) calls.push({ kind: m[1] as 'A' | 'F', frame: parseInt(m[2], 16), ret: parseInt(m[3], 16), thread: Number(m[4]) });
    m = /^pd [12] 0x([0-9a-f]{8})$/.exec(line.trim());
    if (m) directories.push(parseInt(m[1], 16));
    m = /^L 0x([0-9a-f]{8})$/.exec(line.trim());
    if (m) live.push(parseInt(m[1], 16));
  }
  return { calls, directories, live, done: /^done$/m.test(serial) };
}

/** gdb's function and line for each return address's call (address - 1), from the ELF alone. */
function gdbSites(elf: string, returns: readonly number[]): Map<number, { fn: string; line: number }> {
  const commands: string[] = [];
  for (const r of returns) commands.push(`echo @@${r}\\n`, `info symbol ${r - 1}`, `info line *${r - 1}`);
  const out = gdbBatch(elf, commands);
  const sites = new Map<number, { fn: string; line: number }>();
  let at: number | undefined;
  for (const line of out.split('\n')) {
    const m = /^@@(\d+)$/.exec(line);
    if (m) {
      at = Number(m[1]);
      sites.set(at, { fn: '', line: 0 });
      continue;
    }
    if (at === undefined) continue;
    const sym = /^(\w+)(?: \+ \d+)? in section/.exec(line);
    if (sym) sites.get(at)!.fn = sym[1];
    const ln = /^Line (\d+) of "/.exec(line);
    if (ln) sites.get(at)!.line = Number(ln[1]);
  }
  return sites;
}

class Session {
  dc!: DebugClient;
  marker = qemuMarker();
  serial = '';
  console = '';

  async start(kernel: string, extra: Record<string, unknown>, configure: (dc: DebugClient) => Promise<void>): Promise<DebugProtocol.StoppedEvent> {
    this.dc = await startClient();
    this.dc.on('output', (e: DebugProtocol.OutputEvent) => {
      if (e.body.category === 'stdout') this.serial += e.body.output;
      else this.console += e.body.output;
    });
    const stopped = this.dc.waitForEvent('stopped', 120_000) as Promise<DebugProtocol.StoppedEvent>;
    await Promise.all([
      this.dc.initializeRequest(),
      this.dc.waitForEvent('initialized').then(async () => {
        await configure(this.dc);
        await this.dc.configurationDoneRequest();
      }),
      this.dc.launch({ kernel, memory: 64, stopOnEntry: false, qemuArgs: ['-name', this.marker], ...extra } as DebugProtocol.LaunchRequestArguments),
    ]);
    return stopped;
  }

  async tracing(history = false): Promise<TracingBody> {
    return (await this.dc.customRequest('mmscope/tracing', { history })).body as TracingBody;
  }

  /** Waits (bounded) until the serial output holds `text`. */
  async serialHas(text: RegExp): Promise<void> {
    for (let i = 0; i < 200 && !text.test(this.serial); i++) await new Promise((r) => setTimeout(r, 25));
  }

  end(): Promise<void> {
    return endSessionLeavingNoQemu(this.dc, this.marker);
  }
}

describe('DAP: allocation tracing and CR3 tracing on a kernel that is not ours', function () {
  this.timeout(240_000);

  describe('the clean kernel', () => {
    const s = new Session();
    let elf: string;
    let atLine: DebugProtocol.StoppedEvent;
    const scratchLine = markerLine(SOURCE, 'scratch-alloc');

    before(async () => {
      elf = build('trace_kernel.c', { flags: ['-O0'], script: 'runctl_kernel.ld' });
      atLine = await s.start(elf, { memoryModel: { tracing: TRACING }, traceAddressSpaces: true }, async (dc) => {
        await dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: scratchLine, hitCondition: '7' }] });
        await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'report_done' }] });
      });
    });
    after(() => s.end());

    it('stops at the user\'s line breakpoint while the tracing breakpoints are armed, and steps over a traced call', async () => {
      assert.strictEqual(atLine.body.reason, 'breakpoint');
      const st = await s.dc.stackTraceRequest({ threadId: atLine.body.threadId ?? 1 });
      assert.strictEqual(st.body.stackFrames[0].name, 'scratch_buffers');
      assert.strictEqual(st.body.stackFrames[0].line, scratchLine);
      const before = await s.tracing(true);
      assert.ok(before.counts.allocCalls > 0, 'calls were traced before the line was reached');
      // `next` over `p[i] = kalloc();` runs the traced call and stops on the loop's next line.
      await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [] });
      const stepped = await resumeAndStop(s.dc, s.dc.nextRequest({ threadId: atLine.body.threadId ?? 1 }));
      assert.strictEqual(stepped.body.reason, 'step');
      const after = await s.dc.stackTraceRequest({ threadId: stepped.body.threadId ?? 1 });
      assert.strictEqual(after.body.stackFrames[0].name, 'scratch_buffers');
      assert.notStrictEqual(after.body.stackFrames[0].line, scratchLine);
      const traced = await s.tracing(true);
      const allocs = (traced.history ?? []).filter((h) => h.kind === 'alloc');
      const last = allocs[allocs.length - 1];
      assert.ok(allocs.length > (before.history ?? []).filter((h) => h.kind === 'alloc').length, 'the stepped-over call was traced');
      const site = gdbSites(elf, [Number(last.returnAddress)]).get(Number(last.returnAddress));
      assert.deepStrictEqual(site, { fn: 'scratch_buffers', line: scratchLine }, 'the last traced allocation is the stepped-over call');
      // `stepi` from the call instruction onto kalloc's first instruction: the call is traced all the same
      // (the next test compares every traced call with the kernel's dump).
      const objdump = run('objdump', ['-d', elf]).split('\n');
      const from = objdump.findIndex((l) => /<scratch_buffers>:$/.test(l));
      const call = objdump.slice(from).map((l) => /^\s*([0-9a-f]+):.*\bcall\s+[0-9a-f]+ <kalloc>/.exec(l)).find((m): m is RegExpExecArray => m !== null);
      assert.ok(call, 'scratch_buffers calls kalloc');
      await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${call[1]}` }] });
      const atCall = await resumeAndStop(s.dc, s.dc.continueRequest({ threadId: 1 }));
      assert.strictEqual(atCall.body.reason, 'breakpoint');
      await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
      const entered = await resumeAndStop(s.dc, s.dc.stepInRequest({ threadId: atCall.body.threadId ?? 1, granularity: 'instruction' }));
      assert.strictEqual(entered.body.reason, 'step');
      const inKalloc = await s.dc.stackTraceRequest({ threadId: entered.body.threadId ?? 1 });
      assert.strictEqual(inKalloc.body.stackFrames[0].name, 'kalloc');
      assert.ok((await s.tracing()).pendingCalls >= 1, 'the call stepped into is pending');
    });

    it('traces every call the kernel dumps, in order, with its frame and its call site', async () => {
      const stop = await resumeAndStop(s.dc, s.dc.continueRequest({ threadId: 1 }));
      assert.ok(['breakpoint', 'function breakpoint'].includes(stop.body.reason), stop.body.reason);
      const st = await s.dc.stackTraceRequest({ threadId: stop.body.threadId ?? 1 });
      assert.strictEqual(st.body.stackFrames[0].name, 'report_done');
      const dump = parseDump(s.serial);
      assert.ok(dump.calls.length >= 400, `the kernel dumped ${dump.calls.length} calls`);
      const body = await s.tracing(true);
      const history = body.history ?? [];
      assert.strictEqual(history.length, dump.calls.length, 'one traced call per dumped call');
      history.forEach((h, i) => {
        const d = dump.calls[i];
        assert.deepStrictEqual(
          { kind: h.kind, frame: Number(h.address), ret: Number(h.returnAddress), thread: h.thread },
          { kind: d.kind === 'A' ? 'alloc' : 'free', frame: d.frame, ret: d.ret, thread: 1 },
          `call ${i}`,
        );
      });
      assert.strictEqual(body.counts.abandoned, 0);
      assert.strictEqual(body.pendingCalls, 0);
      assert.ok(dump.calls.some((c, i) => c.kind === 'A' && dump.calls.slice(0, i).filter((x) => x.kind === 'A' && x.ret === c.ret).length > 0), 'calls from the same site');
      // Sites against gdb, for every distinct return address.
      const tracing = body.tracing as TracingJson;
      const returns = [...new Set(dump.calls.map((c) => c.ret))];
      const gdb = gdbSites(elf, returns);
      for (const site of tracing.sites) {
        const want = gdb.get(Number(site.site.address));
        assert.ok(want, `gdb knows ${site.site.address}`);
        assert.deepStrictEqual({ fn: site.site.function, line: site.site.line, file: path.basename(site.site.file ?? '') }, { fn: want.fn, line: want.line, file: 'trace_kernel.c' });
      }
      assert.ok(gdb.size >= 5, `${gdb.size} call sites`);
    });

    it('keeps the kernel\'s own live set, by site', async () => {
      await s.dc.continueRequest({ threadId: 1 });
      await s.serialHas(/^done$/m);
      await s.dc.pauseRequest({ threadId: 1 });
      await s.dc.waitForEvent('stopped');
      const dump = parseDump(s.serial);
      assert.ok(dump.done, 'the kernel finished');
      const tracing = (await s.tracing()).tracing as TracingJson;
      assert.deepStrictEqual(tracing.live.map((l) => Number(l.address)).sort((a, b) => a - b), [...dump.live].sort((a, b) => a - b));
      // Each live frame's site is where the kernel says its last allocation returned to.
      for (const l of tracing.live) {
        const last = [...dump.calls].reverse().find((c) => c.kind === 'A' && c.frame === Number(l.address));
        assert.strictEqual(Number(l.site.address), last?.ret);
        assert.strictEqual(l.size, 4096);
      }
      assert.strictEqual(tracing.sites.reduce((n, x) => n + x.live, 0), dump.live.length);
      assert.strictEqual(tracing.allocFunction, 'kalloc');
      assert.ok(tracing.callsPerSecond > 0);
      assert.match(s.console, /Allocation tracing: \d+ calls traced \(\d+ kalloc, \d+ kfree\), \d+ calls\/s while running/);
      assert.deepStrictEqual((await s.tracing()).findings, [], 'no finding on the clean kernel');
      if (process.env.MMSCOPE_TRACE_VERBOSE) console.log(s.console);
    });

    it('traces every page directory the kernel switches to', async () => {
      const body = await s.tracing();
      const dump = parseDump(s.serial);
      assert.strictEqual(dump.directories.length, 2);
      const traced = body.spaces.map((x) => Number(x.cr3));
      for (const d of dump.directories) assert.ok(traced.includes(d), `CR3 ${d.toString(16)} traced (${traced.map((t) => t.toString(16))})`);
      // objdump as the oracle for the sites: every `mov %reg,%cr3` of the kernel's code.
      const objdump = run('objdump', ['-d', elf]).split('\n').map((l) => /^\s*([0-9a-f]+):.*\bmov\s+%\w+,%cr3/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => parseInt(m[1], 16));
      assert.deepStrictEqual([...body.cr3Sites].sort((a, b) => a - b), objdump.sort((a, b) => a - b));
      assert.ok(objdump.length >= 2);
      assert.ok(body.cr3Loads > 0);
      // The snapshot document lists them as traced address spaces, and carries the tracing section.
      const doc = ((await s.dc.customRequest('mmscope/snapshot')).body as { snapshot: SnapshotDocument }).snapshot;
      for (const d of dump.directories) {
        const space = doc.spaces.find((x) => x.topTable === d);
        assert.ok(space, `space of CR3 ${d.toString(16)} in the document (${doc.spaces.map((x) => x.id)})`);
        assert.ok(space.sources.includes('traced') || space.sources.includes('current'), `${space.id}: ${space.sources}`);
        assert.ok(space.pages > 0, `${space.id} walked`);
      }
      assert.ok(doc.spaces.some((x) => x.sources.includes('traced') && !x.current), 'a traced space other than the current one');
      assert.strictEqual(doc.tracing?.allocFunction, 'kalloc');
      assert.deepStrictEqual(doc.tracing?.live.map((l) => l.address).sort(), (await s.tracing()).tracing?.live.map((l) => l.address).sort());
    });
  });

  describe('several vCPUs calling the same function from the same site at once (smp-kernel, 3 vCPUs)', () => {
    const s = new Session();
    let stop: DebugProtocol.StoppedEvent;
    before(async () => {
      // cpu_work(cpu, n) traced as the "allocation" (its result is the CPU's next counter, its size cpu + 1), ap_round(slot) as the "free".
      stop = await s.start(buildSmpKernel(), {
        cmdline: 'cpus=3', qemuArgs: ['-name', s.marker, '-smp', '3'],
        memoryModel: { tracing: { alloc: { function: 'cpu_work', returns: 'address', size: '$arg0 + 1' }, free: { function: 'ap_round' } } },
      }, async (dc) => {
        await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'ap_round', hitCondition: '300' }] });
      });
    });
    after(() => s.end());

    it('pairs every return with its own vCPU\'s call: the last result traced for a CPU is the counter it stored', async () => {
      const thread = stop.body.threadId ?? 1;
      const st = await s.dc.stackTraceRequest({ threadId: thread });
      assert.strictEqual(st.body.stackFrames[0].name, 'ap_round');
      const frameId = st.body.stackFrames[0].id;
      const slot = Number((await s.dc.evaluateRequest({ expression: 'slot', frameId, context: 'watch' })).body.result);
      const cpu = slot + 1;
      const counter = BigInt((await s.dc.evaluateRequest({ expression: `counters[${cpu}]`, frameId, context: 'watch' })).body.result);
      const body = await s.tracing();
      const tracing = body.tracing as TracingJson;
      const threads = new Set(((await s.tracing(true)).history ?? []).map((h) => h.thread));
      assert.ok(threads.size >= 2, `calls traced on ${threads.size} vCPUs`);
      const mine = tracing.live.filter((a) => a.size === cpu + 1).sort((a, b) => b.seq - a.seq);
      assert.ok(mine.length > 10, `${mine.length} results of CPU ${cpu}`);
      assert.strictEqual(BigInt(mine[0].address), counter, `CPU ${cpu}'s last traced result is its counter`);
      assert.strictEqual(body.counts.abandoned, 0);
      assert.ok(body.pendingCalls <= 3, `${body.pendingCalls} calls in flight on 3 vCPUs`);
    });
  });

  for (const variant of [
    { flag: '-DDOUBLE_FREE', kind: 'double-free', pattern: /was freed twice: allocated by work at trace_kernel\.c:\d+, freed by work at trace_kernel\.c:\d+, then freed again by work at trace_kernel\.c:(\d+)\./ },
    { flag: '-DFREE_UNKNOWN', kind: 'free-never-allocated', pattern: /^work at trace_kernel\.c:(\d+) freed 0x[0-9a-f]+, which was never allocated\.$/ },
  ]) {
    describe(`the ${variant.flag.slice(2).toLowerCase().replace('_', '-')} variant`, () => {
      const s = new Session();
      let stop: DebugProtocol.StoppedEvent;
      let elf: string;
      before(async () => {
        elf = build('trace_kernel.c', { flags: ['-O0', variant.flag], script: 'runctl_kernel.ld' });
        stop = await s.start(elf, { memoryModel: { tracing: TRACING } }, async (dc) => {
          const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'trace-bad-free' }, { filterId: 'trace-allocated', condition: 'size > 4096' }] });
          assert.deepStrictEqual(r.body?.breakpoints?.map((b) => b.verified), [true, true]);
        });
      });
      after(() => s.end());

      it(`stops at the bad free with a sentence and reports a ${variant.kind} finding`, async () => {
        assert.strictEqual(stop.body.reason, 'exception');
        assert.strictEqual(stop.body.text, 'Double free / free never allocated');
        const body = await s.tracing();
        assert.strictEqual(body.findings.length, 1);
        const f = body.findings[0];
        assert.strictEqual(f.kind, variant.kind);
        assert.strictEqual(f.severity, 'error');
        const m = variant.pattern.exec(f.message);
        assert.ok(m, f.message);
        assert.strictEqual(stop.body.description, f.message);
        if (variant.kind === 'double-free') assert.strictEqual(Number(m[1]), markerLine(SOURCE, 'double-free'));
        assert.strictEqual(f.site?.function, 'work');
        const st = await s.dc.stackTraceRequest({ threadId: stop.body.threadId ?? 1 });
        assert.strictEqual(st.body.stackFrames[0].name, 'kfree');
        assert.strictEqual(st.body.stackFrames[1].name, 'work');
        // The document of this stop lists the finding with the others (the Findings view).
        const doc = ((await s.dc.customRequest('mmscope/snapshot')).body as { snapshot: SnapshotDocument }).snapshot;
        assert.deepStrictEqual(doc.findings.filter((x) => x.kind === variant.kind), [f]);
        void elf;
      });
    });
  }
});
