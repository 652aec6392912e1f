// Exports recorded memory-manager events in the Chrome/Perfetto trace-event JSON format (opens in
// ui.perfetto.dev and chrome://tracing): `{"traceEvents":[...]}` with
//   - one instant (ph "i", scope thread) per event, named by kind (allocations `allocate`, frees
//     `free`), its fields in `args`, on the thread of the guest process it ran in;
//   - each chain a slice from its allocation to its free (async ph "b"/"e", category "chain",
//     id = the chain ID; a rename ends the old ID's slice and begins the new one's);
//   - a counter (ph "C") `blocks` with the free and used blocks after each event that changes
//     them, starting from the guest's own count at the start of the recording;
//   - an instant `lost` wherever events were lost, with their count.
// Times are microseconds since the first event, from the guest's TSC and its rate (tsc_khz).
// Pure: events in, JSON text out in chunks (a recording can be large).

import type { SourceSite } from './findings';
import { MmEventKind, MmEventSource, MmHistoryEvent, mmEventKindName } from './mm-history-event';

/** The trace's names of the event kinds (allocations `allocate`, frees `free`). */
const TRACE_NAMES: Readonly<Record<number, string>> = {
  [MmEventKind.allocated]: 'allocate',
  [MmEventKind.freed]: 'free',
  [MmEventKind.resized]: 'resize',
  [MmEventKind.mapped]: 'map',
  [MmEventKind.unmapped]: 'unmap',
  [MmEventKind.defrag]: 'defragment',
  [MmEventKind.xms]: 'xms',
  [MmEventKind.dpmi]: 'dpmi',
  [MmEventKind.dos]: 'dos',
  [MmEventKind.moved]: 'move',
  [MmEventKind.renamed]: 'rename',
  [MmEventKind.frozen]: 'freeze',
  [MmEventKind.unfrozen]: 'unfreeze',
  [MmEventKind.cleaned]: 'clean',
  [MmEventKind.swappedOut]: 'swap-out',
  [MmEventKind.swappedIn]: 'swap-in',
  [MmEventKind.switch]: 'switch',
  [MmEventKind.flags]: 'flags',
};

export function traceEventName(kind: number): string {
  return TRACE_NAMES[kind] ?? mmEventKindName(kind);
}

