// The RSP connection and client against a FAKE peer that says what QEMU never would: each case
// must end in a typed error within its timeout, never a hang and never an exception thrown past
// the API.

import * as assert from 'assert';
import { RspClient } from '../src/rsp-client';
import { ConnectFailedError, ConnectionClosedError, GuestRunningError, RequestTimeoutError, RspCommandError, RspProtocolError } from '../src/errors';
import { FakeRspPeer, packet, QEMU_QSUPPORTED, FakeRspAction } from './fake-rsp-peer';

const TIMEOUT = 400;

async function clientFor(script: (payload: string, index: number) => FakeRspAction, onConnect?: string): Promise<{ peer: FakeRspPeer; client: RspClient }> {
  const peer = await FakeRspPeer.start((p, i) => (p.startsWith('qSupported') ? { send: packet(QEMU_QSUPPORTED) } : script(p, i)), onConnect);
  const client = await RspClient.connect(peer.address, { timeoutMs: TIMEOUT });
  return { peer, client };
}

describe('RSP client against a fake hostile peer', function () {
  this.timeout(10000);
  const peers: FakeRspPeer[] = [];
  const track = <T extends { peer: FakeRspPeer }>(x: T): T => {
    peers.push(x.peer);
    return x;
  };
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.stop();
  });

  it('a bad checksum gives RspProtocolError and closes the connection', async () => {
    const { client } = track(await clientFor(() => ({ send: '$0011#00' })));
    await assert.rejects(client.readMemory(0x1000, 2), RspProtocolError);
    assert.ok(client.connection.closed);
    await assert.rejects(client.readMemory(0x1000, 2), RspProtocolError);
  });

  it('garbage bytes give RspProtocolError', async () => {
    const { client } = track(await clientFor(() => ({ send: 'hello, world' })));
    await assert.rejects(client.readMemory(0, 4), RspProtocolError);
  });

  it('a truncated packet followed by close gives RspProtocolError (mid-packet)', async () => {
    const { client } = track(await clientFor(() => ({ send: '$00112', close: true })));
    await assert.rejects(client.readMemory(0, 4), (e: unknown) => e instanceof RspProtocolError && /middle of a packet/.test(e.message));
  });

  it('an enormous packet is refused before it is held in memory', async () => {
    const { client } = track(await clientFor(() => ({ send: '$' + '0'.repeat(2 << 20) })));
    await assert.rejects(client.readMemory(0, 4), (e: unknown) => e instanceof RspProtocolError && /longer than/.test(e.message));
  });

  it('a peer that closes without answering gives ConnectionClosedError', async () => {
    const { client } = track(await clientFor(() => ({ close: true })));
    await assert.rejects(client.readMemory(0, 4), (e: unknown) => e instanceof ConnectionClosedError && /during "m0,4"/.test(e.message));
  });

  it('a peer that never answers gives RequestTimeoutError, then every call fails fast', async () => {
    const { client } = track(await clientFor(() => 'silence'));
    const started = Date.now();
    await assert.rejects(client.readRegisters(), RequestTimeoutError);
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(client.readMemory(0, 4), RequestTimeoutError);
  });

  it('a peer that never sends the stop reply after a step times out', async () => {
    const { client } = track(await clientFor(() => 'silence'));
    await assert.rejects(client.step(TIMEOUT), RequestTimeoutError);
  });

  it('a memory reply of the wrong length, non-hex or an error code gives a typed error', async () => {
    let n = 0;
    const { client } = track(await clientFor(() => ({ send: packet(['00', 'zz', 'E22'][n++ % 3]) })));
    await assert.rejects(client.readMemory(0, 4), (e: unknown) => e instanceof RspProtocolError && /returned 1 bytes/.test(e.message));
    await assert.rejects(client.readMemory(0, 1), RspProtocolError); // the connection is still fine: "zz" is the problem
    await assert.rejects(client.readMemory(0, 1), (e: unknown) => e instanceof RspCommandError && /E22/.test(e.message));
  });

  it('an unsolicited ordinary packet gives RspProtocolError', async () => {
    const { client } = track(await clientFor(() => ({ send: Buffer.concat([packet('OK'), packet('OK')]) })));
    assert.strictEqual(await client.connection.request('Hg0'), 'OK');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(client.connection.closed);
    await assert.rejects(client.connection.request('Hg0'), (e: unknown) => e instanceof RspProtocolError && /no request pending/.test(e.message));
  });

  it('an unsolicited stop before the first reply marks the guest as running at connect', async () => {
    const { client } = track(await clientFor(() => ({ send: packet('OK') }), '$T02thread:01;#' + 'T02thread:01;'.split('').reduce((s, c) => (s + c.charCodeAt(0)) & 0xff, 0).toString(16).padStart(2, '0')));
    assert.strictEqual(client.wasRunningAtConnect, true);
    assert.strictEqual(client.connection.lastStop?.kind, 'signal');
  });

  it('retransmits the request after a nack', async () => {
    let first = true;
    const { client, peer } = track(
      await clientFor((p) => {
        if (first) {
          first = false;
          return { send: '-' };
        }
        return { send: packet(p === 'm10,2' ? 'abcd' : 'E01') };
      }),
    );
    assert.deepStrictEqual(await client.readMemory(0x10, 2), Buffer.from([0xab, 0xcd]));
    assert.deepStrictEqual(peer.received.slice(-2), ['m10,2', 'm10,2']);
  });

  it('refuses requests while the guest runs', async () => {
    const { client } = track(await clientFor(() => 'silence'));
    await client.continue();
    await assert.rejects(client.readMemory(0, 4), GuestRunningError);
  });

  it('connecting where nothing listens gives ConnectFailedError', async () => {
    const peer = await FakeRspPeer.start(() => 'silence');
    const address = peer.address;
    await peer.stop();
    await assert.rejects(RspClient.connect(address, { timeoutMs: TIMEOUT }), ConnectFailedError);
  });
});
