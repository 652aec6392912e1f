// The history through DAP (issue 16), against the real adapter, QEMU and the demo guest: the session
// keeps only its first stop as a keyframe (historyKeyframes "first"), so every later state is
// replayed from the recorded events; at several real stops (allocation breakpoints, where the
// allocating call is complete) historyAt(the stop's last seq) must equal the stop's real snapshot
// in chains, block owners and counters. Also: an earlier seq differs and carries the marker, the
// bins sum to the summary, a chain's blame starts at its allocation, the exported trace parses,
// the live feed answers `history` messages, and bad arguments get one sentence.

import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import WebSocket from 'ws';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import type { SnapshotJson } from '../src/mm/model/snapshot-json';
import type {
  HistoryAtBody, HistoryBlameBody, HistoryEventsBody, HistoryExportBody, HistorySnapshotView, HistorySummaryBody,
} from '../../contract/history';
import { endSessionLeavingNoQemu, launchArgs, qemuMarker, requireGuest, startClient } from './dap-fixture';

const STOPS = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Owner kinds whose caller a front end rewrites after the allocation event (history-compare.ts). */
const CALLER_REWRITTEN = new Set(['process', 'dma']);

/** Differences between a reconstructed document and the stop's real one, on what the history claims. */
function differences(real: SnapshotJson, view: HistorySnapshotView): string[] {
  const recon = view as unknown as SnapshotJson & { history: HistorySnapshotView['history'] };
  const out: string[] = [];
  const pids = new Set<'kernel' | number>(['kernel', ...real.processes.map((p) => p.pid)]);
  const pages = (c: SnapshotJson['chains'][number]): string => c.mappedAt.filter((m) => pids.has(m.space))
    .flatMap((m) => Array.from({ length: m.length / 4096 }, (_, i) => `${m.space}:${(m.virtual + i * 4096).toString(16)}:${m.firstPage + i}`)).sort().join(' ');
  const rc = new Map((recon.chains ?? []).map((c) => [c.id, c as SnapshotJson['chains'][number]]));
  const unknown = new Set(recon.history.unknownChains ?? []);
  for (const t of real.chains) {
    const r = rc.get(t.id);
    if (!r) {
      out.push(`chain ${t.id} is live but not reconstructed`);
      continue;
    }
    rc.delete(t.id);
    if (r.sizeBytes !== t.blocks.length * real.geometry.blockSize) out.push(`chain ${t.id}: ${r.sizeBytes} bytes reconstructed, ${t.blocks.length} blocks live`);
    if (r.flags !== t.flags) out.push(`chain ${t.id}: flags ${r.flags.toString(16)} reconstructed, ${t.flags.toString(16)} live`);
    if (r.owner.seq !== t.owner.seq || r.owner.kind !== t.owner.kind) out.push(`chain ${t.id}: owner ${r.owner.kind} #${r.owner.seq} reconstructed, ${t.owner.kind} #${t.owner.seq} live`);
    if (r.owner.caller !== t.owner.caller && !CALLER_REWRITTEN.has(t.owner.kind)) out.push(`chain ${t.id}: caller ${r.owner.caller.toString(16)} reconstructed, ${t.owner.caller.toString(16)} live`);
    if (!unknown.has(t.id) && r.blocks.join() !== t.blocks.join()) out.push(`chain ${t.id}: blocks ${r.blocks.join()} reconstructed, ${t.blocks.join()} live`);
    if (unknown.has(t.id) && r.blocks.length) out.push(`chain ${t.id} is marked unknown but lists blocks`);
    if (pages(r) !== pages(t)) out.push(`chain ${t.id}: pages {${pages(r)}} reconstructed, {${pages(t)}} live`);
  }
  for (const id of rc.keys()) out.push(`chain ${id} is reconstructed but not live`);
  const rm = recon.blocks?.map ?? '', tm = real.blocks.map;
  if (rm.length !== tm.length) out.push(`block map of ${rm.length} reconstructed, ${tm.length} live`);
  let question = 0;
  for (let b = 0; b < tm.length; b++) {
    if (rm[b] === '?') {
      question++;
      if (!'.Cc'.includes(tm[b])) out.push(`block ${b} is unknown in the reconstruction but ${tm[b]} live`);
    } else if (rm[b] !== tm[b]) out.push(`block ${b}: ${rm[b]} reconstructed, ${tm[b]} live`);
    if (out.length > 40) return out;
  }
  if (question !== recon.history.unknownBlocks) out.push(`${question} blocks drawn unknown, the marker says ${recon.history.unknownBlocks}`);
  if (!unknown.size && question) out.push('every chain is known, yet blocks are drawn unknown');
  const b = recon.blocks;
  if (b?.free !== real.blocks.free || b.used !== real.blocks.used) out.push(`free/used ${b?.free}/${b?.used} reconstructed, ${real.blocks.free}/${real.blocks.used} live`);
  if (recon.counters?.allocations !== real.counters.allocations) out.push(`${recon.counters?.allocations} allocations reconstructed, ${real.counters.allocations} counted`);
  if (recon.counters?.defragRuns !== real.counters.defragRuns) out.push(`${recon.counters?.defragRuns} defragmentations reconstructed, ${real.counters.defragRuns} counted`);
  return out;
}

