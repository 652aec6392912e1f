// DAP progress events for long work at session start (QEMU starting, the kernel's DWARF being
// read): a start and an end with the same id around a piece of work, sent only when the client
// said `supportsProgressReporting` in initialize.

import { ProgressEndEvent, ProgressStartEvent } from '@vscode/debugadapter';
import { DebugProtocol } from '@vscode/debugprotocol';

let counter = 0;

export class ProgressReporter {
  enabled = false;

  constructor(private readonly send: (event: DebugProtocol.Event) => void) {}

  /** Starts a progress; the returned function ends it (once; later calls do nothing). */
  begin(title: string, message?: string): (endMessage?: string) => void {
    if (!this.enabled) return () => undefined;
    const id = `mmscope-progress-${process.pid}-${++counter}`;
    this.send(new ProgressStartEvent(id, title, message));
    let open = true;
    return (endMessage?: string) => {
      if (!open) return;
      open = false;
      this.send(new ProgressEndEvent(id, endMessage));
    };
  }

  /** Runs `work` inside a progress that ends however the work ends. */
  async around<T>(title: string, message: string | undefined, work: () => Promise<T> | T): Promise<T> {
    const end = this.begin(title, message);
    try {
      const result = await work();
      end();
      return result;
    } catch (e) {
      end('failed');
      throw e;
    }
  }
}
