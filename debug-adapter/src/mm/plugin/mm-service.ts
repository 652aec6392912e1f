// The memory-manager side of a debug session, without DAP, for any kernel: builds the snapshot
// document at each stop (once per stop number) with the one builder, at the level the session
// knows (our descriptor, a memory-model description, nothing), keeps the one diff of each published
// snapshot (stop-changes.ts: computed once, against the snapshot published before),
// keeps the address spaces seen at stops (and those named or traced), translates addresses in
// any of them, answers the debug console's commands, and reads our guest's last memory-manager
// event for allocation breakpoints. The session calls it; it knows nothing of DAP or QEMU.

import { DebugSymbols } from '../../symbols';
import { MmSnapshot, PhysicalReader, SnapshotCache, readDescriptor } from '../model/snapshot';
import { StopChanges, stopChanges } from '../../live/stop-changes';
import { makeSiteResolver, formatSite } from '../model/site-resolver';
import { TranslateError, translateAddress, translateCurrent } from '../model/translate';
import type { Translation } from '../../../../contract/translation';
import { formatSnapshot, formatTranslation } from '../model/snapshot-text';
import { chainFlagNames } from '../model/snapshot-json';
import { MmEvent, MM_EVENT_SIZE, decodeEvent } from '../model/guest-structures';
import { SourceSite } from '../model/findings';
import { decodeEntryFlags } from '../model/paging-entry';
import type { PagingRegisters } from '../model/paging-registers';
import type { KnowledgeLevel, PhysicalRegionJson, SpaceJson, TracingJson } from '../model/snapshot-document';
import { tableSpaceId } from '../model/space-model';
import { KnownSpaces, topTableOf } from './known-spaces';
import { SessionEvents } from './session-events';
import { DescribeFunction, KernelKnowledge, StopSnapshot, takeSnapshot } from './stop-snapshot';
import { formatFrames, formatSpaces } from '../model/document-text';
import { GuestPause, LiveReader, LiveReadStats, guestHold } from './live-reader';
import { SessionHistory, SessionHistoryOptions, StopReading } from './session-history';
import type { HistorySource } from './history-requests';

export interface MmTargetAccess {
  readPhys: PhysicalReader;
  /** Whether the guest runs now (the event ring is drained periodically only then; at stops by noteStop). */
  guestRunning?(): boolean;
  /** The paging registers exactly (any kernel, any mode) of the vCPU shown; while running, the last stop's. */
  readPagingRegisters(): Promise<PagingRegisters>;
  /** The paging registers of every vCPU at this stop (the spaces seen); default: the shown vCPU's. */
  readEveryVcpuRegisters?(): Promise<PagingRegisters[]>;
  /** QEMU's memory map (QMP), read once per session; undefined without QMP. */
  physicalMemoryMap?(): Promise<readonly PhysicalRegionJson[] | undefined>;
  /** MAXPHYADDR of the guest's CPU, when known. */
  readonly physicalBits?: number;
  /** Writes one 32-bit signal word while the guest runs (our guest's hold: live-reader.ts guestHold); none: live snapshots never hold it. */
  signalPhys?(address: number, value: number): Promise<unknown>;
}

export interface MmServiceOptions {
  /** Level 1: evaluates the memory-model description at a stop (describe's `Describer.evaluate`). */
  readonly describe?: DescribeFunction;
  /** Where the description came from, for the document (`launch.json`, a file name). */
  readonly descriptionSource?: string;
  /** Level 2: the tracing state to put in every document. */
  readonly tracing?: () => TracingJson | undefined;
  /** Address spaces only seen or traced kept at most (default 64). */
  readonly knownSpacesLimit?: number;
  /** The history's keyframes (issue 16): at every consistent stop (default) or only at the first. */
  readonly history?: SessionHistoryOptions;
}

/** Where to translate: our guest's process, a described process (`pid`), or a space by its CR3. */
export interface TranslateWhere {
  readonly pid?: number;
  readonly cr3?: bigint;
}

const hex = (n: number, w = 8): string => `0x${(n >>> 0).toString(16).padStart(w, '0')}`;
const bigHex = (n: bigint): string => `0x${n.toString(16)}`;

