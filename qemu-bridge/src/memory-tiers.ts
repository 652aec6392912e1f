// The three ways to read guest-physical memory, fastest first: the shared RAM file (QEMU's
// memory-backend-file, read with fs.readSync at offsets), the gdbstub in physical mode, and QMP
// pmemsave. Each says which ranges it can serve and whether it can serve them now.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RspClient } from './rsp-client';
import { QmpClient } from './qmp-client';
import { GuestRunningError, InvalidRangeError } from './errors';

export type TierName = 'ram-file' | 'gdbstub' | 'qmp';

/** A source of guest-physical memory. */
export interface PhysicalMemoryTier {
  readonly name: TierName;
  /** Whether this tier serves `address`, and for how many bytes from there (at most `length`) that stays so. */
  coverage(address: number, length: number): { readonly covered: boolean; readonly length: number };
  /** Whether it can serve requests now (the gdbstub cannot while the guest runs). */
  usable(): boolean;
  read(address: number, length: number): Promise<Buffer>;
  /** Reads straight into `target` at `offset` (no intermediate buffer), when the tier can. */
  readInto?(address: number, target: Buffer, offset: number, length: number): Promise<void>;
  /** Writes, when the tier supports it. */
  write?(address: number, data: Uint8Array): Promise<void>;
}

/** The legacy VGA window, where a RAM file may differ from what the guest sees. */
export const VGA_WINDOW = { start: 0xa0000, end: 0xc0000 } as const;

/** Below-4G RAM limit of QEMU's pc machine: all of RAM when smaller than 3.5 GiB, else 3 GiB. */
function lowMemoryEnd(ramSize: number): number {
  return ramSize >= 0xe0000000 ? 0xc0000000 : ramSize;
}

/**
 * Reads the RAM file. File offset equals the physical address for RAM below the PCI hole. The VGA
 * window is served only when `serveVgaWindow` (no other tier available), since it may differ.
 */
export class RamFileTier implements PhysicalMemoryTier {
  readonly name = 'ram-file';
  readonly size: number;
  private fd: number;
  private signalFd = -1;
  serveVgaWindow = false;

  constructor(readonly filePath: string, private readonly writable = false) {
    this.fd = fs.openSync(filePath, writable ? 'r+' : 'r');
    this.size = fs.fstatSync(this.fd).size;
  }

  coverage(address: number, length: number): { covered: boolean; length: number } {
    const end = address + length;
    const ramEnd = lowMemoryEnd(this.size);
    if (address >= ramEnd) return { covered: false, length };
    if (!this.serveVgaWindow) {
      if (address >= VGA_WINDOW.start && address < VGA_WINDOW.end) return { covered: false, length: Math.min(end, VGA_WINDOW.end) - address };
      if (address < VGA_WINDOW.start) return { covered: true, length: Math.min(end, VGA_WINDOW.start) - address };
    }
    return { covered: true, length: Math.min(end, ramEnd) - address };
  }

  usable(): boolean {
    return this.fd >= 0;
  }

  async read(address: number, length: number): Promise<Buffer> {
    return this.readSync(address, length);
  }

  async readInto(address: number, target: Buffer, offset: number, length: number): Promise<void> {
    this.readIntoSync(address, target, offset, length);
  }

  /** Synchronous read into a new buffer. */
  readSync(address: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    this.readIntoSync(address, out, 0, length);
    return out;
  }

  /** Positioned reads of the file into `target`, looping over short reads. */
  readIntoSync(address: number, target: Buffer, offset: number, length: number): void {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, target, offset + done, length - done, address + done);
      if (n <= 0) throw new InvalidRangeError(`physical ${address + done} is beyond the RAM file (${this.size} bytes)`);
      done += n;
    }
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    if (!this.writable) throw new InvalidRangeError('the RAM file was opened read-only');
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done, address + done);
  }

  /**
   * The one write a read-only RAM file allows: a live reader's 4-byte signal word to our guest
   * (mm_debug_info.hold_addr, live-reader.ts guestHold), through a descriptor opened for it on
   * first use. Anything but one aligned 32-bit word is refused.
   */
  async signal(address: number, value: number): Promise<void> {
    if (address % 4 !== 0 || address + 4 > this.size) throw new InvalidRangeError(`a signal word must be aligned inside the RAM file (got ${address})`);
    if (this.signalFd < 0) this.signalFd = this.writable ? this.fd : fs.openSync(this.filePath, 'r+');
    const word = Buffer.alloc(4);
    word.writeUInt32LE(value >>> 0, 0);
    fs.writeSync(this.signalFd, word, 0, 4, address);
  }

  close(): void {
    if (this.signalFd >= 0 && this.signalFd !== this.fd) fs.closeSync(this.signalFd);
    this.signalFd = -1;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Reads through the gdbstub in physical mode (`Qqemu.PhyMemMode:1`), pipelined, 2048 bytes per `m`. */
export class GdbstubTier implements PhysicalMemoryTier {
  readonly name = 'gdbstub';
  constructor(readonly rsp: RspClient, readonly pipelined = true) {}

  coverage(_address: number, length: number): { covered: boolean; length: number } {
    return { covered: true, length };
  }

  usable(): boolean {
    return !this.rsp.connection.closed && !this.rsp.running;
  }

  async read(address: number, length: number): Promise<Buffer> {
    if (this.rsp.running) throw new GuestRunningError('a gdbstub memory read');
    return this.rsp.withAddressMode(true, () => this.rsp.readMemory(address, length, this.pipelined));
  }

  async write(address: number, data: Uint8Array): Promise<void> {
    if (this.rsp.running) throw new GuestRunningError('a gdbstub memory write');
    await this.rsp.withAddressMode(true, () => this.rsp.writeMemory(address, data));
  }
}

/** Reads with QMP `pmemsave` into a private temporary file (QEMU must run on this host). */
export class QmpTier implements PhysicalMemoryTier {
  readonly name = 'qmp';
  private dir: string | undefined;
  private counter = 0;
  constructor(readonly qmp: QmpClient) {}

  coverage(_address: number, length: number): { covered: boolean; length: number } {
    return { covered: true, length };
  }

  usable(): boolean {
    return !this.qmp.closed;
  }

  async read(address: number, length: number): Promise<Buffer> {
    if (!this.dir) this.dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'mmscope-pmem-'));
    const file = path.join(this.dir, `read-${process.pid}-${this.counter++}.bin`);
    try {
      await this.qmp.pmemsave(address, length, file);
      const data = fs.readFileSync(file);
      if (data.length !== length) throw new InvalidRangeError(`pmemsave wrote ${data.length} of ${length} bytes`);
      return data;
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  close(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
