// Loopback addresses as `host:port`, and TCP connection with a timeout and a typed error.

import * as net from 'net';
import { BridgeError, ConnectFailedError } from './errors';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The text given for an address is not `host:port`. */
export class InvalidAddressError extends BridgeError {
  constructor(text: string) {
    super('INVALID_ADDRESS', `"${text}" is not an address of the form HOST:PORT (for example 127.0.0.1:1234).`);
  }
}

/** Parses `host:port` (or a bare port, meaning 127.0.0.1). Throws InvalidAddressError. */
export function parseHostPort(text: string): HostPort {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(text.trim());
  if (!m) throw new InvalidAddressError(text);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidAddressError(text);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Opens a TCP connection. Rejects with ConnectFailedError on refusal, error or timeout. */
export function connectTcp(address: HostPort, what: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectFailedError(what, formatHostPort(address), `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectFailedError(what, formatHostPort(address), e.code ?? e.message));
    });
  });
}
