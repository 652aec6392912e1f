// What the adapter's one diff of a stop (ChangesView, contract/guest-document.ts) names, as the
// tree views mark it: chains, processes, spaces and their new runs, findings, allocators, heaps.
// Only a reading of the adapter's changes: the views compute no "what changed" of their own.
// Without changes (a session's first snapshot) nothing is marked. Pure (no VS Code).

import type { ChangesView, RunChangeView } from '../../../contract/guest-document';
import type { RunJson } from '../../../contract/snapshot-document';

/** A run's identity in the changes (address, frame, size, flags). */
export const runMarkKey = (r: RunJson | RunChangeView): string => `${r.va}:${r.pa}:${r.size}:${r.flags}`;
const findingMarkKey = (f: { readonly kind: string; readonly message: string }): string => `${f.kind}:${f.message}`;

export interface ChangeMarks {
  /** Chains added, resized, moved or renamed (not freed: they are not shown). */
  readonly chains: ReadonlySet<number>;
  /** Processes added or changed. */
  readonly processes: ReadonlySet<number>;
  /** Address spaces added or changed, by SpaceJson id. */
  readonly spaces: ReadonlySet<string>;
  /** The new runs of a space (runMarkKey). */
  newRuns(spaceId: string): ReadonlySet<string>;
  /** A finding is new. */
  newFinding(f: { readonly kind: string; readonly message: string }): boolean;
  readonly allocators: ReadonlySet<string>;
  readonly heaps: ReadonlySet<string>;
  readonly tracing: boolean;
}

const EMPTY = new Set<never>();

export function changeMarks(changes: ChangesView | undefined): ChangeMarks {
  const shown = (kind: string): boolean => kind !== 'removed' && kind !== 'freed';
  const runs = new Map<string, Set<string>>();
  for (const s of changes?.spaces ?? []) if (shown(s.kind)) runs.set(s.id, new Set((s.newRuns ?? []).map(runMarkKey)));
  const fresh = new Set((changes?.newFindings ?? []).map(findingMarkKey));
  return {
    chains: new Set((changes?.chains ?? []).filter((c) => shown(c.kind)).map((c) => c.id)),
    processes: new Set((changes?.processes ?? []).filter((p) => shown(p.kind)).map((p) => p.pid)),
    spaces: new Set(runs.keys()),
    newRuns: (id) => runs.get(id) ?? EMPTY,
    newFinding: (f) => fresh.has(findingMarkKey(f)),
    allocators: new Set((changes?.allocators ?? []).filter((a) => shown(a.kind)).map((a) => a.name)),
    heaps: new Set((changes?.heaps ?? []).filter((h) => shown(h.kind)).map((h) => h.name)),
    tracing: changes?.tracingChanged === true,
  };
}
