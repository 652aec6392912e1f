// The snapshot every view shows: the one the adapter pushed with the stop (mmscope/snapshotReady
// carries the document and what changed since the snapshot before, computed once in the adapter),
// or, on an explicit refresh, the one fetched (the mmscope/snapshot response carries the same
// changes). The store computes no "what changed" of its own and keeps no previous snapshot:
// `changes` is the adapter's one diff of the stop, which every view marks. Knows nothing of VS Code.
// Its API: `snapshot`, `changes`, `stop` (and the session's state).

import { ViewSnapshot } from './view-snapshot';
import { MmDataSource, StopSummary } from './mm-data-source';
import type { ChangesView } from '../../contract/guest-document';

export type SessionState = 'none' | 'running' | 'stopped';

export interface StoreChange {
  readonly state: SessionState;
  readonly snapshot?: ViewSnapshot;
  /** What changed since the snapshot before, as the adapter computed it (undefined at a session's first). */
  readonly changes?: ChangesView;
  /** The stop the snapshot belongs to. */
  readonly stop?: number;
  /** Milliseconds the fetch took. */
  readonly fetchMs?: number;
  readonly error?: string;
}

type Listener = (change: StoreChange) => void;

export class SnapshotStore {
  private source: MmDataSource | undefined;
  private listeners: Listener[] = [];
  private pendingStop: number | undefined;
  private fetching: Promise<void> | undefined;
  state: SessionState = 'none';
  snapshot: ViewSnapshot | undefined;
  /** The adapter's changes from the snapshot before to `snapshot`. */
  changes: ChangesView | undefined;
  stop: number | undefined;
  lastError: string | undefined;
  lastSummary: StopSummary | undefined;

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }

  private emit(extra: Partial<StoreChange> = {}): void {
    const change: StoreChange = { state: this.state, snapshot: this.snapshot, changes: this.changes, stop: this.stop, ...extra };
    for (const l of [...this.listeners]) l(change);
  }

  /** A debug session of type mmscope started (or a live feed connected). */
  attach(source: MmDataSource): void {
    this.source = source;
    this.state = 'running';
    this.emit();
  }

  /** The session ended: the views go back to their welcome content. */
  detach(): void {
    this.source = undefined;
    this.state = 'none';
    this.snapshot = undefined;
    this.changes = undefined;
    this.stop = undefined;
    this.pendingStop = undefined;
    this.lastSummary = undefined;
    this.emit();
  }

  running(): void {
    if (!this.source || this.state === 'running') return;
    this.lastSummary = undefined;
    this.state = 'running';
    this.emit();
  }

  /**
   * The adapter's snapshotReady: a stop (or a live snapshot) with its document and changes. Only
   * an event without a document (the adapter could not build it: `error`) leaves nothing to show.
   */
  stopped(summary: StopSummary): Promise<void> {
    if (!this.source) return Promise.resolve();
    this.state = summary.live ? 'running' : 'stopped';
    this.lastSummary = summary;
    this.pendingStop = summary.stop;
    if (summary.snapshot) {
      this.adopt(summary.snapshot, summary.changes, summary.stop, 0); // pushed with the event: nothing to fetch
      return Promise.resolve();
    }
    this.lastError = summary.error ?? 'the debug adapter sent the stop without its snapshot';
    this.snapshot = undefined;
    this.changes = undefined;
    this.stop = summary.stop;
    this.emit({ error: this.lastError });
    return Promise.resolve();
  }

  /** Whether the snapshot held is older than the last stop. */
  get stale(): boolean {
    return this.pendingStop !== undefined && this.pendingStop !== this.stop;
  }

  /** Fetches the snapshot of the current stop (one fetch at a time; a second call waits for it). */
  refresh(): Promise<void> {
    if (!this.source || (this.state !== 'stopped' && !this.lastSummary?.live)) return Promise.resolve();
    if (this.fetching) return this.fetching.then(() => (this.stale ? this.refresh() : undefined));
    const source = this.source;
    const started = Date.now();
    const wantedStop = this.pendingStop;
    this.fetching = source
      .snapshot()
      .then(
        (pair) => {
          if (source === this.source) this.adopt(pair.snapshot, pair.changes, wantedStop ?? pair.snapshot.stop, Date.now() - started);
        },
        (e: unknown) => {
          if (source !== this.source) return;
          this.lastError = e instanceof Error ? e.message : String(e);
          // The old snapshot is not this stop's: nothing to show.
          this.snapshot = undefined;
          this.changes = undefined;
          this.stop = wantedStop;
          this.emit({ error: this.lastError });
        },
      )
      .finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  /** Takes `snapshot` as the one of `stop`, with the adapter's changes of it. */
  private adopt(snapshot: ViewSnapshot, changes: ChangesView | undefined, stop: number, fetchMs: number): void {
    if (snapshot === this.snapshot) return;
    this.changes = changes;
    this.snapshot = snapshot;
    this.stop = stop;
    this.lastError = undefined;
    this.emit({ fetchMs });
  }

  /** Why a stop has nothing to show (its snapshot failed), as the views say it; undefined otherwise. */
  get unavailable(): string | undefined {
    return this.state === 'stopped' && !this.snapshot && this.lastError ? `Nothing to show at this stop: ${this.lastError}` : undefined;
  }

  get dataSource(): MmDataSource | undefined {
    return this.source;
  }
}
