// LiveRefresher: keeps the live feed's snapshot fresh while the guest runs, for any kernel (the
// one builder, at the level the knowledge allows: our descriptor, a description, nothing). With the guest RAM
// file it reads memory without stopping the guest (snapshots marked live, read by the LiveReader:
// a seqlock read on our guest, confirmed findings only elsewhere; never a torn read shown as
// findings: docs/live-feed.md, "Consistency"); without it, it stops the guest briefly through the
// gdbstub (interrupt, snapshot, continue) at a lower rate. It also turns run-state changes it
// did not cause (QMP STOP/RESUME, QEMU exiting) into stopped/continued/status events.

import { QemuSession } from '../../../qemu-bridge/src';
import type { PagingRegisters } from '../mm/model/paging-registers';
import type { PhysicalRegionJson } from '../mm/model/snapshot-document';
import type { SpaceRequest } from '../mm/model/system-snapshot';
import { KernelKnowledge, StopSnapshot, pagingRegistersOf, takeSnapshot } from '../mm/plugin/stop-snapshot';
import { GuestPause, LiveReader, LiveReaderOptions, TornSnapshotError, guestHold } from '../mm/plugin/live-reader';
import { LiveFeed } from './live-feed';
import { RefreshTimer } from './refresh-timer';
import { RefreshMode } from './protocol';

export interface LiveRefresherOptions {
  readonly session: QemuSession;
  readonly feed: LiveFeed;
  /** What is known of the kernel (our descriptor, a description); nothing: level 0. */
  readonly knowledge?: KernelKnowledge;
  /** Address spaces to walk besides the current one (`--cr3`: 'named'). */
  readonly spaces?: readonly SpaceRequest[];
  /** Refreshes per second while the guest runs. Default 2 with the RAM file, 0.5 through gdbstub stops. */
  readonly ratePerSecond?: number;
  /** How live (running-guest) snapshots are read; the default is the seqlock check. */
  readonly liveRead?: LiveReaderOptions;
}

export interface RefresherStats {
  snapshots: number;
  failures: number;
  /** Time to build the last snapshot, ms. */
  lastBuildMs: number;
  totalBuildMs: number;
  lastError: string | undefined;
  /** Builds thrown away because the guest's memory manager was mid-update (retried). */
  tornRetries: number;
  /** Live snapshots dropped because every try was torn (never published). */
  tornDropped: number;
  /** Brief stops of the guest for a copy its updates kept tearing (LiveReader's GuestPause). */
  pauses: number;
  /** Holds of our guest's memory manager asked for a copy (no vCPU stop). */
  holds: number;
}

const CR0_PG = 0x80000000n;
/**
 * A paused build holds our guest (no vCPU stop) when the last live build took less than this; a
 * longer one would outlast the guest's bound on a hold (MM_HOLD_MAX_US, 20 ms) and be torn.
 */
const HOLD_BUILD_MS = 12;
/** Dropped live snapshots are said in the feed's status at most this often. */
const TORN_REPORT_GAP_MS = 5000;

export class LiveRefresher {
  readonly mode: RefreshMode;
  readonly stats: RefresherStats = { snapshots: 0, failures: 0, lastBuildMs: 0, totalBuildMs: 0, lastError: undefined, tornRetries: 0, tornDropped: 0, pauses: 0, holds: 0 };
  /** Live snapshots: seqlock reads (or confirmed findings only on a kernel without a generation). */
  readonly liveReader: LiveReader;
  private registers: PagingRegisters | undefined;
  private regions: Promise<readonly PhysicalRegionJson[] | undefined> | undefined;
  /**
   * Ticks at the mode's rate (start to start), at least 10 ms apart: a larger gap would cap the
   * rate at 1000 / (tick + gap), e.g. below 10/s once a 3 GiB guest's snapshot takes over 50 ms.
   */
  private readonly timer = new RefreshTimer(async () => void (await this.refreshNow()), 10);
  private running = false;
  private inFlight: Promise<StopSnapshot | undefined> | undefined;
  /** QMP STOP/RESUME events our own brief stops will cause, to be ignored. */
  private ownStops = 0;
  private ownResumes = 0;
  private unsubscribe: (() => void)[] = [];
  private failingReported = false;
  private tornReportedAt = -Infinity;
  /** Our guest's hold (undefined: none), looked up once. */
  private hold: Promise<GuestPause | undefined> | undefined;

