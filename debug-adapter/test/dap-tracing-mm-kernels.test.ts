// Allocation tracing through DAP on the mm test kernels (fixtures-mm, written for issue 13, not
// ours), with their own dumps as the oracle: on `freelist` (x86-64, -O2, the System V convention,
// xv6's kalloc/kfree, the pool filled by kfree at boot) every frame the kernel gave its pool is
// in use by the kernel's own account exactly when tracing holds it live, and the call sites are
// gdb's; on `bitmap` (i386, alloc_frame/free_frame returning frame numbers) the double-free and
// free-never-allocated variants give their finding at the planted frame, the clean kernel none.

import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { buildMmKernel, mmMachine, MmKernelName, MmBreak } from './fixtures-mm/build';
import { parseMmDump } from './fixtures-mm/mm-kernels';
import { gdbBatch } from './fixtures-c/compile';
import { endSessionLeavingNoQemu, qemuMarker, startClient } from './dap-fixture';
import type { FindingDocJson, SnapshotDocument, TracingJson } from '../src/mm/model/snapshot-document';
import { MM_DIR } from './fixtures-mm/build';

interface TracingBody {
  tracing: TracingJson;
  findings: FindingDocJson[];
  counts: { allocCalls: number; frees: number; abandoned: number };
  history: { kind: 'alloc' | 'free'; address: string; returnAddress: string }[];
}

const DIRECT_MAP = 0xffff800000000000n;

/** Launches `kernel` (variant `brk`) with `tracing`, stops at its `checkpoint`th mm_checkpoint. */
async function runTo(kernel: MmKernelName, brk: MmBreak | undefined, tracing: unknown, checkpoint: number, traceAddressSpaces = false): Promise<{ dc: DebugClient; marker: string; serial: () => string; elf: string; stop: DebugProtocol.StoppedEvent }> {
  const elf = buildMmKernel({ kernel, ...(brk ? { break: brk } : {}) });
  const machine = mmMachine(kernel);
  const marker = qemuMarker();
  const dc = await startClient();
  let serial = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') serial += e.body.output;
  });
  const stopped = dc.waitForEvent('stopped', 180_000) as Promise<DebugProtocol.StoppedEvent>;
  await Promise.all([
    dc.initializeRequest(),
    dc.waitForEvent('initialized').then(async () => {
      await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_checkpoint', hitCondition: String(checkpoint) }] });
      await dc.configurationDoneRequest();
    }),
    dc.launch({
      kernel: elf, memory: machine.memoryMiB, stopOnEntry: false, qemuPath: machine.qemuBinary, ...(machine.cpu ? { cpu: machine.cpu } : {}),
      qemuArgs: ['-name', marker], memoryModel: typeof tracing === 'string' ? tracing : { tracing }, traceAddressSpaces,
    } as DebugProtocol.LaunchRequestArguments),
  ]);
  return { dc, marker, serial: () => serial, elf, stop: await stopped };
}

