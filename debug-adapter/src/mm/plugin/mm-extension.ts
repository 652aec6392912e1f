// The memory manager plugged into the debug session (session/session-extension.ts), on any
// kernel and at every level of knowing it (our descriptor, a memory-model description, nothing):
// custom requests (mmscope/snapshot, translate, spaces, openSpace, chain, console), a "Memory
// manager" scope, the debug console's vtop/spaces/space/frames (and chain/chains/pd on our
// guest), hover notes, and a snapshotReady event at every stop. Documents are built lazily, once
// per stop; while the guest runs they come from the shared RAM file when the session has one
// (marked live: they may catch the guest mid-update). Every CR3 seen at a stop is kept as an
// address space the views can open.

import type { ExceptionFilter, SessionExtension, SessionExtensionFactory, StartArguments } from '../../session/session-extension';
import type { LiveFeed } from '../../live/live-feed';
import { startDashboardServer } from '../../live/dashboard-server';
import { RefreshTimer } from '../../live/refresh-timer';
import { ALLOCATION_FILTERS, ArmedFilter, armFilters, describeEvent, matchEvent } from './allocation-breakpoints';
import { ConditionError } from '../model/event-condition';
import type { Target, TargetStop } from '../../session/target';
import type { FrameContext, InspectScope, InspectVariable } from '../../inspect/target-access';
import { MmService, MmServiceOptions } from './mm-service';
import { formatTranslationNote } from '../model/snapshot-text';
import type { PagingRegisters } from '../model/paging-registers';
import type { StopSnapshot } from './stop-snapshot';
import { TornSnapshotError } from './live-reader';
import { MM_REQUESTS, MmRequest, SNAPSHOT_EVENT, handleMmRequest, mmScopeVariables, snapshotEventBody } from './mm-requests';
import type { StopChanges } from '../../live/stop-changes';
import { DapEvent, DapRequest, type SnapshotReadyBody } from '../../../../contract/dap';
import type { JsonObject } from '../../../../contract/live-protocol';
import { FEED_HISTORY_REQUESTS, HISTORY_REQUESTS, HistoryDapRequest, handleHistoryRequest, isHistoryRequest } from './history-requests';

/** Sends a custom DAP event (the session supplies it). */
export type EventSink = (event: string, body: unknown) => void;

export const MM_SCOPE_REFERENCE_OFFSET = 1;

/** The allocation-breakpoint filters as the Breakpoints view shows them. */
export const MM_EXCEPTION_FILTERS: readonly ExceptionFilter[] = ALLOCATION_FILTERS.map((f) => ({
  filter: f.id,
  label: f.label,
  description: f.description,
  supportsCondition: true,
  conditionDescription: 'e.g. blocks >= 64, flags & CONTIGUOUS, pid == 2 (fields: chain blocks flags arg status caller pid seq)',
}));

/** Turns snapshots while the guest runs on or off: `{ enabled, ratePerSecond }`. */
export const LIVE_REFRESH_REQUEST = DapRequest.liveRefresh;
const MIN_RATE = 0.1;
const MAX_RATE = 20;

/** The pointer a debug hover's value denotes (data pointers only), or undefined. */
export function hoveredPointer(value: { readonly type?: string; readonly memoryReference?: string }): bigint | undefined {
  if (!value.type || !value.memoryReference) return undefined;
  // Pointers to data only: not function pointers, and not the address of a non-pointer variable.
  if (!/\*\s*$/.test(value.type) || /\(\s*\*\s*\)/.test(value.type)) return undefined;
  if (!/^\s*(0[xX][0-9a-fA-F]+|\d+)\s*$/.test(value.memoryReference)) return undefined;
  const address = BigInt(value.memoryReference.trim());
  return address === 0n ? undefined : address;
}

