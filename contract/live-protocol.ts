// The live feed's wire protocol (docs/live-feed.md), shared by the server, the dashboard, the
// VS Code webview and the language server. Pure types and constants: no Node or DOM imports, so
// the browser build (extension/webview/tsconfig.json) compiles this very file.

/** The protocol version this code speaks. Bumped when a message changes meaning. */
export const LIVE_PROTOCOL_VERSION = 1;
/** Versions this server can speak; the client picks one with the WebSocket subprotocol. */
export const LIVE_PROTOCOL_VERSIONS: readonly number[] = [1];
/** WebSocket subprotocol name of version `v` (offered by clients in Sec-WebSocket-Protocol). */
export const liveSubprotocol = (v: number): string => `mmscope-live.v${v}`;
/** The URL path of the feed on the server. */
export const FEED_PATH = '/feed';

/** Close codes the server uses (RFC 6455 codes, plus 4xxx for mmscope's own reasons). */
export const CloseCode = {
  /** The server shuts down. */
  goingAway: 1001,
  /** The client sent a binary frame. */
  unsupportedData: 1003,
  /** The client sent text that is not a JSON object. */
  invalidPayload: 1007,
  /** The client sent a message the feed does not accept (it is read-only). */
  policyViolation: 1008,
  /** The client sent a message larger than the limit. */
  messageTooBig: 1009,
  /** The client sent messages faster than the limit. */
  tooManyMessages: 4008,
} as const;

/** A JSON object document (the snapshot of docs/snapshot-schema.md for the server). */
export type JsonObject = { readonly [key: string]: unknown };

/** Run state of the guest as the feed last saw it. */
export type GuestRunState = 'running' | 'stopped' | 'exited' | 'unknown';

/** How snapshots are refreshed while the guest runs. */
export interface RefreshMode {
  /** 'ram-file': read without stopping; 'stop-and-go': brief gdbstub stops; 'stops-only': only at debugger stops. */
  readonly kind: 'ram-file' | 'stop-and-go' | 'stops-only';
  /** Refreshes per second while the guest runs (0 for stops-only). */
  readonly ratePerSecond: number;
}

/** What guest the feed shows. */
export interface GuestIdentity {
  /** What mmscope knows of the kernel: 0 (nothing described), 1 (a memory-model description), 'descriptor' (our guest's mm_debug_info). */
  readonly level?: 0 | 1 | 'descriptor';
  /** File name of the kernel ELF (no directory); "" when attached with no ELF (only --gdb). */
  readonly kernel: string;
  /** SHA-256 of the kernel file, hex ("" without an ELF). */
  readonly kernelSha256: string;
  /** Our guest's descriptor version, block size and count; 0 on a kernel that is not ours. */
  readonly descriptorVersion: number;
  readonly blockSize: number;
  readonly blockCount: number;
  /** Guest RAM in bytes, when known. */
  readonly memoryBytes?: number;
}

/** First message on every connection. */
export interface HelloMessage {
  readonly type: 'hello';
  readonly protocol: number;
  readonly protocols: readonly number[];
  /** Version of the snapshot document (docs/snapshot-schema.md). */
  readonly snapshotSchema: number;
  readonly server: { readonly name: 'mmscope'; readonly version: string };
  readonly guest: GuestIdentity | null;
  readonly refresh: RefreshMode;
  readonly state: GuestRunState;
  /** Limits the server enforces on this connection. */
  readonly limits: { readonly maxClientMessageBytes: number; readonly maxQueuedMessages: number };
}

/** A whole snapshot: on connect, after a resync, or on request. */
export interface SnapshotMessage<D = JsonObject> {
  readonly type: 'snapshot';
  readonly seq: number;
  readonly reason: 'connect' | 'resync' | 'request' | 'first';
  /** True when taken while the guest ran (may be momentarily inconsistent). */
  readonly live: boolean;
  /** Milliseconds since the Unix epoch when the snapshot was taken. */
  readonly takenAt: number;
  readonly state: GuestRunState;
  readonly snapshot: D;
}