describe('DAP: the history of a demo session (issue 16)', function () {
  this.timeout(300_000);
  let dc: DebugClient;
  let marker: string;
  let output = '';
  let feedEvent: Promise<DebugProtocol.Event>;
  /** Each compared stop: its number, its last seq, its real snapshot. */
  const compared: { stop: number; seq: number; real: SnapshotJson; chain: number }[] = [];

  const summary = async (): Promise<HistorySummaryBody> => (await dc.customRequest('mmscope/history')).body as HistorySummaryBody;
  const stopped = (): Promise<DebugProtocol.StoppedEvent> => dc.waitForEvent('stopped', 120_000) as Promise<DebugProtocol.StoppedEvent>;
  const pause = async (): Promise<void> => {
    const s = stopped();
    await dc.pauseRequest({ threadId: 1 });
    await s;
  };
  const cont = async (): Promise<void> => {
    await dc.continueRequest({ threadId: 1 });
  };

  before(async function () {
    requireGuest();
    marker = qemuMarker();
    dc = await startClient();
    dc.on('output', (e: DebugProtocol.OutputEvent) => {
      output += e.body.output;
    });
    feedEvent = dc.waitForEvent('mmscope/liveFeed', 60_000);
    await Promise.all([
      dc.initializeRequest(),
      dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest()),
      dc.launch({ ...launchArgs({ marker }), memory: 64, historyKeyframes: 'first' }),
    ]);
    const deadline = Date.now() + 120_000;
    while (!/heartbeat 2 /.test(output) && Date.now() < deadline) await sleep(200);
    assert.match(output, /heartbeat 2 /, 'the demo runs');
    // The first keyframe: a stop where the memory manager is between two updates (its generation even).
    for (let i = 0; i < 10; i++) {
      await pause();
      if ((await summary()).keyframes.length) break;
      await cont();
      await sleep(300);
    }
    const s = await summary();
    assert.strictEqual(s.recording, true, s.reason);
    assert.strictEqual(s.keyframes.length, 1, 'one keyframe: the first consistent stop');
    assert.ok(s.keyframes[0].stop !== undefined && s.stops.some((x) => x.stop === s.keyframes[0].stop));
  });

  after(async () => {
    await endSessionLeavingNoQemu(dc, marker);
  });

  it(`at ${STOPS} real stops, historyAt the stop's last seq equals its snapshot (chains, block owners, counters)`, async () => {
    for (let i = 0; i < STOPS; i++) {
      // Run a while without stopping (events accumulate), then stop right after an allocation.
      await cont();
      await sleep(600 + 200 * i);
      await pause();
      const armed = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'mm-allocated', condition: 'pid != 0' }] });
      assert.deepStrictEqual(armed.body?.breakpoints?.map((b) => b.verified), [true]);
      const at = stopped();
      await cont();
      const stop = await at;
      assert.strictEqual(stop.body.reason, 'exception');
      await dc.setExceptionBreakpointsRequest({ filters: [] });
      const chain = parseInt(/chain 0x([0-9a-f]+)/.exec(stop.body.description ?? '')?.[1] ?? '', 16);
      const real = (await dc.customRequest('mmscope/snapshot')).body.snapshot as SnapshotJson;
      const s = await summary();
      assert.strictEqual(s.keyframes.length >= 1 && s.keyframes.filter((k) => k.stop !== undefined).length, 1, 'still only the first stop is a keyframe');
      const last = s.stops[s.stops.length - 1];
      assert.strictEqual(last.seq, s.lastSeq, 'the stop is after the last event recorded');
      const r = (await dc.customRequest('mmscope/historyAt', { seq: last.seq })).body as HistoryAtBody;
      assert.strictEqual(r.snapshot.history.seq, last.seq);
      assert.strictEqual(r.event?.seq, last.seq);
      assert.strictEqual(r.event?.kind, 'allocated', 'the stop is right after an allocation');
      assert.strictEqual(r.event?.chain, chain);
      assert.ok(r.snapshot.history.keyframeSeq < last.seq, 'replayed from an earlier keyframe');
      assert.deepStrictEqual(r.snapshot.findings, []);
      assert.strictEqual(r.snapshot.schema, 3);
      const diff = differences(real, r.snapshot);
      assert.deepStrictEqual(diff, [], `stop ${last.stop} (event ${last.seq}, ${last.seq - r.snapshot.history.keyframeSeq} events after the keyframe)`);
      compared.push({ stop: last.stop, seq: last.seq, real, chain });
      process.stdout.write(`      stop ${last.stop}: ${last.seq - r.snapshot.history.keyframeSeq} events replayed, ${real.chains.length} chains, ${r.snapshot.history.unknownBlocks} blocks unknown, document ${(JSON.stringify(real).length / 1024).toFixed(0)} KiB\n`);
    }
    assert.ok((await summary()).events > 500, 'a real history was recorded');
  });

  it('historyAt an earlier seq differs from the stop and carries the history marker', async () => {
    assert.ok(compared.length >= 2);
    const earlier = compared[0], now = compared[compared.length - 1];
    const r = (await dc.customRequest('mmscope/historyAt', { seq: earlier.seq })).body as HistoryAtBody;
    assert.strictEqual(r.snapshot.history.seq, earlier.seq);
    assert.match(r.snapshot.history.note, /Reconstructed from the recorded events/);
    assert.deepStrictEqual(differences(earlier.real, r.snapshot), [], 'it is the earlier stop');
    assert.notDeepStrictEqual(differences(now.real, r.snapshot), [], 'and not the current one');
  });

  it('historyEvents: the bins sum to the summary, per kind and per pid, lost included; the list is bounded', async () => {
    const s = await summary();
    const r = (await dc.customRequest('mmscope/historyEvents', { bins: 17, limit: 25 })).body as HistoryEventsBody;
    assert.strictEqual(r.bins?.length, 17);
    const sum = (pick: (b: NonNullable<HistoryEventsBody['bins']>[number]) => Record<string, number>): number =>
      (r.bins ?? []).reduce((n, b) => n + Object.values(pick(b)).reduce((a, c) => a + c, 0), 0);
    assert.strictEqual(sum((b) => b.byKind), s.events);
    assert.strictEqual(sum((b) => b.byPid), s.events);
    assert.strictEqual((r.bins ?? []).reduce((n, b) => n + b.lost, 0), s.lost);
    assert.deepStrictEqual(Object.keys(Object.assign({}, ...(r.bins ?? []).map((b) => b.byKind))).sort(), [...s.kinds].sort());
    assert.strictEqual(r.events.length, 25);
    assert.strictEqual(r.truncated, true);
    const allocs = (await dc.customRequest('mmscope/historyEvents', { kinds: ['allocated'], limit: 10000 })).body as HistoryEventsBody;
    assert.ok(allocs.events.length > 10 && allocs.events.every((e) => e.kind === 'allocated'));
    const sited = allocs.events.find((e) => e.site?.function === 'worker_main');
    assert.ok(sited?.site?.file?.endsWith('demo.c') && typeof sited.site.line === 'number', 'allocations carry their source line');
    assert.match(sited?.text ?? "", /^allocated chain \d+ \(\d+ blocks?\) by pid \d+$/);
  });

  it('blame of a chain lists its allocation first, with its site', async () => {
    const { chain, seq } = compared[compared.length - 1];
    const r = (await dc.customRequest('mmscope/historyBlame', { target: { kind: 'chain', chain } })).body as HistoryBlameBody;
    assert.ok(r.events.length >= 1);
    assert.strictEqual(r.events[0].kind, 'allocated');
    assert.strictEqual(r.events[0].chain, chain);
    assert.strictEqual(r.events[0].seq, seq, 'the allocation the stop was at');
    const real = compared[compared.length - 1].real.chains.find((c) => c.id === chain);
    assert.ok(real);
    assert.deepStrictEqual(r.events[0].site, real.site, 'the allocation site is the one the stop shows for the chain');
    assert.ok(Array.isArray(r.probableLeaks));
    const block = compared[compared.length - 1].real.chains.find((c) => c.id === chain)?.blocks[0] ?? chain;
    const byBlock = (await dc.customRequest('mmscope/historyBlame', { target: { kind: 'block', block }, atSeq: seq })).body as HistoryBlameBody;
    assert.ok(byBlock.events.every((e) => e.seq <= seq));
  });

  it('historyExport writes a trace-event JSON that parses and counts what the history holds', async () => {
    const s = await summary();
    const file = path.join(os.tmpdir(), `mmscope-history-${process.pid}.json`);
    try {
      const r = (await dc.customRequest('mmscope/historyExport', { path: file })).body as HistoryExportBody;
      const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: { name: string; ph: string }[] };
      assert.strictEqual(r.events, s.events);
      assert.strictEqual(trace.traceEvents.filter((e) => e.ph === 'i' && e.name === 'allocate').length, r.allocations);
      assert.strictEqual(trace.traceEvents.filter((e) => e.ph === 'i' && e.name === 'free').length, r.frees);
      assert.ok(r.allocations > 0 && trace.traceEvents.some((e) => e.ph === 'C' && e.name === 'blocks'));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('the live feed answers history messages, and still closes on a malformed one', async () => {
    const { ws: url } = (await feedEvent).body as { ws: string };
    const client = new WebSocket(url, 'mmscope-live.v1');
    const replies: Record<string, unknown>[] = [];
    let wake: (() => void) | undefined;
    client.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      if (m.type === 'history') {
        replies.push(m);
        wake?.();
      }
    });
    const closed = new Promise<number>((resolve) => client.on('close', (code) => resolve(code)));
    const reply = async (n: number): Promise<Record<string, unknown>> => {
      while (replies.length < n) await new Promise<void>((r) => (wake = r));
      return replies[n - 1];
    };
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    const s = await summary();
    client.send(JSON.stringify({ type: 'history', id: 1, request: 'summary' }));
    const a = await reply(1);
    assert.strictEqual(a.id, 1);
    assert.strictEqual(a.request, 'summary');
    assert.deepStrictEqual(a.body, s, 'the same body as the DAP request');
    const { seq } = compared[0];
    client.send(JSON.stringify({ type: 'history', id: 2, request: 'at', args: { seq } }));
    const b = await reply(2);
    assert.strictEqual(((b.body as HistoryAtBody).snapshot.history).seq, seq);
    client.send(JSON.stringify({ type: 'history', id: 3, request: 'at', args: { seq: 'soon' } }));
    const c = await reply(3);
    assert.match(String(c.error), /^seq must be an integer/);
    client.send(JSON.stringify({ type: 'history', id: 4, request: 'export', args: { path: '/tmp/x.json' } }));
    assert.strictEqual(await closed, 1008, 'export is not a feed request: the connection is closed');
  });

  it('bad arguments get one clear sentence', async () => {
    await assert.rejects(dc.customRequest('mmscope/historyAt', {}), /seq must be an integer/);
    await assert.rejects(dc.customRequest('mmscope/historyAt', { seq: 1 }), /before the history's first keyframe/);
    await assert.rejects(dc.customRequest('mmscope/historyBlame', { target: { kind: 'heap' } }), /target\.kind must be "block", "chain", "page" or "site"/);
    await assert.rejects(dc.customRequest('mmscope/historyEvents', { kinds: ['alloc'] }), /"alloc" is not an event kind/);
    await assert.rejects(dc.customRequest('mmscope/historyWhen', { findingIndex: 999 }), /has \d+ findings?; there is no finding 999/);
    await assert.rejects(dc.customRequest('mmscope/historyExport', { path: 'trace.json' }), /path must be absolute/);
    await assert.rejects(dc.customRequest('mmscope/historyExport', { path: '/nonexistent-dir/trace.json' }), /cannot write \/nonexistent-dir\/trace\.json: ENOENT/);
  });
});