/** The paging registers of a register map (EFER 0 on a CPU without it). */
function pagingRegistersOf(r: ReadonlyMap<string, bigint>): PagingRegisters {
  const big = (name: string): bigint => BigInt.asUintN(64, r.get(name) ?? 0n);
  return { cr0: big('cr0'), cr3: big('cr3'), cr4: big('cr4'), efer: big('efer') };
}

/** What the session knows of the kernel beyond its page tables (describe and trace plug in here). */
export type MmExtensionKnowledge = Pick<MmServiceOptions, 'describe' | 'descriptionSource' | 'tracing' | 'history'>;

/**
 * The history's options from the launch arguments: `historyKeyframes` "stops" (the default: a
 * keyframe at every consistent stop) or "first" (only the first stop's; every later state is
 * replayed from the events: what the tests use to check the reconstruction against real stops).
 */
export function historyOptionsOf(start: StartArguments | undefined): Pick<MmServiceOptions, 'history'> {
  const v = start?.historyKeyframes;
  return v === 'first' ? { history: { stopKeyframes: 'first' } } : {};
}

export class MmSessionExtension implements SessionExtension {
  readonly commands: readonly string[] = [...MM_REQUESTS, ...HISTORY_REQUESTS, LIVE_REFRESH_REQUEST];
  readonly exceptionFilters = MM_EXCEPTION_FILTERS;
  readonly service: MmService;
  /** A live feed to publish every stop's snapshot to (the dashboard, the language server); it answers `history` messages through historyRequest. */
  get feed(): LiveFeed | undefined {
    return this.liveFeed;
  }

  set feed(feed: LiveFeed | undefined) {
    this.liveFeed = feed;
    feed?.setHistoryHandler((request, args) => this.historyRequest(FEED_HISTORY_REQUESTS[request], args) as Promise<JsonObject>);
  }

  private liveFeed: LiveFeed | undefined;
  /** The current stop's noteStop (a history request waits for it: the stop's keyframe needs its position). */
  private noted: Promise<void> = Promise.resolve();
  private armed: ArmedFilter[] = [];
  private stopIndex = 0;
  private liveIndex = 0;
  /** When a dropped (torn) live snapshot was last said in the feed (at most every 5 s). */
  private tornReportedAt = -Infinity;
  private stopped = false;
  /** The shown vCPU's paging registers at the last stop (what live snapshots use while the guest runs). */
  private lastRegisters: PagingRegisters = { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n };
  /** Live refresh while running: its rate (snapshots per second), or undefined when off. */
  private readonly live = new RefreshTimer(() => this.liveTick());
  /** When the current stop was reported (epoch ms), sent in snapshotReady for stop-to-views timing. */
  private stoppedAt = 0;
  /** The last live snapshot's key and when it was taken: requests right after its event reuse it. */
  private lastLive: { key: number; at: number } | undefined;

  constructor(private readonly target: Target, private readonly referenceBase: number, private readonly emit?: EventSink, knowledge: MmExtensionKnowledge = {}) {
    this.service = new MmService(target.symbols, {
      readPhys: (address, length) => target.bridge.memory.readPhys(address, length),
      signalPhys: (address, value) => target.bridge.memory.signalPhys(address, value),
      guestRunning: () => target.bridge.memory.running,
      readPagingRegisters: async () => {
        // While running: the last stop's (our guest's KPD never moves; any kernel's live view is of that space).
        if (!this.stopped) return this.lastRegisters;
        // Exact: on x86-64 the control registers are 64-bit (CR3 may carry a PCID, EFER bits above 31).
        this.lastRegisters = pagingRegistersOf(await target.readExactRegisters());
        return this.lastRegisters;
      },
      readEveryVcpuRegisters: async () => {
        const threads = await target.threads();
        const out: PagingRegisters[] = [];
        for (const t of threads) out.push(pagingRegistersOf(await target.readExactRegisters(t.id)));
        return out;
      },
      // QEMU's memory map (QMP), read once per session by the service.
      physicalMemoryMap: () => target.bridge.physicalMemoryMap(),
    }, knowledge);
  }