/** A snapshot's one diff and the snapshot it is against. */
export interface SnapshotChanges {
  readonly from: StopSnapshot;
  readonly changes: StopChanges;
}

export class MmService {
  readonly descriptorPhys: number | undefined;
  /** Kernel-virtual address of mm_event_hook, for allocation breakpoints. */
  readonly eventHookAddress: number | undefined;
  private readonly eventPhys: number | undefined;
  readonly resolveSite: (address: number) => SourceSite | undefined;
  /** The address spaces seen at stops, named by the user, or traced. */
  readonly spaces: KnownSpaces;
  private readonly knowledge: KernelKnowledge;
  private regions: Promise<readonly PhysicalRegionJson[] | undefined> | undefined;
  private current: { stop: number; snapshot: Promise<StopSnapshot> } | undefined;
  /** The last build (snapshots are built one after the other). */
  private lastBuild: Promise<unknown> = Promise.resolve();
  /** The snapshot the consumers got last (published): the next one's changes are against it. */
  private lastPublished: StopSnapshot | undefined;
  /** Each snapshot's one diff, computed once. */
  private readonly changeRecords = new WeakMap<StopSnapshot, SnapshotChanges>();
  /** The shown vCPU's registers at the last stop noted (what live snapshots and traced spaces use). */
  private lastRegisters: PagingRegisters | undefined;
  /** Live snapshots are seqlock reads (or, without a generation, confirmed findings only). */
  private readonly liveReader = new LiveReader();
  private hold: Promise<GuestPause | undefined> | undefined;
  /** The flight recorder (issue 16): our guest's event ring drained into one store; undefined without our descriptor. */
  readonly events: SessionEvents | undefined;
  /** The history over the recorder's store (keyframes at stops, the history requests' answers); undefined without our descriptor. */
  readonly history: SessionHistory | undefined;
  /** The guest's block count, once a descriptor was read at a stop. */
  private blockCount: number | undefined;
  /** Why there is no history yet, once a stop said so. */
  private historyReason: string | undefined;

  /** `symbols`: the kernel's ELF (our descriptor is found through it); undefined when there is none (attached with only --gdb). */
  constructor(symbols: DebugSymbols | undefined, private readonly access: MmTargetAccess, private readonly options: MmServiceOptions = {}) {
    const elf = symbols?.elf;
    const d = elf?.symbolByName('mm_debug_info');
    this.descriptorPhys = d && symbols ? symbols.virtualToLoad(d.value) : undefined;
    this.eventHookAddress = elf?.symbolByName('mm_event_hook')?.value;
    const ev = elf?.symbolByName('mm_last_event');
    this.eventPhys = ev && symbols ? symbols.virtualToLoad(ev.value) : undefined;
    this.resolveSite = symbols ? makeSiteResolver(symbols) : () => undefined;
    this.spaces = new KnownSpaces(options.knownSpacesLimit);
    this.events = this.descriptorPhys !== undefined ? new SessionEvents(access.readPhys, this.descriptorPhys, { running: () => access.guestRunning?.() ?? false }) : undefined;
    this.history = this.events ? new SessionHistory(this.events.store, this.resolveSite, options.history) : undefined;
    const descriptorPhys = this.descriptorPhys;
    this.knowledge = {
      ...(descriptorPhys !== undefined ? { descriptor: { descriptorPhys, resolveSite: this.resolveSite, adjust: (s: MmSnapshot) => this.withoutChainInFlight(s), cache: new SnapshotCache() } } : {}),
      ...(options.describe ? { describe: options.describe } : {}),
      ...(options.descriptionSource !== undefined ? { descriptionSource: options.descriptionSource } : {}),
      ...(options.tracing ? { tracing: options.tracing } : {}),
    };
  }

  /** True when the kernel is an mmscope guest (it exports mm_debug_info). */
  get hasDescriptor(): boolean {
    return this.descriptorPhys !== undefined;
  }

  /** What the documents of this session know: our descriptor, a description (1), or nothing (0). */
  get level(): KnowledgeLevel {
    return this.descriptorPhys !== undefined ? 'descriptor' : this.options.describe ? 1 : 0;
  }

