// Which breakpoints are armed in the gdbstub: the breakpoint table's user and internal
// breakpoints plus the stepping engine's temporary ones (counted, so two users of one address
// share it). `sync()` makes the stub's set equal to the desired set with Z/z packets; it must be
// called while the guest is stopped.

import { RspClient } from '../../../qemu-bridge/src';
import { ArmSpec, BreakpointTable } from './breakpoint-table';

export class BreakpointArming {
  /** True when the desired set changed since the last sync. */
  pending = false;
  private readonly armed = new Map<string, ArmSpec>();
  private readonly temporary = new Map<number, number>();
  /** Work that needs the guest stopped, run at the start of the next sync (see `whenStopped`). */
  private readonly stoppedTasks: (() => Promise<void>)[] = [];

  constructor(
    private readonly rsp: RspClient,
    private readonly table: BreakpointTable,
    /** True once paging is on: the pre-paging twins of breakpoints are left out then. */
    private readonly pagingSeen: () => boolean,
  ) {}

  /**
   * Queues `task` (it reads the stopped guest and may change the table) for the start of the next
   * sync, which happens while the guest is stopped; marks the set as changed.
   */
  whenStopped(task: () => Promise<void>): void {
    this.stoppedTasks.push(task);
    this.pending = true;
  }

  /** Arms and disarms until the stub holds exactly the desired set (no-op without changes). */
  async sync(): Promise<void> {
    // A task's failure is its own (it reports or ignores it); the arming goes on.
    for (let task = this.stoppedTasks.shift(); task; task = this.stoppedTasks.shift()) await task().catch(() => undefined);
    if (!this.pending) return;
    this.pending = false;
    const desired = new Map<string, ArmSpec>();
    for (const spec of this.table.armSpecs()) {
      if (spec.prePaging && this.pagingSeen()) continue;
      desired.set(specKey(spec), spec);
    }
    for (const address of this.temporary.keys()) {
      const spec: ArmSpec = { kind: 'software', address, length: 1, prePaging: false };
      desired.set(specKey(spec), spec);
    }
    for (const [key, spec] of [...this.armed]) {
      if (desired.has(key)) continue;
      await this.rsp.removeBreakpoint(spec.kind, spec.address, spec.length);
      this.armed.delete(key);
    }
    for (const [key, spec] of desired) {
      if (this.armed.has(key)) continue;
      await this.rsp.insertBreakpoint(spec.kind, spec.address, spec.length);
      this.armed.set(key, spec);
    }
  }

  async addTemporary(address: number): Promise<void> {
    this.temporary.set(address, (this.temporary.get(address) ?? 0) + 1);
    this.pending = true;
    await this.sync();
  }

  async removeTemporary(address: number): Promise<void> {
    const n = (this.temporary.get(address) ?? 0) - 1;
    if (n > 0) this.temporary.set(address, n);
    else this.temporary.delete(address);
    this.pending = true;
    if (!this.rsp.connection.closed) await this.sync();
  }

  /** True when `address` is one of the engine's temporary breakpoints. */
  isTemporary(address: number): boolean {
    return this.temporary.has(address);
  }

  /** The armed code breakpoints at `address` (lifted for one step when resuming from there). */
  codeAt(address: number): ArmSpec[] {
    return [...this.armed.values()].filter((s) => (s.kind === 'software' || s.kind === 'hardware') && s.address === address);
  }

  /** Removes everything armed (before detaching). */
  async removeAll(): Promise<void> {
    for (const spec of [...this.armed.values()]) await this.rsp.removeBreakpoint(spec.kind, spec.address, spec.length);
    this.armed.clear();
    this.temporary.clear();
  }
}

function specKey(s: ArmSpec): string {
  return `${s.kind}:${s.address}:${s.length}`;
}
