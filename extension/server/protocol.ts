// The messages between the extension and its language server, beyond LSP. The extension pushes
// the session state and each stop's snapshot (a notification); the server asks the extension to
// evaluate expressions and translate addresses (requests). A live-feed client can push the same
// notification later (see ServerSnapshotParams), so the server does not care where data comes from.

import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { Translation } from '../../debug-adapter/src/mm/translate';
import { EvaluatedValue } from '../src/mm-data-source';

/** Client → server: the session state and, while stopped, the snapshot. */
export const SNAPSHOT_NOTIFICATION = 'mmscope/snapshot';
export interface ServerSnapshotParams {
  readonly state: 'none' | 'running' | 'stopped';
  readonly snapshot?: SnapshotJson;
}

/**
 * Client → server: the adapter's live feed (`mmscope/liveFeed` event: a ws:// URL with its token),
 * or null when the session ended. The server subscribes and takes every snapshot from the feed.
 */
export const LIVE_FEED_NOTIFICATION = 'mmscope/liveFeed';
export interface LiveFeedParams {
  readonly ws: string | null;
}

/** Server → client: evaluate a C expression in the selected frame. Answers null when it cannot. */
export const EVALUATE_REQUEST = 'mmscope/evaluate';
export interface EvaluateParams {
  readonly expression: string;
}
export type EvaluateResult = EvaluatedValue | null;

/** Server → client: translate an address in a process's space (default: current). Null when it cannot. */
export const TRANSLATE_REQUEST = 'mmscope/translate';
export interface TranslateParams {
  readonly address: number;
  readonly pid?: number;
}
export type TranslateResult = Translation | null;

/** The command a code lens runs (registered by the extension). */
export const REVEAL_CHAIN_COMMAND = 'mmscope.revealChain';
