// The document of a reconstructed moment (issue 16): a stop's schema-3 document with what the
// history knows exactly put in its place (chains, the block map, counters, free and used blocks)
// and the rest left as that stop had it, marked as history. Also one recorded event as a client
// shows it (HistoryEventView). Pure: state and document in, document out.
//
// What the history does not know is never guessed (docs/history.md, "What the state claims"):
// - a block whose owner the state cannot name (a chain whose block list is unknown since an
//   allocation or a growth, or a free block that such a chain may have taken) is drawn as
//   UNKNOWN_BLOCK ('?') in the block map and counted in history.unknownBlocks;
// - findings are [] (a finding shown is never false: the state does not claim what they test);
// - processes, address spaces, page tables, frames, XMS/DPMI/DOS tables: the keyframe stop's;
// - a chain's owner byte size and handle: the keyframe stop's record of the same allocation, else 0;
//   its handles: [] (not claimed).

import type { HistoryEventView, HistoryMarker, HistorySnapshotView } from '../../../../contract/history';
import type { SiteView } from '../../../../contract/guest-document';
import type { SourceSite } from './findings';
import { MmEventKind, MmHistoryEvent, mmEventKindName } from './mm-history-event';
import { HistoryChain, HistoryCounters, KERNEL_SPACE, MmHistoryState, PAGE } from './history-state';
import { CT_CONTIG, CT_FROZEN, CT_SWAPPABLE, CT_USER, SWAPPED_BLOCK } from './chain-table';
import { OWNER_KINDS, OwnerRecord } from './guest-structures';
import type { ChainJson, ViewSnapshot } from './snapshot-json';
import type { ChainMapping } from './snapshot';

/** The block map character of a block whose owner the history cannot name exactly (docs/snapshot-schema.md). */
export const UNKNOWN_BLOCK = '?';

/** Block map characters of blocks the memory manager hands out (free, chain head, body, corrupt): the history redraws these. */
const DYNAMIC = new Set(['.', 'C', 'c', 'X', UNKNOWN_BLOCK]);

export const HISTORY_NOTE =
  'Reconstructed from the recorded events: chains, their block counts, flags, owners and mappings, the block map and the counters are exact; ' +
  'blocks drawn "?" belong to a chain whose block list the events do not give (never guessed); findings are not shown (a finding shown is never false); ' +
  'processes, address spaces, page-table contents, dirty bits, handles and the XMS, DPMI and DOS tables are those of the keyframe stop.';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** One line a person reads, per event kind. */
export function eventText(e: MmHistoryEvent): string {
  const by = e.pid ? ` by pid ${e.pid}` : '';
  const failed = e.status ? ` (failed: status ${e.status})` : '';
  const space = (e.extra >>> 0) === KERNEL_SPACE ? 'the kernel' : `space ${hex(e.extra)}`;
  switch (e.kind) {
    case MmEventKind.allocated: return `allocated chain ${e.chain} (${plural(e.blocks, 'block')})${by}${failed}`;
    case MmEventKind.freed: return `freed chain ${e.chain} (${plural(e.blocks, 'block')})${by}${failed}`;
    case MmEventKind.resized: return `resized chain ${e.chain} from ${e.arg} to ${plural(e.blocks, 'block')}${by}${failed}`;
    case MmEventKind.mapped: return `mapped chain ${e.chain} page ${e.flags >>> 8} at ${hex(e.arg)} in ${space} (${plural(e.blocks, 'page')})${by}${failed}`;
    case MmEventKind.unmapped: return `unmapped chain ${e.chain} at ${hex(e.arg)} in ${space} (${plural(e.blocks, 'page')} left)${by}${failed}`;
    case MmEventKind.defrag: return `defragmentation moved ${plural(e.blocks, 'block')}${by}`;
    case MmEventKind.xms: return `XMS function ${((e.arg >>> 8) & 0xff).toString(16).padStart(2, '0')}h${by}${failed}`;
    case MmEventKind.dpmi: return `DPMI function ${hex(e.arg & 0xffff)}${by}${failed}`;
    case MmEventKind.dos: return `DOS memory ${['call', 'allocate', 'free', 'resize'][e.arg] ?? 'call'} (${e.blocks} paragraphs)${by}${failed}`;
    case MmEventKind.moved: return `moved block ${e.blocks} of chain ${e.chain} (position ${e.extra}) to block ${e.arg}`;
    case MmEventKind.renamed: return `renamed chain ${e.chain} to ${e.arg} (its head moved)`;
    case MmEventKind.frozen: return `froze chain ${e.chain}${by}${failed}`;
    case MmEventKind.unfrozen: return `unfroze chain ${e.chain}${by}${failed}`;
    case MmEventKind.cleaned: return `cleaned ${plural(e.blocks, 'page')} of chain ${e.chain}${by}`;
    case MmEventKind.swappedOut: return `swapped out block ${e.blocks} of chain ${e.chain} (position ${e.extra}) to slot ${e.arg}${by}${failed}`;
    case MmEventKind.swappedIn: return `swapped in position ${e.extra} of chain ${e.chain} from slot ${e.arg} to block ${e.blocks}${by}${failed}`;
    case MmEventKind.switch: return `switched from pid ${e.pid} to pid ${e.arg}`;
    case MmEventKind.flags: return `chain ${e.chain} flags ${hex(e.arg)} → ${hex(e.flags)}${by}`;
    case MmEventKind.none: return 'end of a memory-manager operation';
    default: return `${mmEventKindName(e.kind)} on chain ${e.chain}${by}`;
  }
}

