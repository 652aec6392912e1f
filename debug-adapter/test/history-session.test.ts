// The session's history without QEMU (issue 16): the reconstructed document draws a block whose
// owner it cannot name as unknown, never guessed (and frees exactly when every chain's blocks are
// known); the events' bins count lost ranges where they fall; keyframes are taken only at stops
// whose generation was even; the request arguments are checked with one sentence each. The event
// stream is a fake (an EventStore filled by hand), named as such: a real guest cannot be made to
// lose events or stop mid-update on demand.

import * as assert from 'assert';
import { EventStore } from '../src/mm/model/event-store';
import { MmEventKind, MmHistoryEvent } from '../src/mm/model/mm-history-event';
import { MmHistoryState } from '../src/mm/model/history-state';
import { UNKNOWN_BLOCK, reconstructedDocument } from '../src/mm/model/history-document';
import { SessionHistory } from '../src/mm/plugin/session-history';
import { HistoryError } from '../src/mm/plugin/session-history';
import { handleHistoryRequest } from '../src/mm/plugin/history-requests';
import type { ViewSnapshot } from '../src/mm/model/snapshot-json';
import type { StopSnapshot } from '../src/mm/plugin/stop-snapshot';
import type { MmSnapshot } from '../src/mm/model/snapshot';

let seq = 1;
function event(f: Partial<MmHistoryEvent> & { kind: number }): MmHistoryEvent {
  return { seq: seq++, tsc: BigInt(seq) * 1000n, chain: 0, blocks: 0, flags: 0, arg: 0, status: 0, caller: 0, pid: 1, extra: 0, ...f };
}

/** A document of 16 blocks: 0-3 kernel, 4-5 chain 4, the rest free. */
function baseDocument(): ViewSnapshot {
  return {
    schema: 3, stop: 1, level: 'descriptor', findings: [{ kind: 'leaked-chain', severity: 'warning', message: 'x', chain: 4 }],
    geometry: { blockSize: 16384, pageSize: 4096, blockCount: 16, kernelBase: 0xc0000000, userSpaceEnd: 0x10000000, kpdPhys: 0x1000 },
    chains: [{ id: 4, flags: 0, flagNames: [], blocks: [4, 5], runs: [{ first: 4, count: 2 }], sizeBytes: 32768, owner: { caller: 0xc0100000, seq: 1, sizeBytes: 30000, kind: 'heap', handle: 0 }, site: null, mappedAt: [], handles: [] }],
    blocks: { total: 16, free: 10, used: 2, reserved: 4, hole: 0, firmware: 0, kernel: 4, dos: 0, corrupt: 0, largestFreeRun: 10, fragmentationPercent: 0, map: 'KKKKCc..........' },
    counters: { allocations: 1, defragRuns: 0, defragMoved: 0, contextSwitches: 0, ticks: 5, faultInjected: 0 },
  } as unknown as ViewSnapshot;
}

function keyframeState(): MmHistoryState {
  const s = new MmHistoryState();
  s.addChain({ id: 4, flags: 0, blockCount: 2, blocks: [4, 5], slots: new Map(), swappedOut: 0, seq: 1, kind: 3, caller: 0xc0100000, pid: undefined, mappings: [] });
  s.counters.allocations = 1;
  s.counters.freeBlocks = 10;
  return s;
}

const marker = { seq: 0, keyframeSeq: 0 };

