// "When did it break?" through DAP (issue 16, mmscope/historyWhen) on guests broken on purpose
// (`demo inject=KIND`, guest/kernel/inject.c): the session stops at fault_inject (before the
// injection: a keyframe) and again at idle_after_injection (after it); for the stop's finding of
// the injected kind, historyWhen must name the memory-manager call that made it, at its function
// in inject.c, with its process. A kind written behind the memory manager's back (chain-cycle)
// is answered with no event and a sentence that says why and bounds when it appeared.

import * as assert from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import type { HistoryAtBody, HistorySummaryBody, HistoryWhenBody } from '../../contract/history';
import type { SnapshotJson } from '../src/mm/model/snapshot-json';
import { endSessionLeavingNoQemu, launchArgs, qemuMarker, requireGuest, startClient } from './dap-fixture';

/** Covered kinds: the finding, the event kind that made it, the function of inject.c that called the memory manager. */
const COVERED = [
  { inject: 'leaked-chain', event: 'allocated', fn: 'leaked_chain' },
  { inject: 'handle-to-freed-chain', event: 'freed', fn: 'handle_to_freed_chain' },
] as const;

async function brokenSession(inject: string, body: (dc: DebugClient, snap: SnapshotJson) => Promise<void>): Promise<void> {
  requireGuest();
  const marker = qemuMarker();
  const dc = await startClient();
  try {
    const stopped = (): Promise<DebugProtocol.StoppedEvent> => dc.waitForEvent('stopped', 120_000) as Promise<DebugProtocol.StoppedEvent>;
    const first = stopped();
    await Promise.all([
      dc.initializeRequest(),
      dc.waitForEvent('initialized').then(async () => {
        const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'fault_inject' }] });
        assert.strictEqual(r.body.breakpoints[0].verified, true);
        await dc.configurationDoneRequest();
      }),
      dc.launch({ ...launchArgs({ marker, cmdline: `demo inject=${inject}` }), memory: 32 }),
    ]);
    await first;
    const before = (await dc.customRequest('mmscope/history')).body as HistorySummaryBody;
    assert.strictEqual(before.recording, true, before.reason);
    assert.strictEqual(before.keyframes.length, 1, 'the stop before the injection is a keyframe');
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'idle_after_injection' }] });
    const second = stopped();
    await dc.continueRequest({ threadId: 1 });
    await second;
    const snap = (await dc.customRequest('mmscope/snapshot')).body.snapshot as SnapshotJson;
    await body(dc, snap);
  } finally {
    await endSessionLeavingNoQemu(dc, marker);
  }
}

describe('DAP: when did it break? (historyWhen) on injected guests', function () {
  this.timeout(300_000);
  for (const c of COVERED) {
    it(`names the call that made the ${c.inject} of inject=${c.inject}, at ${c.fn} in inject.c`, async () => {
      await brokenSession(c.inject, async (dc, snap) => {
        const indices = snap.findings.map((f, i) => (f.kind === c.inject ? i : -1)).filter((i) => i >= 0);
        assert.ok(indices.length > 0, `the stop shows a ${c.inject}: ${JSON.stringify(snap.findings.map((f) => f.message))}`);
        const answers: HistoryWhenBody[] = [];
        for (const findingIndex of indices) answers.push((await dc.customRequest('mmscope/historyWhen', { findingIndex })).body as HistoryWhenBody);
        const hit = answers.find((a) => a.event?.kind === c.event && a.event.site?.function === c.fn);
        assert.ok(hit?.event, `an answer at ${c.fn}: ${JSON.stringify(answers)}`);
        assert.strictEqual(hit.findingKind, c.inject);
        assert.strictEqual(path.basename(hit.event.site?.file ?? ''), 'inject.c');
        assert.ok(typeof hit.event.site?.line === 'number' && hit.event.site.line > 0);
        const finding = snap.findings[indices[answers.indexOf(hit)]];
        if (finding.chain !== undefined) assert.strictEqual(hit.event.chain, finding.chain, 'the event is of the finding\'s chain');
        // The stop after the injection is a keyframe too (its generation is even): historyAt its last seq draws it
        // exactly, every block list known (shared with the replay of the first keyframe where unchanged).
        const summary = (await dc.customRequest('mmscope/history')).body as HistorySummaryBody;
        assert.deepStrictEqual(summary.keyframes.map((k) => k.stop), [1, 2]);
        const at = (await dc.customRequest('mmscope/historyAt', { seq: summary.lastSeq })).body as HistoryAtBody;
        const recon = at.snapshot as unknown as SnapshotJson & HistoryAtBody['snapshot'];
        assert.strictEqual(recon.history.keyframeStop, 2);
        assert.strictEqual(recon.history.unknownBlocks, 0);
        assert.strictEqual(recon.blocks.map, snap.blocks.map);
        assert.deepStrictEqual(recon.chains.map((x) => [x.id, x.blocks, x.flags, x.owner.seq]), snap.chains.map((x) => [x.id, x.blocks, x.flags, x.owner.seq]));
        assert.deepStrictEqual([recon.blocks.free, recon.blocks.used, recon.counters.allocations], [snap.blocks.free, snap.blocks.used, snap.counters.allocations]);
        // The event is in the history, after the keyframe, and is the one a listing shows at that seq.
        const listed = (await dc.customRequest('mmscope/historyEvents', { fromSeq: hit.event.seq, toSeq: hit.event.seq })).body as { events: { seq: number; kind: string }[] };
        assert.deepStrictEqual(listed.events.map((e) => [e.seq, e.kind]), [[hit.event.seq, c.event]]);
      });
    });
  }

  it('answers a kind written behind the memory manager\'s back (chain-cycle) with no event and why', async () => {
    await brokenSession('chain-cycle', async (dc, snap) => {
      const i = snap.findings.findIndex((f) => f.kind === 'chain-cycle');
      assert.ok(i >= 0, 'the stop shows the chain cycle');
      const r = (await dc.customRequest('mmscope/historyWhen', { findingIndex: i })).body as HistoryWhenBody;
      assert.strictEqual(r.event, null);
      assert.strictEqual(r.findingKind, 'chain-cycle');
      assert.match(r.reason ?? '', /no event shows a chain-cycle/);
      assert.match(r.reason ?? '', /it appeared after stop 1 \(event \d+\) and by stop 2 \(event \d+\)/);
      assert.match(r.reason ?? '', /allocated by event \d+ .* in chain_of/);
    });
  });
});
