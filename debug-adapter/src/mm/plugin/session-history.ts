// The session's history (issue 16): an MmHistory over the flight recorder's event store
// (MmService.events.store), a keyframe at every stop whose generation was even (the memory
// manager was between two updates, so the stop's snapshot is consistent), which stop each
// keyframe is and the last event seq before each stop, and the answers of the history requests
// (history-requests.ts turns arguments into calls here, for DAP and the live feed alike).
//
// Memory stays bounded: the events live in the store's columns (48 bytes each), periodic
// keyframes share unchanged chains (history-timeline.ts), a stop with no event since the last
// keyframe replaces it instead of adding one, and only the last MAX_DOCUMENTS stops' documents
// are kept as bases to draw a reconstruction over (an older position is drawn over the oldest
// kept: the marker's note says whose processes and spaces those are).

import * as fs from 'fs';
import type {
  HistoryAtBody, HistoryBinView, HistoryBlameBody, HistoryBlameTarget, HistoryEventView, HistoryEventsArgs, HistoryEventsBody,
  HistoryExportBody, HistoryLeakSiteView, HistorySummaryBody, HistoryWhenBody,
} from '../../../../contract/history';
import type { EventStore } from '../model/event-store';
import { MmEventKind, MmHistoryEvent, mmEventKindName } from '../model/mm-history-event';
import { DEFAULT_KEYFRAME_INTERVAL, MmHistory } from '../model/history-timeline';
import { KERNEL_SPACE, stateFromSnapshot } from '../model/history-state';
import { BlameTarget, blame, siteGrowth } from '../model/history-blame';
import { whenDidItBreak } from '../model/history-when';
import { exportTrace } from '../model/trace-export';
import { eventView, reconstructedDocument, siteView, tscMs } from '../model/history-document';
import type { Finding, SourceSite } from '../model/findings';
import type { StopSnapshot } from './stop-snapshot';

/** Stops whose documents are kept as bases for reconstructed documents. */
export const MAX_DOCUMENTS = 8;
/** Stops listed in the summary at most (the most recent). */
export const MAX_STOPS_LISTED = 10_000;
export const MAX_EVENTS_LISTED = 10_000;
export const MAX_BINS = 10_000;
export const DEFAULT_EVENTS_LIMIT = 500;

/** A caller mistake or a question the history cannot answer: one sentence for the user. */
export class HistoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryError';
  }
}

/** What the session read at a stop, after draining the ring. */
export interface StopReading {
  /** The descriptor's generation at the stop (undefined: the kernel keeps none). */
  readonly generation: number | undefined;
  /** mm_free_count at the stop, when read. */
  readonly frees?: number;
  readonly pcbOffUpd: number;
}

export interface SessionHistoryOptions {
  /** Periodic keyframe every N events (default 4096). */
  readonly interval?: number;
  /** 'every' (default): a keyframe at every consistent stop; 'first': only at the first (the rest is replayed from events). */
  readonly stopKeyframes?: 'every' | 'first';
}

interface StopRecord {
  readonly stop: number;
  /** Events kept when the stop was read (its state is at this position). */
  readonly position: number;
  readonly reading: StopReading;
}

interface KeyframeStop {
  readonly stop: number;
  readonly position: number;
}

/** A stop whose snapshot was noted: its document (for the last MAX_DOCUMENTS) and which pid each process's space key was. */
interface NotedStop {
  readonly stop: number;
  readonly position: number;
  document: StopSnapshot['document'] | undefined;
  readonly pidOfSpace: ReadonlyMap<number, number>;
  /** The stop's findings as kind:chain keys (to bound when a finding no event shows appeared). */
  readonly findings: ReadonlySet<string>;
}

const findingKey = (f: { readonly kind: string; readonly chain?: number }): string => `${f.kind}:${f.chain ?? ''}`;

export class SessionHistory {
  readonly history: MmHistory;
  private readonly stops: StopRecord[] = [];
  private readonly keyframeStops: KeyframeStop[] = [];
  /** The last stop whose snapshot was noted: what historyWhen's findings are of. */
  private lastStop: { record: StopRecord; snapshot: StopSnapshot } | undefined;
  /** The stops whose snapshots were noted (bounded: MAX_STOPS_LISTED), with the last documents. */
  private readonly noted: NotedStop[] = [];
  /** A pid → its process's space key, from the stops' snapshots (the latest wins). */
  private readonly spaceOfPid = new Map<number, number>();
  private readonly kindsSeen = new Set<number>();
  private readonly pidsSeen = new Set<number>();
  private scanned = 0;