describe('history in the session: the reconstructed document', () => {
  it('draws the keyframe exactly: known chains, free blocks free, no finding', () => {
    const { document } = reconstructedDocument(keyframeState(), { base: baseDocument(), pidOfSpace: new Map(), resolveSite: () => undefined, marker });
    assert.strictEqual(document.blocks?.map, 'KKKKCc..........');
    assert.strictEqual(document.history.unknownBlocks, 0);
    assert.strictEqual(document.history.unknownChains, undefined);
    assert.deepStrictEqual(document.findings, []);
    assert.strictEqual((document.chains?.[0].owner as { sizeBytes?: number } | undefined)?.sizeBytes, 30000, "the keyframe's owner record of the same allocation");
  });

  it('after an allocation whose blocks the events do not give: every block that may be its own or free is unknown, none guessed', () => {
    const s = keyframeState();
    s.apply(event({ kind: MmEventKind.allocated, chain: 9, blocks: 3, caller: 0xc0100100 }));
    const { document } = reconstructedDocument(s, { base: baseDocument(), pidOfSpace: new Map(), resolveSite: () => undefined, marker });
    assert.strictEqual(document.blocks?.map, `KKKKCc${UNKNOWN_BLOCK.repeat(10)}`);
    assert.strictEqual(document.history.unknownBlocks, 10);
    assert.deepStrictEqual(document.history.unknownChains, [9]);
    const nine = document.chains?.find((c) => c.id === 9);
    assert.deepStrictEqual([nine?.blocks, nine?.runs, nine?.sizeBytes], [[], [], 3 * 16384]);
    assert.deepStrictEqual([document.blocks?.free, document.blocks?.used, document.counters?.allocations], [7, 5, 2]);
    // Once that chain is freed, every list is known again: the blocks are free exactly.
    s.apply(event({ kind: MmEventKind.freed, chain: 9, blocks: 3 }));
    const after = reconstructedDocument(s, { base: baseDocument(), pidOfSpace: new Map(), resolveSite: () => undefined, marker }).document;
    assert.strictEqual(after.blocks?.map, 'KKKKCc..........');
    assert.strictEqual(after.history.unknownBlocks, 0);
  });

  it('names mappings by the pid of their space, and leaves out (and counts) a space no stop listed', () => {
    const s = keyframeState();
    s.apply(event({ kind: MmEventKind.mapped, chain: 4, arg: 0x400000, blocks: 2, extra: 0xc0201018 }));
    s.apply(event({ kind: MmEventKind.mapped, chain: 4, arg: 0x800000, blocks: 1, flags: 1 << 8, extra: 0xc0301018 }));
    s.apply(event({ kind: MmEventKind.mapped, chain: 4, arg: 0xd0000000, blocks: 8, extra: 0 }));
    const r = reconstructedDocument(s, { base: baseDocument(), pidOfSpace: new Map([[0xc0201018, 7]]), resolveSite: () => undefined, marker });
    assert.deepStrictEqual(r.document.chains?.[0].mappedAt, [
      { space: 7, virtual: 0x400000, length: 8192, firstPage: 0 },
      { space: 'kernel', virtual: 0xd0000000, length: 32768, firstPage: 0 },
    ]);
    assert.strictEqual(r.droppedMappings, 1);
    assert.match(r.document.history.note, /1 mapping in address spaces of processes the keyframe stop did not list are left out/);
  });
});

/** A fake stop snapshot: the base document and a guest snapshot with chain 4 (what stateFromSnapshot reads). */
function stopSnapshot(): StopSnapshot {
  const guest = {
    chains: [{ id: 4, flags: { frozen: false, contiguous: false, swappable: false, user: false }, blockCount: 2, blocks: [4, 5], swapped: [], mappedAt: [], owner: { caller: 0xc0100000, seq: 1, sizeBytes: 30000, kind: 'heap', handle: 0 } }],
    processes: [{ pid: 1, pcbAddress: 0xc0201000, current: true, name: 'init' }],
    counters: { allocations: 1, defragRuns: 0, contextSwitches: 0 },
    blocks: { free: 10 },
    findings: [{ kind: 'leaked-chain', severity: 'warning', message: 'x', chain: 4 }],
  } as unknown as MmSnapshot;
  return { document: baseDocument(), guest };
}