  /** QEMU's memory map, read once per session (none without QMP, or when it cannot be read). */
  private memoryMap(): Promise<readonly PhysicalRegionJson[] | undefined> {
    this.regions ??= (this.access.physicalMemoryMap?.() ?? Promise.resolve(undefined)).catch(() => undefined);
    return this.regions;
  }

  /**
   * A stop happened (numbered `stop`): notes the CR3 of every vCPU as an address space seen.
   * Never throws (a vCPU whose registers cannot be read is left out).
   */
  async noteStop(stop: number): Promise<void> {
    this.liveReader.resetConfirmation();
    await this.events?.atStop();
    await this.noteHistoryStop(stop);
    // A request may have built this stop's snapshot before the stop was noted: it is the keyframe still.
    const built = this.current?.stop === stop ? this.current.snapshot : undefined;
    if (built) await built.then((s) => this.history?.noteSnapshot(stop, s), () => undefined);
    try {
      const shown = await this.access.readPagingRegisters();
      this.lastRegisters = shown;
      for (const t of this.tracedBeforeStop.splice(0)) this.spaces.noteTraced(shown, t.cr3, t.atStop);
      const every = this.access.readEveryVcpuRegisters ? await this.access.readEveryVcpuRegisters().catch(() => [shown]) : [shown];
      for (const r of every) this.spaces.noteSeen(r, stop);
      this.spaces.noteSeen(shown, stop);
    } catch {
      // registers unreadable at this stop (the guest is gone): nothing seen
    }
  }

  /** Tells the history where this stop is in the events, with the generation, the free counter and the PCB layout read now. */
  private async noteHistoryStop(stop: number): Promise<void> {
    if (!this.history || this.descriptorPhys === undefined) return;
    try {
      const info = await readDescriptor(this.access.readPhys, this.descriptorPhys);
      this.blockCount = info.blockCount;
      if (!this.events?.active) {
        this.historyReason = info.eventRingCapacity ? 'the event ring could not be read yet' : "this kernel's mm_debug_info names no event ring (version 3 with a ring is needed), so nothing is recorded";
        return;
      }
      this.historyReason = undefined;
      const word = async (virt: number): Promise<number | undefined> => {
        const offset = (virt - info.kernelVbase) >>> 0;
        return virt && offset < info.lowmapEnd ? (await this.access.readPhys(offset, 4)).readUInt32LE(0) : undefined;
      };
      const reading: StopReading = {
        generation: await word(info.generationAddr),
        pcbOffUpd: info.pcbOffUpd,
        ...(await word(info.freeCountAddr).then((frees) => (frees !== undefined ? { frees } : {}))),
      };
      this.history.noteStop(stop, reading);
    } catch {
      this.historyReason = 'the guest has not filled in mm_debug_info yet';
    }
  }

  /** What the history requests are answered from. */
  historySource(): HistorySource {
    const reason = this.history
      ? (this.historyReason ?? 'the history starts at the first stop after the guest filled in mm_debug_info')
      : "the history needs mmscope's guest (its mm_debug_info descriptor and event ring); this kernel has none";
    return { history: this.events?.active ? this.history : undefined, reason, ...(this.blockCount !== undefined ? { blockCount: this.blockCount } : {}) };
  }

  /**
   * A CR3 tracer saw the kernel load `cr3` before stop `atStop` (helper "trace"): the space is
   * listed from the next snapshot on (possibly stale: its tables may be reused since).
   */
  addTracedSpace(cr3: bigint, atStop: number): void {
    const r = this.lastRegisters;
    // Before the first stop the paging mode is not known yet: kept until then.
    if (r) this.spaces.noteTraced(r, cr3, atStop);
    else if (this.tracedBeforeStop.length < this.spaces.limit) this.tracedBeforeStop.push({ cr3, atStop });
  }

  private tracedBeforeStop: { cr3: bigint; atStop: number }[] = [];

