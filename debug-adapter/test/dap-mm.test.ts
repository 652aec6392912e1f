// The memory manager through DAP, against the real adapter and QEMU: allocation breakpoints
// (an exception filter with a condition stops after the call with a sentence), the custom
// requests, the "Memory manager" scope, the debug console's commands, the snapshotReady event.
// Translations (the custom request, vtop, the hover note) are checked against QEMU's own page
// walk (`info tlb` on a second QMP monitor of the adapter's QEMU), not against our snapshot.

import { DapEvent, DapRequest } from '../../contract/dap';
import * as assert from 'assert';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';
import { SnapshotJson } from '../src/mm/model/snapshot-json';
import WebSocket from 'ws';
import {
  endSessionLeavingNoQemu, launchAndStop, nmAddress, QemuMonitor, qemuMarker, requireGuest, resumeAndStop, startClient, tlbTranslate,
} from './dap-fixture';

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

describe('DAP: the memory manager', function () {
  this.timeout(120_000);
  let dc: DebugClient;
  let marker: string;
  let first: DebugProtocol.StoppedEvent;
  let feedEvent: Promise<DebugProtocol.Event>;
  let qemu: QemuMonitor | undefined;

  before(async function () {
    requireGuest();
    marker = qemuMarker();
    dc = await startClient();
    feedEvent = dc.waitForEvent(DapEvent.liveFeed, 60_000);
    const init = dc.initializeRequest();
    const caps = (await init).body;
    assert.ok(caps?.exceptionBreakpointFilters?.some((f) => f.filter === 'mm-allocated' && f.supportsCondition), 'the allocation filters are offered');
    first = await launchAndStop(dc, { marker, monitor: true }, async () => {
      const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'mm-allocated', condition: 'blocks >= 3 && pid != 0' }] });
      assert.deepStrictEqual(r.body?.breakpoints?.map((b) => b.verified), [true]);
    });
    qemu = await QemuMonitor.connect(marker);
  });

  after(async () => {
    qemu?.close();
    await endSessionLeavingNoQemu(dc, marker);
  });

  /** The chain mappings QEMU can check: the kernel's and the current process's (info tlb walks the current CR3). */
  const inCurrentSpace = (snap: SnapshotJson): ((m: SnapshotJson['chains'][number]['mappedAt'][number]) => boolean) => {
    const current = snap.processes.find((p) => p.current);
    return (m) => m.space === 'kernel' || m.space === current?.pid;
  };

  it('stops after a chain allocation that meets the condition, saying what happened', async () => {
    assert.strictEqual(first.body.reason, 'exception');
    assert.match(first.body.description ?? '', /^chain 0x[0-9a-f]+ allocated, \d+ blocks, by worker_main at demo\.c:\d+$/);
    const blocks = Number(/allocated, (\d+) blocks/.exec(first.body.description ?? '')?.[1]);
    assert.ok(blocks >= 3, `the condition holds (${blocks} blocks)`);
  });

  it('serves the snapshot with the new chain in it', async () => {
    const r = await dc.customRequest(DapRequest.snapshot);
    const snap = r.body.snapshot as SnapshotJson;
    const id = parseInt(/chain 0x([0-9a-f]+)/.exec(first.body.description ?? '')?.[1] ?? '', 16);
    const chain = snap.chains.find((c) => c.id === id);
    assert.ok(chain, `chain ${id} is in the snapshot`);
    assert.ok(chain.blocks.length >= 3);
    assert.strictEqual(chain.site?.function, 'worker_main');
    const c = await dc.customRequest(DapRequest.chain, { id });
    assert.strictEqual(c.body.chain.id, id);
    await assert.rejects(dc.customRequest(DapRequest.chain, { id: 1 }), /there is no chain 1/);
  });

  it('translates every mapped chain page of the current address space to where QEMU maps it', async () => {
    const snap = (await dc.customRequest(DapRequest.snapshot)).body.snapshot as SnapshotJson;
    const tlb = (await qemu?.tlb()) ?? [];
    assert.ok(tlb.length > 100, `info tlb lists ${tlb.length} pages`);
    const differ: string[] = [];
    let compared = 0;
    for (const chain of snap.chains) {
      for (const m of chain.mappedAt.filter(inCurrentSpace(snap))) {
        for (let off = 0; off < m.length; off += 4096) {
          const address = m.virtual + off + 0x20;
          const t = (await dc.customRequest(DapRequest.translate, { address })).body as { physical?: number; chain?: number; notMapped?: string };
          const theirs = tlbTranslate(tlb, address);
          compared++;
          if (t.physical !== theirs || t.chain !== chain.id) differ.push(`${hex(address)}: ours ${t.physical === undefined ? t.notMapped : hex(t.physical)} chain ${t.chain}, QEMU ${theirs === undefined ? 'not mapped' : hex(theirs)} (chain ${chain.id})`);
        }
      }
    }
    assert.ok(compared >= 8, `only ${compared} chain pages are mapped in the current address space`);
    assert.deepStrictEqual(differ, [], `${differ.length} of ${compared} translations differ from QEMU`);
    console.log(`      (${compared} chain pages compared with QEMU's info tlb)`);
    const heap = snap.chains.find((c) => c.owner.kind === 'heap' && c.mappedAt.length);
    assert.ok(heap);
    const t = await dc.customRequest(DapRequest.translate, { address: heap.mappedAt[0].virtual + 0x20 });
    assert.strictEqual(t.body.directorySource, 'kpd');
  });

  it('adds where a pointer lands to the debug hover, and only there', async () => {
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const frameId = st.body.stackFrames[0].id;
    const hover = await dc.evaluateRequest({ expression: 'current', context: 'hover', frameId });
    const watch = await dc.evaluateRequest({ expression: 'current', context: 'watch', frameId });
    const address = Number(watch.body.memoryReference);
    // The pointer is what QEMU holds in `current` (at nm's address), and it lands where QEMU maps it.
    const pointer = (await (qemu as QemuMonitor).readVirtual(nmAddress('current'), 4)).readUInt32LE(0);
    assert.strictEqual(address, pointer, JSON.stringify(watch.body));
    const physical = tlbTranslate(await (qemu as QemuMonitor).tlb(), pointer);
    assert.ok(physical !== undefined, `QEMU maps ${hex(pointer)}`);
    assert.doesNotMatch(watch.body.result, /⇒/);
    const t = (await dc.customRequest(DapRequest.translate, { address })).body as { physical: number; block: number; chain: number; site: { function: string; file: string; line: number } };
    assert.strictEqual(t.physical, physical);
    const site = `${t.site.function} at ${t.site.file.split('/').pop()}:${t.site.line}`;
    assert.strictEqual(hover.body.result, `${watch.body.result}  ⇒ phys ${hex(t.physical)} · block ${t.block} · chain ${t.chain}, ${site}`);
    const pid = await dc.evaluateRequest({ expression: 'current->pid', context: 'hover', frameId });
    assert.doesNotMatch(pid.body.result, /⇒/, 'a non-pointer gets no note');
  });

  it('adds a Memory manager scope with the summary', async () => {
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
    const mm = scopes.body.scopes.find((s) => s.name === 'Memory manager');
    assert.ok(mm, `scopes: ${scopes.body.scopes.map((s) => s.name).join(', ')}`);
    const vars = await dc.variablesRequest({ variablesReference: mm.variablesReference });
    const byName = new Map(vars.body.variables.map((v) => [v.name, v.value]));
    assert.match(byName.get('blocks') ?? '', /× 16 KiB: \d+ used, \d+ free, \d+ reserved/);
    assert.match(byName.get('current process') ?? '', /^pid [1-5] (editor|compiler|player|shell|swapper)$/);
    // Stopped right after the allocation, before the worker maps the chain: that chain is in
    // flight, not a leak.
    assert.strictEqual(byName.get('findings'), 'none');
  });

  it('answers vtop and chains in the debug console', async () => {
    const snap = (await dc.customRequest(DapRequest.snapshot)).body.snapshot as SnapshotJson;
    // A chain mapped in the current process if there is one yet, else the kernel heap's: where QEMU can check it.
    const visible = inCurrentSpace(snap);
    const user = snap.chains.find((c) => c.mappedAt.some((m) => typeof m.space === 'number' && visible(m))) ?? snap.chains.find((c) => c.mappedAt.some(visible));
    assert.ok(user);
    const m = user.mappedAt.filter(visible).sort((a, b) => Number(typeof b.space === 'number') - Number(typeof a.space === 'number'))[0];
    // Inside the mapping's second page when it has one: the page number counts too.
    const offset = m.length > 0x1234 ? 0x1234 : 0x234;
    const address = m.virtual + offset;
    const r = await dc.evaluateRequest({ expression: `vtop 0x${address.toString(16)}${typeof m.space === 'number' ? ` ${m.space}` : ''}`, context: 'repl' });
    const theirs = tlbTranslate(await (qemu as QemuMonitor).tlb(), address);
    assert.ok(theirs !== undefined, `QEMU maps ${hex(address)}`);
    assert.match(r.body.result, new RegExp(`^  physical ${hex(theirs)} \\(`, 'm'), `vtop says where QEMU maps ${hex(address)}`);
    assert.match(r.body.result, new RegExp(`chain ${user.id}, page ${m.firstPage + Math.floor(offset / 4096)}`));
    const chains = await dc.evaluateRequest({ expression: 'chains', context: 'repl' });
    assert.match(chains.body.result, /^processes:$/m);
  });

  it('sends snapshotReady at the next stop, and the condition keeps filtering', async () => {
    const ready = dc.waitForEvent(DapEvent.snapshotReady);
    const stop = await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.strictEqual(stop.body.reason, 'exception');
    const blocks = Number(/allocated, (\d+) blocks/.exec(stop.body.description ?? '')?.[1]);
    assert.ok(blocks >= 3);
    const ev = await ready;
    assert.ok((ev.body as { chains: number }).chains > 0);
  });

  it('pushes the whole snapshot and its changes with every snapshotReady (no visibility request), and stamps when the stop happened', async () => {
    const first = dc.waitForEvent(DapEvent.snapshotReady);
    await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    const firstBody = (await first).body as { stop: number };
    const ready = dc.waitForEvent(DapEvent.snapshotReady);
    const before = Date.now();
    await resumeAndStop(dc, dc.continueRequest({ threadId: 1 }));
    const body = (await ready).body as { stop: number; stoppedAt: number; snapshot?: SnapshotJson; changesFrom?: number; changes?: { changedBlocks?: number[] } };
    assert.ok(body.stoppedAt >= before && body.stoppedAt <= Date.now(), JSON.stringify({ before, at: body.stoppedAt }));
    assert.ok(body.snapshot, 'the snapshot came with the event');
    const fetched = (await dc.customRequest(DapRequest.snapshot)).body.snapshot as SnapshotJson;
    assert.deepStrictEqual(body.snapshot, fetched);
    assert.strictEqual(body.changesFrom, firstBody.stop, 'the changes are against the stop before');
    assert.ok(Array.isArray(body.changes?.changedBlocks), 'our guest\'s changes name the changed blocks');
    await assert.rejects(dc.customRequest('mmscope/views', { visible: false }), 'the extension no longer reports what it shows');
  });

  it('publishes each stop on the live feed (loopback, token) for the dashboard and the language server', async () => {
    const { ws: url } = (await feedEvent).body as { url: string; ws: string };
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/feed\?token=[0-9a-f]{32,}$/);
    const refused = await new Promise<number>((resolve) => {
      const bad = new WebSocket(url.replace(/token=[0-9a-f]+/, 'token=0000'), 'mmscope-live.v1');
      bad.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.on('error', () => resolve(-1));
    });
    assert.strictEqual(refused, 401);
    const client = new WebSocket(url, 'mmscope-live.v1');
    const types: string[] = [];
    const snapshotSeen = new Promise<Record<string, unknown>>((resolve, reject) => {
      client.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; snapshot?: Record<string, unknown> };
        types.push(msg.type);
        if (msg.type === 'snapshot' && msg.snapshot) resolve(msg.snapshot);
      });
      client.on('error', reject);
    });
    try {
      const snap = (await snapshotSeen) as unknown as SnapshotJson;
      assert.strictEqual(types[0], 'hello');
      assert.ok(snap.chains.length > 0);
    } finally {
      client.close();
    }
  });

  it('refuses a condition it cannot read, in one sentence', async () => {
    const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'mm-freed', condition: 'size >' }] });
    assert.strictEqual(r.body?.breakpoints?.[0].verified, false);
    assert.match(r.body?.breakpoints?.[0].message ?? '', /^Condition not understood: /);
  });

  it('sends live snapshots while the guest runs when live refresh is on, and none once it is off', async () => {
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    await assert.rejects(dc.customRequest(DapRequest.liveRefresh, { enabled: true, ratePerSecond: 'fast' }), /ratePerSecond must be a positive number/);
    const on = await dc.customRequest(DapRequest.liveRefresh, { enabled: true, ratePerSecond: 8 });
    assert.deepStrictEqual(on.body, { enabled: true, ratePerSecond: 8 });
    const live: { stop: number; usedBlocks: number; live: boolean }[] = [];
    const seen = new Promise<void>((resolve) => {
      dc.on(DapEvent.snapshotReady, (e: DebugProtocol.Event) => {
        const body = e.body as { stop: number; usedBlocks: number; live: boolean };
        if (body.live) live.push(body);
        if (live.length >= 4) resolve();
      });
    });
    await dc.continueRequest({ threadId: 1 });
    await seen;
    // Each live snapshot is a new one (its own key), not the last stop's again.
    assert.strictEqual(new Set(live.map((l) => l.stop)).size, live.length, JSON.stringify(live));
    const running = await dc.customRequest(DapRequest.snapshot);
    assert.strictEqual(running.body.live, true);
    assert.ok((running.body.snapshot as SnapshotJson).chains.length > 0);
    await dc.customRequest(DapRequest.liveRefresh, { enabled: false });
    const count = live.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(live.length <= count + 1, `no live snapshots after turning it off (${live.length - count} more)`);
    const paused = await resumeAndStop(dc, dc.pauseRequest({ threadId: 1 }));
    assert.strictEqual(paused.body.reason, 'pause');
  });
});

describe('DAP: a stop before the memory manager is initialised', function () {
  this.timeout(120_000);
  let dc: DebugClient;
  let marker: string;

  before(() => {
    requireGuest();
  });

  after(() => endSessionLeavingNoQemu(dc, marker));

  it('still sends snapshotReady, with the reason there is no snapshot, and the snapshot request says the same', async () => {
    marker = qemuMarker();
    dc = await startClient();
    const ready = dc.waitForEvent(DapEvent.snapshotReady, 60_000);
    // The kernel heap maps its first chain while mm is being set up, before mm_debug_info is filled in.
    const stop = await launchAndStop(dc, { marker }, () => dc.setExceptionBreakpointsRequest({ filters: ['mm-mapped'] }));
    assert.match(stop.body.description ?? '', /^chain 0x[0-9a-f]+ mapped at 0x[0-9a-f]+, \d+ pages, by kmalloc at heap\.c:\d+$/);
    const body = (await ready).body as { stop: number; error?: string };
    assert.match(body.error ?? '', /has not initialised it yet/);
    await assert.rejects(dc.customRequest(DapRequest.snapshot), /has not initialised it yet/);
  });
});
