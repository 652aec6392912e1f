// RSP framing: the byte-level format of the GDB remote serial protocol, with no I/O.
// A packet is `$payload#cc` (cc = modulo-256 sum of the payload bytes as two hex digits);
// inside the payload `}` escapes the next byte (xor 0x20) and `X*n` repeats X (n - 29) more times.

/** One thing decoded from the stream: an ack, a nack, a packet, a notification or an error. */
export type RspFrame =
  | { readonly kind: 'ack' }
  | { readonly kind: 'nack' }
  | { readonly kind: 'packet'; readonly payload: Buffer }
  | { readonly kind: 'notification'; readonly payload: Buffer }
  | { readonly kind: 'error'; readonly message: string };

const DOLLAR = 0x24;
const HASH = 0x23;
const PERCENT = 0x25;
const BRACE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;

/** Modulo-256 sum of the bytes, as the protocol's checksum. */
export function rspChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]) & 0xff;
  return sum;
}

/** Escapes the bytes that may not appear raw in a packet body: `$`, `#`, `}` and `*`. */
export function escapeRspPayload(data: Uint8Array): Buffer {
  let extra = 0;
  for (const b of data) if (b === DOLLAR || b === HASH || b === BRACE || b === STAR) extra++;
  if (extra === 0) return Buffer.from(data);
  const out = Buffer.alloc(data.length + extra);
  let o = 0;
  for (const b of data) {
    if (b === DOLLAR || b === HASH || b === BRACE || b === STAR) {
      out[o++] = BRACE;
      out[o++] = b ^ 0x20;
    } else {
      out[o++] = b;
    }
  }
  return out;
}

/**
 * Frames a payload (text is taken as latin1) as `$body#cc`. With `runLength`, runs of four or
 * more equal plain bytes are written as `X*n` the way a stub may compress its replies.
 */
export function encodeRspPacket(payload: string | Uint8Array, options: { runLength?: boolean } = {}): Buffer {
  const raw = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const body = options.runLength ? runLengthBody(raw) : escapeRspPayload(raw);
  const out = Buffer.alloc(body.length + 4);
  out[0] = DOLLAR;
  body.copy(out, 1);
  out[body.length + 1] = HASH;
  out.write(rspChecksum(body).toString(16).padStart(2, '0'), body.length + 2, 'latin1');
  return out;
}

function isSpecial(b: number): boolean {
  return b === DOLLAR || b === HASH || b === BRACE || b === STAR;
}

function runLengthBody(data: Uint8Array): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const b = data[i];
    if (isSpecial(b)) {
      out.push(BRACE, b ^ 0x20);
      i++;
      continue;
    }
    let run = 1;
    while (i + run < data.length && data[i + run] === b && run < 98) run++;
    let repeat = run - 1;
    // Counts whose character would be `#`, `$`, `+` or `-` are not allowed on the wire.
    while (repeat >= 3 && [HASH, DOLLAR, PLUS, MINUS].includes(repeat + 29)) repeat--;
    if (repeat >= 3) {
      out.push(b, STAR, repeat + 29);
      i += repeat + 1;
    } else {
      out.push(b);
      i++;
    }
  }
  return Buffer.from(out);
}

/**
 * Decodes a packet body (between `$` and `#`): removes escapes and expands run lengths.
 * Returns the bytes, or a string saying why the body is malformed.
 */
export function decodeRspBody(body: Uint8Array, maxDecodedLength: number): Buffer | string {
  const out = Buffer.allocUnsafe(Math.min(maxDecodedLength, Math.max(16, body.length * 4)));
  let buf = out;
  let o = 0;
  const ensure = (n: number): boolean => {
    if (o + n > maxDecodedLength) return false;
    if (o + n > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(maxDecodedLength, Math.max(buf.length * 2, o + n)));
      buf.copy(bigger, 0, 0, o);
      buf = bigger;
    }
    return true;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === BRACE) {
      if (i + 1 >= body.length) return 'an escape character ends the packet';
      if (!ensure(1)) return `the packet decodes to more than ${maxDecodedLength} bytes`;
      buf[o++] = body[++i] ^ 0x20;
    } else if (c === STAR) {
      if (o === 0) return 'a run-length marker has no byte to repeat';
      if (i + 1 >= body.length) return 'a run-length marker has no count';
      const n = body[++i];
      if (n < 32 || n > 126) return `run-length count byte 0x${n.toString(16)} is out of range`;
      const repeat = n - 29;
      if (!ensure(repeat)) return `the packet decodes to more than ${maxDecodedLength} bytes`;
      buf.fill(buf[o - 1], o, o + repeat);
      o += repeat;
    } else {
      if (!ensure(1)) return `the packet decodes to more than ${maxDecodedLength} bytes`;
      buf[o++] = c;
    }
  }
  return buf.subarray(0, o);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Limits that keep a hostile peer from making the decoder hold unbounded memory. */