  /**
   * The user names the space whose top table `cr3` gives: it is walked, counts for the frame map
   * and the findings from now on, and this stop's snapshot is built again with it. Returns it.
   */
  async openSpace(stop: number, cr3: bigint): Promise<SpaceJson> {
    const registers = await this.access.readPagingRegisters();
    const top = this.spaces.name(registers, cr3);
    if (top === undefined) throw new TranslateError('paging is off at this stop, so a CR3 names no address space');
    if (this.current?.stop === stop) this.rebuild();
    const doc = (await this.snapshot(stop)).document;
    const space = doc.spaces.find((s) => s.topTable === Number(top)) ?? doc.spaces.find((s) => s.id === tableSpaceId(top));
    if (!space) {
      throw new TranslateError(
        this.hasDescriptor ? "this kernel's snapshot shows its own address spaces (kernel and its processes' UPDs); translate with a pid instead" : `the space at ${bigHex(top)} is not in the snapshot`,
      );
    }
    return space;
  }

  /** Drops this stop's snapshot so that the next request builds it again (the same stop number). */
  private rebuild(): void {
    this.current = undefined;
  }

  /**
   * The snapshot at this stop (built once per stop number). A negative number is a live snapshot
   * (read while the guest runs, with the last stop's registers; its document carries that number), read by
   * the LiveReader: it throws TornSnapshotError when every seqlock try was torn (liveStats counts them).
   * With our descriptor it throws while the guest has not filled mm_debug_info in.
   */
  snapshot(stop: number): Promise<StopSnapshot> {
    if (this.current?.stop === stop) return this.current.snapshot;
    const before = this.lastBuild.catch(() => undefined);
    const live = stop < 0;
    const snapshot = (async () => {
      await before;
      const registers = live && this.lastRegisters ? this.lastRegisters : await this.access.readPagingRegisters();
      const readings = {
        read: this.access.readPhys,
        registers,
        ...(this.access.physicalBits !== undefined ? { physicalBits: this.access.physicalBits } : {}),
        regions: await this.memoryMap(),
        spaces: this.spaces.requests(),
        stop,
        live,
      };
      // A live snapshot: a seqlock read (throws TornSnapshotError when every try was torn).
      const snap = live ? await this.liveReader.take(readings, this.knowledge, await this.holdOf()) : await takeSnapshot(readings, this.knowledge);
      if (!live) this.history?.noteSnapshot(stop, snap);
      return snap;
    })();
    this.lastBuild = snapshot;
    this.current = { stop, snapshot };
    return snapshot;
  }

  /**
   * The one diff of `snap`: what changed from the snapshot published before it (stopChanges,
   * computed once and kept with it). Undefined for the first snapshot published, or one that is
   * the last published itself without a record (the session's first).
   */
  changesOf(snap: StopSnapshot): SnapshotChanges | undefined {
    const kept = this.changeRecords.get(snap);
    if (kept) return kept;
    const from = this.lastPublished;
    if (!from || from === snap) return undefined;
    const record: SnapshotChanges = { from, changes: stopChanges(from, snap) };
    this.changeRecords.set(snap, record);
    return record;
  }

  /**
   * `snap` goes to every consumer (the snapshotReady event, the live feed): returns its one diff
   * (against the snapshot published before), and the next snapshot's changes are against it.
   */
  published(snap: StopSnapshot): SnapshotChanges | undefined {
    const kept = this.changeRecords.get(snap);
    // Computed when another snapshot was the last published: not this publication's diff.
    if (kept && kept.from !== this.lastPublished) this.changeRecords.delete(snap);
    const record = this.changesOf(snap);
    this.lastPublished = snap;
    return record;
  }

  /** Our guest's hold, for live snapshots of a guest whose updates keep tearing the copies (looked up once). */
  private holdOf(): Promise<GuestPause | undefined> {
    const signal = this.access.signalPhys?.bind(this.access);
    if (!signal || this.descriptorPhys === undefined) return Promise.resolve(undefined);
    this.hold ??= guestHold(this.access.readPhys, signal, this.descriptorPhys).then((h) => {
      if (!h) this.hold = undefined; // not filled in yet: look again at the next live snapshot
      return h;
    }, () => (this.hold = undefined));
    return this.hold;
  }

