// The live feed (debug-adapter/src/live) on loopback with snapshots recorded from the running
// demo guest: refusals (token, origin, path, host, subprotocol), clients closed for junk while
// the others go on, a slow client dropped to resync with a bounded queue, 50 clients that each
// receive every snapshot, and patches that rebuild every snapshot exactly.

import * as assert from 'assert';
import * as http from 'http';
import WebSocket from 'ws';
import { MmSnapshot } from '../src/mm/model/snapshot';
import { SnapshotJson, snapshotToJson } from '../src/mm/model/snapshot-json';
import { DashboardServer, startDashboardServer } from '../src/live/dashboard-server';
import { CloseCode } from '../src/live/protocol';
import { applyPatch, applyStringPatch, makePatch, makeStringPatch } from '../src/live/snapshot-patch';
import type { SnapshotView } from '../../contract/guest-document';
import { TestFeedClient, handshakeStatus, recordDemoSnapshots } from './live-helpers';

// The document the server sends must carry every field the dashboard reads (compile-time check).
const conforms = (j: SnapshotJson): SnapshotView => j;

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    }).on('error', reject);
  });
}

describe('live feed', function () {
  this.timeout(180_000);
  let snaps: MmSnapshot[];
  let server: DashboardServer;
  const clients: TestFeedClient[] = [];
  const client = (url: string, options?: { origin?: string }): TestFeedClient => {
    const c = new TestFeedClient(url, options);
    clients.push(c);
    return c;
  };
  let next = 0;
  /** Publishes the next recorded snapshot (cycling), as a live one. */
  const publishNext = (): number => server.feed.publish(snaps[next++ % snaps.length], { live: true });

  before(async () => {
    snaps = await recordDemoSnapshots(6);
    // The recorded snapshots differ from one another (the demo allocates and frees), or the tests prove little.
    assert.ok(new Set(snaps.map((s) => s.blocks.map)).size > 1, 'the demo changed its memory between recordings');
  });
  beforeEach(async () => {
    server = await startDashboardServer({ maxQueuedMessages: 8 });
    next = 0;
    publishNext();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
  });

  it('rebuilds every recorded snapshot exactly from the first one and patches', () => {
    let doc: object = snapshotToJson(snaps[0]);
    for (let i = 1; i < snaps.length; i++) {
      const nextDoc = snapshotToJson(snaps[i]);
      const patch = makePatch(doc, nextDoc);
      assert.ok(JSON.stringify(patch).length < JSON.stringify(nextDoc).length, 'a patch is smaller than the document');
      doc = applyPatch(doc, patch);
      assert.deepStrictEqual(doc, nextDoc);
    }
    conforms(snapshotToJson(snaps[0]));
    assert.strictEqual(applyStringPatch('..CCc...', makeStringPatch('..CCc...', '.CC....c')), '.CC....c');
    assert.strictEqual(applyStringPatch('abc', makeStringPatch('abc', 'abcd')), 'abcd');
  });

  it('sends hello (versions, guest identity), then the full snapshot, then deltas', async () => {
    server.feed.setGuest({ kernel: 'kernel.elf', kernelSha256: 'ab'.repeat(32), descriptorVersion: 1, blockSize: 16384, blockCount: snaps[0].geometry.blockCount });
    const c = client(server.wsUrl);
    await c.waitFor(() => c.state.received === 1, 'the first snapshot');
    const [hello, first] = c.messages;
    assert.strictEqual(hello.type, 'hello');
    assert.ok(hello.type === 'hello' && hello.protocol === 1 && hello.protocols.includes(1) && hello.guest?.blockCount === snaps[0].geometry.blockCount);
    assert.ok(first.type === 'snapshot' && first.reason === 'connect' && first.seq === server.feed.latestSeq);
    publishNext();
    publishNext();
    await c.waitFor(() => c.state.seq === server.feed.latestSeq, 'two deltas');
    assert.deepStrictEqual(c.messages.slice(2).map((m) => m.type), ['delta', 'delta']);
    assert.deepStrictEqual(c.state.snapshot, server.feed.latest?.json);
    server.feed.stopped('breakpoint');
    server.feed.continued();
    await c.waitFor(() => c.messages.some((m) => m.type === 'continued'), 'run-state events');
    assert.deepStrictEqual(c.messages.slice(-2).map((m) => m.type), ['stopped', 'continued']);
  });

  it('refuses a connection without the token, with a wrong token, from a foreign origin, at another path or Host', async () => {
    const good = client(server.wsUrl, { origin: `http://127.0.0.1:${server.port}` });
    await good.waitFor(() => good.state.received === 1, 'the good client connected');
    const base = `ws://127.0.0.1:${server.port}/feed`;
    const token = server.feed.token;
    const wrong = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    assert.strictEqual((await handshakeStatus(base)).status, 401);
    const r = await handshakeStatus(`${base}?token=${wrong}`);
    assert.strictEqual(r.status, 401);
    assert.match(r.body, /Wrong token/);
    assert.strictEqual((await handshakeStatus(server.wsUrl, { origin: 'http://evil.example' })).status, 403);
    assert.strictEqual((await handshakeStatus(server.wsUrl, { origin: `http://127.0.0.1:${server.port + 1}` })).status, 403);
    assert.strictEqual((await handshakeStatus(`ws://127.0.0.1:${server.port}/other?token=${token}`)).status, 404);
    assert.strictEqual((await handshakeStatus(server.wsUrl, { headers: { Host: `rebind.example:${server.port}` } })).status, 421);
    assert.strictEqual((await handshakeStatus(server.wsUrl, { protocols: ['mmscope-live.v99'] })).status, 400);
    // The page itself wants the token too, and tells the browser never to send it on as a Referer.
    assert.strictEqual((await httpGet(`http://127.0.0.1:${server.port}/`)).status, 401);
    const page = await httpGet(server.url);
    assert.strictEqual(page.status, 200);
    assert.strictEqual(page.headers['referrer-policy'], 'no-referrer');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.strictEqual((await httpGet(`http://127.0.0.1:${server.port}/assets/../../package.json`)).status, 404);
    assert.ok(server.feed.stats().refused >= 7);
    // The good client was never disturbed.
    publishNext();
    await good.waitFor(() => good.state.seq === server.feed.latestSeq, 'the good client gets the next delta');
    assert.strictEqual(good.closed, undefined);
  });

  it('closes clients that send junk with a clear code and keeps serving the others', async () => {
    const good = client(server.wsUrl);
    await good.waitFor(() => good.state.received === 1, 'the good client connected');
    const cases: [string, (ws: WebSocket) => void, number][] = [
      ['not JSON', (ws) => ws.send('hello?'), CloseCode.invalidPayload],
      ['a JSON array', (ws) => ws.send('[1,2]'), CloseCode.invalidPayload],
      ['binary', (ws) => ws.send(Buffer.from([1, 2, 3])), CloseCode.unsupportedData],
      ['a command (the feed is read-only)', (ws) => ws.send(JSON.stringify({ type: 'continue' })), CloseCode.policyViolation],
      ['a history export (it writes a file: DAP only)', (ws) => ws.send(JSON.stringify({ type: 'history', request: 'export', args: { path: '/tmp/t.json' } })), CloseCode.policyViolation],
      ['a history message without a request', (ws) => ws.send(JSON.stringify({ type: 'history', id: 1 })), CloseCode.policyViolation],
      ['a history message with args not an object', (ws) => ws.send(JSON.stringify({ type: 'history', request: 'at', args: [5] })), CloseCode.invalidPayload],
      ['a history message with an id not a number', (ws) => ws.send(JSON.stringify({ type: 'history', request: 'summary', id: 'x' })), CloseCode.invalidPayload],
      ['too large', (ws) => ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(4096) })), CloseCode.messageTooBig],
      ['too many', (ws) => { for (let i = 0; i < 150; i++) ws.send('{"type":"ping"}'); }, CloseCode.tooManyMessages],
    ];
    for (const [what, send, code] of cases) {
      const bad = client(server.wsUrl);
      await bad.waitFor(() => bad.state.received === 1, `the ${what} client connected`);
      send(bad.ws);
      await bad.waitFor(() => bad.closed !== undefined, `the ${what} client closed`);
      assert.strictEqual(bad.closed?.code, code, `${what}: close code`);
      if (code !== CloseCode.messageTooBig) assert.ok((bad.closed?.reason ?? '').length > 0, `${what}: a reason is given`);
    }
    // What a client may send: ping, resync and history (answered with an error sentence while no session answers it).
    good.ws.send(JSON.stringify({ type: 'history', id: 9, request: 'summary' }));
    await good.waitFor(() => good.messages.some((m) => (m as { type: string }).type === 'history'), 'the history reply');
    assert.ok(good.messages.some((m) => { const h = m as unknown as { type: string; id: number; request: string; error?: string }; return h.type === 'history' && h.id === 9 && h.request === 'summary' && /^this feed has no history/.test(h.error ?? ''); }));
    good.ws.send(JSON.stringify({ type: 'ping', id: 7 }));
    good.ws.send(JSON.stringify({ type: 'resync' }));
    await good.waitFor(() => good.messages.some((m) => m.type === 'pong') && good.state.received === 2, 'pong and the requested snapshot');
    assert.ok(good.messages.some((m) => m.type === 'pong' && m.id === 7));
    publishNext();
    await good.waitFor(() => good.state.seq === server.feed.latestSeq, 'the good client gets the next delta');
    assert.strictEqual(good.closed, undefined);
    assert.deepStrictEqual(good.state.snapshot, server.feed.latest?.json);
  });

  it('drops a slow client to resync with a bounded queue while the others get every snapshot', async () => {
    const fast = client(server.wsUrl);
    const slow = client(server.wsUrl);
    await slow.waitFor(() => slow.state.received === 1 && fast.state.received === 1, 'both connected');
    slow.socket?.pause(); // a reader that stops reading
    const firstSeq = server.feed.latestSeq;
    // Each snapshot is published once the fast client has the previous one: were the server held
    // up by the slow client, this would time out.
    // Publish until the slow client's socket buffers are full and its queue overflowed (a few
    // hundred deltas on Linux loopback), and some more after.
    const slowResynced = (): boolean => server.feed.stats().perClient.some((s) => s.resyncs > 0);
    let extra = 20;
    for (let i = 0; i < 5000 && extra > 0; i++) {
      const seq = publishNext();
      await fast.waitFor(() => fast.state.seq === seq, `the fast client got snapshot ${seq}`, 10_000);
      if (slowResynced()) extra--;
    }
    const last = server.feed.latestSeq;
    const deltas = fast.messages.filter((m) => m.type === 'delta').map((m) => (m.type === 'delta' ? m.seq : 0));
    assert.deepStrictEqual(deltas, Array.from({ length: last - firstSeq }, (_, i) => firstSeq + 1 + i), 'the fast client got every snapshot, in order');
    assert.strictEqual(fast.state.resyncs, 0);
    const stats = server.feed.stats().perClient;
    const slowStats = stats.find((s) => s.resyncs > 0);
    assert.ok(slowStats, 'the slow client was dropped to resync');
    assert.ok(slowStats.maxDepth <= 8, `its queue stayed bounded (depth ${slowStats.maxDepth})`);
    assert.ok(slowStats.dropped > 0);
    // When it reads again it gets a resync notice and the latest full snapshot, then is in step.
    slow.socket?.resume();
    await slow.waitFor(() => slow.state.resyncs > 0 && slow.state.seq === last, 'the slow client resynced', 60_000);
    assert.deepStrictEqual(slow.state.snapshot, server.feed.latest?.json);
    assert.ok(!slow.updates.some((u) => u.kind === 'out-of-step'), 'no delta arrived out of step');
    publishNext();
    await slow.waitFor(() => slow.state.seq === server.feed.latestSeq, 'deltas resume after the resync');
  });

  it('serves 50 clients at once, each receiving every snapshot', async () => {
    const many = Array.from({ length: 50 }, () => client(server.wsUrl));
    await Promise.all(many.map((c) => c.waitFor(() => c.state.received === 1, 'connected')));
    const firstSeq = server.feed.latestSeq;
    for (let i = 0; i < 10; i++) {
      publishNext();
      await new Promise((r) => setTimeout(r, 20));
    }
    const last = server.feed.latestSeq;
    await Promise.all(many.map((c) => c.waitFor(() => c.state.seq === last, 'every snapshot', 60_000)));
    for (const c of many) {
      const seqs = c.messages.filter((m) => m.type === 'delta').map((m) => (m.type === 'delta' ? m.seq : 0));
      assert.deepStrictEqual(seqs, Array.from({ length: last - firstSeq }, (_, i) => firstSeq + 1 + i));
      assert.strictEqual(c.state.resyncs, 0);
      assert.deepStrictEqual(c.state.snapshot, server.feed.latest?.json);
    }
    assert.strictEqual(server.feed.stats().clients, 50);
  });
});
