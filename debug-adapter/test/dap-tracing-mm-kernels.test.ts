// Allocation tracing through DAP on the mm test kernels (fixtures-mm, written for issue 13, not
// ours), with their own dumps as the oracle: on `freelist` (x86-64, -O2, the System V convention,
// xv6's kalloc/kfree, the pool filled by kfree at boot) every frame the kernel gave its pool is
// in use by the kernel's own account exactly when tracing holds it live, and the call sites are
// gdb's; on `bitmap` (i386, alloc_frame/free_frame returning frame numbers) the double-free and
// free-never-allocated variants give their finding at the planted frame, the clean kernel none.

import * as assert from 'assert';
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
