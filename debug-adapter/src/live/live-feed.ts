// LiveFeed: the WebSocket live feed (docs/live-feed.md). It hangs on an http.Server bound to
// loopback, accepts a connection only with the right token in the URL, an allowed Origin (or
// none, for programs) and a loopback Host header, sends each client a hello and the current full
// snapshot, then a delta at each new snapshot and stopped/continued events. Clients may only ping
// or ask for a full snapshot, or ask the session's history (read-only `history` queries, answered
// by the handler the session sets: the DAP history requests' one implementation); anything else
// closes them with a clear code. Each client has a
// bounded queue (client-channel.ts), so a slow reader is dropped to "resync" instead of
// buffering forever or slowing the others.

import * as crypto from 'crypto';
import * as http from 'http';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer, RawData } from 'ws';
import { MmSnapshot } from '../mm/model/snapshot';
import { ViewSnapshot, snapshotToJson } from '../mm/model/snapshot-json';
import { StopChanges, stopChanges } from './stop-changes';
import type { StopSnapshot } from '../mm/plugin/stop-snapshot';
import { ClientChannel, ChannelStats } from './client-channel';
import {
  CloseCode, ContinuedMessage, DeltaMessage, FEED_PATH, GuestIdentity, GuestRunState, HelloMessage, HistoryReplyMessage, HistoryRequestName,
  JsonObject, LIVE_PROTOCOL_VERSION, LIVE_PROTOCOL_VERSIONS, PongMessage, RefreshMode, ResyncMessage, StatusMessage, StoppedMessage, liveSubprotocol,
} from '../../../contract/live-protocol';

/** Answers a client's history query (the session sets it: mm-extension.ts historyRequest). Rejects with one sentence. */
export type HistoryHandler = (request: HistoryRequestName, args: JsonObject | undefined) => Promise<JsonObject>;

const HISTORY_REQUEST_NAMES: ReadonlySet<string> = new Set<HistoryRequestName>(['summary', 'events', 'at', 'blame', 'when']);
import { makePatch } from '../../../contract/snapshot-patch';

export interface LiveFeedOptions {
  /** The secret every URL must carry (`?token=`). Default: 32 random hex digits... times two. */
  readonly token?: string;
  /** Origins allowed besides the server's own (http://127.0.0.1:PORT, http://localhost:PORT); e.g. a VS Code webview's. */
  readonly allowedOrigins?: readonly string[];
  /** Connections at most. Default 128. */
  readonly maxClients?: number;
  /** Largest message a client may send, bytes. Default 1024. */
  readonly maxClientMessageBytes?: number;
  /** Messages a client may send per 10 s. Default 100. */
  readonly maxClientMessagesPer10s?: number;
  /** Messages waiting per client before it is dropped to resync. Default 32. */
  readonly maxQueuedMessages?: number;
  /** Messages handed to one client's socket at a time. Default 2. */
  readonly maxInFlight?: number;
  readonly serverVersion?: string;
}

export interface PublishMeta {
  /** Taken while the guest ran: may be momentarily inconsistent. */
  readonly live: boolean;
  /** When the snapshot was taken (ms since the epoch). Default: now. */
  readonly takenAt?: number;
  /** Send a full snapshot to everyone instead of a delta (e.g. after a guest reset). */
  readonly full?: boolean;
  /**
   * The changes the publisher already computed (stop-changes.ts) and the snapshot they start
   * from: used as they are when that is the snapshot this feed published last (no second diff).
   */
  readonly changes?: { readonly from: StopSnapshot; readonly changes: StopChanges };
}

export interface LiveFeedStats {
  readonly clients: number;
  readonly published: number;
  readonly refused: number;
  readonly closedByPolicy: number;
  readonly perClient: readonly (ChannelStats & { readonly id: number })[];
}

/** Why a connection request is refused: HTTP status and one sentence. */
export interface Refusal {
  readonly status: number;
  readonly message: string;
}

/**
 * What the feed publishes: a stop's document (with our guest's decoded snapshot when it is ours).
 * A bare MmSnapshot of our guest is taken too, as its document (snapshotToJson: what the builder makes of it).
 */
export type FeedSnapshot = StopSnapshot | MmSnapshot;

export type { StopChanges } from './stop-changes';

function asStopSnapshot(s: FeedSnapshot): StopSnapshot {
  return 'document' in s ? s : { document: snapshotToJson(s), guest: s };
}

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  readonly channel: ClientChannel;
  readonly messageTimes: number[];
}

/** A new random token (256 bits, hex). */
export function newToken(): string {
  return crypto.randomBytes(32).toString('hex');
}

