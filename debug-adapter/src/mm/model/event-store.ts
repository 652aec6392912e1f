// The event store: every drained memory-manager event of a session, append-only, in columns of
// typed arrays (chunks of 65536 events, 48 bytes an event), plus the lost ranges. Pure: the drain
// (mm/plugin/event-recorder.ts) appends, the history and exporters read (MmEventSource).

import type { LostRange, MmEventSource, MmHistoryEvent } from './mm-history-event';
import { EVENT_RECORD_WORDS, RecordWord, RingSink } from './event-ring';

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;

/** One chunk: a column per record word (RecordWord order). */
type Chunk = Uint32Array[];

const newChunk = (): Chunk => Array.from({ length: EVENT_RECORD_WORDS }, () => new Uint32Array(CHUNK));

export class EventStore implements MmEventSource, RingSink {
  private readonly chunks: Chunk[] = [];
  private count = 0;
  private readonly lost: LostRange[] = [];
  private lostTotal = 0;
  private readonly listeners = new Set<() => void>();
  private pendingNotify = false;

  constructor(public tscKhz = 0) {}

  get length(): number {
    return this.count;
  }

  get lostCount(): number {
    return this.lostTotal;
  }

  /** Bytes the store holds in typed arrays (whole chunks). */
  get memoryBytes(): number {
    return this.chunks.length * CHUNK * EVENT_RECORD_WORDS * 4;
  }

  lostRanges(): readonly LostRange[] {
    return this.lost;
  }

  /** Appends one record: 12 words of `words` from `word` (RecordWord order). */
  appendRecord(words: Uint32Array, word: number): void {
    const i = this.count & MASK;
    if (i === 0) this.chunks.push(newChunk());
    const c = this.chunks[this.chunks.length - 1];
    for (let k = 0; k < EVENT_RECORD_WORDS; k++) c[k][i] = words[word + k];
    this.count++;
    this.notify();
  }

  /** Appends an event given as an object (tests, the gdbstub's traced calls). */
  append(e: MmHistoryEvent): void {
    const w = new Uint32Array(EVENT_RECORD_WORDS);
    w[RecordWord.seq] = e.seq;
    w[RecordWord.tscLo] = Number(e.tsc & 0xffffffffn);
    w[RecordWord.tscHi] = Number((e.tsc >> 32n) & 0xffffffffn);
    w[RecordWord.kind] = e.kind;
    w[RecordWord.chain] = e.chain;
    w[RecordWord.blocks] = e.blocks;
    w[RecordWord.flags] = e.flags;
    w[RecordWord.arg] = e.arg;
    w[RecordWord.status] = e.status;
    w[RecordWord.caller] = e.caller;
    w[RecordWord.pid] = e.pid;
    w[RecordWord.extra] = e.extra;
    this.appendRecord(w, 0);
  }

  appendLost(range: LostRange): void {
    if (range.count <= 0) return;
    const last = this.lost[this.lost.length - 1];
    if (last && last.reason === range.reason && last.firstSeq + last.count === range.firstSeq) {
      this.lost[this.lost.length - 1] = { ...last, count: last.count + range.count };
    } else {
      this.lost.push(range);
    }
    this.lostTotal += range.count;
    this.notify();
  }

  private word(i: number, k: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`event index ${i} is outside 0..${this.count - 1}`);
    return this.chunks[i >>> CHUNK_SHIFT][k][i & MASK];
  }

  seqAt(i: number): number { return this.word(i, RecordWord.seq); }
  kindAt(i: number): number { return this.word(i, RecordWord.kind); }
  chainAt(i: number): number { return this.word(i, RecordWord.chain); }
  tscAt(i: number): bigint {
    return (BigInt(this.word(i, RecordWord.tscHi)) << 32n) | BigInt(this.word(i, RecordWord.tscLo));
  }
  /** The TSC as a double (exact below 2^53 cycles: ~35 days at 3 GHz). */
  tscNumberAt(i: number): number {
    return this.word(i, RecordWord.tscHi) * 4294967296 + this.word(i, RecordWord.tscLo);
  }

  get(i: number): MmHistoryEvent {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    if (i < 0 || i >= this.count || !c) throw new RangeError(`event index ${i} is outside 0..${this.count - 1}`);
    const j = i & MASK;
    return {
      seq: c[RecordWord.seq][j],
      tsc: (BigInt(c[RecordWord.tscHi][j]) << 32n) | BigInt(c[RecordWord.tscLo][j]),
      kind: c[RecordWord.kind][j],
      chain: c[RecordWord.chain][j],
      blocks: c[RecordWord.blocks][j],
      flags: c[RecordWord.flags][j],
      arg: c[RecordWord.arg][j],
      status: c[RecordWord.status][j],
      caller: c[RecordWord.caller][j],
      pid: c[RecordWord.pid][j],
      extra: c[RecordWord.extra][j],
    };
  }

  indexOfSeq(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqAt(mid) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  *range(from: number, to: number): Iterable<MmHistoryEvent> {
    const end = Math.min(to, this.count);
    for (let i = Math.max(0, from); i < end; i++) yield this.get(i);
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listeners hear of appends once per microtask (a drain appends thousands at a time). */
  private notify(): void {
    if (this.pendingNotify || this.listeners.size === 0) return;
    this.pendingNotify = true;
    queueMicrotask(() => {
      this.pendingNotify = false;
      for (const l of [...this.listeners]) l();
    });
  }
}
