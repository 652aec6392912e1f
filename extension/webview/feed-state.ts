// The client side of the live feed without any transport: applies hello, snapshot, delta and
// resync messages to the snapshot it holds and says what changed. The dashboard feeds it from a
// WebSocket; the VS Code webview can feed it the same messages through postMessage; Node
// clients (tests, the language server) use it as is. Pure: no DOM, no Node.

import type { GuestRunState, HelloMessage, ServerMessage } from '../../contract/live-protocol.js';
import { applyPatch, PatchMismatchError } from '../../contract/snapshot-patch.js';
import type { ChangesView, SnapshotView } from '../../contract/guest-document.js';

/** What a message did to the state. */
export interface FeedUpdate {
  readonly kind: 'hello' | 'snapshot' | 'delta' | 'resync' | 'run-state' | 'status' | 'pong' | 'out-of-step' | 'history';
  /** Blocks changed since the previous snapshot (empty after a full snapshot). */
  readonly changedBlocks: ReadonlySet<number>;
  /** Chains added, resized, moved or renamed since the previous snapshot. */
  readonly changedChains: ReadonlySet<number>;
  readonly message?: string;
}

const NONE: ReadonlySet<number> = new Set();

export class FeedState {
  hello: HelloMessage | undefined;
  snapshot: SnapshotView | undefined;
  /** Sequence number of the snapshot held (0 before the first). */
  seq = 0;
  live = false;
  takenAt = 0;
  state: GuestRunState = 'unknown';
  /** Snapshots received (full or delta). */
  received = 0;
  /** Messages the server dropped for this client (summed over resyncs). */
  dropped = 0;
  resyncs = 0;
  changes: ChangesView | undefined;
  lastStatus: string | undefined;

  /** Applies one server message. An out-of-step delta returns kind 'out-of-step': send {"type":"resync"}. */
  handle(message: ServerMessage<SnapshotView, ChangesView>): FeedUpdate {
    switch (message.type) {
      case 'hello':
        this.hello = message;
        this.state = message.state;
        return { kind: 'hello', changedBlocks: NONE, changedChains: NONE };
      case 'snapshot':
        this.snapshot = message.snapshot;
        this.seq = message.seq;
        this.live = message.live;
        this.takenAt = message.takenAt;
        this.state = message.state;
        this.changes = undefined;
        this.received++;
        return { kind: 'snapshot', changedBlocks: NONE, changedChains: NONE };
      case 'delta': {
        if (!this.snapshot || message.base !== this.seq) {
          return { kind: 'out-of-step', changedBlocks: NONE, changedChains: NONE, message: `delta ${message.seq} is based on ${message.base}, but ${this.seq} is held` };
        }
        try {
          this.snapshot = applyPatch(this.snapshot, message.patch);
        } catch (e) {
          if (e instanceof PatchMismatchError) return { kind: 'out-of-step', changedBlocks: NONE, changedChains: NONE, message: e.message };
          throw e;
        }
        this.seq = message.seq;
        this.live = message.live;
        this.takenAt = message.takenAt;
        this.state = message.state;
        this.changes = message.changes;
        this.received++;
        const chains = new Set<number>();
        for (const c of message.changes.chains ?? []) if (c.kind !== 'freed') chains.add(c.id);
        return { kind: 'delta', changedBlocks: new Set(message.changes.changedBlocks ?? []), changedChains: chains };
      }
      case 'resync':
        this.dropped = message.dropped;
        this.resyncs++;
        return { kind: 'resync', changedBlocks: NONE, changedChains: NONE, message: `the feed dropped ${message.dropped} messages; a full snapshot follows` };
      case 'stopped':
        this.state = 'stopped';
        return { kind: 'run-state', changedBlocks: NONE, changedChains: NONE, message: `stopped (${message.reason})` };
      case 'continued':
        this.state = 'running';
        return { kind: 'run-state', changedBlocks: NONE, changedChains: NONE, message: 'running' };
      case 'status':
        this.state = message.state;
        this.lastStatus = message.message;
        return { kind: 'status', changedBlocks: NONE, changedChains: NONE, message: message.message };
      case 'pong':
        return { kind: 'pong', changedBlocks: NONE, changedChains: NONE };
      case 'history':
        // A reply to this client's history query: the timeline handles it; the held snapshot is unchanged.
        return { kind: 'history', changedBlocks: NONE, changedChains: NONE };
    }
  }
}