function tokenMatches(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

export class LiveFeed {
  readonly token: string;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private nextClientId = 1;
  private port = 0;
  private seq = 0;
  private last: { snapshot: StopSnapshot; json: ViewSnapshot; live: boolean; takenAt: number; docText: string | undefined } | undefined;
  private guest: GuestIdentity | null = null;
  private refresh: RefreshMode = { kind: 'stops-only', ratePerSecond: 0 };
  private runState: GuestRunState = 'unknown';
  private counters = { published: 0, refused: 0, closedByPolicy: 0 };
  private readonly limits: Required<Omit<LiveFeedOptions, 'token' | 'allowedOrigins' | 'serverVersion'>>;
  private readonly extraOrigins: readonly string[];
  private readonly serverVersion: string;
  private closed = false;
  private readonly snapshotListeners = new Set<(s: StopSnapshot, changes: StopChanges | undefined) => void>();
  private historyHandler: HistoryHandler | undefined;

  constructor(options: LiveFeedOptions = {}) {
    this.token = options.token ?? newToken();
    this.limits = {
      maxClients: options.maxClients ?? 128,
      maxClientMessageBytes: options.maxClientMessageBytes ?? 1024,
      maxClientMessagesPer10s: options.maxClientMessagesPer10s ?? 100,
      maxQueuedMessages: options.maxQueuedMessages ?? 32,
      maxInFlight: options.maxInFlight ?? 2,
    };
    this.extraOrigins = options.allowedOrigins ?? [];
    this.serverVersion = options.serverVersion ?? '0.0.0';
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxClientMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (offered) => {
        for (const v of [...LIVE_PROTOCOL_VERSIONS].reverse()) if (offered.has(liveSubprotocol(v))) return liveSubprotocol(v);
        return false;
      },
    });
  }

  /** Serves the feed on `server` (which must listen on 127.0.0.1) at FEED_PATH. */
  attach(server: http.Server): void {
    const address = (): void => {
      const a = server.address();
      if (a && typeof a === 'object') this.port = a.port;
    };
    address();
    server.on('listening', address);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Origins a browser page may connect from. */
  allowedOrigins(): string[] {
    return [`http://127.0.0.1:${this.port}`, `http://localhost:${this.port}`, ...this.extraOrigins];
  }

  /** Checks a request's Host, token and Origin (shared with the dashboard's HTTP pages). */
  checkRequest(req: http.IncomingMessage, options: { origin: boolean }): Refusal | undefined {
    const host = (req.headers.host ?? '').toLowerCase();
    const hostName = host.replace(/:\d+$/, '');
    if (!LOOPBACK_HOSTS.has(hostName)) return { status: 421, message: `The live feed answers only to 127.0.0.1 or localhost, not "${host}".` };
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const token = url.searchParams.get('token');
    if (token === null) return { status: 401, message: 'The live feed needs the token printed by "mmscope serve": add ?token=... to the URL.' };
    if (!tokenMatches(token, this.token)) return { status: 401, message: 'Wrong token: use the URL "mmscope serve" printed (a new token is made at each start).' };
    if (options.origin) {
      const origin = req.headers.origin;
      if (origin !== undefined && !this.allowedOrigins().includes(origin)) {
        return { status: 403, message: `Connections from the page origin ${origin} are not allowed; open the dashboard at the URL "mmscope serve" printed.` };
      }
    }
    return undefined;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let refusal: Refusal | undefined;
    if (this.closed) refusal = { status: 503, message: 'The live feed is shutting down.' };
    else if (url.pathname !== FEED_PATH) refusal = { status: 404, message: `There is no WebSocket endpoint at ${url.pathname}; the feed is at ${FEED_PATH}.` };
    else refusal = this.checkRequest(req, { origin: true });
    const offered = req.headers['sec-websocket-protocol'];
    if (!refusal && offered !== undefined) {
      const list = offered.split(',').map((s) => s.trim());
      if (!LIVE_PROTOCOL_VERSIONS.some((v) => list.includes(liveSubprotocol(v)))) {
        refusal = { status: 400, message: `None of the offered subprotocols (${offered}) is spoken here; offer ${LIVE_PROTOCOL_VERSIONS.map(liveSubprotocol).join(' or ')}.` };
      }
    }
    if (!refusal && this.clients.size >= this.limits.maxClients) refusal = { status: 503, message: `The live feed already serves ${this.limits.maxClients} clients; close one and try again.` };
    if (refusal) {
      this.counters.refused++;
      const body = refusal.message + '\n';
      socket.on('error', () => undefined);
      socket.end(
        `HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const client: Client = {
      id: this.nextClientId++,
      ws,
      messageTimes: [],
      channel: new ClientChannel(
        { send: (data, cb) => ws.send(data, cb) },
        { maxQueued: this.limits.maxQueuedMessages, maxInFlight: this.limits.maxInFlight },
        {
          notice: (dropped) => JSON.stringify({ type: 'resync', dropped } satisfies ResyncMessage),
          fullSnapshot: () => this.fullSnapshotText('resync'),
        },
      ),
    };
    this.clients.add(client);
    ws.on('close', () => {
      client.channel.close();
      this.clients.delete(client);
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => this.onClientMessage(client, data, isBinary));
    client.channel.send(JSON.stringify(this.hello()));
    const full = this.fullSnapshotText('connect');
    if (full) client.channel.send(full);
  }

  private closeForPolicy(client: Client, code: number, reason: string): void {
    this.counters.closedByPolicy++;
    client.channel.close();
    client.ws.close(code, reason.slice(0, 120));
  }

  private onClientMessage(client: Client, data: RawData, isBinary: boolean): void {
    const now = Date.now();
    client.messageTimes.push(now);
    while (client.messageTimes.length && client.messageTimes[0] < now - 10_000) client.messageTimes.shift();
    if (client.messageTimes.length > this.limits.maxClientMessagesPer10s) {
      return this.closeForPolicy(client, CloseCode.tooManyMessages, `more than ${this.limits.maxClientMessagesPer10s} messages in 10 s`);
    }
    if (isBinary) return this.closeForPolicy(client, CloseCode.unsupportedData, 'binary messages are not accepted; send JSON text');
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return this.closeForPolicy(client, CloseCode.invalidPayload, 'a message is not JSON');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return this.closeForPolicy(client, CloseCode.invalidPayload, 'a message must be a JSON object with a "type"');
    }
    const m = message as { type?: unknown; id?: unknown };
    if (m.type === 'ping') {
      const pong: PongMessage = { type: 'pong', id: typeof m.id === 'number' ? m.id : null };
      client.channel.send(JSON.stringify(pong));
    } else if (m.type === 'resync') {
      const full = this.fullSnapshotText('request');
      if (full) client.channel.send(full);
    } else if (m.type === 'history') {
      this.onHistoryMessage(client, message as { id?: unknown; request?: unknown; args?: unknown });
    } else {
      this.closeForPolicy(client, CloseCode.policyViolation, `the feed is read-only; "${String(m.type).slice(0, 40)}" is not a message it accepts (only ping, resync and history)`);
    }
  }

  /** Sets who answers clients' `history` queries (without one, each is answered with an error). */
  setHistoryHandler(handler: HistoryHandler | undefined): void {
    this.historyHandler = handler;
  }

  /** A `history` query: a known request name, an optional object of arguments, an optional numeric id; else the connection is closed. */
  private onHistoryMessage(client: Client, m: { id?: unknown; request?: unknown; args?: unknown }): void {
    if (typeof m.request !== 'string' || !HISTORY_REQUEST_NAMES.has(m.request)) {
      return this.closeForPolicy(client, CloseCode.policyViolation, `a history message needs a request of ${[...HISTORY_REQUEST_NAMES].join(', ')}`);
    }
    if (m.args !== undefined && (typeof m.args !== 'object' || m.args === null || Array.isArray(m.args))) {
      return this.closeForPolicy(client, CloseCode.invalidPayload, 'a history message\'s args must be a JSON object');
    }
    if (m.id !== undefined && typeof m.id !== 'number') return this.closeForPolicy(client, CloseCode.invalidPayload, 'a history message\'s id must be a number');
    const request = m.request as HistoryRequestName;
    const id = typeof m.id === 'number' ? m.id : null;
    const reply = (r: Omit<HistoryReplyMessage, 'type' | 'id' | 'request'>): void => client.channel.send(JSON.stringify({ type: 'history', id, request, ...r } satisfies HistoryReplyMessage));
    const handler = this.historyHandler;
    if (!handler) return reply({ error: 'this feed has no history: it is not serving a debug session of our guest' });
    handler(request, m.args as JsonObject | undefined).then(
      (body) => reply({ body }),
      (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
    );
  }

  private hello(): HelloMessage {
    return {
      type: 'hello',
      protocol: LIVE_PROTOCOL_VERSION,
      protocols: LIVE_PROTOCOL_VERSIONS,
      snapshotSchema: 3,
      server: { name: 'mmscope', version: this.serverVersion },
      guest: this.guest,
      refresh: this.refresh,
      state: this.runState,
      limits: { maxClientMessageBytes: this.limits.maxClientMessageBytes, maxQueuedMessages: this.limits.maxQueuedMessages },
    };
  }

  private fullSnapshotText(reason: 'connect' | 'resync' | 'request' | 'first'): string | undefined {
    const last = this.last;
    if (!last) return undefined;
    if (last.docText === undefined) last.docText = JSON.stringify(last.json);
    // Written by hand so the (large) document is stringified once per snapshot, not per client.
    return `{"type":"snapshot","seq":${this.seq},"reason":"${reason}","live":${last.live},"takenAt":${last.takenAt},"state":"${this.runState}","snapshot":${last.docText}}`;
  }

  private broadcast(message: object | string): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    for (const c of this.clients) c.channel.send(text);
  }

  /** Sets the guest identity that the hello carries. */
  setGuest(identity: GuestIdentity | null): void {
    this.guest = identity;
  }

  setRefresh(mode: RefreshMode): void {
    this.refresh = mode;
  }

  get state(): GuestRunState {
    return this.runState;
  }

  /** The sequence number of the latest snapshot (0 before the first). */
  get latestSeq(): number {
    return this.seq;
  }

  get latest(): { snapshot: StopSnapshot; json: ViewSnapshot; seq: number; live: boolean } | undefined {
    return this.last ? { snapshot: this.last.snapshot, json: this.last.json, seq: this.seq, live: this.last.live } : undefined;
  }

  /** Calls `listener` after each published snapshot (the CLI's summary uses it). */
  onSnapshot(listener: (s: StopSnapshot, changes: StopChanges | undefined) => void): () => void {
    this.snapshotListeners.add(listener);
    return () => this.snapshotListeners.delete(listener);
  }

  /** Publishes a new snapshot: a delta to every client (a full snapshot for the first). Returns its seq. */
  publish(published: FeedSnapshot, meta: PublishMeta): number {
    const snapshot = asStopSnapshot(published);
    const json = snapshot.document;
    const takenAt = meta.takenAt ?? Date.now();
    const prev = this.last;
    this.seq++;
    this.counters.published++;
    this.last = { snapshot, json, live: meta.live, takenAt, docText: undefined };
    let diff: StopChanges | undefined;
    if (!prev || meta.full) {
      // Serialised only for clients that are there (a client connecting later gets it then).
      if (this.clients.size) this.broadcast(this.fullSnapshotText('first') as string);
    } else {
      diff = meta.changes && meta.changes.from === prev.snapshot ? meta.changes.changes : stopChanges(prev.snapshot, snapshot);
      // No client: no patch and no text (a client connecting later gets the whole snapshot).
      if (!this.clients.size) {
        for (const l of [...this.snapshotListeners]) l(snapshot, diff);
        return this.seq;
      }
      const delta: DeltaMessage<StopChanges> = {
        type: 'delta', seq: this.seq, base: this.seq - 1, live: meta.live, takenAt, state: this.runState,
        patch: makePatch(prev.json, json), changes: diff,
      };
      const text = JSON.stringify(delta);
      for (const c of this.clients) c.channel.sendDelta(text);
    }
    for (const l of [...this.snapshotListeners]) l(snapshot, diff);
    return this.seq;
  }

  /** The guest stopped (breakpoint, pause, step...). Send the stop's snapshot with publish({live:false}) after. */
  stopped(reason: string): void {
    this.runState = 'stopped';
    this.broadcast({ type: 'stopped', reason, at: Date.now() } satisfies StoppedMessage);
  }

  /** The guest runs again. */
  continued(): void {
    this.runState = 'running';
    this.broadcast({ type: 'continued', at: Date.now() } satisfies ContinuedMessage);
  }

  /** Tells clients something (guest exited, refresh failing). `state` updates the run state too. */
  status(level: StatusMessage['level'], message: string, state?: GuestRunState): void {
    if (state) this.runState = state;
    this.broadcast({ type: 'status', state: this.runState, level, message, at: Date.now() } satisfies StatusMessage);
  }

  /** Sets the run state without an event (e.g. the state found at attach). */
  setState(state: GuestRunState): void {
    this.runState = state;
  }

  stats(): LiveFeedStats {
    return {
      clients: this.clients.size,
      ...this.counters,
      perClient: [...this.clients].map((c) => ({ id: c.id, ...c.channel.stats })),
    };
  }

  /** Closes every client (1001 going away) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const c of this.clients) {
      c.channel.close();
      c.ws.close(CloseCode.goingAway, 'the mmscope live feed is shutting down');
    }
    const pending = [...this.clients];
    setTimeout(() => pending.forEach((c) => c.ws.terminate()), 1000).unref();
    this.wss.close();
  }
}