  constructor(private readonly options: LiveRefresherOptions) {
    const ram = options.session.memory.tiers.some((t) => t.name === 'ram-file');
    if (!options.session.rsp) throw new Error('live refresh needs the gdbstub to read the control registers; attach with --gdb');
    this.mode = ram
      ? { kind: 'ram-file', ratePerSecond: options.ratePerSecond ?? 2 }
      : { kind: 'stop-and-go', ratePerSecond: options.ratePerSecond ?? 0.5 };
    options.feed.setRefresh(this.mode);
    this.liveReader = new LiveReader(options.liveRead);
  }

  /** Starts refreshing; also publishes run-state changes made by others. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const qmp = this.options.session.qmp;
    if (qmp) {
      this.unsubscribe.push(
        qmp.onEvent((e) => {
          if (e.event === 'STOP') {
            if (this.ownStops > 0) this.ownStops--;
            else this.externalStop();
          } else if (e.event === 'RESUME') {
            if (this.ownResumes > 0) this.ownResumes--;
            else this.options.feed.continued();
          } else if (e.event === 'SHUTDOWN') {
            this.options.feed.status('warning', 'The guest shut down.', 'exited');
          }
        }),
      );
    }
    this.timer.start(Math.max(0.01, this.mode.ratePerSecond), 0);
  }

  /** Stops refreshing and waits for a snapshot in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer.stop();
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.inFlight?.catch(() => undefined);
  }


  private externalStop(): void {
    this.options.feed.stopped('pause');
    void this.refreshNow();
  }

  /**
   * Takes one snapshot now and publishes it. Resolves with it, or undefined when it failed. With
   * `consistent`, a running guest is stopped for the snapshot and resumed (never a torn snapshot).
   */
  async refreshNow(options: { consistent?: boolean } = {}): Promise<StopSnapshot | undefined> {
    if (this.inFlight && !options.consistent) return this.inFlight;
    while (this.inFlight) await this.inFlight;
    const p = this.takeAndPublish(options.consistent ?? false).finally(() => {
      if (this.inFlight === p) this.inFlight = undefined;
    });
    this.inFlight = p;
    return p;
  }

  /**
   * Makes the running guest stand still for a live copy that its updates keep tearing
   * (LiveReader's GuestPause): our guest's hold when its descriptor names one (no vCPU stop:
   * live-reader.ts, guestHold), for a copy, and for a whole build when builds are short (see
   * HOLD_BUILD_MS); otherwise a gdbstub interrupt and a continue afterwards (its QMP STOP/RESUME
   * are ours, not the user's).
   */
  private async pauseBriefly(purpose: 'copy' | 'build'): Promise<() => Promise<void>> {
    const descriptor = this.options.knowledge?.descriptor;
    if (descriptor && (purpose === 'copy' || this.liveReader.stats.kept > 0 && this.liveReader.stats.lastBuildMs < HOLD_BUILD_MS)) {
      const memory = this.options.session.memory;
      this.hold ??= guestHold((a, n) => memory.readPhys(a, n), (a, v) => memory.signalPhys(a, v), descriptor.descriptorPhys).catch(() => undefined);
      const hold = await this.hold;
      if (hold) {
        this.stats.holds++;
        return hold(purpose);
      }
    }
    const rsp = this.options.session.rsp;
    if (!rsp || !rsp.running) return async () => undefined;
    if (this.options.session.qmp) {
      this.ownStops++;
      this.ownResumes++;
    }
    await rsp.interrupt(5000);
    this.stats.pauses++;
    return async () => {
      if (!rsp.connection.closed) await rsp.continue();
    };
  }