export interface TraceExportOptions {
  /** Index range of the store to export (default: all). */
  readonly from?: number;
  readonly to?: number;
  /** Resolves a caller address to its source site (args.site). */
  readonly resolveSite?: (address: number) => SourceSite | undefined;
  /**
   * An event's full caller: the address number resolveSite takes and its text for args.caller
   * (default: `caller`, 32 bits). Traced calls of a 64-bit kernel keep the high 32 bits in
   * `flags` (model/traced-events.ts).
   */
  readonly callerOf?: (e: MmHistoryEvent) => { readonly address: number; readonly text: string };
  /** The guest's free blocks and total blocks at the start (for the `blocks` counter). */
  readonly freeBlocksAtStart?: number;
  readonly blockCount?: number;
  /** Process names by guest pid (thread names). */
  readonly processNames?: ReadonlyMap<number, string>;
  /** Extra top-level metadata (the trace's `metadata` object). */
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

export interface TraceExportCounts {
  readonly events: number;
  readonly allocations: number;
  readonly frees: number;
  readonly lost: number;
}

const TRACE_PID = 1;
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * Writes the trace of `source` through `write` (called with pieces of the JSON text, in order)
 * and returns what it contained: events written, `allocate` and `free` instants, and events
 * lost within the exported range.
 */
export function exportTrace(source: MmEventSource, write: (chunk: string) => void, options: TraceExportOptions = {}): TraceExportCounts {
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? source.length, source.length);
  const khz = source.tscKhz || 1_000_000; // unknown rate: 1 GHz, so times are at least ordered
  const t0 = from < to ? source.tscAt(from) : 0n;
  const us = (tsc: bigint): number => Number(((tsc - t0) * 1000n * 1000n) / BigInt(khz)) / 1000;
  const out: string[] = [];
  let first = true;
  const emit = (o: object): void => {
    out.push((first ? '' : ',\n') + JSON.stringify(o));
    first = false;
    if (out.length >= 2048) write(out.splice(0).join(''));
  };
  write('{"traceEvents":[\n');
  emit({ ph: 'M', name: 'process_name', pid: TRACE_PID, tid: 0, args: { name: 'guest memory manager' } });
  const named = new Set<number>();
  const nameThread = (pid: number): void => {
    if (named.has(pid)) return;
    named.add(pid);
    const n = options.processNames?.get(pid);
    emit({ ph: 'M', name: 'thread_name', pid: TRACE_PID, tid: pid, args: { name: n ? `${n} (pid ${pid})` : `pid ${pid}` } });
  };
  const open = new Set<number>();
  const total = options.blockCount;
  let free = options.freeBlocksAtStart;
  const counter = (ts: number): void => {
    if (free === undefined || total === undefined) return;
    emit({ ph: 'C', name: 'blocks', pid: TRACE_PID, tid: 0, ts, args: { free, used: total - free } });
  };
  let allocations = 0;
  let frees = 0;
  let lost = 0;
  const lostRanges = source.lostRanges();
  let li = 0;
  const firstSeq = from < to ? source.seqAt(from) : 0;
  while (li < lostRanges.length && lostRanges[li].firstSeq + lostRanges[li].count <= firstSeq) li++;
  if (from < to) counter(0);
  for (let i = from; i < to; i++) {
    const e = source.get(i);
    const ts = us(e.tsc);
    while (li < lostRanges.length && lostRanges[li].firstSeq < e.seq) {
      const r = lostRanges[li++];
      lost += r.count;
      emit({ ph: 'i', s: 'g', name: 'lost', cat: 'lost', pid: TRACE_PID, tid: 0, ts, args: { firstSeq: r.firstSeq, count: r.count, reason: r.reason } });
    }
    nameThread(e.pid);
    const caller = options.callerOf ? options.callerOf(e) : { address: e.caller, text: hex(e.caller) };
    const site = options.resolveSite?.(caller.address);
    const args: Record<string, string | number> = {
      seq: e.seq, kind: mmEventKindName(e.kind), chain: hex(e.chain), blocks: e.blocks, flags: hex(e.flags), arg: hex(e.arg),
      status: e.status, caller: caller.text, pid: e.pid, extra: hex(e.extra),
    };
    if (site) args.site = `${site.function ?? hex(site.address)}${site.file ? ` at ${site.file}:${site.line}` : ''}`;
    const name = traceEventName(e.kind);
    emit({ ph: 'i', s: 't', name, cat: 'mm', pid: TRACE_PID, tid: e.pid, ts, args });
    const ok = e.status === 0;
    switch (e.kind) {
      case MmEventKind.allocated:
        allocations++;
        open.add(e.chain);
        emit({ ph: 'b', cat: 'chain', name: `chain ${hex(e.chain)}`, id: hex(e.chain), pid: TRACE_PID, tid: e.pid, ts, args: { blocks: e.blocks, site: args.site ?? caller.text } });
        if (free !== undefined) free -= e.blocks;
        counter(ts);
        break;
      case MmEventKind.freed:
        frees++;
        if (open.delete(e.chain)) emit({ ph: 'e', cat: 'chain', name: `chain ${hex(e.chain)}`, id: hex(e.chain), pid: TRACE_PID, tid: e.pid, ts });
        if (free !== undefined) free += e.blocks;
        counter(ts);
        break;
      case MmEventKind.resized:
        if (ok && free !== undefined) free -= e.blocks - e.arg;
        counter(ts);
        break;
      case MmEventKind.renamed:
        if (open.delete(e.chain)) {
          emit({ ph: 'e', cat: 'chain', name: `chain ${hex(e.chain)}`, id: hex(e.chain), pid: TRACE_PID, tid: e.pid, ts, args: { renamedTo: hex(e.arg) } });
          open.add(e.arg);
          emit({ ph: 'b', cat: 'chain', name: `chain ${hex(e.arg)}`, id: hex(e.arg), pid: TRACE_PID, tid: e.pid, ts, args: { renamedFrom: hex(e.chain) } });
        }
        break;
      case MmEventKind.swappedOut:
        if (free !== undefined) free += 1;
        counter(ts);
        break;
      case MmEventKind.swappedIn:
        if (free !== undefined) free -= 1;
        counter(ts);
        break;
      default:
        break;
    }
  }
  while (li < lostRanges.length) {
    const r = lostRanges[li++];
    lost += r.count;
    emit({ ph: 'i', s: 'g', name: 'lost', cat: 'lost', pid: TRACE_PID, tid: 0, ts: to > from ? us(source.tscAt(to - 1)) : 0, args: { firstSeq: r.firstSeq, count: r.count, reason: r.reason } });
  }
  write(out.join(''));
  write(`\n],"displayTimeUnit":"ms","metadata":${JSON.stringify({ source: 'mmscope record', tscKhz: source.tscKhz, ...options.metadata })}}\n`);
  return { events: to - from, allocations, frees, lost };
}