  constructor(readonly store: EventStore, private readonly resolveSite: (address: number) => SourceSite | undefined, private readonly options: SessionHistoryOptions = {}) {
    this.history = new MmHistory(store, options.interval ?? DEFAULT_KEYFRAME_INTERVAL);
  }

  /** A stop was read (after the drain): remembers its position. */
  noteStop(stop: number, reading: StopReading): void {
    const last = this.stops[this.stops.length - 1];
    if (last?.stop === stop) this.stops.pop();
    this.stops.push({ stop, position: this.store.length, reading });
    if (this.stops.length > MAX_STOPS_LISTED) this.stops.splice(0, this.stops.length - MAX_STOPS_LISTED);
  }

  /**
   * The stop's snapshot is built: a keyframe when the generation was even (our guest's snapshot,
   * consistent), and the stop becomes the one historyWhen answers for.
   */
  noteSnapshot(stop: number, snapshot: StopSnapshot): void {
    const record = this.stops.find((s) => s.stop === stop);
    if (!record || !snapshot.guest) return;
    this.lastStop = { record, snapshot };
    const pidOfSpace = new Map<number, number>();
    for (const p of snapshot.guest.processes) {
      const key = (p.pcbAddress + record.reading.pcbOffUpd) >>> 0;
      pidOfSpace.set(key, p.pid);
      this.spaceOfPid.set(p.pid, key);
    }
    if (this.noted[this.noted.length - 1]?.stop === stop) this.noted.pop();
    this.noted.push({ stop, position: record.position, document: snapshot.document, pidOfSpace, findings: new Set(snapshot.document.findings.map(findingKey)) });
    if (this.noted.length > MAX_STOPS_LISTED) this.noted.shift();
    let kept = 0;
    for (let i = this.noted.length - 1; i >= 0; i--) if (this.noted[i].document && ++kept > MAX_DOCUMENTS) this.noted[i].document = undefined;
    const g = record.reading.generation;
    if (g === undefined || g % 2 !== 0) return;
    if (this.options.stopKeyframes === 'first' && this.keyframeStops.length) return;
    const lastKey = this.keyframeStops[this.keyframeStops.length - 1];
    if (lastKey && lastKey.position > record.position) return;
    const state = stateFromSnapshot(snapshot.guest, { pcbOffUpd: record.reading.pcbOffUpd, ...(record.reading.frees !== undefined ? { frees: record.reading.frees } : {}) });
    // Chains unchanged since the keyframes before are shared with them (a keyframe costs what changed).
    const before = this.history.firstPosition !== undefined && record.position >= this.history.firstPosition ? this.history.stateAt(record.position) : undefined;
    if (before && before.lostSince === 0) state.shareUnchanged(before.state);
    this.history.addSnapshot(record.position, state);
    if (lastKey && lastKey.position === record.position) this.keyframeStops.pop();
    this.keyframeStops.push({ stop, position: record.position });
  }

  /** Seq of the event at index i - 1 (0 for position 0): the event a position stands after. */
  private seqBefore(position: number): number {
    return position > 0 ? this.store.seqAt(position - 1) : 0;
  }

  /** Position just after the event `seq` (the events kept with seq <= it). */
  private positionAfter(seq: number): number {
    return this.store.indexOfSeq(seq + 1);
  }

  private t0(): bigint {
    return this.store.length ? this.store.tscAt(0) : 0n;
  }

  view(e: MmHistoryEvent): HistoryEventView {
    return eventView(e, this.t0(), this.store.tscKhz, e.caller ? this.resolveSite(e.caller) : undefined);
  }

  private scan(): void {
    for (; this.scanned < this.store.length; this.scanned++) {
      this.kindsSeen.add(this.store.kindAt(this.scanned));
      this.pidsSeen.add(this.store.get(this.scanned).pid);
    }
  }