describe('history in the session: keyframes, bins, arguments', () => {
  it('a stop keyframe shares the chains that did not change with the state before it, and copies on write', () => {
    const before = keyframeState();
    before.apply(event({ kind: MmEventKind.allocated, chain: 9, blocks: 1 }));
    const fresh = keyframeState(); // the stop's snapshot: chain 4 as before, chain 9 with its block known now
    fresh.addChain({ id: 9, flags: 0, blockCount: 1, blocks: [12], slots: new Map(), swappedOut: 0, seq: 2, kind: 0, caller: 0, pid: undefined, mappings: [] });
    assert.strictEqual(fresh.shareUnchanged(before), 1);
    assert.strictEqual(fresh.chains.get(4), before.chains.get(4), 'chain 4 is one object');
    assert.deepStrictEqual(fresh.chains.get(9)?.blocks, [12], "chain 9 keeps the block list the stop brings");
    before.apply(event({ kind: MmEventKind.frozen, chain: 4, flags: 0x10000000 }));
    assert.deepStrictEqual([fresh.chains.get(4)?.flags, before.chains.get(4)?.flags], [0, 0x10000000], 'a change on the side it came from copies it');
    fresh.apply(event({ kind: MmEventKind.resized, chain: 4, blocks: 1, arg: 2 }));
    assert.deepStrictEqual([fresh.chains.get(4)?.blockCount, before.chains.get(4)?.blockCount], [1, 2], 'and a change on the side that shares it');
  });

  it('takes a keyframe only at a stop whose generation was even', () => {
    const store = new EventStore(1000);
    const h = new SessionHistory(store, () => undefined);
    store.append(event({ kind: MmEventKind.allocated, chain: 4, blocks: 2 }));
    h.noteStop(1, { generation: 7, pcbOffUpd: 24 });
    h.noteSnapshot(1, stopSnapshot());
    assert.deepStrictEqual(h.summary().keyframes, [], 'mid-update: no keyframe');
    h.noteStop(2, { generation: 8, pcbOffUpd: 24 });
    h.noteSnapshot(2, stopSnapshot());
    const s = h.summary();
    assert.deepStrictEqual(s.keyframes, [{ seq: store.seqAt(0), stop: 2 }]);
    assert.deepStrictEqual(s.stops.map((x) => x.stop), [1, 2]);
  });

  it('bins count each lost range where it falls, and sum to the summary', () => {
    const store = new EventStore(1000);
    const h = new SessionHistory(store, () => undefined);
    seq = 1;
    for (let i = 0; i < 40; i++) store.append(event({ kind: i % 3 ? MmEventKind.mapped : MmEventKind.allocated, chain: i, pid: i % 2 }));
    store.appendLost({ firstSeq: seq, count: 25, reason: 'overrun' });
    seq += 25;
    for (let i = 0; i < 35; i++) store.append(event({ kind: MmEventKind.switch, arg: 1 }));
    const s = h.summary();
    assert.deepStrictEqual([s.events, s.lost, s.firstSeq, s.lastSeq], [75, 25, 1, 100]);
    const r = h.events({ bins: 10, limit: 5 });
    assert.deepStrictEqual(r.bins?.map((b) => b.lost), [0, 0, 0, 0, 10, 10, 5, 0, 0, 0]);
    assert.deepStrictEqual(r.bins?.map((b) => [b.fromSeq, b.toSeq]), Array.from({ length: 10 }, (_, i) => [1 + 10 * i, 10 + 10 * i]));
    const total = (r.bins ?? []).reduce((n, b) => n + Object.values(b.byKind).reduce((a, c) => a + c, 0), 0);
    assert.strictEqual(total, 75);
    assert.deepStrictEqual([r.events.length, r.truncated], [5, true]);
    const pidOne = h.events({ pid: 1, kinds: ['mapped'], limit: 1000 });
    assert.ok(pidOne.events.length > 0 && pidOne.events.every((e) => e.pid === 1 && e.kind === 'mapped'));
  });

  it('answers bad arguments and a kernel without a ring with one sentence', () => {
    const store = new EventStore(1000);
    const source = { history: new SessionHistory(store, () => undefined), reason: '' };
    const bad = (command: Parameters<typeof handleHistoryRequest>[1], args: unknown, re: RegExp): void => {
      assert.throws(() => handleHistoryRequest(source, command, args), (e: Error) => e instanceof HistoryError && re.test(e.message) && !e.message.includes('\n'));
    };
    bad('mmscope/historyEvents', { bins: 0 }, /^bins must be an integer from 1 to 10000/);
    bad('mmscope/historyEvents', { limit: -1 }, /^limit must be an integer from 0/);
    bad('mmscope/historyEvents', [], /^the arguments must be an object$/);
    bad('mmscope/historyAt', { seq: 1.5 }, /^seq must be an integer/);
    bad('mmscope/historyAt', { seq: 3 }, /^the history has no events yet$/);
    bad('mmscope/historyBlame', { target: { kind: 'page', virtual: 4096, space: 'user' } }, /^target\.space \(a pid, or "kernel"\) must be an integer/);
    bad('mmscope/historyBlame', {}, /^target must be an object/);
    bad('mmscope/historyWhen', { findingIndex: 0 }, /^there is no stop with a snapshot yet$/);
    bad('mmscope/historyExport', { path: '' }, /^path must be the file to write the trace to$/);
    const none = { history: undefined, reason: "this kernel's mm_debug_info names no event ring" };
    assert.deepStrictEqual(handleHistoryRequest(none, 'mmscope/history', undefined), {
      recording: false, reason: none.reason, events: 0, firstSeq: 0, lastSeq: 0, lost: 0, lostRanges: [], keyframes: [], stops: [], kinds: [], pids: [],
    });
    assert.throws(() => handleHistoryRequest(none, 'mmscope/historyAt', { seq: 1 }), /names no event ring/);
  });
});