/** The key of an item of a keyed array: a chain's id or a process's pid (numbers), a space's id (`pt:0x…`, `pid:3`). */
export type ItemKey = number | string;

/** One value replaced in the document, or keyed items of an array. */
export interface KeyedArrayPatch {
  /** The key field of the items ('id' for chains and spaces, 'pid' for processes). */
  readonly key: string;
  readonly upsert: readonly JsonObject[];
  readonly remove: readonly ItemKey[];
  /** The keys in document order after the patch. */
  readonly order: readonly ItemKey[];
}

/** Characters of a string field replaced at offsets: [offset, text]. */
export interface StringPatch {
  readonly length: number;
  readonly splices: readonly (readonly [number, string])[];
}

/**
 * How to turn the previous document into the next: top-level fields replaced (`set`),
 * keyed arrays patched by key, and nested objects patched field by field (`objects`), where a
 * string field may be patched by splices.
 */
export interface DocumentPatch {
  readonly set: JsonObject;
  readonly keyed: { readonly [field: string]: KeyedArrayPatch };
  readonly objects: { readonly [field: string]: { readonly set: JsonObject; readonly strings: { readonly [field: string]: StringPatch } } };
  /** Top-level fields the next document does not have (optional ones that went away). */
  readonly unset?: readonly string[];
}

/** A new snapshot as a patch of the previous one (`base` = the seq the client must hold). */
export interface DeltaMessage<C = JsonObject> {
  readonly type: 'delta';
  readonly seq: number;
  readonly base: number;
  readonly live: boolean;
  readonly takenAt: number;
  readonly state: GuestRunState;
  readonly patch: DocumentPatch;
  /** What changed, by meaning (debug-adapter/src/mm/model/diff.ts: chains, mappings, newFindings, changedBlocks). */
  readonly changes: C;
}

/** The server dropped messages for this client (it read too slowly); a full snapshot follows. */
export interface ResyncMessage {
  readonly type: 'resync';
  readonly dropped: number;
}

export interface StoppedMessage {
  readonly type: 'stopped';
  readonly reason: string;
  readonly at: number;
}

export interface ContinuedMessage {
  readonly type: 'continued';
  readonly at: number;
}

/** Something the user should know (guest exited, refresh failing, waiting for the guest to boot). */
export interface StatusMessage {
  readonly type: 'status';
  readonly state: GuestRunState;
  readonly level: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly at: number;
}

export interface PongMessage {
  readonly type: 'pong';
  readonly id: number | null;
}

/**
 * The answer to a client's `history` message (issue 16): the same bodies the DAP history requests
 * answer (contract/history.ts), tagged with the client's id. `error` says why there is no body.
 */
export interface HistoryReplyMessage {
  readonly type: 'history';
  readonly id: number | null;
  readonly request: HistoryRequestName;
  readonly body?: JsonObject;
  readonly error?: string;
}

/** The read-only history queries a feed client may make (the DAP requests of the same names, without export). */
export type HistoryRequestName = 'summary' | 'events' | 'at' | 'blame' | 'when';

export type ServerMessage<D = JsonObject, C = JsonObject> =
  | HelloMessage | SnapshotMessage<D> | DeltaMessage<C> | ResyncMessage | StoppedMessage | ContinuedMessage | StatusMessage | PongMessage
  | HistoryReplyMessage;

/**
 * The only messages a client may send, all read-only. Anything else closes the connection.
 * `history`: `args` is the matching DAP request's arguments (HistoryEventsArgs, HistoryAtArgs, ...).
 */
export type ClientMessage =
  | { readonly type: 'ping'; readonly id?: number }
  | { readonly type: 'resync' }
  | { readonly type: 'history'; readonly id?: number; readonly request: HistoryRequestName; readonly args?: JsonObject };