  summary(): HistorySummaryBody {
    this.scan();
    const s = this.store;
    const n = s.length;
    const lostRanges = s.lostRanges().map((r) => ({ fromSeq: r.firstSeq, toSeq: r.firstSeq + r.count - 1 }));
    const positions = this.history.keyframePositions();
    const stopAt = new Map(this.keyframeStops.map((k) => [k.position, k.stop]));
    return {
      recording: true,
      events: n,
      firstSeq: n ? s.seqAt(0) : 0,
      lastSeq: n ? s.seqAt(n - 1) : 0,
      lost: s.lostCount,
      lostRanges,
      keyframes: positions.map((k) => {
        const stop = k.snapshot ? stopAt.get(k.position) : undefined;
        return { seq: this.seqBefore(k.position), ...(stop !== undefined ? { stop } : {}) };
      }),
      stops: this.stops.map((r) => ({ stop: r.stop, seq: this.seqBefore(r.position) })),
      ...(n && s.tscKhz ? { durationMs: tscMs(s.tscAt(n - 1) - s.tscAt(0), s.tscKhz) } : {}),
      kinds: [...this.kindsSeen].sort((a, b) => a - b).map(mmEventKindName),
      pids: [...this.pidsSeen].sort((a, b) => a - b),
    };
  }

  events(args: HistoryEventsArgs): HistoryEventsBody {
    const s = this.store;
    const n = s.length;
    const lost = s.lostRanges();
    const firstCovered = Math.min(n ? s.seqAt(0) : Infinity, lost.length ? lost[0].firstSeq : Infinity);
    const lastCovered = Math.max(n ? s.seqAt(n - 1) : 0, lost.length ? lost[lost.length - 1].firstSeq + lost[lost.length - 1].count - 1 : 0);
    const fromSeq = args.fromSeq ?? (Number.isFinite(firstCovered) ? firstCovered : 1);
    const toSeq = args.toSeq ?? lastCovered;
    if (toSeq < fromSeq) {
      if (args.toSeq !== undefined || args.fromSeq !== undefined) throw new HistoryError(`toSeq ${toSeq} is before fromSeq ${fromSeq}`);
      return { ...(args.bins ? { bins: [] } : {}), events: [], truncated: false };
    }
    const limit = args.limit ?? DEFAULT_EVENTS_LIMIT;
    const kinds = args.kinds ? new Set(args.kinds) : undefined;
    const kindOk = kinds ? new Set([...Array(64).keys()].filter((k) => kinds.has(mmEventKindName(k)))) : undefined;
    const from = s.indexOfSeq(fromSeq), to = s.indexOfSeq(toSeq + 1);
    const binCount = args.bins;
    const span = toSeq - fromSeq + 1;
    const bins: { fromSeq: number; toSeq: number; byKind: Record<string, number>; byPid: Record<string, number>; lost: number }[] = [];
    if (binCount) {
      for (let b = 0; b < binCount; b++) {
        const lo = fromSeq + Math.floor((span * b) / binCount), hi = fromSeq + Math.floor((span * (b + 1)) / binCount) - 1;
        bins.push({ fromSeq: lo, toSeq: hi, byKind: {}, byPid: {}, lost: 0 });
      }
    }
    const binOf = (seq: number): number => Math.min(binCount ? binCount - 1 : 0, Math.floor(((seq - fromSeq) * (binCount ?? 1)) / span));
    const events: HistoryEventView[] = [];
    let matched = 0;
    for (let i = from; i < to; i++) {
      const kind = s.kindAt(i);
      if (kindOk && !kindOk.has(kind)) continue;
      const e = s.get(i);
      if (args.pid !== undefined && e.pid !== args.pid) continue;
      matched++;
      if (binCount) {
        const bin = bins[binOf(e.seq)];
        const k = mmEventKindName(kind);
        bin.byKind[k] = (bin.byKind[k] ?? 0) + 1;
        bin.byPid[String(e.pid)] = (bin.byPid[String(e.pid)] ?? 0) + 1;
      }
      if (events.length < limit) events.push(this.view(e));
      else if (!binCount) break;
    }
    if (binCount) {
      for (const r of lost) {
        const lo = Math.max(r.firstSeq, fromSeq), hi = Math.min(r.firstSeq + r.count - 1, toSeq);
        // Bins are contiguous seq ranges: add each bin's overlap.
        for (let b = lo <= hi ? binOf(lo) : binCount; b < binCount && bins[b].fromSeq <= hi; b++) {
          const overlap = Math.min(hi, bins[b].toSeq) - Math.max(lo, bins[b].fromSeq) + 1;
          if (overlap > 0) bins[b].lost += overlap;
        }
      }
    }
    const body: HistoryEventsBody = { ...(binCount ? { bins: bins as HistoryBinView[] } : {}), events, truncated: matched > events.length };
    return body;
  }

