// Keyframes over the recorded events (issue 16): full states at stops (from their snapshots) and
// every `interval` events after them; the state at any position is the nearest keyframe at or
// before it advanced by the events since. A position p is "after the first p kept events of the
// event source" (p = 0: before any event), so it runs from 0 to source.length.
//
// Events the recorder lost (a seq gap) make every state after them unknown until the next
// snapshot keyframe: stateAt says so (`lostSince`) rather than showing a state that may be wrong.
// Pure: works on the event source's read interface only.

import { MmEventSource } from './mm-history-event';
import { MmHistoryState } from './history-state';

export const DEFAULT_KEYFRAME_INTERVAL = 4096;

interface Keyframe {
  readonly position: number;
  readonly state: MmHistoryState;
  /** Events lost between the last snapshot keyframe and this position. */
  readonly lost: number;
  /** True for a keyframe taken from a stop's snapshot. */
  readonly snapshot: boolean;
}

export interface HistoryView {
  readonly position: number;
  /** A copy: callers may advance or change it. */
  readonly state: MmHistoryState;
  /** Events lost between the snapshot keyframe this state comes from and the position (0 = exact). */
  readonly lostSince: number;
  /** Position of the keyframe used. */
  readonly keyframe: number;
}

export class MmHistory {
  private readonly keyframes: Keyframe[] = [];

  constructor(readonly source: MmEventSource, readonly interval = DEFAULT_KEYFRAME_INTERVAL) {
    if (!(interval >= 1)) throw new Error('keyframe interval must be at least 1');
  }

  /** Keyframes kept (snapshot and periodic), in position order. */
  get keyframeCount(): number {
    return this.keyframes.length;
  }

  /** The keyframes' positions, in order, and whether each came from a stop's snapshot. */
  keyframePositions(): { readonly position: number; readonly snapshot: boolean }[] {
    return this.keyframes.map((k) => ({ position: k.position, snapshot: k.snapshot }));
  }

  /** First position a state is known for (the first snapshot keyframe), or undefined. */
  get firstPosition(): number | undefined {
    return this.keyframes[0]?.position;
  }

  /**
   * Adds the state of a stop's snapshot at `position` (the events kept when the stop was read).
   * Periodic keyframes after it that it supersedes are dropped; positions must not go backwards.
   */
  addSnapshot(position: number, state: MmHistoryState): void {
    if (position < 0 || position > this.source.length) throw new Error(`position ${position} outside 0..${this.source.length}`);
    while (this.keyframes.length && this.keyframes[this.keyframes.length - 1].position >= position) {
      const last = this.keyframes[this.keyframes.length - 1];
      if (last.snapshot && last.position > position) throw new Error(`a snapshot keyframe at ${last.position} is after ${position}`);
      this.keyframes.pop();
    }
    this.keyframes.push({ position, state: state.clone(), lost: 0, snapshot: true });
  }

  /** Builds the periodic keyframes up to the source's end (called as events arrive, or lazily). */
  extend(): void {
    const last = this.keyframes[this.keyframes.length - 1];
    if (!last) return;
    let { position, lost } = last;
    const end = this.source.length;
    if (end - position < this.interval) return;
    const state = last.state.clone();
    while (end - position >= this.interval) {
      lost += this.advance(state, position, position + this.interval);
      position += this.interval;
      this.keyframes.push({ position, state: state.clone(), lost, snapshot: false });
    }
  }

  /** The reconstructed state at `position`, or undefined before the first keyframe. */
  stateAt(position: number): HistoryView | undefined {
    if (position < 0 || position > this.source.length) throw new Error(`position ${position} outside 0..${this.source.length}`);
    this.extend();
    const k = this.keyframeAt(position);
    if (!k) return undefined;
    const state = k.state.clone();
    const lost = k.lost + this.advance(state, k.position, position);
    return { position, state, lostSince: lost, keyframe: k.position };
  }

  /** Visits the state after each event in [from, to) (from a keyframe's copy); stops early when visit returns false. */
  walk(from: number, to: number, visit: (state: MmHistoryState, position: number) => boolean | void): void {
    const view = this.stateAt(from);
    if (!view) throw new Error(`no keyframe at or before ${from}`);
    const { state } = view;
    for (let i = from; i < to; i++) {
      state.apply(this.source.get(i));
      if (visit(state, i + 1) === false) return;
    }
  }

  private keyframeAt(position: number): Keyframe | undefined {
    const ks = this.keyframes;
    let lo = 0, hi = ks.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ks[mid].position <= position) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? undefined : ks[found];
  }

  /** Applies events [from, to) to `state`; returns how many seqs were missing among them. */
  private advance(state: MmHistoryState, from: number, to: number): number {
    let lost = 0;
    let prev = from > 0 ? this.source.seqAt(from - 1) : undefined;
    for (let i = from; i < to; i++) {
      const seq = this.source.seqAt(i);
      if (prev !== undefined && seq !== prev + 1) lost += seq - prev - 1;
      prev = seq;
      state.apply(this.source.get(i));
    }
    return lost;
  }
}
