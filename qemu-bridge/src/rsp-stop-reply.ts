// Stop replies of the GDB remote protocol (`T`, `S`, `W`, `X`) parsed into typed values, no I/O.
// QEMU sends `T05thread:p01.01;` at breakpoints and steps, `T02...` after an interrupt,
// `T05...;watch:ADDR;` at watchpoints, and `W`/`X` when the guest exits.

/** Which kind of watchpoint fired. */
export type WatchKind = 'write' | 'read' | 'access';

/** A thread id as the stub names it: `p<pid>.<tid>` with multiprocess, else `<tid>`. */
export interface RspThreadId {
  readonly pid?: number;
  /** -1 means "all threads", 0 "any thread". */
  readonly tid: number;
}

/** The target stopped with a signal. */
export interface SignalStop {
  readonly kind: 'signal';
  /** GDB signal number: 5 (SIGTRAP) for breakpoints/steps/watchpoints, 2 (SIGINT) after an interrupt. */
  readonly signal: number;
  readonly thread?: RspThreadId;
  /** Set when a watchpoint fired: which kind and the data address it watched. */
  readonly watch?: { readonly kind: WatchKind; readonly address: number };
  /** `swbreak` or `hwbreak` when the stub says why. */
  readonly breakpoint?: 'software' | 'hardware';
  /** Register values included in the reply, by register number, as raw little-endian bytes. */
  readonly registers: ReadonlyMap<number, Buffer>;
  /** Any other `name:value` pairs, kept as text. */
  readonly extra: ReadonlyMap<string, string>;
}

/** The target process exited (`W`) or was terminated by a signal (`X`). */
export interface ExitStop {
  readonly kind: 'exited' | 'terminated';
  /** Exit status for `W`, signal number for `X`. */
  readonly code: number;
  readonly pid?: number;
}

export type StopReply = SignalStop | ExitStop;

/** True when the payload has the shape of a stop reply (so it can arrive unasked). */
export function looksLikeStopReply(payload: string): boolean {
  return /^[TS][0-9a-fA-F]{2}/.test(payload) || /^[WX][0-9a-fA-F]{2}/.test(payload);
}

/** Parses `p1.2`, `p1`, `1`, `-1` into a thread id. Returns undefined if malformed. */
export function parseThreadId(text: string): RspThreadId | undefined {
  const num = (s: string): number | undefined => (s === '-1' ? -1 : /^[0-9a-fA-F]+$/.test(s) ? parseInt(s, 16) : undefined);
  if (text.startsWith('p')) {
    const [pidText, tidText] = text.slice(1).split('.', 2);
    const pid = num(pidText);
    if (pid === undefined) return undefined;
    if (tidText === undefined) return { pid, tid: -1 };
    const tid = num(tidText);
    return tid === undefined ? undefined : { pid, tid };
  }
  const tid = num(text);
  return tid === undefined ? undefined : { tid };
}

/**
 * Parses a stop reply. Returns the typed reply, or a string saying why the payload is not a
 * valid stop reply.
 */
export function parseStopReply(payload: string): StopReply | string {
  const head = payload[0];
  const code = payload.slice(1, 3);
  if (!/^[0-9a-fA-F]{2}$/.test(code)) return `stop reply "${clip(payload)}" has no two-digit code`;
  const value = parseInt(code, 16);
  if (head === 'W' || head === 'X') {
    const rest = payload.slice(3);
    let pid: number | undefined;
    if (rest !== '') {
      const m = /^;process:([0-9a-fA-F]+)$/.exec(rest);
      if (!m) return `exit reply "${clip(payload)}" has a malformed tail`;
      pid = parseInt(m[1], 16);
    }
    return { kind: head === 'W' ? 'exited' : 'terminated', code: value, pid };
  }
  if (head === 'S') {
    if (payload.length !== 3) return `stop reply "${clip(payload)}" has unexpected text after the signal`;
    return { kind: 'signal', signal: value, registers: new Map(), extra: new Map() };
  }
  if (head !== 'T') return `"${clip(payload)}" is not a stop reply`;
  const registers = new Map<number, Buffer>();
  const extra = new Map<string, string>();
  let thread: RspThreadId | undefined;
  let watch: SignalStop['watch'];
  let breakpoint: SignalStop['breakpoint'];
  const body = payload.slice(3);
  for (const pair of body.split(';')) {
    if (pair === '') continue;
    const colon = pair.indexOf(':');
    if (colon <= 0) return `stop reply field "${clip(pair)}" is not name:value`;
    const name = pair.slice(0, colon);
    const text = pair.slice(colon + 1);
    if (name === 'thread') {
      thread = parseThreadId(text);
      if (!thread) return `stop reply thread id "${clip(text)}" is malformed`;
    } else if (name === 'watch' || name === 'rwatch' || name === 'awatch') {
      if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return `watch address "${clip(text)}" is not hex`;
      watch = { kind: name === 'watch' ? 'write' : name === 'rwatch' ? 'read' : 'access', address: parseInt(text, 16) };
    } else if (name === 'swbreak' || name === 'hwbreak') {
      breakpoint = name === 'swbreak' ? 'software' : 'hardware';
    } else if (/^[0-9a-fA-F]+$/.test(name)) {
      if (!/^([0-9a-fA-F]{2})*$/.test(text)) return `register ${name} value "${clip(text)}" is not hex bytes`;
      registers.set(parseInt(name, 16), Buffer.from(text, 'hex'));
    } else {
      extra.set(name, text);
    }
  }
  return { kind: 'signal', signal: value, thread, watch, breakpoint, registers, extra };
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '...' : s;
}