  /**
   * The stop the reconstruction at `position` is drawn over: the last one at or before it whose
   * document is kept (else the earliest kept), and the stop whose processes name the spaces: the
   * last noted at or before it (else the first after it).
   */
  private baseFor(position: number): { document: NotedStop; spaces: NotedStop } | undefined {
    let document: NotedStop | undefined, spaces: NotedStop | undefined;
    for (const n of this.noted) {
      if (n.position > position) {
        spaces ??= n;
        break;
      }
      spaces = n;
      if (n.document) document = n;
    }
    const doc = document ?? this.noted.find((n) => n.document);
    return doc && spaces ? { document: doc, spaces } : undefined;
  }

  at(seq: number): HistoryAtBody {
    const n = this.store.length;
    if (!n) throw new HistoryError('the history has no events yet');
    const position = this.positionAfter(seq);
    const first = this.history.firstPosition;
    if (first === undefined) throw new HistoryError('the history has no keyframe yet: it starts at the first stop whose snapshot is consistent');
    if (position < first) throw new HistoryError(`event ${seq} is before the history's first keyframe (after event ${this.seqBefore(first)}); the state before it is not known`);
    const view = this.history.stateAt(position);
    if (!view) throw new HistoryError(`no state is known at event ${seq}`);
    const base = this.baseFor(position);
    if (!base?.document.document) throw new HistoryError('no stop document is kept to draw the reconstruction over');
    const kf = this.keyframeStops.find((k) => k.position === view.keyframe);
    const eventSeq = this.seqBefore(position);
    const event = position > 0 ? this.store.get(position - 1) : undefined;
    const tscKhz = this.store.tscKhz;
    const { document } = reconstructedDocument(view.state, {
      base: base.document.document,
      pidOfSpace: base.spaces.pidOfSpace,
      resolveSite: this.resolveSite,
      marker: {
        seq: eventSeq,
        ...(event && tscKhz ? { timeMs: tscMs(event.tsc - this.t0(), tscKhz) } : {}),
        keyframeSeq: this.seqBefore(view.keyframe),
        ...(kf ? { keyframeStop: kf.stop } : {}),
      },
    });
    const note = document.history.note
      + ` Processes and spaces are those of stop ${base.document.stop}${base.spaces !== base.document ? `; mappings are named by the processes of stop ${base.spaces.stop}` : ''}.`
      + (view.lostSince ? ` ${view.lostSince} events were lost since the keyframe: this state may be wrong.` : '');
    return { snapshot: { ...document, history: { ...document.history, note } }, event: event ? this.view(event) : null };
  }

  /** The blame target as the model takes it, at position `at`. */
  private target(t: HistoryBlameTarget, at: number): BlameTarget {
    switch (t.kind) {
      case 'block': return { block: t.block, at };
      case 'chain': return { chain: t.chain, at };
      case 'site': return { caller: t.caller };
      case 'page': {
        const space = t.space === undefined || t.space === 'kernel' ? KERNEL_SPACE : this.spaceOfPid.get(t.space);
        if (space === undefined) throw new HistoryError(`no stop of this session listed a process ${String(t.space)}, so its address space is not known`);
        return { space, virtual: t.virtual };
      }
    }
  }

  blame(t: HistoryBlameTarget, atSeq: number | undefined): HistoryBlameBody {
    const at = atSeq === undefined ? this.store.length : this.positionAfter(atSeq);
    const entries = blame(this.history, this.target(t, at), this.resolveSite).filter((e) => e.index < at);
    const events = entries.map((e) => this.view(e.event));
    const first = this.history.firstPosition;
    const probableLeaks: HistoryLeakSiteView[] = [];
    if (first !== undefined && at >= first) {
      const live = this.history.stateAt(at)?.state;
      for (const g of siteGrowth(this.history, first, at, this.resolveSite)) {
        if (!g.probableLeak) continue;
        const chains = live ? [...live.chains.values()].filter((c) => c.caller === g.caller) : [];
        probableLeaks.push({ caller: g.caller, site: siteView(g.site), liveChains: chains.length, liveBlocks: g.liveAtEnd, increases: g.increases });
      }
    }
    return { events, probableLeaks };
  }

