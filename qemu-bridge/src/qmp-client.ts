// The QMP client: greeting and capabilities negotiation, commands matched to replies by id,
// events as a stream, and typed wrappers for the commands mmscope uses.

import * as net from 'net';
import { QmpLineDecoder, encodeQmpCommand } from './qmp-framing';
import { classifyQmpMessage, QmpEvent, QmpGreeting } from './qmp-messages';
import { BridgeError, ConnectionClosedError, QmpCommandError, QmpProtocolError, RequestTimeoutError } from './errors';
import { connectTcp, formatHostPort, HostPort } from './host-port';

export interface QmpClientOptions {
  /** Time allowed for connecting, the greeting and each command. Default 5000 ms. */
  timeoutMs?: number;
}

/** What `query-status` says. */
export interface QmpStatus {
  readonly running: boolean;
  /** `prelaunch`, `running`, `paused`, `debug`, `shutdown`, ... */
  readonly status: string;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BridgeError) => void;
  readonly timer: NodeJS.Timeout;
}

type EventListener = (event: QmpEvent) => void;

/** A QMP connection. Commands may overlap; replies are matched by id. Never throws from socket callbacks. */
export class QmpClient {
  readonly address: string;
  readonly timeoutMs: number;
  greeting: QmpGreeting | undefined;
  private readonly decoder = new QmpLineDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedWith: BridgeError | undefined;
  private readonly listeners = new Set<EventListener>();
  private readonly closeListeners = new Set<(e: BridgeError) => void>();
  private greetingWaiter: { resolve: () => void; reject: (e: BridgeError) => void } | undefined;

  private constructor(private readonly socket: net.Socket, address: HostPort, options: QmpClientOptions) {
    this.address = formatHostPort(address);
    this.timeoutMs = options.timeoutMs ?? 5000;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {
      /* reported by close */
    });
    socket.on('close', () => {
      const rest = this.decoder.end();
      const error = rest.length ? new QmpProtocolError(rest[0].kind === 'error' ? rest[0].message : 'truncated message') : new ConnectionClosedError('QMP', this.address);
      this.fail(error);
    });
  }

  /** Connects, reads the greeting and enables commands with `qmp_capabilities`. */
  static async connect(address: HostPort, options: QmpClientOptions = {}): Promise<QmpClient> {
    const socket = await connectTcp(address, 'QMP server', options.timeoutMs ?? 5000);
    const client = new QmpClient(socket, address, options);
    try {
      await client.handshake();
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  /** Wraps a connected socket (tests with a fake peer); call handshake() yourself. */
  static fromSocket(socket: net.Socket, address: HostPort, options: QmpClientOptions = {}): QmpClient {
    return new QmpClient(socket, address, options);
  }

  /** Waits for the greeting, then sends `qmp_capabilities`. */
  async handshake(): Promise<void> {
    if (!this.greeting) {
      await new Promise<void>((resolve, reject) => {
        if (this.closedWith) return reject(this.closedWith);
        const timer = setTimeout(() => {
          const e = new RequestTimeoutError('QMP server', 'the greeting', this.timeoutMs);
          this.fail(e);
          this.socket.destroy();
        }, this.timeoutMs);
        this.greetingWaiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
      });
    }
    await this.execute('qmp_capabilities');
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Runs a command and resolves with its `return` value. Rejects with QmpCommandError, RequestTimeoutError, ConnectionClosedError. */
  execute(command: string, args?: Readonly<Record<string, unknown>>, timeoutMs = this.timeoutMs): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError('QMP server', `"${command}"`, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      this.socket.write(encodeQmpCommand(command, args, id));
    });
  }

  /** Calls `listener` for every event; returns a function that stops it. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onClose(listener: (e: BridgeError) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Resolves with the next event named `name` (arriving after this call) that passes `match`. */
  waitForEvent(name: string, timeoutMs = this.timeoutMs, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<QmpEvent>((resolve, reject) => {
      const off = this.onEvent((e) => {
        if (e.event === name && match(e)) {
          cleanup();
          resolve(e);
        }
      });
      const offClose = this.onClose((err) => {
        cleanup();
        reject(err);
      });
      const timer = setTimeout(() => {
        cleanup();
        reject(new RequestTimeoutError('QMP server', `the event ${name}`, timeoutMs));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        off();
        offClose();
      };
    });
  }

  /** The events as an async stream that ends when the connection closes. */
  async *events(): AsyncGenerator<QmpEvent, void, undefined> {
    const queue: QmpEvent[] = [];
    let wake: (() => void) | undefined;
    let ended = this.closed;
    const off = this.onEvent((e) => {
      queue.push(e);
      wake?.();
    });
    const offClose = this.onClose(() => {
      ended = true;
      wake?.();
    });
    try {
      for (;;) {
        while (queue.length) yield queue.shift() as QmpEvent;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      off();
      offClose();
    }
  }

  async queryStatus(): Promise<QmpStatus> {
    const r = await this.execute('query-status');
    if (typeof r !== 'object' || r === null) throw new QmpProtocolError('query-status returned no object');
    const o = r as Record<string, unknown>;
    return { running: o.running === true, status: typeof o.status === 'string' ? o.status : 'unknown' };
  }

  async stop(): Promise<void> {
    await this.execute('stop');
  }

  async cont(): Promise<void> {
    await this.execute('cont');
  }

  async systemReset(): Promise<void> {
    await this.execute('system_reset');
  }

  /** Asks QEMU to exit. Resolves when QEMU acknowledged (the socket closes soon after). */
  async quit(): Promise<void> {
    await this.execute('quit');
  }

  /** Saves guest-physical memory to a file on QEMU's host. */
  async pmemsave(address: number, size: number, filename: string): Promise<void> {
    await this.execute('pmemsave', { val: address, size, filename });
  }

  /** Runs an HMP command (`info tlb`, `xp ...`) and returns its text output. */
  async humanMonitorCommand(commandLine: string, timeoutMs?: number): Promise<string> {
    const r = await this.execute('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
    if (typeof r !== 'string') throw new QmpProtocolError('human-monitor-command returned no text');
    return r;
  }

  close(): void {
    this.fail(new ConnectionClosedError('QMP', this.address, 'close()'));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      if (this.closedWith) return;
      if (frame.kind === 'error') {
        this.protocolError(frame.message);
        return;
      }
      const msg = classifyQmpMessage(frame.value);
      if (typeof msg === 'string') {
        this.protocolError(msg);
        return;
      }
      switch (msg.kind) {
        case 'greeting':
          this.greeting = msg;
          this.greetingWaiter?.resolve();
          this.greetingWaiter = undefined;
          break;
        case 'event':
          for (const l of [...this.listeners]) {
            try {
              l(msg);
            } catch {
              /* a listener's failure must not break the connection */
            }
          }
          break;
        case 'return':
        case 'error': {
          if (typeof msg.id !== 'number') {
            this.protocolError('a reply has no id of ours');
            return;
          }
          const p = this.pending.get(msg.id);
          if (!p) break; // reply to a command that timed out: drop it
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.kind === 'return') p.resolve(msg.value);
          else p.reject(new QmpCommandError(p.command, msg.errorClass, msg.description));
          break;
        }
      }
    }
  }

  private protocolError(message: string): void {
    this.fail(new QmpProtocolError(message));
    this.socket.destroy();
  }

  private fail(error: BridgeError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.greetingWaiter?.reject(error);
    this.greetingWaiter = undefined;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
    for (const l of [...this.closeListeners]) {
      try {
        l(error);
      } catch {
        /* ignore */
      }
    }
  }
}
