// What changed between two published snapshots, by meaning: the one place it is computed. The
// session's extension (mm-extension.ts) calls it once per snapshot and hands the result to the
// snapshotReady event (the extension's views, the language server) and the live feed's delta (the
// dashboard, the CLI), so every consumer outlines the same blocks for the same stop.

import { DocumentDiff, SnapshotDiff, diffDocuments, diffSnapshots } from '../mm/model/diff';
import type { StopSnapshot } from '../mm/plugin/stop-snapshot';

/** Our guest's SnapshotDiff when both snapshots are ours, else the document diff. */
export type FeedChanges = SnapshotDiff | DocumentDiff;

/** The changes from `prev` to `next` (pure). */
export function stopChanges(prev: StopSnapshot, next: StopSnapshot): FeedChanges {
  return prev.guest && next.guest ? diffSnapshots(prev.guest, next.guest) : diffDocuments(prev.document, next.document);
}
