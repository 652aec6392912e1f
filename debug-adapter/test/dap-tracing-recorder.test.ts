// The flight recorder on a kernel that is not ours (issue 16): the traced allocation calls of
// level 2 (mm/plugin/allocation-tracer.ts) feed an event store like our guest's ring does. On the
// mm test kernel `freelist` (x86-64, -O2, xv6's kalloc/kfree, the pool filled by kfree at boot;
// debug-adapter/test/fixtures-mm) the recorded events are, one for one and in order, the calls
// the tracer saw (its own history), and their number is the kernel's own count of its calls.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { buildMmKernel, mmMachine } from './fixtures-mm/build';
import { parseMmDump } from './fixtures-mm/mm-kernels';
import { endSessionLeavingNoQemu, qemuMarker, startClient } from './dap-fixture';

interface RecordedEvent { seq: number; kind: string; address: string; returnAddress: string; callSeq: number; status: number; blocks: number; pid: number; tsc: number }
interface TracingBody {
  counts: { allocCalls: number; allocReturns: number; failed: number; frees: number; abandoned: number };
  pendingCalls: number;
  events: number;
  history: { kind: 'alloc' | 'free'; seq: number; address: string; returnAddress: string }[];
  recordedEvents: RecordedEvent[];
}

describe('DAP: traced calls of a kernel that is not ours feed the flight recorder', function () {
  this.timeout(300_000);
  let dc: DebugClient | undefined;
  let marker = '';
  let serial = '';
  let body: TracingBody;

  before(async () => {
    const elf = buildMmKernel({ kernel: 'freelist' });
    const machine = mmMachine('freelist');
    marker = qemuMarker();
    const client = await startClient();
    dc = client;
    client.on('output', (e: DebugProtocol.OutputEvent) => {
      if (e.body.category === 'stdout') serial += e.body.output;
    });
    const stopped = client.waitForEvent('stopped', 180_000);
    await Promise.all([
      client.initializeRequest(),
      client.waitForEvent('initialized').then(async () => {
        await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mm_checkpoint', hitCondition: '2' }] });
        await client.configurationDoneRequest();
      }),
      client.launch({
        kernel: elf, memory: machine.memoryMiB, stopOnEntry: false, qemuPath: machine.qemuBinary, ...(machine.cpu ? { cpu: machine.cpu } : {}),
        qemuArgs: ['-name', marker], memoryModel: { tracing: { alloc: { function: 'kalloc', returns: 'address' }, free: { function: 'kfree' } } },
      } as DebugProtocol.LaunchRequestArguments),
    ]);
    await stopped;
    for (let i = 0; i < 400 && !/mm end 2/.test(serial); i++) await new Promise((r) => setTimeout(r, 25));
    body = (await client.customRequest('mmscope/tracing', { history: true })).body as TracingBody;
  });
  after(() => endSessionLeavingNoQemu(dc, marker));

  it('records one event per completed call: the kernel\'s own count of kalloc and kfree calls', () => {
    const dump = parseMmDump(serial, 2);
    const calls = dump.allocators[0].calls;
    assert.strictEqual(body.pendingCalls, 0, 'no call in flight at the checkpoint');
    assert.strictEqual(body.counts.abandoned, 0);
    assert.ok(calls.kalloc > 10 && calls.kfree > 1000, `the kernel made calls: ${JSON.stringify(calls)}`);
    assert.strictEqual(body.events, calls.kalloc + calls.kfree, `events recorded vs the kernel's own ${JSON.stringify(calls)}`);
  });

  it('the recorded events are the tracer\'s history, call for call, in order', () => {
    assert.ok(body.history.length > 1000);
    assert.strictEqual(body.recordedEvents.length, body.history.length);
    for (let i = 0; i < body.history.length; i++) {
      const h = body.history[i];
      const e = body.recordedEvents[i];
      const want = { kind: h.kind === 'alloc' ? 'allocated' : 'freed', address: BigInt(h.address), returnAddress: BigInt(h.returnAddress), callSeq: h.seq };
      const got = { kind: e.kind, address: BigInt(e.address), returnAddress: BigInt(e.returnAddress), callSeq: e.callSeq };
      assert.deepStrictEqual(got, want, `event ${e.seq}`);
      // 64-bit values survive the record's 32-bit fields (chain + extra, caller + flags)
      assert.ok(BigInt(e.returnAddress) > 0xffffffffn, `return address ${e.returnAddress} is a higher-half x86-64 address`);
      if (i > 0) assert.ok(e.tsc >= body.recordedEvents[i - 1].tsc, 'time never goes back');
      assert.strictEqual(e.seq, body.events - body.history.length + i + 1, 'numbered like ring records');
    }
  });

  it('marks a failed allocation, a pool filler\'s frees as never allocated, and the frees of traced allocations as done', () => {
    const allocs = body.recordedEvents.filter((e) => e.kind === 'allocated');
    assert.ok(allocs.length > 10);
    for (const a of allocs) assert.strictEqual(a.status, BigInt(a.address) === 0n ? 1 : 0, `allocation ${a.seq}`);
    const frees = body.recordedEvents.filter((e) => e.kind === 'freed');
    const firstAlloc = body.recordedEvents.findIndex((e) => e.kind === 'allocated');
    // The boot fills the pool with kfree before any kalloc: frees of frames never allocated (status 4).
    assert.ok(body.recordedEvents.slice(0, firstAlloc).every((e) => e.kind === 'freed' && e.status === 4));
    // A free after the pool was filled gives back a traced allocation: done (0).
    const allocated = new Set(allocs.map((a) => a.address));
    const later = frees.filter((f) => f.seq > allocs[0].seq && allocated.has(f.address));
    for (const f of later) assert.strictEqual(f.status, 0, `free ${f.seq} of ${f.address}`);
  });
});
