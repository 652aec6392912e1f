// One diff for every consumer: against the real adapter and QEMU (the demo guest, stops on chain
// allocations), the blocks the VS Code Physical memory view outlines (the extension's store fed
// with the adapter's snapshotReady events, as the extension's tracker feeds it: its `changes` go
// to the webview) are exactly the blocks the dashboard outlines (FeedState, the dashboard's own
// code, over the live feed's WebSocket), stop by stop, and both are the adapter's changes between
// the stop's document and the one before. The tree views (fed from the same store) mark exactly
// the chains, processes, runs of the current space and findings the feed's delta names, and the
// mmscope/snapshot response carries that same diff (no second one).

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { endSessionLeavingNoQemu, launchAndStop, qemuMarker, requireGuest, resumeAndStop, startClient } from '../../debug-adapter/test/dap-fixture';
import { TestFeedClient } from '../../debug-adapter/test/live-helpers';
import { SnapshotStore } from '../src/snapshot-store';
import type { MmDataSource, StopSummary } from '../src/mm-data-source';
import type { SnapshotReadyBody } from '../../contract/dap';
import { DapEvent, DapRequest, type SnapshotResponseBody } from '../../contract/dap';
import type { ChangesView } from '../../contract/guest-document';
import { chainsModel } from '../src/views/chains-model';
import { processesModel } from '../src/views/processes-model';
import { addressSpaceModel } from '../src/views/address-space-model';
import { findingsModel } from '../src/views/findings-model';
import type { ViewNode } from '../src/views/view-node';
import type { ViewSnapshot } from '../src/view-snapshot';

const expandAll = (nodes: readonly ViewNode[]): ViewNode[] => nodes.flatMap((n) => [n, ...expandAll(n.children ? n.children() : [])]);
const sorted = <T extends number | string>(v: Iterable<T>): T[] => [...v].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** What the tree views mark for a snapshot and the store's changes (each view's model, as the tree providers build them). */
function treeMarks(snap: ViewSnapshot, changes: ChangesView | undefined): { chains: number[]; pids: number[]; runs: number; findings: number } {
  const chains = chainsModel(snap, changes).filter((n) => n.changed).map((n) => Number(/^chain:(\d+):/.exec(n.id)?.[1]));
  const pids = processesModel(snap, changes).filter((n) => n.changed).map((n) => Number(/^process:(\d+)$/.exec(n.id)?.[1]));
  const runs = expandAll(addressSpaceModel(snap, undefined, changes)).filter((n) => !n.children && n.changed).length;
  return { chains: sorted(chains), pids: sorted(pids), runs, findings: findingsModel(snap, changes).filter((n) => n.changed).length };
}

/** What the feed's delta names (the dashboard's FeedState holds it as `changes`) for a snapshot. */
function deltaNames(snap: ViewSnapshot, delta: ChangesView): { chains: number[]; pids: number[]; runs: number; findings: number } {
  const shownChains = new Set((snap.chains ?? []).map((c) => c.id));
  const current = (delta.spaces ?? []).find((s) => s.id === snap.currentSpace && s.kind !== 'removed');
  return {
    chains: sorted(new Set((delta.chains ?? []).filter((c) => c.kind !== 'freed' && shownChains.has(c.id)).map((c) => c.id))),
    pids: sorted((delta.processes ?? []).filter((p) => p.kind !== 'removed').map((p) => p.pid)),
    runs: current?.newRuns?.length ?? 0,
    findings: (delta.newFindings ?? []).length,
  };
}