  /**
   * The chain of the last allocation event has been handed to its caller but not mapped yet (an
   * allocation breakpoint stops exactly there): it is not reported as a leak.
   */
  private async withoutChainInFlight(snap: MmSnapshot): Promise<MmSnapshot> {
    if (this.eventPhys === undefined || !snap.findings.some((f) => f.kind === 'leaked-chain')) return snap;
    const event = await this.readEvent().catch(() => undefined);
    if (!event || event.kind !== 'allocated') return snap;
    const findings = snap.findings.filter((f) => !(f.kind === 'leaked-chain' && f.chain === event.chain));
    return findings.length === snap.findings.length ? snap : { ...snap, findings };
  }

  /** How live snapshots went: kept, torn reads retried, dropped, findings held back until confirmed. */
  get liveStats(): Readonly<LiveReadStats> {
    return this.liveReader.stats;
  }

  /**
   * Where `address` lands. With `cr3`: in the space that CR3 names (any kernel). With our
   * descriptor: in process `pid`'s space (default: the current one), with block, chain and site.
   * With a description: in process `pid`'s page directory. Else in the current address space.
   */
  async translate(stop: number, address: number | bigint, where: TranslateWhere = {}): Promise<Translation> {
    const virtual = BigInt(address);
    if (where.cr3 !== undefined) {
      if (where.pid !== undefined) throw new TranslateError('give a pid or a cr3, not both');
      const registers = await this.access.readPagingRegisters();
      const top = topTableOf(registers, where.cr3);
      if (top === undefined) throw new TranslateError('paging is off at this stop, so a CR3 names no address space');
      return translateCurrent({ ...registers, cr3: where.cr3 }, this.access.readPhys, virtual, tableSpaceId(top) as `pt:${string}`);
    }
    if (this.descriptorPhys !== undefined) {
      if (virtual > 0xffffffffn) throw new TranslateError(`0x${virtual.toString(16)} is not a 32-bit address`);
      const guest = (await this.snapshot(stop)).guest as MmSnapshot;
      return translateAddress(guest, this.access.readPhys, Number(virtual), where.pid);
    }
    if (where.pid !== undefined) {
      const doc = (await this.snapshot(stop)).document;
      const proc = doc.processes.find((p) => p.pid === where.pid);
      if (!doc.processes.length) throw new TranslateError('this kernel has no mm_debug_info and no memory-model description names its processes, so only the current address space is known; translate without a pid (or give a cr3)');
      if (!proc) throw new TranslateError(`there is no process ${where.pid}; the processes are ${doc.processes.map((p) => p.pid).join(', ')}`);
      if (proc.directory === null) throw new TranslateError(`process ${proc.pid} (${proc.name}) has no page directory the description could read`);
      const registers = await this.access.readPagingRegisters();
      return translateCurrent({ ...registers, cr3: BigInt(proc.directory) }, this.access.readPhys, virtual, proc.pid);
    }
    return translateCurrent(await this.access.readPagingRegisters(), this.access.readPhys, virtual);
  }

  /** The guest's last memory-manager event (read at the mm_event_hook breakpoint). */
  async readEvent(): Promise<MmEvent> {
    if (this.eventPhys === undefined) throw new Error('this kernel has no mm_last_event');
    return decodeEvent(await this.access.readPhys(this.eventPhys, MM_EVENT_SIZE));
  }

  /** Our guest's decoded snapshot at this stop; a clear sentence on any other kernel. */
  private async guest(stop: number, cmd: string): Promise<MmSnapshot> {
    const snap = await this.snapshot(stop);
    if (!snap.guest) throw new Error(`${cmd} needs a kernel with mmscope's mm_debug_info descriptor (this one has none); try spaces, space CR3, frames or vtop`);
    return snap.guest;
  }

