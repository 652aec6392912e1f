// A FAKE QMP server on loopback that sends what a test script says, including what QEMU never
// sends (no greeting, invalid JSON, replies without ids, closing mid-message, silence).

import * as net from 'net';

export type FakeQmpAction = { send?: string; close?: boolean } | 'silence';

export const QEMU_GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n';

export class FakeQmpPeer {
  readonly received: unknown[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();

  private constructor(private readonly greeting: string | undefined, private readonly script: (command: Record<string, unknown>) => FakeQmpAction) {
    this.server = net.createServer((s) => this.serve(s));
  }

  static async start(greeting: string | undefined, script: (command: Record<string, unknown>) => FakeQmpAction): Promise<FakeQmpPeer> {
    const peer = new FakeQmpPeer(greeting, script);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: (this.server.address() as net.AddressInfo).port };
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (this.greeting !== undefined) socket.write(this.greeting);
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const command = JSON.parse(line) as Record<string, unknown>;
        this.received.push(command);
        const action = command.execute === 'qmp_capabilities' ? { send: JSON.stringify({ return: {}, id: command.id }) + '\r\n' } : this.script(command);
        if (action === 'silence') continue;
        if (action.send !== undefined) socket.write(action.send);
        if (action.close) socket.end();
      }
    });
  }
}
