// A FAKE gdbstub: a loopback TCP server that answers each packet the way a test script says,
// including what QEMU would never send (bad checksums, truncated packets, garbage, endless
// packets, closing mid-packet, silence). Used for malformed and hostile input, and as the
// transport of the scripted machine (fake-i386-gdbstub.ts), which answers some packets later
// (stop replies) through send() and sees the interrupt byte as the payload "\x03".

import * as net from 'net';
import { encodeRspPacket, RspFrameDecoder } from '../src/rsp-framing';

/** The payload the script receives (and `received` records) for the interrupt byte 0x03 sent between packets. */
export const INTERRUPT = '\x03';

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

  /** Sends `data` (a later answer, such as a stop reply) to every connected client; with `close`, ends them after. */
  send(data: Buffer | string, close = false): void {
    for (const s of this.sockets) {
      s.write(data);
      if (close) s.end();
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    // Like QEMU: without it, a reply written after the ack waits for the client's delayed ack.
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (this.onConnect !== undefined) socket.write(this.onConnect);
    const decoder = new RspFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      // An interrupt byte between packets is handed to the script as a payload of its own.
      let from = 0;
      for (let i = chunk.indexOf(0x03); i >= 0; i = chunk.indexOf(0x03, i + 1)) {
        this.decode(socket, decoder, chunk.subarray(from, i));
        from = i;
        if (decoder.midPacket) continue;
        from = i + 1;
        this.answer(socket, INTERRUPT, false);
      }
      this.decode(socket, decoder, chunk.subarray(from));
    });
  }

  private decode(socket: net.Socket, decoder: RspFrameDecoder, bytes: Buffer): void {
    if (bytes.length === 0) return;
    for (const frame of decoder.push(bytes)) {
      if (frame.kind === 'packet') this.answer(socket, frame.payload.toString('latin1'), true);
    }
  }

  private answer(socket: net.Socket, payload: string, ack: boolean): void {
    const index = this.received.push(payload) - 1;
    if (ack) socket.write('+');
    const action = this.script(payload, index);
    if (action === 'silence') return;
    if (action.send !== undefined) socket.write(action.send);
    if (action.close) socket.end();
  }
}

/** A well-formed packet, for scripts. */
export function packet(payload: string): Buffer {
  return encodeRspPacket(payload);
}

/** The qSupported answer QEMU 7.2 gives. */
export const QEMU_QSUPPORTED = 'PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+';