  /**
   * A CR3 tracer (helper "trace") saw the kernel load `cr3` before stop `atStop`: the space is
   * listed in the documents from the next one on, as 'traced' (possibly stale).
   */
  addTracedSpace(cr3: bigint, atStop = this.stopIndex): void {
    this.service.addTracedSpace(cr3, atStop);
  }

  /** The stop number the documents carry now. */
  get stop(): number {
    return this.stopIndex;
  }

  /** The key of the snapshot to serve now: the stop, or a fresh live one while running. */
  private key(): number {
    if (this.stopped) return this.stopIndex;
    this.requireRamFile();
    const live = this.lastLive;
    const rate = this.live.ratePerSecond;
    if (live && rate !== undefined && Date.now() - live.at < 1000 / rate) return live.key;
    return -++this.liveIndex;
  }

  private requireRamFile(): void {
    if (!this.target.bridge.memory.tiers.some((t) => t.name === 'ram-file')) {
      throw new Error('the guest is running and this session has no shared RAM file; pause it to see its memory');
    }
  }

  /** `mmscope/liveRefresh`: while the guest runs, a snapshot (and a snapshotReady event marked live) `ratePerSecond` times a second. */
  private setLiveRefresh(args: Record<string, unknown>): { enabled: boolean; ratePerSecond?: number } {
    if (args.enabled === false) {
      this.live.stop();
      return { enabled: false };
    }
    this.requireRamFile();
    const asked = args.ratePerSecond === undefined ? 2 : Number(args.ratePerSecond);
    if (!Number.isFinite(asked) || asked <= 0) throw new Error(`ratePerSecond must be a positive number, not ${String(args.ratePerSecond)}`);
    const rate = Math.min(MAX_RATE, Math.max(MIN_RATE, asked));
    if (this.stopped) this.live.setRate(rate);
    else this.live.start(rate, 0);
    return { enabled: true, ratePerSecond: rate };
  }

  /** One live snapshot while the guest runs (the refresh timer calls it). */
  private async liveTick(): Promise<void> {
    if (this.stopped) return;
    const key = -++this.liveIndex;
    try {
      const snap = await this.service.snapshot(key);
      if (!this.stopped && this.live.ratePerSecond !== undefined) {
        this.lastLive = { key, at: Date.now() };
        this.publish(snap, true, this.lastLive.at);
      }
    } catch (e) {
      // Dropped after every seqlock try was torn: counted (service.liveStats) and said in the feed.
      if (e instanceof TornSnapshotError && Date.now() - this.tornReportedAt >= 5000) {
        this.tornReportedAt = Date.now();
        this.feed?.status('info', `${this.service.liveStats.dropped} live snapshots dropped so far: the memory manager was mid-update at each of ${e.tries} reads.`);
      }
      // any other failure: the next tick tries again
    }
  }

  /**
   * A history request (DAP or the live feed): at a stop, its snapshot is built first (it is the
   * stop's keyframe); while the guest runs, the events drained so far and the last stop's findings.
   */
  async historyRequest(command: HistoryDapRequest, args: unknown): Promise<object> {
    if (this.stopped) {
      const stop = this.stopIndex;
      await this.noted;
      if (stop === this.stopIndex) await this.service.snapshot(stop).catch(() => undefined);
    }
    return handleHistoryRequest(this.service.historySource(), command, args);
  }

  async customRequest(command: string, args: unknown): Promise<unknown> {
    if (isHistoryRequest(command)) return this.historyRequest(command, args);
    if (command === LIVE_REFRESH_REQUEST) return this.setLiveRefresh((args ?? {}) as Record<string, unknown>);
    if ((command === DapRequest.translate || command === DapRequest.openSpace) && !this.stopped) {
      throw new Error(`the guest is running; pause it to ${command === DapRequest.translate ? 'translate an address' : 'open an address space'}`);
    }
    const body = await handleMmRequest(this.service, this.key(), command as MmRequest, (args ?? {}) as Record<string, unknown>);
    if (command === DapRequest.snapshot && !this.stopped) return { ...(body as object), live: true };
    return body;
  }

