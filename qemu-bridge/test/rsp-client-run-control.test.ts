// The typed run-control commands of the RSP client (thread list, thread selection, resume of one
// thread, detach) against a FAKE scripted gdbstub that records what it receives: the packets must
// be the ones QEMU 7.2 expects once multiprocess is negotiated (`p1.T` thread ids, `D;1`), and
// the answers must come back typed. QEMU itself is exercised by the DAP tests.

import * as assert from 'assert';
import { RspClient } from '../src/rsp-client';
import { RspCommandError } from '../src/errors';
import { FakeRspPeer, packet, QEMU_QSUPPORTED, FakeRspAction } from './fake-rsp-peer';

async function clientFor(qSupported: string, script: (payload: string) => FakeRspAction): Promise<{ peer: FakeRspPeer; client: RspClient }> {
  const peer = await FakeRspPeer.start((p) => (p.startsWith('qSupported') ? { send: packet(qSupported) } : script(p)));
  const client = await RspClient.connect(peer.address, { timeoutMs: 1000 });
  return { peer, client };
}

/** Waits (bounded) until the peer has received `n` packets: a resume resolves once sent. */
async function received(peer: FakeRspPeer, n: number): Promise<string[]> {
  for (let i = 0; i < 100 && peer.received.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return peer.received.slice(1);
}

describe('RSP client run control against a fake scripted gdbstub', function () {
  this.timeout(10000);
  const peers: FakeRspPeer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.stop();
  });

  it('reads the thread list over several qsThreadInfo replies', async () => {
    const replies: Record<string, string> = { qfThreadInfo: 'mp01.01,p01.02', qsThreadInfo: 'mp01.03' };
    let s = 0;
    const { peer, client } = await clientFor(QEMU_QSUPPORTED, (p) => ({ send: packet(p === 'qsThreadInfo' && s++ > 0 ? 'l' : replies[p] ?? '') }));
    peers.push(peer);
    assert.deepStrictEqual(await client.threadIds(), [1, 2, 3]);
    assert.deepStrictEqual(peer.received.slice(1), ['qfThreadInfo', 'qsThreadInfo', 'qsThreadInfo']);
  });

  it('says which packet failed when the thread list is refused', async () => {
    const { peer, client } = await clientFor(QEMU_QSUPPORTED, () => ({ send: packet('E01') }));
    peers.push(peer);
    await assert.rejects(client.threadIds(), RspCommandError);
  });

  it('names threads as p1.T with multiprocess and as T without', async () => {
    const multi = await clientFor(QEMU_QSUPPORTED, (p) => (p.startsWith('vCont') ? 'silence' : { send: packet('OK') }));
    peers.push(multi.peer);
    await multi.client.selectThread(2);
    await multi.client.resume('step', 2);
    assert.deepStrictEqual(await received(multi.peer, 3), ['Hgp1.2', 'vCont;s:p1.2']);
    multi.client.close();
    const plain = await clientFor('PacketSize=1000', (p) => (p.startsWith('vCont') || p === 'c' ? 'silence' : { send: packet('OK') }));
    peers.push(plain.peer);
    await plain.client.selectThread(3);
    await plain.client.resume('continue', 3);
    assert.ok(plain.client.running);
    assert.deepStrictEqual(await received(plain.peer, 3), ['Hg3', 'vCont;c:3']);
    plain.client.close();
  });

  it('resumes every vCPU with c or s and reports the stop through waitForStop', async () => {
    const { peer, client } = await clientFor(QEMU_QSUPPORTED, (p) => (p === 's' ? { send: packet('T05thread:p01.02;') } : { send: packet('OK') }));
    peers.push(peer);
    const stopped = client.waitForStop(1000);
    await client.resume('step');
    const stop = await stopped;
    assert.strictEqual(stop.kind, 'signal');
    assert.strictEqual(stop.kind === 'signal' ? stop.thread?.tid : undefined, 2);
    assert.ok(!client.running);
  });

  it('detaches with D;1 once multiprocess is negotiated (QEMU refuses a plain D then), after removing its breakpoints', async () => {
    const { peer, client } = await clientFor(QEMU_QSUPPORTED, (p) => ({ send: packet(p === 'D' ? 'E22' : 'OK') }));
    peers.push(peer);
    await client.insertBreakpoint('software', 0x1000);
    await client.detach();
    assert.deepStrictEqual(peer.received.slice(1), ['Z0,1000,1', 'z0,1000,1', 'D;1']);
    assert.ok(client.connection.closed);
  });

  it('detaches with plain D without multiprocess', async () => {
    const { peer, client } = await clientFor('PacketSize=1000', () => ({ send: packet('OK') }));
    peers.push(peer);
    await client.detach();
    assert.deepStrictEqual(peer.received.slice(1), ['D']);
  });

  it('sends 64-bit addresses (negative address numbers, the x86-64 kernel half) as their unsigned hex in m, M, Z and z', async () => {
    const { peer, client } = await clientFor(QEMU_QSUPPORTED, (p) => ({ send: packet(p.startsWith('m') ? '9090' : 'OK') }));
    peers.push(peer);
    const kernelHalf = -2146435072; // 0xffffffff80100000 under the address rule of address.ts
    assert.deepStrictEqual([...(await client.readMemory(kernelHalf, 2))], [0x90, 0x90]);
    await client.writeMemory(kernelHalf + 0x10, Uint8Array.from([0xcc]));
    await client.insertBreakpoint('software', kernelHalf + 0x21a);
    await client.removeBreakpoint('software', kernelHalf + 0x21a);
    await client.insertBreakpoint('hardware', 0x100020);
    assert.deepStrictEqual(peer.received.slice(1), ['mffffffff80100000,2', 'Mffffffff80100010,1:cc', 'Z0,ffffffff8010021a,1', 'z0,ffffffff8010021a,1', 'Z1,100020,1']);
  });
});
