// The RSP connection: one TCP socket to a gdbstub, framed with rsp-framing, with one request
// in flight at a time (or a bounded pipeline of requests whose replies come back in order),
// timeouts, run state (stopped/running) and stop replies delivered to listeners.

import * as net from 'net';
import { RspFrameDecoder, encodeRspPacket, RspDecoderLimits, DEFAULT_RSP_LIMITS } from './rsp-framing';
import { looksLikeStopReply, parseStopReply, StopReply } from './rsp-stop-reply';
import {
  BridgeError,
  ConnectionClosedError,
  GuestRunningError,
  RequestTimeoutError,
  RspProtocolError,
} from './errors';
import { connectTcp, HostPort, formatHostPort } from './host-port';

export interface RspConnectionOptions {
  /** Time allowed for each reply (and for connecting). Default 5000 ms. */
  timeoutMs?: number;
  limits?: RspDecoderLimits;
}

interface InFlight {
  readonly request: string;
  readonly expectStop: boolean;
  /** Collects `O<hex>` console packets that come before the final reply (qRcmd). */
  readonly output?: Buffer[];
  readonly resolve: (reply: string) => void;
  readonly reject: (error: BridgeError) => void;
}

type StopListener = (stop: StopReply) => void;
type CloseListener = (error: BridgeError) => void;

/**
 * A connection to a gdbstub. Requests are serialised; `requestPipelined` keeps several in flight
 * and relies on the stub answering in order (QEMU does: it is single-threaded and reads its input
 * in order). Never throws from socket callbacks: every failure rejects the promises of callers.
 */
export class RspConnection {
  readonly address: string;
  readonly timeoutMs: number;
  private readonly decoder: RspFrameDecoder;
  private readonly inFlight: InFlight[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closedWith: BridgeError | undefined;
  private runningState = false;
  private stopWaiters: { resolve: (s: StopReply) => void; reject: (e: BridgeError) => void }[] = [];
  private readonly stopListeners = new Set<StopListener>();
  private readonly closeListeners = new Set<CloseListener>();
  private readonly resumeListeners = new Set<() => void>();
  private lastSent: Buffer | undefined;
  private resends = 0;
  /** Stop replies that arrived before any request was answered (e.g. on connecting to a running guest). */
  unsolicitedStops = 0;
  /** The most recent stop reply seen, solicited or not. */
  lastStop: StopReply | undefined;

  private constructor(private readonly socket: net.Socket, address: HostPort, options: RspConnectionOptions) {
    this.address = formatHostPort(address);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.decoder = new RspFrameDecoder(options.limits ?? DEFAULT_RSP_LIMITS);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => {
      /* the close handler reports it */
    });
    socket.on('close', () => {
      const trailing = this.decoder.end();
      const err = trailing.find((f) => f.kind === 'error');
      this.fail(err && err.kind === 'error' ? new RspProtocolError(err.message) : new ConnectionClosedError('gdbstub', this.address, this.describePending()));
    });
  }

  /** Connects to a gdbstub. Rejects with ConnectFailedError if nothing answers. */
  static async connect(address: HostPort, options: RspConnectionOptions = {}): Promise<RspConnection> {
    const socket = await connectTcp(address, 'gdbstub', options.timeoutMs ?? 5000);
    return new RspConnection(socket, address, options);
  }

  /** Wraps an already connected socket (used by tests with a fake peer). */
  static fromSocket(socket: net.Socket, address: HostPort, options: RspConnectionOptions = {}): RspConnection {
    return new RspConnection(socket, address, options);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** True after a run command (`c`, `s`, ...) until the stub sends a stop reply. */
  get running(): boolean {
    return this.runningState;
  }

  onStop(listener: StopListener): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  /** Called when a run command was sent (the guest runs until the next stop reply). */
  onResume(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  onClose(listener: CloseListener): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Sends one packet and resolves with the reply payload (latin1 text). If `expectStop`, the reply
   * is a stop reply; otherwise stop replies that arrive meanwhile are delivered as events.
   */
  request(payload: string, expectStop = false): Promise<string> {
    return this.exclusive(() => this.sendOne(payload, expectStop));
  }

  /** Sends one packet whose answer is any number of `O<hex>` output packets and then a final reply. */
  requestWithOutput(payload: string): Promise<{ reply: string; output: Buffer }> {
    return this.exclusive(async () => {
      this.checkUsable(payload);
      const output: Buffer[] = [];
      const reply = await this.sendRaw(payload, false, output);
      return { reply, output: Buffer.concat(output) };
    });
  }

  /**
   * Sends the packets with at most `window` in flight and resolves with the replies in order.
   * Only for requests whose replies are never stop replies (such as `m`).
   */
  requestPipelined(payloads: readonly string[], window: number): Promise<string[]> {
    return this.exclusive(async () => {
      if (payloads.length) this.checkUsable(payloads[0]);
      const replies: string[] = new Array(payloads.length);
      let next = 0;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        let failed = false;
        const launch = (): void => {
          while (!failed && next < payloads.length && next - done < window) {
            const index = next++;
            this.sendRaw(payloads[index], false).then(
              (reply) => {
                replies[index] = reply;
                done++;
                if (done === payloads.length) resolve();
                else launch();
              },
              (error: BridgeError) => {
                if (!failed) {
                  failed = true;
                  reject(error);
                }
              },
            );
          }
        };
        if (payloads.length === 0) resolve();
        else launch();
      });
      return replies;
    });
  }

