// QEMU's interrupt log (`-d int,cpu_reset`), switched on and off at run time through HMP
// (`logfile FILE`, `log int,cpu_reset`, `log none`) and kept bounded: it alternates between two
// files, switching when the current one passes a size limit (QEMU truncates a file it opens),
// so at most two limits' worth is ever on disk. Only the tail is read, for the last exception
// chain. The files are on QEMU's host: use this only for a QEMU mmscope started.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Runs one HMP command line and returns its text (the QMP human-monitor-command). */
export type HumanMonitor = (commandLine: string) => Promise<string>;

/** Bytes one file may reach before the log moves to the other. */
export const LOG_FILE_LIMIT = 4 << 20;
/** Bytes read from the end of each file for a chain (a chain with its dumps is a few KiB). */
const TAIL_BYTES = 256 << 10;

export class InterruptLogFiles {
  private readonly files: [string, string];
  private current = 0;
  private on = false;

  constructor(private readonly hmp: HumanMonitor, directory = os.tmpdir(), private readonly limit = LOG_FILE_LIMIT) {
    const stem = path.join(directory, `mmscope-int-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
    this.files = [`${stem}-a.log`, `${stem}-b.log`];
  }

  get active(): boolean {
    return this.on;
  }

  /** The file QEMU writes now. */
  get path(): string {
    return this.files[this.current];
  }

  /** Starts logging interrupts and CPU resets to the current file. */
  async start(): Promise<void> {
    if (this.on) return;
    await this.command(`logfile ${this.path}`);
    await this.command('log int,cpu_reset');
    this.on = true;
  }

  /** Stops logging (the files stay until dispose, for a chain already read). */
  async stop(): Promise<void> {
    if (!this.on) return;
    this.on = false;
    await this.command('log none');
  }

  /** Moves the log to the other file when the current one passed the limit. Returns whether it did. */
  async rotateIfLarge(): Promise<boolean> {
    if (!this.on || sizeOf(this.path) < this.limit) return false;
    this.current ^= 1;
    await this.command(`logfile ${this.path}`);
    return true;
  }

  /** The end of the log: the tail of the previous file, then the tail of the current one. */
  tail(): string {
    const previous = this.files[this.current ^ 1];
    return readTail(previous, TAIL_BYTES) + readTail(this.path, TAIL_BYTES);
  }

  /** Deletes both files. */
  dispose(): void {
    this.on = false;
    for (const f of this.files) fs.rmSync(f, { force: true });
  }

  private async command(line: string): Promise<void> {
    const answer = (await this.hmp(line)).trim();
    if (answer) throw new Error(`QEMU refused "${line}": ${answer}`);
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readTail(file: string, bytes: number): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buffer = Buffer.alloc(n);
    fs.readSync(fd, buffer, 0, n, size - n);
    return buffer.toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}
