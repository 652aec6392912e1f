// The drain: copies the guest's event ring (mm_debug_info.event_ring_*) into the session's event
// store, periodically while the guest runs (through the RAM file) and on demand at stops. Only the
// slots not yet drained are read; what the guest overwrote before a drain got there is recorded in
// the store as lost events with their count (model/event-ring.ts says exactly which).

import type { MmDebugInfo } from '../model/descriptor';
import { drainRing, DrainResult, EVENT_RECORD_SIZE, EventRingError, RingGeometry } from '../model/event-ring';
import { EventStore } from '../model/event-store';

/** Guest-physical reads (GuestMemory satisfies it). */
export interface RingMemory {
  readPhysInto(address: number, target: Buffer, offset?: number, length?: number): Promise<void>;
}

/** A plain physical reader as RingMemory (copies into the target). */
export function readerMemory(read: (address: number, length: number) => Promise<Buffer>): RingMemory {
  return {
    async readPhysInto(address: number, target: Buffer, offset = 0, length = target.length - offset): Promise<void> {
      (await read(address, length)).copy(target, offset, 0, length);
    },
  };
}

export interface EventRecorderStats {
  drains: number;
  records: number;
  lost: number;
  /** Largest number of records one drain took (how close the drain came to the capacity). */
  maxBacklog: number;
  lastError?: string;
}

export class EventRecorder {
  readonly store: EventStore;
  readonly geometry: RingGeometry;
  readonly stats: EventRecorderStats = { drains: 0, records: 0, lost: 0, maxBacklog: 0 };
  /** The next record number to drain (records drained or lost so far, counted from boot). */
  next: number;
  private readonly ring: Buffer;
  private readonly head = Buffer.alloc(4);
  private readonly ringPhys: number;
  private readonly headPhys: number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<DrainResult> | undefined;

  private constructor(private readonly memory: RingMemory, info: MmDebugInfo, options: { store?: EventStore; from?: number }) {
    this.geometry = { capacity: info.eventRingCapacity, recordSize: info.eventRecordSize };
    this.store = options.store ?? new EventStore(info.tscKhz);
    if (!this.store.tscKhz) this.store.tscKhz = info.tscKhz;
    this.ring = Buffer.alloc(info.eventRingCapacity * EVENT_RECORD_SIZE);
    this.ringPhys = info.eventRingPhys;
    this.headPhys = info.eventHeadAddr - info.kernelVbase;
    this.next = options.from ?? 0;
  }

  /**
   * A recorder for this guest, or undefined when its kernel keeps no ring (capacity 0 or a
   * version before 3). `from`: the first record to keep (default 0, everything since boot; the
   * current head: from now on).
   */
  static forGuest(memory: RingMemory, info: MmDebugInfo, options: { store?: EventStore; from?: number } = {}): EventRecorder | undefined {
    if (!info.eventRingCapacity || !info.eventHeadAddr || !info.eventRingPhys) return undefined;
    return new EventRecorder(memory, info, options);
  }

  /** Reads the guest's head (records ever written). */
  async readHead(): Promise<number> {
    await this.memory.readPhysInto(this.headPhys, this.head, 0, 4);
    return this.head.readUInt32LE(0);
  }

  /** Drains what the guest wrote since the last drain. Drains never overlap (a second call waits for the first). */
  drain(): Promise<DrainResult> {
    const run = async (): Promise<DrainResult> => {
      const headBefore = await this.readHead();
      const cap = this.geometry.capacity;
      const from = Math.max(this.next, headBefore - cap);
      // Copy only the slots of [from, headBefore): one or two spans of the ring.
      const count = headBefore - from;
      if (count > 0) {
        const first = from & (cap - 1);
        const span1 = Math.min(count, cap - first);
        await this.memory.readPhysInto(this.ringPhys + first * EVENT_RECORD_SIZE, this.ring, first * EVENT_RECORD_SIZE, span1 * EVENT_RECORD_SIZE);
        if (count > span1) await this.memory.readPhysInto(this.ringPhys, this.ring, 0, (count - span1) * EVENT_RECORD_SIZE);
      }
      const headAfter = count > 0 ? await this.readHead() : headBefore;
      const r = drainRing(this.geometry, { bytes: this.ring, headBefore, headAfter }, this.next, this.store);
      this.next = r.next;
      this.stats.drains++;
      this.stats.records += r.records;
      this.stats.lost += r.lost;
      this.stats.maxBacklog = Math.max(this.stats.maxBacklog, r.records + r.lost);
      return r;
    };
    const p = (this.inFlight ?? Promise.resolve()).then(run, run);
    this.inFlight = p.catch(() => ({ next: this.next, records: 0, lost: 0 }));
    return p;
  }

  /**
   * Drains every `periodMs` until stop() (only when `when()` says so, if given); a failing drain
   * is counted in stats.lastError and reported to `onError`.
   */
  start(periodMs = 20, onError?: (e: Error) => void, when?: () => boolean): void {
    if (this.timer) return;
    const tick = (): void => {
      if (when && !when()) {
        this.schedule(tick, periodMs);
        return;
      }
      this.drain().then(
        () => this.schedule(tick, periodMs),
        (e: Error) => {
          this.stats.lastError = e.message;
          onError?.(e);
          if (!(e instanceof EventRingError)) this.schedule(tick, periodMs);
        },
      );
    };
    this.timer = setTimeout(tick, periodMs);
    this.timer.unref?.();
  }

  private schedule(tick: () => void, periodMs: number): void {
    if (this.timer) {
      this.timer = setTimeout(tick, periodMs);
      this.timer.unref?.();
    }
  }

  /** Stops the periodic drain and waits for a drain in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}