  /** QEMU's memory map, read once (none without QMP). */
  private memoryMap(): Promise<readonly PhysicalRegionJson[] | undefined> {
    this.regions ??= this.options.session.physicalMemoryMap().catch(() => undefined);
    return this.regions;
  }

  private async takeAndPublish(consistent: boolean): Promise<StopSnapshot | undefined> {
    const { session, feed } = this.options;
    const rsp = session.rsp;
    if (!rsp || rsp.connection.closed) return undefined;
    const started = Date.now();
    let stoppedHere = false;
    try {
      const guestRunning = rsp.running;
      if (consistent || this.mode.kind === 'stop-and-go' || !this.registers || !(this.registers.cr0 & CR0_PG)) {
        if (guestRunning) {
          if (session.qmp) {
            this.ownStops++;
            this.ownResumes++;
          }
          await rsp.interrupt(5000);
          stoppedHere = true;
        }
        this.registers = pagingRegistersOf(await rsp.readRegisters());
      }
      const registers = this.registers as PagingRegisters;
      const live = guestRunning && !stoppedHere;
      let snapshot: StopSnapshot | undefined;
      if (registers.cr0 & CR0_PG) {
        const readings = {
          read: (a: number, n: number) => session.memory.readPhys(a, n),
          registers,
          regions: await this.memoryMap(),
          ...(this.options.spaces ? { spaces: this.options.spaces } : {}),
          stop: this.stats.snapshots + 1,
          live,
        };
        if (live) {
          const retriesBefore = this.liveReader.stats.tornRetries;
          try {
            snapshot = await this.liveReader.take(readings, this.options.knowledge, (purpose) => this.pauseBriefly(purpose));
          } finally {
            this.stats.tornRetries += this.liveReader.stats.tornRetries - retriesBefore;
          }
        } else {
          this.liveReader.resetConfirmation();
          snapshot = await takeSnapshot(readings, this.options.knowledge);
        }
      }
      if (stoppedHere) {
        await rsp.continue();
        stoppedHere = false;
      }
      if (!snapshot) {
        feed.status('info', 'Waiting for the guest to enable paging.', guestRunning ? 'running' : 'stopped');
        return undefined;
      }
      const ms = Date.now() - started;
      this.stats.snapshots++;
      this.stats.lastBuildMs = ms;
      this.stats.totalBuildMs += ms;
      if (this.failingReported) {
        this.failingReported = false;
        feed.status('info', 'Snapshots are being taken again.');
      }
      if (feed.state === 'unknown') feed.setState(guestRunning ? 'running' : 'stopped');
      feed.publish(snapshot, { live, takenAt: started });
      return snapshot;
    } catch (e) {
      if (e instanceof TornSnapshotError) {
        // Not a failure of the snapshot path: the guest was mid-update at every try. Counted and
        // said in the feed's status; nothing is published (a torn read is never shown as findings).
        this.stats.tornDropped++;
        if (Date.now() - this.tornReportedAt < TORN_REPORT_GAP_MS) return undefined;
        this.tornReportedAt = Date.now();
        feed.status('info', `${this.stats.tornDropped} live snapshot${this.stats.tornDropped === 1 ? '' : 's'} dropped so far: the memory manager was mid-update at each of ${e.tries} reads (${this.stats.tornRetries} torn reads retried in all).`);
        return undefined;
      }
      this.stats.failures++;
      this.stats.lastError = (e as Error).message;
      if (stoppedHere && !rsp.connection.closed) await rsp.continue().catch(() => undefined);
      if (rsp.connection.closed) {
        feed.status('error', 'The connection to QEMU closed: the guest is gone.', 'exited');
        this.running = false;
      } else if (!this.failingReported) {
        // A snapshot read while the guest runs can catch a half-made structure: try again next time.
        this.failingReported = true;
        feed.status('warning', `A snapshot failed (${(e as Error).message}); retrying.`);
      }
      return undefined;
    }
  }
}
