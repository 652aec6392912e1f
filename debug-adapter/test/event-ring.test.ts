// The event ring's decoder and the event store on hand-built ring bytes: in order, wrap-around,
// records lost to an overrun (the ring lapped the reader), a torn record (seq not n + 1), a
// record being written during the copy, and a guest that restarted.

import * as assert from 'assert';
import { drainRing, encodeRecord, EVENT_RECORD_SIZE, EventRingError, RingCopy } from '../src/mm/model/event-ring';
import { EventStore } from '../src/mm/model/event-store';
import { MmEventKind, mmEventKindName } from '../src/mm/model/mm-history-event';

const CAP = 8;
const G = { capacity: CAP, recordSize: EVENT_RECORD_SIZE };

/** A ring after `head` records were written (record n: chain n + 100, tsc 1000 + n). */
function ring(head: number): Uint8Array {
  const bytes = new Uint8Array(CAP * EVENT_RECORD_SIZE);
  for (let n = Math.max(0, head - CAP); n < head; n++) {
    encodeRecord(bytes, n % CAP, { seq: n + 1, tscLo: 1000 + n, tscHi: 1, kind: MmEventKind.allocated, chain: n + 100, blocks: 2, pid: 3, caller: 0xc0100000 + n, extra: 7 });
  }
  return bytes;
}
const copy = (bytes: Uint8Array, headBefore: number, headAfter = headBefore): RingCopy => ({ bytes, headBefore, headAfter });

describe('event ring decoder and store', () => {
  it('decodes every record in order with all its fields', () => {
    const store = new EventStore(2000);
    const r = drainRing(G, copy(ring(5), 5), 0, store);
    assert.deepStrictEqual(r, { next: 5, records: 5, lost: 0 });
    assert.strictEqual(store.length, 5);
    assert.deepStrictEqual(store.get(4), {
      seq: 5, tsc: (1n << 32n) | 1004n, kind: 1, chain: 104, blocks: 2, flags: 0, arg: 0, status: 0, caller: 0xc0100004, pid: 3, extra: 7,
    });
    assert.strictEqual(mmEventKindName(store.kindAt(0)), 'allocated');
    assert.strictEqual(store.lostCount, 0);
  });

  it('continues where the last drain stopped, across the wrap', () => {
    const store = new EventStore();
    let next = drainRing(G, copy(ring(6), 6), 0, store).next;
    next = drainRing(G, copy(ring(13), 13), next, store).next;   // 7 more: slots 6,7,0..4
    assert.strictEqual(next, 13);
    assert.deepStrictEqual([...store.range(0, store.length)].map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.strictEqual(store.indexOfSeq(9), 8);
    assert.strictEqual(store.lostCount, 0);
  });

  it('records what the ring overwrote before the drain as lost, with its count', () => {
    const store = new EventStore();
    drainRing(G, copy(ring(3), 3), 0, store);
    const r = drainRing(G, copy(ring(20), 20), 3, store);      // 17 new, only the last 7 are certain
    assert.deepStrictEqual(r, { next: 20, records: 7, lost: 10 });
    assert.deepStrictEqual(store.lostRanges(), [{ firstSeq: 4, count: 10, reason: 'overrun' }]);
    assert.deepStrictEqual([...store.range(3, store.length)].map((e) => e.seq), [14, 15, 16, 17, 18, 19, 20]);
  });

  it('does not trust slots the writer reached while the ring was copied', () => {
    const store = new EventStore();
    // The head went from 10 to 12 during the copy: records 4 and 5 may be overwritten (slots of
    // 12 and 13, 13 perhaps half written); 6..9 are intact; 10 and 11 wait for the next drain.
    const r = drainRing(G, copy(ring(12), 10, 12), 0, store);
    assert.deepStrictEqual(r, { next: 10, records: 5, lost: 5 });
    assert.deepStrictEqual(store.lostRanges(), [{ firstSeq: 1, count: 5, reason: 'overrun' }]);
    assert.deepStrictEqual([...store.range(0, 5)].map((e) => e.seq), [6, 7, 8, 9, 10]);
  });

  it('a torn record (seq not n + 1) is lost, not guessed', () => {
    const bytes = ring(6);
    encodeRecord(bytes, 2, { seq: 0, kind: MmEventKind.freed, chain: 999 });   // being rewritten
    encodeRecord(bytes, 3, { seq: 12, kind: MmEventKind.freed, chain: 998 });  // a later lap's record
    const store = new EventStore();
    const r = drainRing(G, copy(bytes, 6), 0, store);
    assert.deepStrictEqual(r, { next: 6, records: 4, lost: 2 });
    assert.deepStrictEqual(store.lostRanges(), [{ firstSeq: 3, count: 2, reason: 'torn' }]);
    assert.ok(![...store.range(0, store.length)].some((e) => e.chain === 999 || e.chain === 998));
  });

  it('a torn record at the end is lost too; lost ranges of one reason merge', () => {
    const bytes = ring(4);
    encodeRecord(bytes, 3, { seq: 0 });
    const store = new EventStore();
    drainRing(G, copy(bytes, 4), 0, store);
    assert.deepStrictEqual(store.lostRanges(), [{ firstSeq: 4, count: 1, reason: 'torn' }]);
    store.appendLost({ firstSeq: 5, count: 2, reason: 'torn' });
    assert.deepStrictEqual(store.lostRanges(), [{ firstSeq: 4, count: 3, reason: 'torn' }]);
    assert.strictEqual(store.lostCount, 3);
  });

  it('a head that went back (the guest restarted) is an error', () => {
    assert.throws(() => drainRing(G, copy(ring(3), 3), 5, new EventStore()), EventRingError);
    assert.throws(() => drainRing(G, copy(ring(3), 3, 2), 0, new EventStore()), EventRingError);
    assert.throws(() => drainRing({ capacity: 6, recordSize: 48 }, copy(ring(3), 3), 0, new EventStore()), EventRingError);
  });

  it('the store grows past a chunk and tells listeners once per batch', async () => {
    const store = new EventStore();
    let calls = 0;
    store.onAppend(() => calls++);
    for (let i = 0; i < 70000; i++) store.append({ seq: i + 1, tsc: BigInt(i), kind: 2, chain: i, blocks: 1, flags: 0, arg: 0, status: 0, caller: 0, pid: 0, extra: 0 });
    await Promise.resolve();
    assert.strictEqual(calls, 1);
    assert.strictEqual(store.length, 70000);
    assert.strictEqual(store.chainAt(69999), 69999);
    assert.strictEqual(store.tscAt(65536), 65536n);
    assert.strictEqual(store.indexOfSeq(65537), 65536);
    assert.strictEqual(store.memoryBytes, 2 * 65536 * 48);
  });
});