  /** Answers a debug-console line if it is one of ours (vtop, spaces, space, frames, chain, chains, pd, mm); else undefined. */
  async console(stop: number, line: string): Promise<string | undefined> {
    const [cmd, ...args] = line.trim().split(/\s+/);
    const num = (s: string | undefined, what: string): number => {
      if (s === undefined || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(s)) throw new Error(`${cmd} needs ${what} as a number (decimal or 0x-hex)`);
      return Number(s);
    };
    const big = (s: string | undefined, what: string): bigint => {
      if (s === undefined || !/^(0[xX][0-9a-fA-F]+|\d+)$/.test(s) || BigInt(s) >= 1n << 64n) throw new Error(`${cmd} needs ${what} as a number below 2^64 (decimal or 0x-hex)`);
      return BigInt(s);
    };
    switch (cmd) {
      case 'vtop': {
        if (!args.length) return 'usage: vtop ADDR [pid | cr3=CR3]';
        if (args.length > 2) return 'usage: vtop ADDR [pid | cr3=CR3]';
        const where: TranslateWhere = args[1] === undefined ? {} : /^cr3=/i.test(args[1]) ? { cr3: big(args[1].slice(4), 'a CR3 value') } : { pid: num(args[1], 'a pid') };
        return formatTranslation(await this.translate(stop, big(args[0], 'an address'), where)).trimEnd();
      }
      case 'spaces':
        return formatSpaces((await this.snapshot(stop)).document);
      case 'space': {
        if (args.length !== 1) return 'usage: space CR3   (walks the address space that CR3 value names and keeps it in the views)';
        const s = await this.openSpace(stop, big(args[0], 'a CR3 value'));
        return formatSpaces({ spaces: [s], currentSpace: null }, { only: true });
      }
      case 'frames':
        return formatFrames((await this.snapshot(stop)).document);
      case 'chain': {
        if (!args.length) return 'usage: chain ID';
        const id = num(args[0], 'a chain ID');
        const c = (await this.guest(stop, 'chain')).chains.find((x) => x.id === id);
        if (!c) return `there is no chain ${id} (a chain ID is the index of its first block)`;
        return [
          `chain ${id} (${hex(id, 1)}): ${c.blockCount} blocks, ${chainFlagNames(c.flags).join(', ') || 'no flags'}, owner ${c.owner.kind} #${c.owner.seq}`,
          `  allocated by ${formatSite(c.site, c.owner.caller)}`,
          `  blocks ${c.runs.map((r) => (r.count > 1 ? `${r.first}-${r.first + r.count - 1}` : `${r.first}`)).join(', ')}`,
          `  physical ${c.runs.map((r) => `${hex(r.first * 16384)}-${hex((r.first + r.count) * 16384 - 1)}`).join(', ')}`,
          `  mapped ${c.mappedAt.map((m) => `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`} ${hex(m.virtual)}+${m.length / 1024} KiB (page ${m.firstPage})`).join('; ') || 'nowhere'}`,
          ...(c.handles.length ? [`  handles ${c.handles.map((h) => `${h.type.toUpperCase()} ${hex(h.handle, 1)}`).join(', ')}`] : []),
        ].join('\n');
      }
      case 'chains':
      case 'mm':
        return formatSnapshot(await this.guest(stop, cmd), { maxChains: cmd === 'chains' ? 100000 : 40 }).trimEnd();
      case 'pd': {
        const snap = await this.guest(stop, 'pd');
        const pid = args[0] === undefined ? undefined : num(args[0], 'a pid');
        const proc = pid === undefined ? undefined : snap.processes.find((p) => p.pid === pid);
        if (pid !== undefined && !proc) return `there is no process ${pid}`;
        const entries = proc ? proc.upd : snap.kernel.pde;
        const lines = [proc ? `UPD of process ${proc.pid} (${proc.name}), ${proc.current ? 'current: copied in KPD[0..63]' : 'not current'}` : `KPD at ${hex(snap.geometry.kpdPhys)}`];
        entries.forEach((e, i) => {
          const f = decodeEntryFlags(e);
          if (!f.present) return;
          const kind = f.pageSize && snap.registers.pse ? '4 MiB page' : 'page table';
          lines.push(`  [${String(i).padStart(4)}] ${hex(e)}  ${hex(i * 0x400000)}-${hex(i * 0x400000 + 0x3fffff)}  ${kind} ${hex(e & 0xfffff000)} ${f.writable ? 'rw' : 'ro'} ${f.user ? 'user' : 'kernel'}${f.accessed ? ' accessed' : ''}`);
        });
        return lines.join('\n');
      }
      default:
        return undefined;
    }
  }
}
