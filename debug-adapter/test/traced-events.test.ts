// model/traced-events.ts: a traced call as a flight-recorder event keeps 64-bit values whole
// (chain + extra, caller + flags), appends to the event store like a ring record, and exports
// as `allocate`/`free` with the full caller resolved.

import * as assert from 'assert';
import { EventStore } from '../src/mm/model/event-store';
import { MmEventKind } from '../src/mm/model/mm-history-event';
import { exportTrace } from '../src/mm/model/trace-export';
import { tracedCallEvent, tracedEventAddress, tracedEventCaller, TracedStatus } from '../src/mm/model/traced-events';

describe('traced calls as flight-recorder events', () => {
  const alloc = { kind: 'alloc' as const, address: 0xffff800000123000n, size: 4096, returnAddress: 0xffffffff80101234n, callSeq: 7, status: TracedStatus.ok, pid: 3, timeNs: 1500n };
  const free = { ...alloc, kind: 'free' as const, callSeq: 9, timeNs: 2500n };

  it('splits 64-bit values over two fields and joins them back', () => {
    const e = tracedCallEvent(1, alloc);
    assert.strictEqual(e.kind, MmEventKind.allocated);
    assert.strictEqual(e.chain, 0x00123000);
    assert.strictEqual(e.extra, 0xffff8000);
    assert.strictEqual(e.caller, 0x80101234);
    assert.strictEqual(e.flags, 0xffffffff);
    assert.strictEqual(tracedEventAddress(e), alloc.address);
    assert.strictEqual(tracedEventCaller(e), alloc.returnAddress);
    assert.deepStrictEqual([e.seq, e.blocks, e.arg, e.status, e.pid, e.tsc], [1, 4096, 7, 0, 3, 1500n]);
    assert.strictEqual(tracedCallEvent(2, free).kind, MmEventKind.freed);
  });

  it('exports as allocate and free with the caller given by callerOf', () => {
    const store = new EventStore(1_000_000);
    store.append(tracedCallEvent(1, alloc));
    store.append(tracedCallEvent(2, free));
    let text = '';
    const seen: number[] = [];
    const counts = exportTrace(store, (c) => (text += c), {
      callerOf: (e) => ({ address: 42 + e.seq, text: `0x${tracedEventCaller(e).toString(16)}` }),
      resolveSite: (a) => (seen.push(a), { address: a, function: 'task_create' }),
    });
    assert.deepStrictEqual(counts, { events: 2, allocations: 1, frees: 1, lost: 0 });
    assert.deepStrictEqual(seen, [43, 44]);
    const trace = JSON.parse(text) as { traceEvents: { ph: string; name: string; ts?: number; args?: Record<string, unknown> }[] };
    const instants = trace.traceEvents.filter((e) => e.ph === 'i');
    assert.deepStrictEqual(instants.map((e) => [e.name, e.ts, e.args?.caller]), [['allocate', 0, '0xffffffff80101234'], ['free', 1, '0xffffffff80101234']]);
  });
});
