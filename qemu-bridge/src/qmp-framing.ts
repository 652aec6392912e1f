// QMP framing: QEMU's monitor protocol sends one JSON object per line (`\r\n`). This module turns
// a byte stream into parsed JSON values and encodes commands, with no I/O.

/** One item decoded from the stream: a parsed JSON value or a description of what was malformed. */
export type QmpFrame = { readonly kind: 'json'; readonly value: unknown } | { readonly kind: 'error'; readonly message: string };

/** Incremental line decoder. Never throws; lines longer than `maxLineLength` become errors. */
export class QmpLineDecoder {
  private parts: Buffer[] = [];
  private length = 0;
  private discarding = false;

  constructor(private readonly maxLineLength = 64 << 20) {}

  push(chunk: Buffer): QmpFrame[] {
    const frames: QmpFrame[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.discarding) {
        if (this.length + piece.length > this.maxLineLength) {
          frames.push({ kind: 'error', message: `a message is longer than ${this.maxLineLength} bytes` });
          this.parts = [];
          this.length = 0;
          this.discarding = true;
        } else if (piece.length) {
          this.parts.push(Buffer.from(piece));
          this.length += piece.length;
        }
      }
      if (nl < 0) break;
      if (!this.discarding) {
        const line = Buffer.concat(this.parts, this.length).toString('utf8').trim();
        if (line !== '') frames.push(parseLine(line));
      }
      this.parts = [];
      this.length = 0;
      this.discarding = false;
      start = nl + 1;
    }
    return frames;
  }

  /** Call at end of stream: an unterminated last line becomes an error. */
  end(): QmpFrame[] {
    const rest = Buffer.concat(this.parts, this.length).toString('utf8').trim();
    this.parts = [];
    this.length = 0;
    return rest === '' ? [] : [{ kind: 'error', message: 'the stream ended in the middle of a message' }];
  }
}

function parseLine(line: string): QmpFrame {
  try {
    return { kind: 'json', value: JSON.parse(line) as unknown };
  } catch {
    return { kind: 'error', message: `"${line.length > 60 ? line.slice(0, 60) + '...' : line}" is not JSON` };
  }
}

/** Encodes a command as one line. `id` ties the reply to the command. */
export function encodeQmpCommand(execute: string, args: Readonly<Record<string, unknown>> | undefined, id: number): Buffer {
  const message: Record<string, unknown> = { execute, id };
  if (args !== undefined) message.arguments = args;
  return Buffer.from(JSON.stringify(message) + '\r\n', 'utf8');
}
