// What changed between two published snapshots, by meaning: the one place it is computed. The
// memory-manager service (mm-service.ts, changesOf) calls it once per published snapshot and keeps
// the result; the snapshotReady event (the extension's views, the language server), the
// mmscope/snapshot response, the live feed's delta (the dashboard, the CLI) and the CLI's demo
// carry that one result, so every consumer marks the same blocks, chains, processes and spaces.

import { DocumentDiff, SnapshotDiff, diffDocuments, diffSnapshots } from '../mm/model/diff';
import type { StopSnapshot } from '../mm/plugin/stop-snapshot';

/**
 * Any kernel's document diff, and with our guest's descriptor on both sides its chain-table diff
 * (chains, its mappings, changed blocks). Findings are the documents' (which hold our guest's).
 * Assignable to ChangesView (contract/guest-document.ts).
 */
export type StopChanges = DocumentDiff & Partial<Omit<SnapshotDiff, 'newFindings'>>;

/** The changes from `prev` to `next` (pure). */
export function stopChanges(prev: StopSnapshot, next: StopSnapshot): StopChanges {
  const doc = diffDocuments(prev.document, next.document);
  if (!prev.guest || !next.guest) return doc;
  const { chains, mappings, changedBlocks } = diffSnapshots(prev.guest, next.guest);
  return { chains, mappings, changedBlocks, ...doc };
}