export interface RspDecoderLimits {
  /** Longest raw body (between `$` and `#`) accepted; longer packets are an error. */
  maxRawLength: number;
  /** Longest body after run-length expansion. */
  maxDecodedLength: number;
}

export const DEFAULT_RSP_LIMITS: RspDecoderLimits = { maxRawLength: 1 << 20, maxDecodedLength: 4 << 20 };

type DecoderState = 'idle' | 'body' | 'check1' | 'check2';

/**
 * Incremental decoder of the byte stream a stub sends. Feed it chunks as they arrive; it returns
 * the frames completed so far. It never throws: malformed input becomes `error` frames and the
 * decoder resynchronises at the next `$`.
 */
export class RspFrameDecoder {
  private state: DecoderState = 'idle';
  private parts: Buffer[] = [];
  private partsLength = 0;
  private isNotification = false;
  private checkHigh = 0;
  private garbage = 0;

  constructor(private readonly limits: RspDecoderLimits = DEFAULT_RSP_LIMITS) {}

  /** True while a packet has started but not ended. */
  get midPacket(): boolean {
    return this.state !== 'idle';
  }

  push(chunk: Uint8Array): RspFrame[] {
    const frames: RspFrame[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'idle': {
          const c = chunk[i++];
          if (c === DOLLAR || c === PERCENT) {
            this.flushGarbage(frames);
            this.state = 'body';
            this.isNotification = c === PERCENT;
            this.parts = [];
            this.partsLength = 0;
          } else if (c === PLUS) {
            this.flushGarbage(frames);
            frames.push({ kind: 'ack' });
          } else if (c === MINUS) {
            this.flushGarbage(frames);
            frames.push({ kind: 'nack' });
          } else {
            this.garbage++;
          }
          break;
        }
        case 'body': {
          let end = i;
          while (end < chunk.length && chunk[end] !== HASH && chunk[end] !== DOLLAR) end++;
          const piece = chunk.subarray(i, end);
          if (this.partsLength + piece.length > this.limits.maxRawLength) {
            frames.push({ kind: 'error', message: `a packet is longer than ${this.limits.maxRawLength} bytes` });
            this.reset();
            i = end;
            break;
          }
          if (piece.length) {
            this.parts.push(Buffer.from(piece));
            this.partsLength += piece.length;
          }
          i = end;
          if (end < chunk.length) {
            if (chunk[end] === DOLLAR) {
              frames.push({ kind: 'error', message: 'a packet started before the previous one ended' });
              this.state = 'idle';
              // leave `$` to be read again as the start of the next packet
            } else {
              this.state = 'check1';
              i++;
            }
          }
          break;
        }
        case 'check1': {
          const v = hexValue(chunk[i]);
          if (v < 0) {
            frames.push({ kind: 'error', message: `checksum character 0x${chunk[i].toString(16)} is not hex` });
            this.reset();
            break;
          }
          i++;
          this.checkHigh = v;
          this.state = 'check2';
          break;
        }
        case 'check2': {
          const v = hexValue(chunk[i]);
          if (v < 0) {
            frames.push({ kind: 'error', message: `checksum character 0x${chunk[i].toString(16)} is not hex` });
            this.reset();
            break;
          }
          i++;
          const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partsLength);
          const expected = (this.checkHigh << 4) | v;
          const actual = rspChecksum(body);
          const notification = this.isNotification;
          this.reset();
          if (expected !== actual) {
            frames.push({ kind: 'error', message: `bad checksum (packet says ${hex2(expected)}, bytes sum to ${hex2(actual)})` });
            break;
          }
          const decoded = decodeRspBody(body, this.limits.maxDecodedLength);
          if (typeof decoded === 'string') {
            frames.push({ kind: 'error', message: decoded });
          } else {
            frames.push({ kind: notification ? 'notification' : 'packet', payload: decoded });
          }
          break;
        }
      }
    }
    this.flushGarbage(frames);
    return frames;
  }

  /** Call when the stream ends; returns an error frame if it ended inside a packet. */
  end(): RspFrame[] {
    const frames: RspFrame[] = [];
    this.flushGarbage(frames);
    if (this.state !== 'idle') {
      frames.push({ kind: 'error', message: 'the stream ended in the middle of a packet' });
      this.reset();
    }
    return frames;
  }

  private flushGarbage(frames: RspFrame[]): void {
    if (this.garbage > 0) {
      frames.push({ kind: 'error', message: `${this.garbage} byte(s) outside any packet` });
      this.garbage = 0;
    }
  }

  private reset(): void {
    this.state = 'idle';
    this.parts = [];
    this.partsLength = 0;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