async function waitFor(text: () => string, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 400 && !pattern.test(text()); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('DAP: allocation tracing on the mm test kernels, against their own dumps', function () {
  this.timeout(300_000);

  describe('freelist (x86-64, -O2): kalloc/kfree', () => {
    let s: Awaited<ReturnType<typeof runTo>>;
    before(async () => {
      s = await runTo('freelist', undefined, { alloc: { function: 'kalloc', returns: 'address' }, free: { function: 'kfree' } }, 2);
    });
    after(() => endSessionLeavingNoQemu(s?.dc, s?.marker));

    it('holds live exactly the pool frames the kernel says are used, with gdb\'s call sites', async () => {
      await waitFor(s.serial, /mm end 2/);
      const dump = parseMmDump(s.serial(), 2);
      const body = (await s.dc.customRequest('mmscope/tracing', { history: true })).body as TracingBody;
      assert.strictEqual(body.counts.abandoned, 0);
      // Every call the kernel counted since boot was traced, and no other.
      assert.deepStrictEqual({ kalloc: body.counts.allocCalls, kfree: body.counts.frees }, dump.allocators[0].calls);
      // The pool: every frame freed before the first allocation (the kernel filling its free list).
      const firstAlloc = body.history.findIndex((h) => h.kind === 'alloc');
      assert.ok(firstAlloc > 1000, `the boot filled the pool (${firstAlloc} frees first)`);
      const frame = (va: string): number => Number((BigInt(va) - DIRECT_MAP) / 4096n);
      const pool = new Set(body.history.slice(0, firstAlloc).map((h) => frame(h.address)));
      const live = new Set(body.tracing.live.map((l) => frame(String(l.address))));
      assert.ok(live.size > 10, `${live.size} live frames`);
      const state = new Map<number, string>();
      for (const [first, count, st] of dump.allocators[0].frames) for (let f = first; f < first + count; f++) state.set(f, st);
      for (const f of pool) assert.strictEqual(state.get(f) === 'used', live.has(f), `frame ${f}: the kernel says ${state.get(f)}, tracing ${live.has(f) ? 'live' : 'not live'}`);
      for (const f of live) assert.ok(pool.has(f), `live frame ${f} came from the pool`);
      assert.deepStrictEqual(body.findings, [], 'filling the pool is no finding');
      // Sites: gdb's symbol for the call of every distinct return address.
      const returns = [...new Set(body.history.map((h) => BigInt(h.returnAddress)))];
      const out = gdbBatch(s.elf, returns.flatMap((r) => [`echo @@${r}\\n`, `info symbol 0x${(r - 1n).toString(16)}`]));
      const gdbFn = new Map<bigint, string>();
      let at: bigint | undefined;
      for (const line of out.split('\n')) {
        const m = /^@@(\d+)$/.exec(line);
        if (m) at = BigInt(m[1]);
        const sym = /^([\w.]+)(?: \+ \d+)? in section/.exec(line);
        if (sym && at !== undefined) gdbFn.set(at, sym[1]);
      }
      for (const site of body.tracing.sites) {
        const want = gdbFn.get(BigInt(site.site.address));
        assert.ok(want, `gdb knows ${site.site.address}`);
        assert.ok(site.site.function === want || (site.site.file !== undefined && path.basename(site.site.file) === 'freelist.c'), `${site.site.address}: ${site.site.function} vs gdb ${want}`);
        assert.strictEqual(site.site.function, want, `site ${site.site.address}`);
      }
    });
  });

  describe('the traced allocation\'s site in a debug hover, with the kernels\' own descriptions', () => {
    const sourceLines = (kernel: MmKernelName): string[] => fs.readFileSync(path.join(MM_DIR, `${kernel}.c`), 'utf8').split('\n');
    const lineOf = (kernel: MmKernelName, text: string): number => sourceLines(kernel).findIndex((l) => l.includes(text)) + 1;
    /** Launches `kernel` with its description, stops at the first line containing `text`. */
    async function launchToLine(kernel: MmKernelName, text: string): Promise<{ dc: DebugClient; marker: string; serial: () => string; elf: string; frameId: number }> {
      const elf = buildMmKernel({ kernel });
      const machine = mmMachine(kernel);
      const marker = qemuMarker();
      const dc = await startClient();
      let serial = '';
      dc.on('output', (e: DebugProtocol.OutputEvent) => {
        if (e.body.category === 'stdout') serial += e.body.output;
      });
      const stopped = dc.waitForEvent('stopped', 180_000);
      await Promise.all([
        dc.initializeRequest(),
        dc.waitForEvent('initialized').then(async () => {
          await dc.setBreakpointsRequest({ source: { path: path.join(MM_DIR, `${kernel}.c`) }, breakpoints: [{ line: lineOf(kernel, text) }] });
          await dc.configurationDoneRequest();
        }),
        dc.launch({
          kernel: elf, memory: machine.memoryMiB, stopOnEntry: false, qemuPath: machine.qemuBinary, ...(machine.cpu ? { cpu: machine.cpu } : {}),
          qemuArgs: ['-name', marker], memoryModel: path.join(MM_DIR, `${kernel}.model.json`),
        } as DebugProtocol.LaunchRequestArguments),
      ]);
      await stopped;
      const frameId = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0].id;
      return { dc, marker, serial: () => serial, elf, frameId };
    }
    /** The trace's last allocation of `address` (an address or a frame number) and gdb's function and line for its call (return address - 1). */
    async function callOf(s: { dc: DebugClient; elf: string }, kernel: MmKernelName, address: bigint): Promise<{ seq: number; fn: string; line: number }> {
      const history = ((await s.dc.customRequest('mmscope/tracing', { history: true })).body as TracingBody).history as unknown as { kind: string; seq: number; address: string; returnAddress: string }[];
      const call = history.filter((h) => h.kind === 'alloc' && BigInt(h.address) === address).pop();
      assert.ok(call, `the trace saw the allocation of 0x${address.toString(16)}`);
      const gdb = gdbBatch(s.elf, [`info line *0x${(BigInt(call.returnAddress) - 1n).toString(16)}`]);
      const m = new RegExp(`^Line (\\d+) of "[^"]*${kernel}\\.c" starts at address 0x[0-9a-f]+ <([\\w.]+)\\+\\d+>`, 'm').exec(gdb);
      assert.ok(m, gdb);
      return { seq: call.seq, line: Number(m[1]), fn: m[2] };
    }

    describe('freelist (kalloc returns a kernel-virtual address)', () => {
      let s: Awaited<ReturnType<typeof launchToLine>>;
      // task_destroy's first line: its argument t is a task the kernel got from kalloc (the first call destroys "cc", after checkpoint 1).
      before(async () => {
        s = await launchToLine('freelist', 'while (*pp != t)');
      });
      after(() => endSessionLeavingNoQemu(s?.dc, s?.marker));

      it('says who allocated the task a pointer points to (gdb\'s function and line for the call), and nothing for a pointer never allocated', async () => {
        const { dc, frameId } = s;
        await waitFor(s.serial, /mm end 1/);
        const dump = parseMmDump(s.serial(), 1);
        const cc = dump.processes.find((p) => p.name === 'cc');
        assert.ok(cc, dump.processes.map((p) => p.name).join(', '));
        const watch = await dc.evaluateRequest({ expression: 't', context: 'watch', frameId });
        assert.strictEqual(BigInt(watch.body.memoryReference ?? -1), cc.address, 'the breakpoint stops in task_destroy(cc)');
        const hover = await dc.evaluateRequest({ expression: 't', context: 'hover', frameId });
        const call = await callOf(s, 'freelist', cc.address);
        // gdb's line is the source's line of the kalloc call that makes tasks.
        assert.deepStrictEqual([call.fn, call.line], ['task_create', lineOf('freelist', 'struct task *t = kalloc();')]);
        // The task was made in the kernel's own address space (no process's): no pid.
        const note = `allocated by kalloc from ${call.fn} at freelist.c:${call.line}, call #${call.seq}`;
        assert.ok(hover.body.result.startsWith(`${watch.body.result}  ⇒ ${note}`), hover.body.result);
        // Inside the allocation (its size is a page): the same note; a pointer into the kernel's image: none.
        const inside = await dc.evaluateRequest({ expression: '(char *)t + 100', context: 'hover', frameId });
        assert.ok(inside.body.result.includes(note), inside.body.result);
        const never = await dc.evaluateRequest({ expression: '&kmem', context: 'hover', frameId });
        assert.ok(never.body.result.includes('⇒ phys'), `the memory manager's note is there: ${never.body.result}`);
        assert.ok(!never.body.result.includes('allocated by'), never.body.result);
        const watched = await dc.evaluateRequest({ expression: 't', context: 'watch', frameId });
        assert.ok(!watched.body.result.includes('allocated by'), 'only hovers get the note');
      });
    });

    describe('bitmap (alloc_frame returns a frame number): through the pointer\'s physical address', () => {
      let s: Awaited<ReturnType<typeof launchToLine>>;
      // run(init), in init's address space: counter points into its first user page, a frame proc_create got from alloc_frame.
      before(async () => {
        s = await launchToLine('bitmap', '*counter += 1;');
      });
      after(() => endSessionLeavingNoQemu(s?.dc, s?.marker));

      it('says who allocated the frame a user pointer lands in, and nothing for a kernel pointer', async () => {
        const { dc, frameId } = s;
        const watch = await dc.evaluateRequest({ expression: 'counter', context: 'watch', frameId });
        const t = (await dc.customRequest('mmscope/translate', { address: watch.body.memoryReference })).body as { physical?: number };
        assert.ok(t.physical !== undefined, JSON.stringify(t));
        const call = await callOf(s, 'bitmap', BigInt(t.physical) / 4096n);
        assert.deepStrictEqual([call.fn, call.line], ['proc_create', lineOf('bitmap', 'uint32_t f = alloc_frame();')]);
        const hover = await dc.evaluateRequest({ expression: 'counter', context: 'hover', frameId });
        assert.ok(hover.body.result.includes(`⇒ allocated by alloc_frame from proc_create at bitmap.c:${call.line}, call #${call.seq}`), hover.body.result);
        const kernel = await dc.evaluateRequest({ expression: 'p', context: 'hover', frameId });
        assert.ok(!kernel.body.result.includes('allocated by'), `the proc array is the kernel's image: ${kernel.body.result}`);
      });
    });
  });

  describe('bitmap with the description a user wrote (processes and tracing): the process of each traced allocation', () => {
    let s: Awaited<ReturnType<typeof runTo>>;
    before(async () => {
      s = await runTo('bitmap', undefined, path.join(MM_DIR, 'bitmap.model.json'), 3);
    });
    after(() => endSessionLeavingNoQemu(s?.dc, s?.marker));

    it('gives a frame a process grew by the pid whose address space maps it', async () => {
      await waitFor(s.serial, /mm end 3/);
      const doc = ((await s.dc.customRequest('mmscope/snapshot')).body as { snapshot: SnapshotDocument }).snapshot;
      assert.strictEqual(doc.level, 1);
      const body = (await s.dc.customRequest('mmscope/tracing')).body as TracingBody;
      const grown = body.tracing.live.filter((a) => a.site.function === 'proc_grow');
      assert.ok(grown.length >= 3, `${grown.length} frames from proc_grow`);
      for (const a of grown) {
        assert.ok(a.pid !== undefined, `frame ${a.address} has a pid`);
        const space = doc.spaces.find((x) => x.pid === a.pid);
        assert.ok(space, `the document has the space of pid ${a.pid}`);
        const pa = Number(a.address) * 4096;
        assert.ok(space.mappings.some((m) => pa >= m.pa && pa < m.pa + Number(m.size) && m.user), `frame ${a.address} is a user page of pid ${a.pid}`);
      }
      assert.strictEqual(doc.tracing?.allocFunction, 'alloc_frame');
    });
  });

  for (const v of [undefined, 'double-free', 'free-never-allocated'] as const) {
    describe(`bitmap (i386, alloc_frame/free_frame returning frame numbers), ${v ?? 'clean'}`, () => {
      let s: Awaited<ReturnType<typeof runTo>>;
      before(async () => {
        s = await runTo('bitmap', v, { alloc: { function: 'alloc_frame', returns: 'frame' }, free: { function: 'free_frame' } }, 3, v === undefined);
      });
      after(() => endSessionLeavingNoQemu(s?.dc, s?.marker));

      it(v ? `finds the ${v} at the planted frame` : 'finds nothing on the clean kernel', async () => {
        await waitFor(s.serial, /mm end 3/);
        const dump = parseMmDump(s.serial(), 3);
        const body = (await s.dc.customRequest('mmscope/tracing')).body as TracingBody;
        assert.deepStrictEqual({ alloc_frame: body.counts.allocCalls, free_frame: body.counts.frees }, dump.allocators[0].calls, 'every call the kernel counted was traced');
        if (!v) {
          assert.deepStrictEqual(body.findings, []);
          assert.ok(body.counts.allocCalls > 10);
          // Every process's page directory in the kernel's three dumps was traced as a CR3 load.
          const traced = new Set((body as unknown as { spaces: { cr3: string }[] }).spaces.map((x) => BigInt(x.cr3) & ~0xfffn));
          const directories = [1, 2, 3].flatMap((n) => parseMmDump(s.serial(), n).processes.map((p) => p.directory));
          assert.ok(directories.length >= 6, `${directories.length} directories`);
          for (const d of directories) assert.ok(traced.has(d), `directory 0x${d.toString(16)} traced (${[...traced].map((t) => t.toString(16))})`);
          return;
        }
        const planted = dump.planted.find((p) => p.kind === v);
        assert.ok(planted, `the kernel planted ${v}: ${dump.planted.map((p) => p.kind)}`);
        assert.strictEqual(body.findings.length, 1, JSON.stringify(body.findings));
        const f = body.findings[0];
        assert.strictEqual(f.kind, v);
        assert.strictEqual(f.severity, 'error');
        assert.strictEqual(BigInt(f.physical ?? -1), planted.values.frame * 4096n);
        assert.match(f.message, new RegExp(`frame ${planted.values.frame}\\b`));
      });
    });
  }
});
