// The debug session's flight recorder (issue 16): one event store per session, filled from our
// guest's event ring at every stop and, between stops, every `periodMs` while reads work (through
// the RAM file; with only the gdbstub a read while the guest runs fails and waits for the stop).
// The history (keyframes, reconstruction, blame) reads `store`.

import type { PhysicalReader } from '../model/snapshot';
import { readDescriptor } from '../model/snapshot';
import { EventStore } from '../model/event-store';
import { EventRecorder, readerMemory } from './event-recorder';

/** How often the session drains the ring while the guest runs, ms (the default of `periodMs`). */
export const SESSION_DRAIN_PERIOD_MS = 50;

export class SessionEvents {
  /** Every event drained in this session (from the guest's boot on when the ring still holds it). */
  readonly store = new EventStore();
  private recorder: EventRecorder | undefined;
  private noRing = false;
  private setup: Promise<EventRecorder | undefined> | undefined;

  /**
   * `running`: whether the guest runs now; the periodic drain reads only then (at a stop the
   * session's own gdbstub traffic has the target, and atStop drains). Default: never periodic.
   */
  constructor(
    private readonly read: PhysicalReader,
    private readonly descriptorPhys: number,
    private readonly options: { running?: () => boolean; periodMs?: number } = {},
  ) {}

  /** The recorder, once the descriptor was read and names a ring. */
  get active(): EventRecorder | undefined {
    return this.recorder;
  }

  /** At a stop: drains everything up to now. Never throws (a drain error is kept in the recorder's stats). */
  async atStop(): Promise<void> {
    const r = await this.ensure();
    if (!r) return;
    await r.drain().catch((e: Error) => {
      r.stats.lastError = e.message;
    });
  }

  private ensure(): Promise<EventRecorder | undefined> {
    if (this.recorder || this.noRing) return Promise.resolve(this.recorder);
    this.setup ??= (async () => {
      try {
        const info = await readDescriptor(this.read, this.descriptorPhys);
        const r = EventRecorder.forGuest(readerMemory(this.read), info, { store: this.store });
        if (!r) this.noRing = true;
        else {
          this.recorder = r;
          if (this.options.running) r.start(this.options.periodMs ?? SESSION_DRAIN_PERIOD_MS, undefined, this.options.running);
        }
        return r;
      } catch {
        return undefined; // the descriptor is not filled in yet: try again at the next stop
      } finally {
        this.setup = undefined;
      }
    })();
    return this.setup;
  }

  /** Stops the periodic drain. */
  async close(): Promise<void> {
    await this.recorder?.stop();
  }
}
