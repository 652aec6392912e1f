// Captures the guest's display through QMP: `screendump` as PNG into a private temporary folder
// (QEMU writes the file on this host; it is read and deleted at once), plus the VGA text console
// as text when the display is in a text mode. Works while the guest runs and while it is stopped.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { QmpClient } from '../../../qemu-bridge/src';
import { pngInfo } from './png-info';
import { decodeVgaText, textGridOf, VGA_TEXT_BUFFER } from './vga-text';

/** What `mmscope/screen` answers. */
export interface ScreenImage {
  /** The PNG, base64. */
  readonly png: string;
  readonly width: number;
  readonly height: number;
  /** `text` when the size is a VGA text mode (then `text`, `columns`, `rows` are set). */
  readonly mode: 'text' | 'graphics';
  /** The text console's lines (code page 437 as Unicode, trailing blanks trimmed), joined by \n. */
  readonly text?: string;
  readonly columns?: number;
  readonly rows?: number;
}

/** Reads guest-physical memory (the bridge's GuestMemory: the gdbstub when stopped, QMP pmemsave while running). */
export type PhysicalReader = (address: number, length: number) => Promise<Buffer>;

export class ScreenCapture {
  private dir: string | undefined;
  private counter = 0;
  /** One screendump at a time: QEMU renders the display once per request. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly qmp: () => QmpClient | undefined, private readonly readPhys: PhysicalReader) {}

  capture(): Promise<ScreenImage> {
    const next = this.queue.then(() => this.captureNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async captureNow(): Promise<ScreenImage> {
    const qmp = this.qmp();
    if (!qmp || qmp.closed) throw new Error('this session has no QMP connection to QEMU, so it cannot show the screen; attach with "qmp" or use a launch configuration');
    if (!this.dir) this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmscope-screen-'));
    const file = path.join(this.dir, `screen-${this.counter++}.png`);
    let data: Buffer;
    try {
      await qmp.execute('screendump', { filename: file, format: 'png' }, 10000).catch((e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(/surface|console|display/i.test(why)
          ? `QEMU has no display to capture (${why}); give the guest a display adapter, e.g. "qemuArgs": ["-vga", "std"]`
          : `QEMU could not capture the screen: ${why}`);
      });
      data = fs.readFileSync(file);
    } finally {
      fs.rmSync(file, { force: true });
    }
    const info = pngInfo(data);
    const grid = textGridOf(info.width, info.height);
    const base = { png: data.toString('base64'), width: info.width, height: info.height };
    if (!grid) return { ...base, mode: 'graphics' };
    const buffer = await this.readPhys(VGA_TEXT_BUFFER, grid.columns * grid.rows * 2);
    return { ...base, mode: 'text', text: decodeVgaText(buffer, grid).join('\n'), columns: grid.columns, rows: grid.rows };
  }

  /** Removes the temporary folder. */
  dispose(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