/** A source site as the contract carries it (SiteView: a JSON address). */
export function siteView(site: SourceSite | undefined): SiteView | null {
  if (!site) return null;
  return { address: site.address, ...(site.function ? { function: site.function } : {}), ...(site.file ? { file: site.file } : {}), ...(site.line !== undefined ? { line: site.line } : {}) };
}

/** The event as clients show it. `t0`: the TSC of the first recorded event; `tscKhz` 0 = no time. */
export function eventView(e: MmHistoryEvent, t0: bigint, tscKhz: number, site: SourceSite | undefined): HistoryEventView {
  return {
    seq: e.seq,
    ...(tscKhz ? { timeMs: tscMs(e.tsc - t0, tscKhz) } : {}),
    kind: mmEventKindName(e.kind), chain: e.chain, blocks: e.blocks, flags: e.flags, arg: e.arg, status: e.status, pid: e.pid, caller: e.caller,
    site: siteView(e.caller ? site : undefined),
    text: eventText(e),
  };
}

/** TSC cycles as milliseconds (three decimals). */
export function tscMs(cycles: bigint, tscKhz: number): number {
  return Number((cycles * 1000n) / BigInt(tscKhz)) / 1000;
}

function flagNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & CT_FROZEN) out.push('frozen');
  if (flags & CT_CONTIG) out.push('contiguous');
  if (flags & CT_SWAPPABLE) out.push('swappable');
  if (flags & CT_USER) out.push('user');
  return out;
}

function runsOf(blocks: readonly number[]): { first: number; count: number }[] {
  const runs: { first: number; count: number }[] = [];
  for (const b of blocks) {
    if (b === SWAPPED_BLOCK) continue;
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === b) last.count++;
    else runs.push({ first: b, count: 1 });
  }
  return runs;
}

export interface ReconstructOptions {
  /** The keyframe stop's document the reconstruction is drawn over. */
  readonly base: ViewSnapshot;
  /** A process's address-space key (UPD kernel-virtual address) → its pid, for mappings. */
  readonly pidOfSpace: ReadonlyMap<number, number>;
  readonly resolveSite: (address: number) => SourceSite | undefined;
  /** The marker's position fields (seq, time, keyframe); unknownBlocks and note are filled in here. */
  readonly marker: Omit<HistoryMarker, 'unknownBlocks' | 'note'>;
}

export interface ReconstructedDocument {
  readonly document: HistorySnapshotView;
  /** IDs of the chains whose block lists the history does not know. */
  readonly unknownChains: readonly number[];
  /** Mappings left out: their address space is not a process of the keyframe stop. */
  readonly droppedMappings: number;
}

