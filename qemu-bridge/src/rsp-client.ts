// The RSP client: gdbstub commands (registers, memory, physical mode, breakpoints, run control)
// over an RspConnection, returning typed results. It knows QEMU's limits: 2048-byte `m` reads,
// no binary reads, no no-ack mode, and `Qqemu.PhyMemMode` for physical addressing.

import { RspConnection, RspConnectionOptions } from './rsp-connection';
import { parseStopReply, StopReply } from './rsp-stop-reply';
import { buildRegisterLayout, parseDescriptionDocument, RegisterInfo, RegisterLayout } from './target-description';
import { InvalidRangeError, RspCommandError, RspProtocolError } from './errors';
import { HostPort } from './host-port';

/** Z-packet kinds: 0 software breakpoint, 1 hardware breakpoint, 2 write, 3 read, 4 access watchpoint. */
export type BreakpointKind = 'software' | 'hardware' | 'write-watch' | 'read-watch' | 'access-watch';

const Z_TYPE: Record<BreakpointKind, number> = {
  software: 0,
  hardware: 1,
  'write-watch': 2,
  'read-watch': 3,
  'access-watch': 4,
};

/** Register values read with `g`, by name. */
export class RegisterValues {
  constructor(private readonly raw: ReadonlyMap<string, Buffer>) {}

  /** Register names present in the reply. */
  get names(): string[] {
    return [...this.raw.keys()];
  }

  /** Raw little-endian bytes of a register, or undefined if absent. */
  bytes(name: string): Buffer | undefined {
    return this.raw.get(name);
  }

  /** The value of a register as a bigint. Throws RspProtocolError if the register is absent. */
  big(name: string): bigint {
    const b = this.raw.get(name);
    if (!b) throw new RspProtocolError(`the register reply has no "${name}"`);
    return littleEndianToBigInt(b);
  }

  /** The value of a register of at most 48 bits as a number. */
  value(name: string): number {
    return Number(this.big(name));
  }
}

export function littleEndianToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

