// QemuSession: the gdbstub client, the QMP client and GuestMemory together, attached to a QEMU
// that is already running (one we launched, or one a user started by hand) given its endpoints
// and optionally its RAM file. It keeps GuestMemory's cache in step with the run state.

import * as fs from 'fs';
import { RspClient, RspClientOptions } from './rsp-client';
import { QmpClient } from './qmp-client';
import { GuestMemory } from './guest-memory';
import { GdbstubTier, PhysicalMemoryTier, QmpTier, RamFileTier } from './memory-tiers';
import { HostPort } from './host-port';
import { InvalidRangeError, NoMemoryTierError } from './errors';
import type { QemuInstance } from './qemu-launcher';
import { parseFlatMemoryMap, PhysicalRegion } from './memory-map';

export interface AttachOptions {
  gdb?: HostPort;
  qmp?: HostPort;
  /** The guest RAM file (memory-backend-file with share=on). */
  ramFile?: string;
  /** Open the RAM file for writing too (writes still prefer the gdbstub). */
  ramFileWritable?: boolean;
  timeoutMs?: number;
  rsp?: RspClientOptions;
}

/** An attached QEMU: clients and memory. Close it with detach(). */
export class QemuSession {
  /** Whether the guest was running when we attached (by QMP's query-status, else by the gdbstub's unsolicited stop). */
  wasRunningAtAttach = false;
  private cr4Cache: number | undefined;

  private constructor(
    readonly rsp: RspClient | undefined,
    readonly qmp: QmpClient | undefined,
    readonly memory: GuestMemory,
    private readonly ramTier: RamFileTier | undefined,
    private readonly qmpTier: QmpTier | undefined,
  ) {}

  /** Attaches to a QEMU started by launchQemu(), with all three tiers. */
  static attachTo(instance: QemuInstance, options: Omit<AttachOptions, 'gdb' | 'qmp' | 'ramFile'> = {}): Promise<QemuSession> {
    return QemuSession.attach({ ...options, gdb: instance.gdb, qmp: instance.qmp, ramFile: instance.ramPath });
  }

  /**
   * Attaches. Connecting the gdbstub stops a running guest (QEMU's rule); `wasRunningAtAttach`
   * records the state so detach({ restore: true }) can resume it.
   */
  static async attach(options: AttachOptions): Promise<QemuSession> {
    if (!options.gdb && !options.qmp && !options.ramFile) throw new NoMemoryTierError('attach');
    let qmp: QmpClient | undefined;
    let rsp: RspClient | undefined;
    let ram: RamFileTier | undefined;
    try {
      if (options.ramFile) {
        if (!fs.existsSync(options.ramFile)) throw new InvalidRangeError(`the RAM file ${options.ramFile} does not exist; pass the path QEMU's memory-backend-file uses`);
        ram = new RamFileTier(options.ramFile, options.ramFileWritable ?? false);
      }
      let runningByQmp: boolean | undefined;
      if (options.qmp) {
        qmp = await QmpClient.connect(options.qmp, { timeoutMs: options.timeoutMs });
        runningByQmp = (await qmp.queryStatus()).running;
      }
      if (options.gdb) rsp = await RspClient.connect(options.gdb, { timeoutMs: options.timeoutMs, ...options.rsp });
      const tiers: PhysicalMemoryTier[] = [];
      if (ram) tiers.push(ram);
      if (rsp) tiers.push(new GdbstubTier(rsp));
      const qmpTier = qmp ? new QmpTier(qmp) : undefined;
      if (qmpTier) tiers.push(qmpTier);
      if (ram && tiers.length === 1) ram.serveVgaWindow = true;
      let session: QemuSession | undefined = undefined;
      const memory = new GuestMemory(tiers, { cr4: rsp ? () => (session as QemuSession).cr4() : undefined });
      session = new QemuSession(rsp, qmp, memory, ram, qmpTier);
      session.wasRunningAtAttach = runningByQmp ?? rsp?.wasRunningAtConnect ?? false;
      session.wire();
      return session;
    } catch (e) {
      rsp?.close();
      qmp?.close();
      ram?.close();
      throw e;
    }
  }

  private wire(): void {
    const memory = this.memory;
    if (this.rsp) {
      memory.setRunning(this.rsp.running);
      const conn = this.rsp.connection;
      conn.onStop(() => {
        this.cr4Cache = undefined;
        memory.setRunning(false);
      });
      conn.onResume(() => {
        this.cr4Cache = undefined;
        memory.setRunning(true);
      });
    } else if (this.qmp) {
      memory.setRunning(this.wasRunningAtAttach);
    } else {
      memory.setRunning(true); // a RAM file alone: we cannot know, so never cache
    }
    this.qmp?.onEvent((e) => {
      if (e.event === 'RESUME' || e.event === 'RESET') {
        this.cr4Cache = undefined;
        memory.invalidate();
        if (!this.rsp) memory.setRunning(true);
      } else if (e.event === 'STOP' && !this.rsp) {
        memory.setRunning(false);
      }
    });
  }

  /** CR4 at the current stop (cached until the guest resumes). */
  async cr4(): Promise<number> {
    if (!this.rsp) throw new NoMemoryTierError('read CR4');
    if (this.cr4Cache === undefined) this.cr4Cache = Number(await this.rsp.readRegister('cr4'));
    return this.cr4Cache;
  }

  /** CR0, CR3, CR4 and EFER now, exactly (EFER 0 when the gdbstub has none); needs the gdbstub and a stopped guest. */
  async pagingRegisters(): Promise<{ cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint }> {
    if (!this.rsp) throw new NoMemoryTierError('read the paging registers');
    const r = await this.rsp.readRegisters();
    return { cr0: r.big('cr0'), cr3: r.big('cr3'), cr4: r.big('cr4'), efer: r.bytes('efer') ? r.big('efer') : 0n };
  }

  /**
   * QEMU's physical memory map (`info mtree -f` over QMP: RAM, ROM and device regions of the system
   * address space), or undefined without QMP. Throws only if QMP fails.
   */
  async physicalMemoryMap(): Promise<PhysicalRegion[] | undefined> {
    if (!this.qmp) return undefined;
    return parseFlatMemoryMap(await this.qmp.humanMonitorCommand('info mtree -f'));
  }

  /** CR3 now (needs the gdbstub and a stopped guest). */
  async cr3(): Promise<number> {
    if (!this.rsp) throw new NoMemoryTierError('read CR3');
    return Number(await this.rsp.readRegister('cr3'));
  }

  /**
   * Ends the session. With `restore`, the guest is left as found: resumed if it was running when we
   * attached, otherwise left stopped. Without, the run state is left as it is now.
   */
  async detach(options: { restore?: boolean } = {}): Promise<void> {
    try {
      if (this.rsp && !this.rsp.connection.closed) {
        if (options.restore && this.wasRunningAtAttach && !this.rsp.running) await this.rsp.continue();
        await this.rsp.disconnect();
      } else if (this.qmp && options.restore && this.wasRunningAtAttach) {
        const status = await this.qmp.queryStatus();
        if (!status.running) await this.qmp.cont();
      }
    } finally {
      this.rsp?.close();
      this.qmp?.close();
      this.ramTier?.close();
      this.qmpTier?.close();
    }
  }
}