  /** "When did it break?" for finding `index` of the last stop's document. */
  when(index: number): HistoryWhenBody {
    const last = this.lastStop;
    if (!last) throw new HistoryError('there is no stop with a snapshot yet');
    const findings = last.snapshot.document.findings;
    if (index >= findings.length) throw new HistoryError(`stop ${last.record.stop} has ${findings.length} finding${findings.length === 1 ? '' : 's'}; there is no finding ${index}`);
    const guestFindings = last.snapshot.guest?.findings ?? [];
    const doc = findings[index];
    const finding: Finding = index < guestFindings.length ? guestFindings[index] : { kind: doc.kind as Finding['kind'], severity: doc.severity, message: doc.message };
    const r = whenDidItBreak(this.history, finding, last.record.position, this.resolveSite);
    if (!r.covered) {
      const a = r.chainAllocation;
      const more = a ? `; its chain was allocated by event ${a.event.seq} (${this.view(a.event).text}${a.site?.function ? ` in ${a.site.function}` : ''})` : '';
      return { event: null, reason: r.reason + more + this.appearedBetween(finding, last.record.stop), findingKind: finding.kind };
    }
    if (r.beforeRecording || !r.event) {
      return { event: null, reason: `it already held at the history's first keyframe (after event ${this.seqBefore(r.position)}): it broke before the recording`, findingKind: finding.kind };
    }
    return { event: this.view(r.event), findingKind: finding.kind };
  }

  /** "; it appeared after stop X (event a) and by stop Y (event b)": from the real findings of the stops noted before `stop`. */
  private appearedBetween(finding: Finding, stop: number): string {
    const key = findingKey(finding);
    const i = this.noted.findIndex((n) => n.stop === stop);
    if (i < 0) return '';
    const now = this.noted[i];
    for (let j = i - 1; j >= 0; j--) {
      const n = this.noted[j];
      if (!n.findings.has(key)) {
        const between = now.position - n.position;
        return `; it appeared after stop ${n.stop} (event ${this.seqBefore(n.position)}) and by stop ${now.stop} (event ${this.seqBefore(now.position)}), ${between} event${between === 1 ? '' : 's'} apart`;
      }
    }
    return this.noted.length > 1 || i > 0 ? `; it held at every stop since stop ${this.noted[0].stop}` : '; no earlier stop was seen without it';
  }

  /** Writes the recorded events as a Chrome/Perfetto trace to `path`. */
  export(path: string, blockCount: number | undefined): HistoryExportBody {
    const fd = (() => {
      try {
        return fs.openSync(path, 'w');
      } catch (e) {
        throw new HistoryError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    })();
    try {
      const options = {
        resolveSite: this.resolveSite,
        ...(blockCount !== undefined ? { blockCount } : {}),
        ...this.freeAtStart(),
        processNames: this.processNames(),
        metadata: { source: 'mmscope debug session' },
      };
      const counts = exportTrace(this.store, (chunk) => fs.writeSync(fd, chunk), options);
      return { path, ...counts };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Free blocks before the first event, from the first keyframe's count undone by the events before it (trace-export's rules). */
  private freeAtStart(): { freeBlocksAtStart?: number } {
    const first = this.history.firstPosition;
    if (first === undefined) return {};
    const state = this.history.stateAt(first)?.state;
    if (!state) return {};
    let free = state.counters.freeBlocks;
    for (let i = 0; i < first; i++) {
      const e = this.store.get(i);
      switch (e.kind) {
        case MmEventKind.allocated: free += e.blocks; break;
        case MmEventKind.freed: free -= e.blocks; break;
        case MmEventKind.resized: if (e.status === 0) free += e.blocks - e.arg; break;
        case MmEventKind.swappedOut: free -= 1; break;
        case MmEventKind.swappedIn: free += 1; break;
        default: break;
      }
    }
    return { freeBlocksAtStart: free };
  }

  private processNames(): Map<number, string> {
    const names = new Map<number, string>();
    for (const p of this.lastStop?.snapshot.guest?.processes ?? []) names.set(p.pid, p.name);
    return names;
  }
}
