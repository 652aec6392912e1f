// A FAKE gdbstub: a loopback TCP server that answers each packet the way a test script says,
// including what QEMU would never send (bad checksums, truncated packets, garbage, endless
// packets, closing mid-packet, silence). Used only for malformed and hostile input.

import * as net from 'net';
import { encodeRspPacket, RspFrameDecoder } from '../src/rsp-framing';

/** What the fake does with one received packet: bytes to send, and optionally close after. */
export type FakeRspAction = { send?: Buffer | string; close?: boolean } | 'silence';

export class FakeRspPeer {
  readonly received: string[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();

  private constructor(private readonly script: (payload: string, index: number) => FakeRspAction, private readonly onConnect?: Buffer | string) {
    this.server = net.createServer((socket) => this.serve(socket));
  }

  /** Starts listening on 127.0.0.1 at a free port. `onConnect` is sent as soon as a client connects. */
  static async start(script: (payload: string, index: number) => FakeRspAction, onConnect?: Buffer | string): Promise<FakeRspPeer> {
    const peer = new FakeRspPeer(script, onConnect);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: '127.0.0.1', port: a.port };
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (this.onConnect !== undefined) socket.write(this.onConnect);
    const decoder = new RspFrameDecoder();
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.kind !== 'packet') continue;
        const payload = frame.payload.toString('latin1');
        const index = this.received.push(payload) - 1;
        socket.write('+');
        const action = this.script(payload, index);
        if (action === 'silence') continue;
        if (action.send !== undefined) socket.write(action.send);
        if (action.close) socket.end();
      }
    });
  }
}

/** A well-formed packet, for scripts. */
export function packet(payload: string): Buffer {
  return encodeRspPacket(payload);
}

/** The qSupported answer QEMU 7.2 gives. */
export const QEMU_QSUPPORTED = 'PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+';
