// Test helpers for the live feed: real snapshots recorded from the demo guest while it runs, and
// a feed client (FeedState, the same code the dashboard runs) over a `ws` WebSocket.

import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import WebSocket from 'ws';
import { QemuSession, launchQemu } from '../../qemu-bridge/src';
import { MmSnapshot, buildSnapshot } from '../src/mm/model/snapshot';
import { liveSubprotocol } from '../src/live/protocol';
import type { ServerMessage } from '../src/live/protocol';
import { FeedState, FeedUpdate } from '../../extension/webview/feed-state';
import type { ChangesView, SnapshotView } from '../../contract/guest-document';
import { KERNEL, descriptorPhysOf } from './guest-snapshot';

/** Boots the demo guest, records `count` snapshots from its RAM file while it runs (`gapMs` apart), and stops QEMU. */
export async function recordDemoSnapshots(count: number, gapMs = 250): Promise<MmSnapshot[]> {
  const descriptorPhys = descriptorPhysOf();
  const qemu = await launchQemu({ kernel: KERNEL, cmdline: 'demo', memoryMiB: 64 });
  try {
    const session = await QemuSession.attachTo(qemu);
    const rsp = session.rsp as NonNullable<QemuSession['rsp']>;
    await rsp.continue();
    await qemu.waitForSerial(/heartbeat 1 /, 90_000);
    await rsp.interrupt();
    const regs = await rsp.readRegisters();
    const registers = { cr0: regs.value('cr0'), cr3: regs.value('cr3'), cr4: regs.value('cr4') };
    await rsp.continue();
    const out: MmSnapshot[] = [];
    for (let i = 0; i < count; i++) {
      out.push(await buildSnapshot({ read: (a, n) => session.memory.readPhys(a, n), descriptorPhys, registers, stop: i + 1 }));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    session.rsp?.close();
    session.qmp?.close();
    return out;
  } finally {
    await qemu.shutdown();
  }
}

/** A feed client: collects every message and applies it to a FeedState. */
export class TestFeedClient {
  readonly state = new FeedState();
  readonly messages: ServerMessage<SnapshotView, ChangesView>[] = [];
  readonly updates: FeedUpdate[] = [];
  readonly ws: WebSocket;
  /** The raw socket under the WebSocket (to pause it: a slow reader). */
  socket: net.Socket | undefined;
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  constructor(url: string, options: { origin?: string; protocols?: string[] } = {}) {
    this.ws = new WebSocket(url, options.protocols ?? [liveSubprotocol(1)], {
      origin: options.origin,
      createConnection: (opts: http.ClientRequestArgs) => {
        this.socket = net.connect(opts as net.NetConnectOpts);
        return this.socket;
      },
    });
    this.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage<SnapshotView, ChangesView>;
      this.messages.push(m);
      this.updates.push(this.state.handle(m));
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `predicate` holds (checked after each message), rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a WebSocket and resolves with the HTTP status of a refused handshake (or 101 when accepted). */
export function handshakeStatus(url: string, options: { origin?: string; protocols?: string[]; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { origin: options.origin, headers: options.headers });
    const timer = setTimeout(() => reject(new Error('no answer to the handshake')), 10_000);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('open', () => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.on('error', () => undefined);
  });
}

export { KERNEL, fs };