export function bigIntToLittleEndian(value: bigint, size: number): Buffer {
  const out = Buffer.alloc(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export interface RspClientOptions extends RspConnectionOptions {
  /** Largest `m` read the stub accepts (QEMU 7.2: 2048). */
  maxReadChunk?: number;
  /** Replies in flight for pipelined reads; 1 disables pipelining. Default 64 (QEMU answers in order; 64 read the 7 MB of a 3 GiB snapshot faster than 16: docs/benchmarks.md). */
  pipelineWindow?: number;
}

/** Typed commands on a gdbstub connection. */
export class RspClient {
  /** Features from `qSupported` (`name` → value, or true/false for `name+`/`name-`). */
  readonly features = new Map<string, string | boolean>();
  /** True when the stub reported a stop before answering our first request: the guest was running when we connected. */
  wasRunningAtConnect = false;
  readonly maxReadChunk: number;
  readonly pipelineWindow: number;
  private layout: RegisterLayout | undefined;
  private physicalMode: boolean | undefined;
  private readonly breakpoints = new Set<string>();

  private constructor(readonly connection: RspConnection, options: RspClientOptions) {
    this.maxReadChunk = options.maxReadChunk ?? 2048;
    this.pipelineWindow = Math.max(1, options.pipelineWindow ?? 64);
  }

  /** Connects and negotiates features. Rejects with ConnectFailedError, RequestTimeoutError, ... */
  static async connect(address: HostPort, options: RspClientOptions = {}): Promise<RspClient> {
    const connection = await RspConnection.connect(address, options);
    const client = new RspClient(connection, options);
    try {
      await client.negotiate();
    } catch (e) {
      connection.close();
      throw e;
    }
    return client;
  }

  /** Wraps a connection (tests with a fake peer). Call negotiate() yourself if needed. */
  static over(connection: RspConnection, options: RspClientOptions = {}): RspClient {
    return new RspClient(connection, options);
  }

  /** Sends `qSupported` and records the features. */
  async negotiate(): Promise<void> {
    const reply = await this.connection.request('qSupported:xmlRegisters=i386;swbreak+;hwbreak+;vContSupported+');
    this.wasRunningAtConnect = this.connection.unsolicitedStops > 0;
    for (const item of reply.split(';')) {
      if (item === '') continue;
      const eq = item.indexOf('=');
      if (eq > 0) this.features.set(item.slice(0, eq), item.slice(eq + 1));
      else if (item.endsWith('+') || item.endsWith('-')) this.features.set(item.slice(0, -1), item.endsWith('+'));
    }
  }

  /** Largest packet the stub accepts, from qSupported (default 4096 when not stated). */
  get packetSize(): number {
    const v = this.features.get('PacketSize');
    return typeof v === 'string' && /^[0-9a-fA-F]+$/.test(v) ? parseInt(v, 16) : 4096;
  }

  get running(): boolean {
    return this.connection.running;
  }

  /** Reads and parses the target description (cached). */
  async registerLayout(): Promise<RegisterLayout> {
    if (this.layout) return this.layout;
    const documents = new Map<string, string>();
    const pending = ['target.xml'];
    while (pending.length) {
      const annex = pending.shift() as string;
      if (documents.has(annex)) continue;
      const xml = await this.readXfer('features', annex);
      documents.set(annex, xml);
      for (const inc of parseDescriptionDocument(xml).includes) pending.push(inc);
      if (documents.size > 64) throw new RspProtocolError('the target description has more than 64 documents');
    }
    const layout = buildRegisterLayout('target.xml', documents);
    if (typeof layout === 'string') throw new RspProtocolError(layout);
    this.layout = layout;
    return layout;
  }

  /** Reads a whole `qXfer:OBJECT:read:ANNEX` object. */
  async readXfer(object: string, annex: string): Promise<string> {
    let text = '';
    const chunk = Math.max(64, this.packetSize - 16);
    for (let i = 0; i < 4096; i++) {
      const request = `qXfer:${object}:read:${annex}:${text.length.toString(16)},${chunk.toString(16)}`;
      const reply = await this.connection.request(request);
      if (reply.startsWith('l') || reply.startsWith('m')) {
        text += reply.slice(1);
        if (reply[0] === 'l') return text;
        if (reply.length === 1) throw new RspProtocolError(`qXfer ${annex} returned an empty "more" chunk`);
      } else {
        throw new RspCommandError(request, reply);
      }
    }
    throw new RspProtocolError(`qXfer ${annex} did not end`);
  }

  private async registerInfo(name: string): Promise<RegisterInfo> {
    const layout = await this.registerLayout();
    const info = layout.get(name);
    if (!info) throw new InvalidRangeError(`the target has no register named "${name}"`);
    return info;
  }

  /** Reads all registers with `g`. */
  async readRegisters(): Promise<RegisterValues> {
    const layout = await this.registerLayout();
    const reply = await this.connection.request('g');
    const bytes = decodeHex(reply, 'g');
    return new RegisterValues(layout.splitGPacket(bytes));
  }

  /** Reads one register with `p`. */
  async readRegister(name: string): Promise<bigint> {
    const info = await this.registerInfo(name);
    const request = `p${info.number.toString(16)}`;
    const reply = await this.connection.request(request);
    const bytes = decodeHex(reply, request);
    if (bytes.length !== info.bitSize / 8) throw new RspProtocolError(`register ${name} came back as ${bytes.length} bytes, expected ${info.bitSize / 8}`);
    return littleEndianToBigInt(bytes);
  }

  /** Writes one register with `P`. */
  async writeRegister(name: string, value: bigint | number): Promise<void> {
    const info = await this.registerInfo(name);
    const hex = bigIntToLittleEndian(BigInt(value), info.bitSize / 8).toString('hex');
    const request = `P${info.number.toString(16)}=${hex}`;
    expectOk(request, await this.connection.request(request));
  }

  /** Switches `m`/`M` between guest-physical (true) and virtual (false) addresses. */
  async setPhysicalMemoryMode(physical: boolean): Promise<void> {
    if (this.physicalMode === physical) return;
    const request = `Qqemu.PhyMemMode:${physical ? 1 : 0}`;
    expectOk(request, await this.connection.request(request));
    this.physicalMode = physical;
  }

  private addressModeQueue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` with `m`/`M` in physical (true) or virtual (false) addressing, with no other
   * caller of withAddressMode switching the mode in between (two users of one connection, such
   * as a debugger's virtual reads and a memory tier's physical reads, cannot mix their modes).
   */
  withAddressMode<T>(physical: boolean, fn: () => Promise<T>): Promise<T> {
    const run = this.addressModeQueue.then(async () => {
      await this.setPhysicalMemoryMode(physical);
      return fn();
    });
    this.addressModeQueue = run.catch(() => undefined);
    return run;
  }

  /** Asks the stub whether physical mode is on. */
  async queryPhysicalMemoryMode(): Promise<boolean> {
    const reply = await this.connection.request('qqemu.PhyMemMode');
    if (reply !== '0' && reply !== '1') throw new RspCommandError('qqemu.PhyMemMode', reply);
    this.physicalMode = reply === '1';
    return this.physicalMode;
  }

  /**
   * Reads memory in the current addressing mode, split into the stub's read limit. With
   * `pipelined`, several requests are in flight at once (QEMU answers in order).
   */
  async readMemory(address: number, length: number, pipelined = false): Promise<Buffer> {
    checkRange(address, length);
    if (length === 0) return Buffer.alloc(0);
    const requests: string[] = [];
    const sizes: number[] = [];
    for (let off = 0; off < length; off += this.maxReadChunk) {
      const size = Math.min(this.maxReadChunk, length - off);
      requests.push(`m${packetAddress(address + off)},${size.toString(16)}`);
      sizes.push(size);
    }
    const replies: string[] = [];
    if (pipelined && requests.length > 1 && this.pipelineWindow > 1) {
      replies.push(...(await this.connection.requestPipelined(requests, this.pipelineWindow)));
    } else {
      for (const r of requests) replies.push(await this.connection.request(r));
    }
    const out = Buffer.allocUnsafe(length);
    let off = 0;
    replies.forEach((reply, i) => {
      const bytes = decodeHex(reply, requests[i]);
      if (bytes.length !== sizes[i]) throw new RspProtocolError(`${requests[i]} returned ${bytes.length} bytes`);
      bytes.copy(out, off);
      off += bytes.length;
    });
    return out;
  }

  /** Writes memory in the current addressing mode with `M`, split to fit the packet size. */
  async writeMemory(address: number, data: Uint8Array): Promise<void> {
    checkRange(address, data.length);
    const chunk = Math.max(16, Math.min(this.maxReadChunk, Math.floor((this.packetSize - 32) / 2)));
    for (let off = 0; off < data.length; off += chunk) {
      const part = Buffer.from(data.subarray(off, off + chunk));
      const request = `M${packetAddress(address + off)},${part.length.toString(16)}:${part.toString('hex')}`;
      expectOk(request.slice(0, 24), await this.connection.request(request));
    }
  }

  /** Inserts a breakpoint or watchpoint (`Z0`-`Z4`). `length` is the kind (1 for x86 breakpoints, data size for watchpoints). */
  async insertBreakpoint(kind: BreakpointKind, address: number, length = 1): Promise<void> {
    const request = `Z${Z_TYPE[kind]},${packetAddress(address)},${length.toString(16)}`;
    expectOk(request, await this.connection.request(request));
    this.breakpoints.add(request.slice(1));
  }

  /** Removes a breakpoint or watchpoint (`z0`-`z4`). */
  async removeBreakpoint(kind: BreakpointKind, address: number, length = 1): Promise<void> {
    const request = `z${Z_TYPE[kind]},${packetAddress(address)},${length.toString(16)}`;
    expectOk(request, await this.connection.request(request));
    this.breakpoints.delete(request.slice(1));
  }

  /** Removes every breakpoint and watchpoint this client inserted. */
  async removeAllBreakpoints(): Promise<void> {
    for (const spec of [...this.breakpoints]) {
      const request = `z${spec}`;
      expectOk(request, await this.connection.request(request));
      this.breakpoints.delete(spec);
    }
  }

  /** Asks why the target stopped (`?`). */
  async haltReason(): Promise<StopReply> {
    const reply = await this.connection.request('?', true);
    const stop = parseStopReply(reply);
    if (typeof stop === 'string') throw new RspProtocolError(stop);
    return stop;
  }

  /** Resumes the guest (`c`). Resolves once sent; the stop comes through waitForStop(). */
  async continue(): Promise<void> {
    this.registerThread = undefined;
    await this.connection.resume('c');
  }

  /**
   * Resumes without waiting: `continue` (`c`) or one instruction (`s`), for every vCPU or, with
   * `thread`, only that one (`vCont;c:T` / `vCont;s:T`; the other vCPUs stay stopped). Resolves
   * once sent; the stop reply comes through waitForStop() or onStop().
   */
  async resume(action: 'continue' | 'step', thread?: number): Promise<void> {
    const letter = action === 'continue' ? 'c' : 's';
    this.registerThread = undefined;
    if (thread === undefined) await this.connection.resume(letter);
    else await this.connection.resume(`vCont;${letter}:${this.threadIdText(thread)}`);
  }

  /** Sends the interrupt byte without waiting for the stop reply (a stop listener or waiter gets it). */
  sendInterrupt(): void {
    this.connection.interrupt();
  }

  /** The thread ids (one per vCPU under QEMU) from `qfThreadInfo`/`qsThreadInfo`, in the stub's order. */
  async threadIds(): Promise<number[]> {
    const ids: number[] = [];
    let reply = await this.connection.request('qfThreadInfo');
    for (let i = 0; i < 1024 && reply.startsWith('m'); i++) {
      for (const item of reply.slice(1).split(',')) {
        const m = /^(?:p[0-9a-fA-F]+\.)?([0-9a-fA-F]+)$/.exec(item);
        if (m) ids.push(parseInt(m[1], 16));
      }
      reply = await this.connection.request('qsThreadInfo');
    }
    if (reply !== 'l' && !reply.startsWith('m')) throw new RspCommandError('qfThreadInfo', reply);
    return ids;
  }

  /** Selects the thread that `g`, `G`, `p`, `P`, `m` and `M` act on (`Hg`). */
  async selectThread(thread: number): Promise<void> {
    const request = `Hg${this.threadIdText(thread)}`;
    expectOk(request, await this.connection.request(request));
    this.registerThread = thread;
  }

  /** The thread `Hg` last selected; undefined once the guest ran (the stub picks the stopping vCPU). */
  private registerThread: number | undefined;
  private threadQueue: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` with `g`/`m`/`M`/`P` acting on vCPU `thread` (`Hg` when it is not selected yet), with
   * no other caller of onThread selecting another thread in between. `fn` must not call onThread.
   */
  onThread<T>(thread: number, fn: () => Promise<T>): Promise<T> {
    const run = this.threadQueue.then(async () => {
      if (this.registerThread !== thread) await this.selectThread(thread);
      return fn();
    });
    this.threadQueue = run.catch(() => undefined);
    return run;
  }

  /** A thread id as the stub expects it: `p1.T` once multiprocess is negotiated, else `T`. */
  private threadIdText(thread: number): string {
    const tid = thread.toString(16);
    return this.features.get('multiprocess') === true ? `p1.${tid}` : tid;
  }

  /** Waits for the guest to stop (breakpoint, watchpoint, interrupt, exit). */
  waitForStop(timeoutMs?: number): Promise<StopReply> {
    return this.connection.waitForStop(timeoutMs);
  }

  /** Executes one instruction (`s`) and returns the stop reply. */
  async step(timeoutMs?: number): Promise<StopReply> {
    const stopped = this.connection.waitForStop(timeoutMs);
    try {
      this.registerThread = undefined;
      await this.connection.resume('s');
    } catch (e) {
      stopped.catch(() => undefined);
      throw e;
    }
    return stopped;
  }

  /** Stops a running guest (byte 0x03) and returns the stop reply. Returns the last stop if already stopped. */
  async interrupt(timeoutMs?: number): Promise<StopReply> {
    if (!this.connection.running && this.connection.lastStop) return this.connection.lastStop;
    const stopped = this.connection.waitForStop(timeoutMs);
    try {
      this.connection.interrupt();
    } catch (e) {
      stopped.catch(() => undefined);
      throw e;
    }
    return stopped;
  }

  /** Runs a monitor command through `qRcmd` and returns its text output. */
  async monitorCommand(command: string): Promise<string> {
    const request = `qRcmd,${Buffer.from(command, 'latin1').toString('hex')}`;
    const { reply, output } = await this.connection.requestWithOutput(request);
    if (reply === 'OK') return output.toString('latin1');
    if (/^([0-9a-fA-F]{2})+$/.test(reply)) return output.toString('latin1') + Buffer.from(reply, 'hex').toString('latin1');
    throw new RspCommandError(`qRcmd "${command}"`, reply);
  }

  /** Ends the session without changing the run state: physical mode off, our breakpoints removed, socket closed. */
  async disconnect(): Promise<void> {
    try {
      if (!this.connection.closed && !this.connection.running) {
        await this.removeAllBreakpoints();
        if (this.physicalMode) await this.setPhysicalMemoryMode(false);
      }
    } finally {
      this.connection.close();
    }
  }

  /**
   * Detaches (QEMU then resumes the guest) and closes: our breakpoints removed, physical mode
   * off, then `D;1` once multiprocess is negotiated (QEMU refuses a plain `D` then), else `D`.
   */
  async detach(): Promise<void> {
    try {
      if (!this.connection.closed && !this.connection.running) {
        await this.removeAllBreakpoints();
        if (this.physicalMode) await this.setPhysicalMemoryMode(false);
        const request = this.features.get('multiprocess') === true ? 'D;1' : 'D';
        expectOk(request, await this.connection.request(request));
      }
    } finally {
      this.connection.close();
    }
  }

  close(): void {
    this.connection.close();
  }
}

function expectOk(request: string, reply: string): void {
  if (reply !== 'OK') throw new RspCommandError(request, reply);
}

/** Decodes a hex reply; `Exx` or an empty reply become RspCommandError, other non-hex RspProtocolError. */
export function decodeHex(reply: string, request: string): Buffer {
  if (reply === '' || /^E[0-9a-fA-F]{2}$/.test(reply) || reply.startsWith('E.')) throw new RspCommandError(request, reply);
  if (reply.length % 2 !== 0 || !/^[0-9a-fA-Fx]*$/.test(reply)) throw new RspProtocolError(`the reply to ${request} is not hex`);
  // `xx` marks unavailable bytes; treat them as zero.
  return Buffer.from(reply.replace(/x/g, '0'), 'hex');
}

/**
 * The hex an address takes in `m`/`M`/`Z`/`z` packets: the unsigned value. A negative address
 * number is a 64-bit address under the rule of address.ts (its signed value), sent as the
 * unsigned 64-bit value exactly.
 */
export function packetAddress(address: number): string {
  return address < 0 ? BigInt.asUintN(64, BigInt(address)).toString(16) : address.toString(16);
}

function checkRange(address: number, length: number): void {
  if (!Number.isSafeInteger(address)) throw new InvalidRangeError(`address ${address} is not an exact integer`);
  if (!Number.isSafeInteger(length) || length < 0) throw new InvalidRangeError(`length ${length} is not a non-negative integer`);
  if (length > 1 << 30) throw new InvalidRangeError(`length ${length} is larger than 1 GiB`);
}