describe('one diff: the dashboard and the VS Code map outline the same blocks', function () {
  this.timeout(240_000);
  let dc: DebugClient;
  let marker: string;
  let feed: TestFeedClient | undefined;
  const events: SnapshotReadyBody[] = [];

  before(async function () {
    requireGuest();
    marker = qemuMarker();
    dc = await startClient();
    const feedEvent = dc.waitForEvent(DapEvent.liveFeed, 60_000);
    dc.on(DapEvent.snapshotReady, (e: DebugProtocol.Event) => events.push(e.body as SnapshotReadyBody));
    await launchAndStop(dc, { marker }, async () => {
      await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'mm-allocated', condition: 'blocks >= 3 && pid != 0' }] });
    });
    const { ws } = (await feedEvent).body as { ws: string };
    feed = new TestFeedClient(ws);
  });

  after(async () => {
    feed?.close();
    await endSessionLeavingNoQemu(dc, marker);
  });

  it('gives the store and the feed the same changed blocks at every stop', async () => {
    const noFetch: MmDataSource = {
      snapshot: () => Promise.reject(new Error('the store must not fetch: the snapshot came with the event')),
      translate: () => Promise.reject(new Error('not used')),
      evaluate: async () => undefined,
    };
    const store = new SnapshotStore();
    store.attach(noFetch);
    const state = feed as TestFeedClient;
    const wantStops = 5;
    let compared = 0;
    let seen = 0;
    const kinds: string[] = [];
    let outlined = 0;
    const marked = { chains: 0, pids: 0, runs: 0 };
    let responses = 0;
    for (let i = 0; i < wantStops; i++) {
      const before = events.length;
      await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
      await new Promise<void>((resolve) => {
        const wait = (): void => (events.length > before ? resolve() : void setTimeout(wait, 20));
        wait();
      });
      const body = events[events.length - 1];
      assert.ok(body.snapshot, `stop ${body.stop}: the event carries the document (${body.error ?? ''})`);
      await store.stopped(body as StopSummary);
      await state.waitFor(() => state.state.snapshot?.stop === body.stop, `the feed's snapshot of stop ${body.stop}`, 30_000);
      const update = state.updates.slice(seen).reverse().find((u) => u.kind === 'delta' || u.kind === 'snapshot');
      kinds.push(...state.updates.slice(seen).map((u) => u.kind));
      seen = state.updates.length;
      if (update?.kind !== 'delta') continue; // the feed's first snapshot carries no changes
      assert.strictEqual(body.changesFrom, body.stop - 1, 'the changes are against the stop before');
      const vscodeMap = [...(store.changes?.changedBlocks ?? [])].sort((a, b) => a - b);
      const dashboard = [...update.changedBlocks].sort((a, b) => a - b);
      assert.deepStrictEqual(vscodeMap, dashboard, `stop ${body.stop}: the same blocks outlined`);
      assert.deepStrictEqual(state.state.snapshot, store.snapshot, `stop ${body.stop}: the same document`);
      // The tree views mark what the feed's delta names.
      const snap = store.snapshot as ViewSnapshot;
      const delta = state.state.changes as ChangesView;
      const trees = treeMarks(snap, store.changes);
      assert.deepStrictEqual(trees, deltaNames(snap, delta), `stop ${body.stop}: the tree views mark what the delta names`);
      marked.chains += trees.chains.length;
      marked.pids += trees.pids.length;
      marked.runs += trees.runs;
      // The mmscope/snapshot response carries the same diff.
      // (The response answers the adapter's current stop: a later one when the guest stopped again meanwhile.)
      const response = (await dc.customRequest(DapRequest.snapshot, {})).body as SnapshotResponseBody & { changesFrom?: number };
      const sameStop = await new Promise<SnapshotReadyBody>((resolve) => {
        const wait = (): void => {
          const e = events.find((x) => x.stop === response.snapshot.stop);
          if (e) resolve(e);
          else setTimeout(wait, 20);
        };
        wait();
      });
      assert.ok(response.diff, `stop ${response.snapshot.stop}: the response carries the diff`);
      assert.deepStrictEqual(response.diff, sameStop.changes, `stop ${response.snapshot.stop}: the response's diff is its event's`);
      assert.strictEqual(response.changesFrom, sameStop.changesFrom);
      responses++;
      compared++;
      outlined += vscodeMap.length;
    }
    assert.ok(compared >= wantStops - 2, `compared ${compared} stops (the feed's updates: ${kinds.join(' ')})`);
    assert.ok(outlined > 0, 'allocations changed blocks: something was outlined');
    assert.ok(responses >= compared, 'every compared stop also checked the response');
    assert.ok(marked.chains > 0, 'allocations added chains: the Chains view marked some');
    assert.ok(marked.pids + marked.runs > 0, `processes or the current space changed: marked ${marked.pids} processes, ${marked.runs} runs`);
  });
});
