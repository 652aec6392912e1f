// The messages between the extension and its language server, beyond LSP. The extension pushes
// the session state and each stop's snapshot (a notification); the server asks the extension to
// evaluate expressions and translate addresses (requests). The notification is the server's one
// source of snapshots: the extension forwards every document the adapter pushes (stops and live
// snapshots alike); the server subscribes to nothing else. The method names are this protocol's
// own (`mmscope/server/…`), apart from the debug adapter's (contract/dap.ts).

import type { JsonAddress } from '../../contract/snapshot-document';
import type { ViewSnapshot } from '../src/view-snapshot';
import type { Translation } from '../../contract/translation';
import { EvaluatedValue } from '../src/mm-data-source';

/** Client → server: the session state and, while stopped, the snapshot. */
export const SNAPSHOT_NOTIFICATION = 'mmscope/server/snapshot';
export interface ServerSnapshotParams {
  readonly state: 'none' | 'running' | 'stopped';
  readonly snapshot?: ViewSnapshot;
}

/** Server → client: evaluate a C expression in the selected frame. Answers null when it cannot. */
export const EVALUATE_REQUEST = 'mmscope/server/evaluate';
export interface EvaluateParams {
  readonly expression: string;
}
export type EvaluateResult = EvaluatedValue | null;

/** Server → client: translate an address in a process's space (default: current). Null when it cannot. */
export const TRANSLATE_REQUEST = 'mmscope/server/translate';
export interface TranslateParams {
  /** Exact: a number below 2^53, else `0x` hex. */
  readonly address: JsonAddress;
  readonly pid?: number;
}
export type TranslateResult = Translation | null;

/** The command a code lens runs (registered by the extension). */
export const REVEAL_CHAIN_COMMAND = 'mmscope.revealChain';
/** The command a traced allocation's lens runs: shows the Allocators view (its tracing node lists the sites). */
export const SHOW_ALLOCATORS_COMMAND = 'mmscope.chains.focus';
