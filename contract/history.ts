// The memory manager's history as the clients see it (issue 16): the payloads of the history
// requests (contract/dap.ts: DapRequest.history*), the live feed's history messages
// (contract/live-protocol.ts), and the marker a reconstructed document carries. The adapter
// answers them from MmService's history (debug-adapter/src/mm/model/history-*.ts); the timeline
// webview, the dashboard's timeline, the tree views and the CLI read them. Pure types and
// constants: no Node or DOM imports (the browser build compiles it).

import type { SiteView, SnapshotView } from './guest-document.js';

/** One recorded event as a client shows it. `seq` is the guest's sequence number (1-based). */
export interface HistoryEventView {
  readonly seq: number;
  /** Milliseconds since the first recorded event (TSC / tsc_khz); absent when the guest gave no TSC rate. */
  readonly timeMs?: number;
  /** mmEventKindName: allocated, freed, resized, mapped, unmapped, defrag, xms, dpmi, dos, moved, renamed, ... */
  readonly kind: string;
  readonly chain: number;
  readonly blocks: number;
  readonly flags: number;
  readonly arg: number;
  readonly status: number;
  readonly pid: number;
  /** The return address of the memory-manager call (0 when unknown). */
  readonly caller: number;
  /** The call site's source line, when the symbols name it (clickable in the views). */
  readonly site: SiteView | null;
  /** One line a person reads: "allocated chain 12 (3 blocks) by pid 2". */
  readonly text: string;
}

/** A range of sequence numbers the recorder could not read (the ring overwrote them): shown, never hidden. */
export interface HistoryLostRangeView {
  readonly fromSeq: number;
  readonly toSeq: number;
}

/** The body of mmscope/history: what the session has recorded. */
export interface HistorySummaryBody {
  /** False when this kernel has no event ring (then `reason` says why) or recording is off. */
  readonly recording: boolean;
  readonly reason?: string;
  readonly events: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Events lost (sum of the lost ranges). */
  readonly lost: number;
  readonly lostRanges: readonly HistoryLostRangeView[];
  /** Keyframes: full snapshots (at stops where the generation was even, and every N events). */
  readonly keyframes: readonly { readonly seq: number; readonly stop?: number }[];
  /** The stops of this session, by the last event seq recorded before each. */
  readonly stops: readonly { readonly stop: number; readonly seq: number }[];
  /** Duration covered, ms (absent without a TSC rate). */
  readonly durationMs?: number;
  /** Event kinds and pids that occur (for the timeline's lanes). */
  readonly kinds: readonly string[];
  readonly pids: readonly number[];
}

/** mmscope/historyEvents arguments: a range of events, binned for the timeline or listed. */
export interface HistoryEventsArgs {
  /** Inclusive; default: the first recorded. */
  readonly fromSeq?: number;
  /** Inclusive; default: the last recorded. */
  readonly toSeq?: number;
  /** When given: counts in this many equal seq bins (the timeline's zoom level). */
  readonly bins?: number;
  /** Events listed, at most (default 500); `truncated` says when more matched. */
  readonly limit?: number;
  /** Only these kinds, and only this pid. */
  readonly kinds?: readonly string[];
  readonly pid?: number;
}

export interface HistoryBinView {
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Events per kind name in this bin. */
  readonly byKind: { readonly [kind: string]: number };
  /** Events per pid in this bin. */
  readonly byPid: { readonly [pid: string]: number };
  /** Lost events in this bin. */
  readonly lost: number;
}

export interface HistoryEventsBody {
  readonly bins?: readonly HistoryBinView[];
  readonly events: readonly HistoryEventView[];
  readonly truncated: boolean;
}

/** What a reconstructed document carries: every view that shows it says "history" and this position. */
export interface HistoryMarker {
  /** The event the state is reconstructed just after. */
  readonly seq: number;
  readonly timeMs?: number;
  /** The keyframe it was reconstructed from (seq), and that keyframe's stop when it was one. */
  readonly keyframeSeq: number;
  readonly keyframeStop?: number;
  /** Blocks whose owner the history cannot name exactly at this event (drawn as unknown, never guessed). */
  readonly unknownBlocks: number;
  /**
   * IDs of the chains whose block lists the history does not know (allocated or grown since the
   * keyframe: the events give counts, not blocks); their `blocks` and `runs` are [] in the document.
   * Absent when every list is known. (Added by helper hista.)
   */
  readonly unknownChains?: readonly number[];
  /** What the reconstruction does not claim, one sentence (page-table contents, dirty bits, ...). */
  readonly note: string;
}

/** A document the history reconstructed: a SnapshotView with `history` set. */
export type HistorySnapshotView = SnapshotView & { readonly history: HistoryMarker };

export function isHistoryView(s: SnapshotView): s is HistorySnapshotView {
  return (s as { history?: unknown }).history !== undefined;
}

export interface HistoryAtArgs {
  readonly seq: number;
}

/** The body of mmscope/historyAt: the reconstructed document and the event it stands after. */
export interface HistoryAtBody {
  readonly snapshot: HistorySnapshotView;
  readonly event: HistoryEventView | null;
}

/** What to blame: a block, a chain, a virtual page in a space (kernel or a pid), or an allocation site. */
export type HistoryBlameTarget =
  | { readonly kind: 'block'; readonly block: number }
  | { readonly kind: 'chain'; readonly chain: number }
  | { readonly kind: 'page'; readonly virtual: number; readonly space?: 'kernel' | number }
  | { readonly kind: 'site'; readonly caller: number };

export interface HistoryBlameArgs {
  readonly target: HistoryBlameTarget;
  /** Up to this event (default: the last recorded). */
  readonly atSeq?: number;
}

/** An allocation site whose live blocks only grew over the history: a probable leak. */
export interface HistoryLeakSiteView {
  readonly caller: number;
  readonly site: SiteView | null;
  readonly liveChains: number;
  readonly liveBlocks: number;
  /** Times its live block count grew without ever falling. */
  readonly increases: number;
}

export interface HistoryBlameBody {
  readonly events: readonly HistoryEventView[];
  readonly probableLeaks: readonly HistoryLeakSiteView[];
}

/** mmscope/whenBroke: for a finding of the current stop (its index in the stop's findings). */
export interface HistoryWhenArgs {
  readonly findingIndex: number;
}

export interface HistoryWhenBody {
  /** The first event after which the finding holds, or null (then `reason` says why: not covered, held since the first keyframe, ...). */
  readonly event: HistoryEventView | null;
  readonly reason?: string;
  readonly findingKind: string;
}

export interface HistoryExportArgs {
  /** Where to write the Chrome/Perfetto trace-event JSON. */
  readonly path: string;
}

export interface HistoryExportBody {
  readonly path: string;
  readonly events: number;
  readonly allocations: number;
  readonly frees: number;
  readonly lost: number;
}
