// The guest's event ring (guest/include/mm_event.h, struct mm_event_record; docs/chain-table.md,
// "Event ring"): decodes a copy of the ring's bytes into records, in order, and says which records
// were lost. Pure: bytes and the two head values in, records and lost ranges out (to a sink).
//
// The writer (single CPU) fills record n at index n % capacity, writes seq = n + 1 last, then
// advances the head to n + 1. A reader reads the head (headBefore), copies the ring, reads the
// head again (headAfter). Then:
//   - records below headBefore were complete before the copy began;
//   - record n's slot may have been overwritten during the copy by record n + capacity, written
//     while the head went up to headAfter (and the one being written at headAfter), so only
//     records n >= headAfter - capacity + 1 are certain to be intact;
//   - a record whose seq is not n + 1 was torn or overwritten: lost, never guessed.
// So a drain keeps [max(next, headAfter - capacity + 1), headBefore) and records the rest of
// [next, headBefore) as lost ranges; records from headBefore on wait for the next drain.
// Heads are the guest's uint32 counters; a session is assumed to stay below 2^32 events.

import type { LostRange } from './mm-history-event';

/** Bytes of struct mm_event_record (12 uint32 fields). */
export const EVENT_RECORD_SIZE = 48;
export const EVENT_RECORD_WORDS = EVENT_RECORD_SIZE / 4;

/** Word offsets of struct mm_event_record's fields. */
export const RecordWord = {
  seq: 0, tscLo: 1, tscHi: 2, kind: 3, chain: 4, blocks: 5, flags: 6, arg: 7, status: 8, caller: 9, pid: 10, extra: 11,
} as const;

export class EventRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRingError';
  }
}

/** Where the ring is and how it is laid out (from mm_debug_info). */
export interface RingGeometry {
  readonly capacity: number;
  readonly recordSize: number;
}

/** One copy of the ring taken between two reads of the head. */
export interface RingCopy {
  /** The whole ring, capacity * recordSize bytes. */
  readonly bytes: Uint8Array;
  readonly headBefore: number;
  readonly headAfter: number;
}

/** Receives what a drain decoded. */
export interface RingSink {
  /** Record at word offset `word` of `words` (12 words: RecordWord order), complete and in order. */
  appendRecord(words: Uint32Array, word: number): void;
  appendLost(range: LostRange): void;
}

export interface DrainResult {
  /** The next record number to read (records ever drained or lost). */
  readonly next: number;
  readonly records: number;
  readonly lost: number;
}

/** Checks the descriptor's ring fields; throws EventRingError (what is wrong) when unusable. */
export function checkGeometry(g: RingGeometry): void {
  if (g.capacity <= 0 || (g.capacity & (g.capacity - 1)) !== 0) throw new EventRingError(`the event ring's capacity ${g.capacity} is not a power of two`);
  if (g.recordSize !== EVENT_RECORD_SIZE) throw new EventRingError(`the guest's event records are ${g.recordSize} bytes; this mmscope reads ${EVENT_RECORD_SIZE}-byte records`);
}

/**
 * Decodes the records [next, copy.headBefore) of one ring copy into `sink`, in seq order, with
 * lost ranges for what the ring overwrote before this drain ('overrun') and for records whose
 * seq did not match ('torn'). Throws EventRingError when the head went back (the guest
 * restarted) or the copy has the wrong size.
 */
export function drainRing(g: RingGeometry, copy: RingCopy, next: number, sink: RingSink): DrainResult {
  checkGeometry(g);
  const { headBefore, headAfter } = copy;
  if (copy.bytes.byteLength < g.capacity * EVENT_RECORD_SIZE) throw new EventRingError(`the ring copy is ${copy.bytes.byteLength} bytes, the ring ${g.capacity * EVENT_RECORD_SIZE}`);
  if (headAfter < headBefore) throw new EventRingError(`the event head went back from ${headBefore} to ${headAfter} during one read: the guest restarted`);
  if (headBefore < next) throw new EventRingError(`the event head is ${headBefore}, below the ${next} records already drained: the guest restarted`);
  const words = copy.bytes.byteOffset % 4 === 0
    ? new Uint32Array(copy.bytes.buffer, copy.bytes.byteOffset, g.capacity * EVENT_RECORD_WORDS)
    : new Uint32Array(copy.bytes.slice(0, g.capacity * EVENT_RECORD_SIZE).buffer);
  // Little-endian host assumed (x86 and arm64 hosts are); the guest is little-endian.
  const safeFrom = Math.max(next, headAfter - g.capacity + 1);
  let lost = 0;
  let start = next;
  if (safeFrom > start) {
    const count = Math.min(safeFrom, headBefore) - start;
    if (count > 0) {
      sink.appendLost({ firstSeq: start + 1, count, reason: 'overrun' });
      lost += count;
    }
    start = Math.min(safeFrom, headBefore);
  }
  const mask = g.capacity - 1;
  let records = 0;
  let tornFrom = -1;
  for (let n = start; n < headBefore; n++) {
    const w = (n & mask) * EVENT_RECORD_WORDS;
    if (words[w] === ((n + 1) >>> 0)) {
      if (tornFrom >= 0) {
        sink.appendLost({ firstSeq: tornFrom + 1, count: n - tornFrom, reason: 'torn' });
        lost += n - tornFrom;
        tornFrom = -1;
      }
      sink.appendRecord(words, w);
      records++;
    } else if (tornFrom < 0) {
      tornFrom = n;
    }
  }
  if (tornFrom >= 0) {
    sink.appendLost({ firstSeq: tornFrom + 1, count: headBefore - tornFrom, reason: 'torn' });
    lost += headBefore - tornFrom;
  }
  return { next: headBefore, records, lost };
}

/** Builds ring bytes holding records (tests, benchmarks): each record's words in RecordWord order. */
export function encodeRecord(target: Uint8Array, index: number, fields: Readonly<Partial<Record<keyof typeof RecordWord, number>>>): void {
  const view = new DataView(target.buffer, target.byteOffset + index * EVENT_RECORD_SIZE, EVENT_RECORD_SIZE);
  for (const [name, word] of Object.entries(RecordWord)) view.setUint32(word * 4, (fields[name as keyof typeof RecordWord] ?? 0) >>> 0, true);
}
