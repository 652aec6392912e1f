// One feed client's outgoing queue. At most `maxInFlight` messages are handed to the socket at a
// time (the next goes when the socket has written the previous one), the rest wait here, and at
// most `maxQueued` may wait: when a client reads too slowly the waiting messages are dropped and
// replaced by a "resync" notice and a full snapshot built when the client can take it. So a slow
// client costs a bounded amount of memory and never delays the others.

/** A message, or a function that builds it when it is sent (the resync snapshot: the latest one). */
export type QueuedMessage = string | (() => string | undefined);

export interface ChannelLimits {
  /** Messages waiting at most (not counting those handed to the socket). */
  readonly maxQueued: number;
  /** Messages handed to the socket and not yet written. */
  readonly maxInFlight: number;
}

/** The socket side a channel needs (ws's WebSocket.send fits). */
export interface ChannelSocket {
  send(data: string, callback: (error?: Error) => void): void;
}

export interface ChannelStats {
  queued: number;
  inFlight: number;
  /** Deltas and events dropped because the client read too slowly. */
  dropped: number;
  /** Times the queue overflowed and the client was put on resync. */
  resyncs: number;
  /** The deepest the queue has been. */
  maxDepth: number;
  sent: number;
}

export class ClientChannel {
  private queue: { kind: 'delta' | 'other'; message: QueuedMessage }[] = [];
  private resyncPending = false;
  private closed = false;
  readonly stats: ChannelStats = { queued: 0, inFlight: 0, dropped: 0, resyncs: 0, maxDepth: 0, sent: 0 };

  constructor(
    private readonly socket: ChannelSocket,
    private readonly limits: ChannelLimits,
    /** Builds the resync notice and the latest full snapshot, at send time. */
    private readonly resync: { notice(dropped: number): string; fullSnapshot(): string | undefined },
  ) {}

  /** Queues a delta: dropped while a resync is pending, since the resync snapshot will hold it. */
  sendDelta(message: string): void {
    if (this.resyncPending) {
      this.stats.dropped++;
      return;
    }
    this.push('delta', message);
  }

  /** Queues any other message (hello, snapshot, events). */
  send(message: QueuedMessage): void {
    this.push('other', message);
  }

  /** Stops sending (the socket closed). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.stats.queued = 0;
  }

  private push(kind: 'delta' | 'other', message: QueuedMessage): void {
    if (this.closed) return;
    if (this.queue.length >= this.limits.maxQueued) {
      this.overflow();
      if (kind === 'delta') {
        // The resync snapshot, built when sent, already holds this delta's change: sending the
        // delta after it would apply it twice (its base is older than the snapshot).
        this.stats.dropped++;
        this.pump();
        return;
      }
    }
    this.queue.push({ kind, message });
    this.note();
    this.pump();
  }

  /** Drops what waits and queues a resync (notice + latest full snapshot, built when sent). */
  private overflow(): void {
    const droppedNow = this.queue.length;
    this.stats.dropped += droppedNow;
    this.stats.resyncs++;
    this.resyncPending = true;
    this.queue = [
      { kind: 'other', message: () => this.resync.notice(this.stats.dropped) },
      {
        kind: 'other',
        message: () => {
          // Built when sent: deltas queued from here on are based on this snapshot.
          this.resyncPending = false;
          return this.resync.fullSnapshot();
        },
      },
    ];
  }

  private note(): void {
    this.stats.queued = this.queue.length;
    if (this.queue.length > this.stats.maxDepth) this.stats.maxDepth = this.queue.length;
  }

  private pump(): void {
    while (!this.closed && this.stats.inFlight < this.limits.maxInFlight && this.queue.length) {
      const item = this.queue.shift() as { message: QueuedMessage };
      this.note();
      const text = typeof item.message === 'string' ? item.message : item.message();
      if (text === undefined) continue;
      this.stats.inFlight++;
      this.stats.sent++;
      this.socket.send(text, (error) => {
        this.stats.inFlight--;
        if (error) this.close();
        else this.pump();
      });
    }
  }
}
