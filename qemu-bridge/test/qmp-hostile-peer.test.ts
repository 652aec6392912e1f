// The QMP client against a FAKE peer saying what QEMU never would: typed errors, no hangs.

import * as assert from 'assert';
import { QmpClient } from '../src/qmp-client';
import { ConnectionClosedError, QmpCommandError, QmpProtocolError, RequestTimeoutError } from '../src/errors';
import { FakeQmpPeer, QEMU_GREETING } from './fake-qmp-peer';

const TIMEOUT = 400;

describe('QMP client against a fake hostile peer', function () {
  this.timeout(10000);
  const peers: FakeQmpPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.stop();
  });
  const start = async (greeting: string | undefined, script: Parameters<typeof FakeQmpPeer.start>[1]): Promise<FakeQmpPeer> => {
    const p = await FakeQmpPeer.start(greeting, script);
    peers.push(p);
    return p;
  };

  it('a server that never greets gives RequestTimeoutError', async () => {
    const peer = await start(undefined, () => 'silence');
    await assert.rejects(QmpClient.connect(peer.address, { timeoutMs: TIMEOUT }), RequestTimeoutError);
  });

  it('invalid JSON gives QmpProtocolError and fails the pending command', async () => {
    const peer = await start(QEMU_GREETING, () => ({ send: '{"return": {]\r\n' }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    await assert.rejects(qmp.queryStatus(), (e: unknown) => e instanceof QmpProtocolError && /not JSON/.test(e.message));
    assert.ok(qmp.closed);
  });

  it('a reply without an id gives QmpProtocolError', async () => {
    const peer = await start(QEMU_GREETING, () => ({ send: '{"return": {}}\r\n' }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    await assert.rejects(qmp.stop(), QmpProtocolError);
  });

  it('closing in the middle of a message gives QmpProtocolError', async () => {
    const peer = await start(QEMU_GREETING, () => ({ send: '{"return": {"sta', close: true }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    await assert.rejects(qmp.queryStatus(), (e: unknown) => e instanceof QmpProtocolError && /middle of a message/.test(e.message));
  });

  it('closing between messages gives ConnectionClosedError to pending commands and event waiters', async () => {
    const peer = await start(QEMU_GREETING, () => ({ close: true }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    const waiting = qmp.waitForEvent('STOP', 5000);
    await assert.rejects(qmp.cont(), ConnectionClosedError);
    await assert.rejects(waiting, ConnectionClosedError);
  });

  it('a command never answered gives RequestTimeoutError and the connection stays usable', async () => {
    let first = true;
    const peer = await start(QEMU_GREETING, (c) => {
      if (first) {
        first = false;
        return 'silence';
      }
      return { send: JSON.stringify({ return: { running: true, status: 'running' }, id: c.id }) + '\r\n' };
    });
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    await assert.rejects(qmp.stop(), RequestTimeoutError);
    assert.deepStrictEqual(await qmp.queryStatus(), { running: true, status: 'running' });
  });

  it('an error reply gives QmpCommandError with the class and description', async () => {
    const peer = await start(QEMU_GREETING, (c) => ({ send: JSON.stringify({ error: { class: 'GenericError', desc: 'bad thing' }, id: c.id }) + '\r\n' }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    await assert.rejects(qmp.pmemsave(0, 16, '/nonexistent/x'), (e: unknown) => e instanceof QmpCommandError && e.errorClass === 'GenericError' && /bad thing/.test(e.message));
  });

  it('events are delivered to the stream and to waiters, matched replies still arrive', async () => {
    const peer = await start(QEMU_GREETING, (c) => ({
      send: '{"event": "STOP", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n' + JSON.stringify({ return: {}, id: c.id }) + '\r\n',
    }));
    const qmp = await QmpClient.connect(peer.address, { timeoutMs: TIMEOUT });
    const stream = qmp.events();
    const first = stream.next();
    const waited = qmp.waitForEvent('STOP');
    await qmp.stop();
    assert.strictEqual((await waited).event, 'STOP');
    assert.strictEqual((await first).value?.event, 'STOP');
    qmp.close();
    assert.strictEqual((await stream.next()).done, true);
  });
});
