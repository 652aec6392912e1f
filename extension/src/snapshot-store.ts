// The snapshot every view shows: fetched from the data source once per stop, and only when some
// view that needs it is visible (a hidden view fetches nothing). Knows nothing of VS Code.

import { ViewSnapshot } from './view-snapshot';
import { MmDataSource, StopSummary } from './mm-data-source';

export type SessionState = 'none' | 'running' | 'stopped';

export interface StoreChange {
  readonly state: SessionState;
  readonly snapshot?: ViewSnapshot;
  readonly previous?: ViewSnapshot;
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
  previous: ViewSnapshot | undefined;
  stop: number | undefined;
  lastError: string | undefined;
  lastSummary: StopSummary | undefined;

  /** `wanted()` says whether anything that shows the snapshot is visible now. */
  constructor(private readonly wanted: () => boolean) {}

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }

  private emit(extra: Partial<StoreChange> = {}): void {
    const change: StoreChange = { state: this.state, snapshot: this.snapshot, previous: this.previous, stop: this.stop, ...extra };
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
    this.previous = undefined;
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

  /** The guest stopped and a snapshot is ready: fetch it now if a view wants it, else later. */
  stopped(summary: StopSummary): Promise<void> {
    if (!this.source) return Promise.resolve();
    this.state = summary.live ? 'running' : 'stopped';
    this.lastSummary = summary;
    this.pendingStop = summary.stop;
    if (summary.snapshot && !this.fetching) {
      this.adopt(summary.snapshot, undefined, summary.stop, 0); // pushed with the event: nothing to fetch
      return Promise.resolve();
    }
    if (this.wanted()) return this.refresh();
    this.emit();
    return Promise.resolve();
  }

  /** Whether the snapshot held is older than the last stop. */
  get stale(): boolean {
    return this.pendingStop !== undefined && this.pendingStop !== this.stop;
  }

  /** A view became visible: fetch if what it would show is stale. */
  visible(): Promise<void> {
    return this.stale ? this.refresh() : Promise.resolve();
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
          if (source === this.source) this.adopt(pair.snapshot, pair.previous, wantedStop ?? pair.snapshot.stop, Date.now() - started);
        },
        (e: unknown) => {
          if (source !== this.source) return;
          this.lastError = e instanceof Error ? e.message : String(e);
          // The old snapshot is not this stop's: keep it only as the "previous" for the next diff.
          if (this.snapshot) this.previous = this.snapshot;
          this.snapshot = undefined;
          this.stop = wantedStop;
          this.emit({ error: this.lastError });
        },
      )
      .finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  /** Takes `snapshot` as the one of `stop`; the one held before becomes the previous unless the source gave one. */
  private adopt(snapshot: ViewSnapshot, previous: ViewSnapshot | undefined, stop: number, fetchMs: number): void {
    this.previous = previous ?? (this.snapshot && this.stop !== stop ? this.snapshot : this.previous);
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
