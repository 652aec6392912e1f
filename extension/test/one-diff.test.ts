// One diff for every consumer: against the real adapter and QEMU (the demo guest, stops on chain
// allocations), the blocks the VS Code Physical memory view outlines (the extension's store fed
// with the adapter's snapshotReady events, as the extension's tracker feeds it: its `changes` go
// to the webview) are exactly the blocks the dashboard outlines (FeedState, the dashboard's own
// code, over the live feed's WebSocket), stop by stop, and both are the adapter's changes between
// the stop's document and the one before.

import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { endSessionLeavingNoQemu, launchAndStop, qemuMarker, requireGuest, resumeAndStop, startClient } from '../../debug-adapter/test/dap-fixture';
import { TestFeedClient } from '../../debug-adapter/test/live-helpers';
import { SnapshotStore } from '../src/snapshot-store';
import type { MmDataSource, StopSummary } from '../src/mm-data-source';
import type { SnapshotReadyBody } from '../../contract/dap';
import { DapEvent } from '../../contract/dap';

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
      compared++;
      outlined += vscodeMap.length;
    }
    assert.ok(compared >= wantStops - 2, `compared ${compared} stops (the feed's updates: ${kinds.join(' ')})`);
    assert.ok(outlined > 0, 'allocations changed blocks: something was outlined');
  });
});
