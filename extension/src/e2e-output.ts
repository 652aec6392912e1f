// Test-only output, loaded by activate only when the environment names a file
// (MMSCOPE_E2E_STATE, set by extension/test/e2e/code-server.ts): what each view shows, written as
// JSON after every change, the stop-to-views time of every stop tied to its stop number, and the
// DAP traffic beside it (`<file>.dap.jsonl`). It reads the views through their public surfaces
// (the tree models' top levels, what the webviews reported drawing) and changes nothing.

import * as fs from 'fs';
import * as vscode from 'vscode';
import { shownSpace } from './views/address-space-model';
import type { ViewNode } from './views/view-node';
import type { SnapshotStore } from './snapshot-store';
import type { MmViews } from './activation/views';
import { isMmscopeSession, type SessionWiring } from './activation/sessions';

/** One stop's time from the adapter's stop to every view's content being ready, tied to its stop. */
export interface StopTiming {
  /** 1 for the first mmscope session since the extension activated (the F5 one), 2 for the next... */
  readonly session: number;
  /** The adapter's stop number (the snapshot's). */
  readonly stop: number;
  /** The stop's stoppedAt (adapter) to the views having taken its snapshot (ms). */
  readonly stopToViewsMs: number;
  /** Fetching (0 when pushed with the stop) plus redrawing the views (ms). */
  readonly fetchAndViewsMs: number;
}

type Described = { label: string; description?: string; changed?: boolean; children?: Described[] };

export function installE2eOutput(stateFile: string, store: SnapshotStore, views: MmViews, sessions: SessionWiring): vscode.Disposable[] {
  const describe = (nodes: readonly ViewNode[]): Described[] => nodes.map((n) => ({ label: n.label, description: n.description, changed: n.changed }));
  const tree = (nodes: readonly ViewNode[], depth: number): Described[] =>
    nodes.map((n) => ({ label: n.label, description: n.description, changed: n.changed, ...(depth > 1 && n.children ? { children: tree(n.children(), depth - 1) } : {}) }));
  const sessionNumbers = new Map<string, number>();
  const timings: StopTiming[] = [];
  const timed = new Set<string>();

  const write = (): void => {
    const snap = store.snapshot;
    const last = timings[timings.length - 1];
    const state = {
      activated: true,
      state: store.state,
      stop: store.stop,
      // The last timing only when it is this stop's: a stop never shows the previous one's value.
      lastRefreshMs: last && last.stop === store.stop ? last.fetchAndViewsMs : undefined,
      stopToViewsMs: last && last.stop === store.stop ? last.stopToViewsMs : undefined,
      stopTimings: timings,
      lastStop: sessions.lastStop,
      error: store.lastError,
      level: snap?.level,
      spaces: snap?.spaces.map((x) => ({ id: x.id, label: x.label, sources: x.sources, current: x.current, pages: x.pages })),
      addressSpaceShown: snap ? shownSpace(snap, views.shownSpaceId)?.id : undefined,
      chainsTitle: views.chains.view?.title,
      views: snap
        ? {
            chains: describe(views.chains.topLevel()),
            processes: describe(views.processes.topLevel()),
            findings: describe(views.findings.topLevel()),
            addressSpace: tree(views.addressSpace.topLevel(), 3),
          }
        : undefined,
      memoryMap: views.memoryMap.rendered,
      screen: views.screen.rendered,
      status: views.status.text,
    };
    try {
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 1));
    } catch {
      // the test reads what it can
    }
  };

  const src = (): string | undefined => (store.dataSource as { session?: vscode.DebugSession } | undefined)?.session?.id;
  const note = (s: vscode.DebugSession | undefined): void => {
    if (isMmscopeSession(s) && !sessionNumbers.has(s.id)) sessionNumbers.set(s.id, sessionNumbers.size + 1);
  };
  note(vscode.debug.activeDebugSession);

  const out: vscode.Disposable[] = [
    vscode.debug.onDidStartDebugSession(note),
    views.onDidUpdate(({ change, viewsMs }) => {
      const summary = store.lastSummary;
      const session = src();
      // Timed once per stop, when the stop's own snapshot (not a live one) reached the views.
      if (change.snapshot && change.state === 'stopped' && summary && summary.stop === change.stop && summary.stoppedAt !== undefined && !summary.live && session) {
        const key = `${session}:${summary.stop}`;
        if (!timed.has(key)) {
          timed.add(key);
          timings.push({ session: sessionNumbers.get(session) ?? 0, stop: summary.stop, stopToViewsMs: Date.now() - summary.stoppedAt, fetchAndViewsMs: (change.fetchMs ?? 0) + viewsMs });
        }
      }
      write();
    }),
    views.onDidRender(write),
    sessions.onDidStop(write),
    sessions.onDidTraffic((t) => {
      try {
        fs.appendFileSync(`${stateFile}.dap.jsonl`, `${Date.now()} ${t.direction} ${JSON.stringify(t.message).slice(0, 2000)}\n`);
      } catch {
        // the trace is best effort
      }
    }),
  ];
  write();
  return out;
}