  async scopes(_frame: FrameContext): Promise<InspectScope[]> {
    return [{ name: 'Memory manager', presentationHint: 'mmscope', variablesReference: this.referenceBase + MM_SCOPE_REFERENCE_OFFSET, expensive: false }];
  }

  async variables(reference: number): Promise<InspectVariable[] | undefined> {
    if (reference !== this.referenceBase + MM_SCOPE_REFERENCE_OFFSET) return undefined;
    const snap = await this.service.snapshot(this.stopIndex);
    return mmScopeVariables(snap).map((v) => ({ name: v.name, value: v.value, variablesReference: 0 }));
  }

  /** Debug hovers over a pointer: where it lands, from this stop's snapshot and a page walk. */
  async hoverNote(value: { readonly result: string; readonly type?: string; readonly memoryReference?: string }): Promise<string | undefined> {
    const address = hoveredPointer(value);
    if (!this.stopped || address === undefined) return undefined;
    return formatTranslationNote(await this.service.translate(this.stopIndex, address));
  }

  async console(line: string): Promise<string | undefined> {
    const cmd = line.trim().split(/\s+/)[0];
    if (!this.stopped && ['vtop', 'spaces', 'space', 'frames', 'chain', 'chains', 'mm', 'pd'].includes(cmd)) return `${cmd}: the guest is running; pause it first`;
    return this.service.console(this.stopIndex, line);
  }

  async setExceptionFilters(options: readonly { filterId: string; condition?: string }[]): Promise<{ verified: boolean; message?: string }[]> {
    const hook = this.service.eventHookAddress;
    if (hook === undefined) {
      this.armed = [];
      return options.map(() => ({ verified: false, message: "Allocation breakpoints need mmscope's guest (its mm_event_hook); this kernel has none." }));
    }
    const verdicts = options.map((o) => {
      try {
        armFilters([o]);
        return { verified: true };
      } catch (e) {
        return { verified: false, message: e instanceof ConditionError ? `Condition not understood: ${e.message}` : String(e) };
      }
    });
    this.armed = armFilters(options.filter((_, i) => verdicts[i].verified));
    this.target.table.setInternalBreakpoints('mm', this.armed.length ? [hook] : []);
    return verdicts;
  }

  /** At mm_event_hook: stop when an armed filter (and its condition) matches the event. */
  async decideInternalHit(pc: number): Promise<{ description: string; text?: string } | undefined> {
    if (pc !== this.service.eventHookAddress || !this.armed.length) return undefined;
    const event = await this.service.readEvent();
    const match = matchEvent(this.armed, event);
    if (!match) return undefined;
    return { description: describeEvent(event, this.service.resolveSite(event.caller)), text: match.filter.label };
  }

  /**
   * Sends one snapshot to every consumer: the snapshotReady event (the extension's views and,
   * through it, the language server) and the live feed (the dashboard, the CLI), with the one
   * set of changes the service computes (once) against the snapshot published before.
   */
  private publish(snap: StopSnapshot, live: boolean, at: number): void {
    // The one diff of this snapshot, kept by the service (the mmscope/snapshot response carries it too).
    const record = this.service.published(snap);
    const before = record ? { snap: record.from, stop: record.from.document.stop } : undefined;
    const changes: StopChanges | undefined = record?.changes;
    const body: SnapshotReadyBody = {
      ...(snapshotEventBody(snap) as unknown as SnapshotReadyBody),
      live,
      stoppedAt: at,
      snapshot: snap.document,
      ...(before && changes ? { changesFrom: before.stop, changes } : {}),
    };
    this.emit?.(SNAPSHOT_EVENT, body);
    this.feed?.publish(snap, { live, ...(before && changes ? { changes: { from: before.snap, changes } } : {}) });
  }