/** The reconstructed document for `state` over the keyframe stop's document. */
export function reconstructedDocument(state: MmHistoryState, opts: ReconstructOptions): ReconstructedDocument {
  const base = opts.base;
  const blockSize = base.geometry?.blockSize ?? 16384;
  const baseOwners = new Map<number, OwnerRecord>();
  for (const c of base.chains ?? []) baseOwners.set(c.owner.seq, c.owner);
  const unknownChains: number[] = [];
  let droppedMappings = 0;
  const chains: ChainJson[] = [];
  const sorted = [...state.chains.values()].sort((a, b) => a.id - b.id);
  for (const c of sorted) {
    if (!c.blocks) unknownChains.push(c.id);
    const mappedAt: ChainMapping[] = [];
    for (const m of c.mappings) {
      const space = m.space === KERNEL_SPACE ? 'kernel' : opts.pidOfSpace.get(m.space);
      if (space === undefined) {
        droppedMappings++;
        continue;
      }
      mappedAt.push({ space, virtual: m.virtual >>> 0, length: m.pages * PAGE, firstPage: m.pageOffset });
    }
    chains.push(chainJson(c, blockSize, mappedAt, baseOwners.get(c.seq), opts.resolveSite));
  }
  const { map, unknown } = blockMap(base.blocks?.map ?? '', sorted);
  const counters = state.counters;
  const used = sorted.reduce((n, c) => n + c.blockCount - c.swappedOut, 0);
  const { largestFreeRun, fragmentationPercent } = freeRuns(map, counters.freeBlocks);
  const marker: HistoryMarker = {
    ...opts.marker,
    unknownBlocks: unknown,
    note: HISTORY_NOTE + (droppedMappings ? ` ${plural(droppedMappings, 'mapping')} in address spaces of processes the keyframe stop did not list are left out.` : ''),
    ...(unknownChains.length ? { unknownChains } : {}),
  };
  const document = {
    ...base,
    chains,
    ...(base.blocks ? { blocks: { ...base.blocks, free: counters.freeBlocks, used, largestFreeRun, fragmentationPercent, map } } : {}),
    ...(base.counters ? { counters: countersOf(base.counters, counters) } : {}),
    ...(base.swap ? { swap: { ...base.swap, outs: counters.swapOuts, ins: counters.swapIns, used: sorted.reduce((n, c) => n + c.swappedOut, 0) } } : {}),
    findings: [],
    history: marker,
  } as HistorySnapshotView;
  return { document, unknownChains, droppedMappings };
}

function chainJson(c: HistoryChain, blockSize: number, mappedAt: ChainMapping[], baseOwner: OwnerRecord | undefined, resolve: (a: number) => SourceSite | undefined): ChainJson {
  const swapped = [...c.slots].sort((a, b) => a[0] - b[0]).map(([index, slot]) => ({ index, slot }));
  const kind = OWNER_KINDS[c.kind] ?? 'unknown';
  return {
    id: c.id,
    flags: c.flags >>> 0,
    flagNames: flagNames(c.flags),
    blocks: c.blocks ? c.blocks.slice() : [],
    runs: c.blocks ? runsOf(c.blocks) : [],
    ...(swapped.length ? { swapped } : {}),
    sizeBytes: c.blockCount * blockSize,
    owner: { caller: c.caller, seq: c.seq, kind, sizeBytes: baseOwner?.sizeBytes ?? 0, handle: baseOwner?.handle ?? 0 },
    site: (c.caller && resolve(c.caller)) || null,
    mappedAt,
    handles: [],
  };
}

/** The block map: static blocks as the keyframe had them; chain blocks where known; the rest free when every list is known, else unknown. */
function blockMap(baseMap: string, chains: readonly HistoryChain[]): { map: string; unknown: number } {
  const out = baseMap.split('');
  const dynamic: number[] = [];
  for (let b = 0; b < out.length; b++) {
    if (DYNAMIC.has(out[b])) {
      out[b] = UNKNOWN_BLOCK;
      dynamic.push(b);
    }
  }
  let allKnown = true;
  for (const c of chains) {
    if (!c.blocks) {
      if (c.blockCount - c.swappedOut > 0) allKnown = false;
      continue;
    }
    let first = true;
    for (const b of c.blocks) {
      if (b === SWAPPED_BLOCK) continue;
      if (b >= 0 && b < out.length) out[b] = first ? 'C' : 'c';
      first = false;
    }
  }
  let unknown = 0;
  for (const b of dynamic) {
    if (out[b] !== UNKNOWN_BLOCK) continue;
    if (allKnown) out[b] = '.';
    else unknown++;
  }
  return { map: out.join(''), unknown };
}

/** Largest run of blocks known free, and fragmentation as chain-table.ts computes it (100 - largest run * 100 / free). */
function freeRuns(map: string, freeBlocks: number): { largestFreeRun: number; fragmentationPercent: number } {
  let largest = 0, run = 0;
  for (let i = 0; i < map.length; i++) {
    if (map[i] === '.') largest = Math.max(largest, ++run);
    else run = 0;
  }
  const fragmentationPercent = freeBlocks > 0 ? 100 - Math.floor((Math.min(largest, freeBlocks) * 100) / freeBlocks) : 0;
  return { largestFreeRun: largest, fragmentationPercent };
}

function countersOf<T extends { allocations: number; defragRuns: number; contextSwitches: number }>(base: T, k: HistoryCounters): T {
  return { ...base, allocations: k.allocations, defragRuns: k.defragRuns, contextSwitches: k.switches };
}
