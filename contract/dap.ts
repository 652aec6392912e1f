// mmscope's custom part of the Debug Adapter Protocol: the names of its custom requests and events
// and their payloads, shared by the adapter (debug-adapter/src/mm/plugin, session, screen), the
// extension, the tests and the benches. Pure types and constants, no Node or DOM imports: the
// browser build (extension/webview/tsconfig.json) compiles it too.

import type { JsonAddress, KnowledgeLevel, PagingMode } from './snapshot-document.js';
import type { ChangesView, SnapshotView } from './guest-document.js';

/** Custom requests the adapter answers (the client sends them with DebugSession.customRequest). */
export const DapRequest = {
  /** `{ withPrevious? }` → SnapshotResponseBody: the current stop's document (while running: the last live one) with its one diff. */
  snapshot: 'mmscope/snapshot',
  /** TranslateArgs → Translation (contract/translation.ts). */
  translate: 'mmscope/translate',
  /** → `{ currentSpace, spaces }`: the known address spaces without their mappings. */
  spaces: 'mmscope/spaces',
  /** `{ cr3 }` → `{ space }`: adds the space a CR3 value names. */
  openSpace: 'mmscope/openSpace',
  /** `{ id }` → `{ chain }` (our guest). */
  chain: 'mmscope/chain',
  /** `{ line }` → `{ output }`: a debug-console command of the memory manager. */
  console: 'mmscope/console',
  /** LiveRefreshArgs → LiveRefreshBody: snapshots while the guest runs. */
  liveRefresh: 'mmscope/liveRefresh',
  /** `{ threadId }`: the vCPU whose registers the memory views follow. */
  selectThread: 'mmscope/selectThread',
  /** → the guest's screen. */
  screen: 'mmscope/screen',
  /** `{ code, shift?, ctrl?, alt?, meta? }` or `{ qcodes }`: a key press to the guest. */
  sendKey: 'mmscope/sendKey',
  /** `{ history? }` → the allocation tracing state (level 2). */
  tracing: 'mmscope/tracing',
  /** → HistorySummaryBody (contract/history.ts): what the session recorded. */
  history: 'mmscope/history',
  /** HistoryEventsArgs → HistoryEventsBody: events of a range, binned for the timeline or listed. */
  historyEvents: 'mmscope/historyEvents',
  /** HistoryAtArgs → HistoryAtBody: the memory manager reconstructed just after an event. */
  historyAt: 'mmscope/historyAt',
  /** HistoryBlameArgs → HistoryBlameBody: every event that touched a block, chain, page or site. */
  historyBlame: 'mmscope/historyBlame',
  /** HistoryWhenArgs → HistoryWhenBody: the first event after which a finding holds. */
  historyWhen: 'mmscope/historyWhen',
  /** HistoryExportArgs → HistoryExportBody: the recorded session as a Chrome/Perfetto trace file. */
  historyExport: 'mmscope/historyExport',
} as const;
export type DapRequestName = (typeof DapRequest)[keyof typeof DapRequest];

/** Custom events the adapter sends. */
export const DapEvent = {
  /** SnapshotReadyBody: at every stop and every live snapshot, with the document and what changed. */
  snapshotReady: 'mmscope/snapshotReady',
  /** LiveFeedEventBody: the dashboard's and the WebSocket feed's URLs (with their token). */
  liveFeed: 'mmscope/liveFeed',
} as const;
export type DapEventName = (typeof DapEvent)[keyof typeof DapEvent];

/**
 * The body of mmscope/snapshotReady. Every stop's (and every live snapshot's) document travels
 * with it, one way, with what changed since the snapshot before (computed once in the adapter,
 * the same changes the live feed's delta carries). Without `snapshot`, `error` says why.
 */
export interface SnapshotReadyBody {
  readonly stop: number;
  readonly level?: KnowledgeLevel;
  readonly pagingMode?: PagingMode;
  readonly currentSpace?: string | null;
  readonly spaces?: number;
  readonly processes?: number;
  readonly findings?: number;
  readonly findingsBySeverity?: { readonly error: number; readonly warning: number; readonly info: number };
  /** Our guest's summary. */
  readonly chains?: number;
  readonly freeBlocks?: number;
  readonly usedBlocks?: number;
  readonly fragmentationPercent?: number;
  /** Taken while the guest ran (a live snapshot). */
  readonly live?: boolean;
  /** Why the adapter could not build this stop's snapshot (e.g. the memory manager is not initialised yet). */
  readonly error?: string;
  /** When the adapter reported the stop (epoch ms): the start of the stop-to-views time. */
  readonly stoppedAt?: number;
  readonly snapshot?: SnapshotView;
  /** The stop number of the snapshot `changes` compares with (absent at a session's first snapshot). */
  readonly changesFrom?: number;
  readonly changes?: ChangesView;
}

/**
 * The body of the mmscope/snapshot response. `diff` is the snapshot's one diff: the same changes
 * its snapshotReady event carried (and the live feed's delta), kept by the adapter, against the
 * snapshot published before it (stop `changesFrom`, which `withPrevious` adds as `previous`).
 */
export interface SnapshotResponseBody {
  readonly snapshot: SnapshotView;
  readonly previous?: SnapshotView;
  readonly diff?: ChangesView;
  /** The stop number of the snapshot `diff` compares with. */
  readonly changesFrom?: number;
  /** Answered while the guest ran. */
  readonly live?: boolean;
}

export interface TranslateArgs {
  /** Exact: a number below 2^53, else a decimal or `0x` hex string. */
  readonly address: JsonAddress;
  readonly pid?: number;
  readonly cr3?: JsonAddress;
}

export interface LiveRefreshArgs {
  readonly enabled: boolean;
  readonly ratePerSecond?: number;
}

export interface LiveRefreshBody {
  readonly enabled: boolean;
  readonly ratePerSecond?: number;
}

export interface LiveFeedEventBody {
  /** The dashboard page (http, with its token). */
  readonly url?: string;
  /** The WebSocket feed (ws, with its token); null when the session ended. */
  readonly ws?: string | null;
}