  /**
   * Sends a run command (`c`, `s`, `vCont...`) whose only answer is a later stop reply. Resolves
   * once sent; use waitForStop() or onStop() for the stop.
   */
  resume(payload: string): Promise<void> {
    return this.exclusive(async () => {
      this.checkUsable(payload);
      this.runningState = true;
      this.write(encodeRspPacket(payload));
      for (const l of [...this.resumeListeners]) {
        try {
          l();
        } catch {
          /* ignore */
        }
      }
    });
  }

  /** Resolves with the next stop reply (or the current one if the guest is already stopped and `ifStopped`). */
  waitForStop(timeoutMs = this.timeoutMs): Promise<StopReply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<StopReply>((resolve, reject) => {
      const waiter = {
        resolve: (s: StopReply) => {
          clearTimeout(t);
          resolve(s);
        },
        reject: (e: BridgeError) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.stopWaiters = this.stopWaiters.filter((w) => w !== waiter);
        reject(new RequestTimeoutError('gdbstub', 'a stop reply', timeoutMs));
      }, timeoutMs);
      this.stopWaiters.push(waiter);
    });
  }

  /** Sends the interrupt byte (0x03). The stub stops the guest and sends a stop reply. */
  interrupt(): void {
    if (this.closedWith) throw this.closedWith;
    this.socket.write(Buffer.from([0x03]));
  }

  /** Marks the guest as running because something else (QMP `cont`) resumed it. */
  noteResumedElsewhere(): void {
    this.runningState = true;
  }

  /** Closes the socket. Pending requests fail with ConnectionClosedError. */
  close(): void {
    if (!this.closedWith) {
      this.fail(new ConnectionClosedError('gdbstub', this.address, 'close()'));
    }
    this.socket.destroy();
  }

  private checkUsable(request: string): void {
    if (this.closedWith) throw this.closedWith;
    if (this.runningState) throw new GuestRunningError(describe(request));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private sendOne(payload: string, expectStop: boolean): Promise<string> {
    try {
      this.checkUsable(payload);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.sendRaw(payload, expectStop);
  }

  private sendRaw(payload: string, expectStop: boolean, output?: Buffer[]): Promise<string> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<string>((resolve, reject) => {
      this.inFlight.push({ request: payload, expectStop, resolve, reject, output });
      this.armTimer();
      const packet = encodeRspPacket(payload);
      this.lastSent = packet;
      this.resends = 0;
      this.write(packet);
    });
  }

  private write(data: Buffer): void {
    this.socket.write(data);
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    if (this.inFlight.length === 0) return;
    const head = this.inFlight[0];
    this.timer = setTimeout(() => {
      const error = new RequestTimeoutError('gdbstub', describe(head.request), this.timeoutMs);
      this.fail(error);
      this.socket.destroy();
    }, this.timeoutMs);
  }

  private onData(chunk: Buffer): void {
    if (this.closedWith) return;
    for (const frame of this.decoder.push(chunk)) {
      if (this.closedWith) return;
      switch (frame.kind) {
        case 'ack':
          break;
        case 'nack':
          if (this.inFlight.length === 1 && this.lastSent && this.resends < 3) {
            this.resends++;
            this.write(this.lastSent);
          } else {
            this.protocolError('the stub asked for a retransmission that cannot be done');
          }
          break;
        case 'notification':
          break;
        case 'error':
          this.protocolError(frame.message);
          break;
        case 'packet':
          this.socket.write('+');
          this.onPacket(frame.payload.toString('latin1'));
          break;
      }
    }
  }

  private onPacket(payload: string): void {
    const head = this.inFlight[0];
    if (head && head.expectStop) {
      this.inFlight.shift();
      this.armTimer();
      const stop = parseStopReply(payload);
      if (typeof stop === 'string') {
        head.reject(new RspProtocolError(stop));
        return;
      }
      this.deliverStop(stop);
      head.resolve(payload);
      return;
    }
    if (looksLikeStopReply(payload)) {
      const stop = parseStopReply(payload);
      if (typeof stop === 'string') {
        this.protocolError(stop);
        return;
      }
      if (!this.runningState) this.unsolicitedStops++;
      this.deliverStop(stop);
      return;
    }
    if (head && head.output && payload !== 'OK' && /^O([0-9a-fA-F]{2})+$/.test(payload)) {
      head.output.push(Buffer.from(payload.slice(1), 'hex'));
      this.armTimer();
      return;
    }
    if (!head) {
      if (this.runningState && /^O([0-9a-fA-F]{2})*$/.test(payload) && payload !== 'OK') return; // console output
      this.protocolError(`an unexpected packet "${payload.slice(0, 40)}" arrived with no request pending`);
      return;
    }
    this.inFlight.shift();
    this.armTimer();
    head.resolve(payload);
  }

  private deliverStop(stop: StopReply): void {
    this.runningState = false;
    this.lastStop = stop;
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const w of waiters) w.resolve(stop);
    for (const l of [...this.stopListeners]) {
      try {
        l(stop);
      } catch {
        /* a listener's failure must not break the connection */
      }
    }
  }

  private protocolError(message: string): void {
    this.fail(new RspProtocolError(message));
    this.socket.destroy();
  }

  private fail(error: BridgeError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    clearTimeout(this.timer);
    const pending = this.inFlight.splice(0);
    for (const p of pending) p.reject(error);
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const w of waiters) w.reject(error);
    for (const l of [...this.closeListeners]) {
      try {
        l(error);
      } catch {
        /* ignore */
      }
    }
  }

  private describePending(): string | undefined {
    return this.inFlight.length ? describe(this.inFlight[0].request) : undefined;
  }
}

/** A short printable name for a request, for error messages. */
function describe(request: string): string {
  const text = request.length > 32 ? request.slice(0, 32) + '...' : request;
  return `"${text}"`;
}