  onStop(stop: TargetStop): void {
    this.stoppedAt = Date.now();
    this.stopped = true;
    this.live.pause();
    this.lastLive = undefined;
    this.feed?.stopped(stop.reason);
    this.publishStop();
  }

  /**
   * Another vCPU is shown: its CR3 names the current address space, so the stop gets a new
   * snapshot (a new stop number) built from that vCPU's registers.
   */
  onThreadSelected(): void {
    if (this.stopped) this.publishStop();
  }

  /** Notes the spaces seen, builds the snapshot of the current stop under a new stop number and sends it to the views and the feed. */
  private publishStop(): void {
    const index = ++this.stopIndex;
    const noted = this.service.noteStop(index);
    this.noted = noted;
    if (!this.emit && !this.feed) return;
    noted.then(() => (index === this.stopIndex ? this.service.snapshot(index) : undefined)).then(
      (snap) => {
        if (!snap || index !== this.stopIndex) return;
        this.publish(snap, false, this.stoppedAt);
      },
      (e: unknown) => {
        // Early in boot (before mm_debug_info is filled in) or on a corrupt structure: the
        // extension still learns of the stop, and says why there is nothing to show.
        if (index !== this.stopIndex) return;
        this.emit?.(SNAPSHOT_EVENT, { stop: index, level: this.service.level, live: false, stoppedAt: this.stoppedAt, error: e instanceof Error ? e.message : String(e) });
      },
    );
  }

  onResume(): void {
    this.stopped = false;
    this.feed?.continued();
    const rate = this.live.ratePerSecond;
    if (rate !== undefined) this.live.resume(1000 / rate);
  }

  /** The session ended: no timer survives it. */
  dispose(): void {
    this.live.stop();
    void this.service.events?.close();
  }
}

export const LIVE_FEED_EVENT = DapEvent.liveFeed;

export interface MmExtensionOptions {
  /** Variables references of the "Memory manager" scope start here. */
  readonly referenceBase: number;
  /** Sends custom DAP events (snapshotReady, liveFeed). */
  readonly emit?: EventSink;
  /** Serve the dashboard and the WebSocket feed on loopback (default true). */
  readonly liveFeed?: boolean;
  /**
   * What the session knows of this target's kernel beyond its page tables: a memory-model
   * description's evaluator (level 1), the tracing state (level 2). Called once per session.
   */
  readonly knowledge?: (target: Target, start?: StartArguments) => MmExtensionKnowledge | undefined;
  /** Called with the extension once it exists (e.g. to hand a CR3 tracer its addTracedSpace). */
  readonly onCreated?: (extension: MmSessionExtension, target: Target) => void;
}

/**
 * Builds the memory-manager extension of a session, on any kernel (the level follows from what
 * it knows: our descriptor, a description, nothing). With `liveFeed`, it also serves the
 * dashboard and the WebSocket feed on loopback and announces their URLs (with the token) in an
 * `mmscope/liveFeed` event.
 */
export function mmExtensionFactory(options: MmExtensionOptions): SessionExtensionFactory {
  return (target, start) => {
    const ext = new MmSessionExtension(target, options.referenceBase, options.emit, { ...(options.knowledge?.(target, start) ?? {}), ...historyOptionsOf(start) });
    target.once('exited', () => ext.dispose());
    options.onCreated?.(ext, target);
    if (options.liveFeed !== false) {
      startDashboardServer().then(
        (server) => {
          ext.feed = server.feed;
          target.once('exited', () => void server.close());
          options.emit?.(LIVE_FEED_EVENT, { url: server.url, ws: server.wsUrl });
        },
        () => undefined, // no browser build: the session works without the dashboard
      );
    }
    return ext;
  };
}
