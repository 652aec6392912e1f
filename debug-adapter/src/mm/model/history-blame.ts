// Blame over the recorded events (issue 16): for a chain, a block, a virtual page or an
// allocation site, every event that touched it, each with its call site; and the allocation
// sites whose live blocks only grow (probable leaks). Pure: reads the event source's columns
// and the keyframed states of an MmHistory.
//
// A chain is followed through its renames (a defragmentation that moves its head gives it a new
// ID), from its allocation to its free. "Touched" means:
// - chain: every event naming the chain under any of its IDs (allocate, resize, map, unmap,
//   freeze, clean, swap, move, rename, free);
// - block: the moves and swaps that name the block, and the events of the chain holding it at
//   the position asked about (when the state knows that chain's block list);
// - virtual page (space + address): the mappings and unmappings covering it, and the events of
//   each chain mapped there while it was mapped there;
// - allocation site (caller): every event whose caller is the site, and the events of every
//   chain it allocated.

import { MmEventKind, MmEventSource, MmHistoryEvent } from './mm-history-event';
import { MmHistory } from './history-timeline';
import { PAGE } from './history-state';
import { SourceSite } from './findings';

export type SiteResolver = (address: number) => SourceSite | undefined;

export interface BlameEntry {
  /** Index of the event in the source (the state after it is position index + 1). */
  readonly index: number;
  readonly event: MmHistoryEvent;
  readonly site?: SourceSite;
}

export type BlameTarget =
  | { readonly chain: number; readonly at: number }
  | { readonly block: number; readonly at: number }
  | { readonly space: number; readonly virtual: number }
  | { readonly caller: number };

function entries(source: MmEventSource, indices: Iterable<number>, resolve?: SiteResolver): BlameEntry[] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  return sorted.map((index) => {
    const event = source.get(index);
    const site = event.caller && resolve ? resolve(event.caller) : undefined;
    return site ? { index, event, site } : { index, event };
  });
}

/**
 * Indices of the events of the chain that has ID `id` at position `at` (after `at` events),
 * from its allocation (or the source's start) to its free (or the source's end).
 */
export function chainEventIndices(source: MmEventSource, id: number, at: number): number[] {
  const out: number[] = [];
  // Backwards: the events up to `at`, switching to the old ID at a rename into the current one.
  let cur = id;
  for (let i = Math.min(at, source.length) - 1; i >= 0; i--) {
    const kind = source.kindAt(i);
    const chain = source.chainAt(i);
    if (kind === MmEventKind.renamed) {
      const e = source.get(i);
      if (e.arg === cur) {
        out.push(i);
        cur = e.chain;
      } else if (chain === cur) break; // the ID was another chain's before this rename
      continue;
    }
    if (chain !== cur || !touchesChain(kind)) continue;
    if (kind === MmEventKind.freed && source.get(i).status === 0) break; // an earlier chain with the same ID
    out.push(i);
    if (kind === MmEventKind.allocated && source.get(i).status === 0) break;
  }
  // Forwards from `at`: renames out of the current ID, until its free.
  cur = id;
  for (let i = Math.max(at, 0); i < source.length; i++) {
    const kind = source.kindAt(i);
    const chain = source.chainAt(i);
    if (chain !== cur || !touchesChain(kind)) continue;
    if (kind === MmEventKind.allocated && source.get(i).status === 0) break; // a later chain with the ID
    out.push(i);
    if (kind === MmEventKind.renamed) cur = source.get(i).arg;
    else if (kind === MmEventKind.freed && source.get(i).status === 0) break;
  }
  return out.sort((a, b) => a - b);
}

function touchesChain(kind: number): boolean {
  return kind !== MmEventKind.switch && kind !== MmEventKind.xms && kind !== MmEventKind.dpmi && kind !== MmEventKind.dos
    && kind !== MmEventKind.defrag && kind !== MmEventKind.none;
}

/** Every event that touched the target (see the file's comment), in order, with call sites. */
export function blame(history: MmHistory, target: BlameTarget, resolve?: SiteResolver): BlameEntry[] {
  const source = history.source;
  if ('chain' in target) return entries(source, chainEventIndices(source, target.chain, target.at), resolve);
  if ('block' in target) {
    const out: number[] = [];
    for (let i = 0; i < source.length; i++) {
      const kind = source.kindAt(i);
      if (kind !== MmEventKind.moved && kind !== MmEventKind.swappedOut && kind !== MmEventKind.swappedIn) continue;
      const e = source.get(i);
      if (e.blocks === target.block || (kind === MmEventKind.moved && e.arg === target.block)) out.push(i);
    }
    const holder = history.stateAt(Math.min(target.at, source.length))?.state.chainOfBlock(target.block);
    if (holder) out.push(...chainEventIndices(source, holder.id, target.at));
    return entries(source, out, resolve);
  }
  if ('space' in target) {
    const va = target.virtual - (target.virtual % PAGE);
    const out: number[] = [];
    // Entries covering the page: chain → entry start, while mapped.
    const open = new Map<number, { start: number; from: number }>();
    const closeChain = (chain: number, to: number): void => {
      const o = open.get(chain);
      if (!o) return;
      open.delete(chain);
      for (const j of chainEventIndices(source, chain, o.from)) if (j >= o.from && j <= to) out.push(j);
    };
    for (let i = 0; i < source.length; i++) {
      const kind = source.kindAt(i);
      if (kind !== MmEventKind.mapped && kind !== MmEventKind.unmapped && kind !== MmEventKind.freed) continue;
      const e = source.get(i);
      if (kind === MmEventKind.freed) {
        if (open.has(e.chain)) closeChain(e.chain, i);
        continue;
      }
      if ((e.extra >>> 0) !== target.space) continue;
      const start = e.arg >>> 0;
      if (kind === MmEventKind.mapped && va >= start && va < start + e.blocks * PAGE) {
        out.push(i);
        open.set(e.chain, { start, from: i });
      } else if (kind === MmEventKind.unmapped && open.get(e.chain)?.start === start) {
        out.push(i);
        if (va >= start + e.blocks * PAGE) closeChain(e.chain, i);
      }
    }
    for (const chain of [...open.keys()]) closeChain(chain, source.length);
    return entries(source, out, resolve);
  }
  const out: number[] = [];
  for (let i = 0; i < source.length; i++) {
    const e = source.get(i);
    if (e.caller !== target.caller) continue;
    out.push(i);
    if (e.kind === MmEventKind.allocated && e.status === 0) out.push(...chainEventIndices(source, e.chain, i + 1));
  }
  return entries(source, out, resolve);
}

export interface SiteGrowth {
  readonly caller: number;
  readonly site?: SourceSite;
  /** The site's live blocks at the window's start and end. */
  readonly liveAtStart: number;
  readonly liveAtEnd: number;
  /** Allocations and growths that raised them, and events that lowered them (frees, shrinks). */
  readonly increases: number;
  readonly decreases: number;
  /** Only grew: no decrease in the window, at least `minIncreases` increases, and more live at the end. */
  readonly probableLeak: boolean;
}

/**
 * Live blocks per allocation site (the caller of the chain's allocation) over positions
 * [from, to): the chains live at `from` (from the reconstructed state) count at their callers,
 * then every allocation, free and resize of a chain changes its site's count. A site "only
 * grows" when its count never went down in the window, went up at least `minIncreases` times
 * and ends higher than it started. Sites are returned most-grown first.
 */
export function siteGrowth(history: MmHistory, from: number, to: number, resolve?: SiteResolver, minIncreases = 3): SiteGrowth[] {
  const view = history.stateAt(from);
  if (!view) throw new Error(`no keyframe at or before position ${from}`);
  const callerOf = new Map<number, number>();   // live chain ID → its site
  const sizeOf = new Map<number, number>();
  const stats = new Map<number, { start: number; live: number; up: number; down: number }>();
  const site = (caller: number): { start: number; live: number; up: number; down: number } => {
    let s = stats.get(caller);
    if (!s) stats.set(caller, (s = { start: 0, live: 0, up: 0, down: 0 }));
    return s;
  };
  for (const c of view.state.chains.values()) {
    callerOf.set(c.id, c.caller);
    sizeOf.set(c.id, c.blockCount);
    const s = site(c.caller);
    s.start += c.blockCount;
    s.live += c.blockCount;
  }
  const source = history.source;
  for (let i = from; i < Math.min(to, source.length); i++) {
    const kind = source.kindAt(i);
    if (kind !== MmEventKind.allocated && kind !== MmEventKind.freed && kind !== MmEventKind.resized && kind !== MmEventKind.renamed) continue;
    const e = source.get(i);
    if (e.status !== 0) continue;
    if (kind === MmEventKind.renamed) {
      const c = callerOf.get(e.chain), n = sizeOf.get(e.chain);
      if (c === undefined || n === undefined) continue;
      callerOf.delete(e.chain);
      sizeOf.delete(e.chain);
      callerOf.set(e.arg, c);
      sizeOf.set(e.arg, n);
    } else if (kind === MmEventKind.allocated) {
      callerOf.set(e.chain, e.caller);
      sizeOf.set(e.chain, e.blocks);
      const s = site(e.caller);
      s.live += e.blocks;
      s.up++;
    } else {
      const c = callerOf.get(e.chain), n = sizeOf.get(e.chain);
      if (c === undefined || n === undefined) continue;
      const s = site(c);
      const to2 = kind === MmEventKind.freed ? 0 : e.blocks;
      if (to2 > n) s.up++;
      else if (to2 < n) s.down++;
      s.live += to2 - n;
      if (kind === MmEventKind.freed) {
        callerOf.delete(e.chain);
        sizeOf.delete(e.chain);
      } else sizeOf.set(e.chain, to2);
    }
  }
  const out: SiteGrowth[] = [];
  for (const [caller, s] of stats) {
    const st = caller && resolve ? resolve(caller) : undefined;
    out.push({
      caller, ...(st ? { site: st } : {}), liveAtStart: s.start, liveAtEnd: s.live, increases: s.up, decreases: s.down,
      probableLeak: s.down === 0 && s.up >= minIncreases && s.live > s.start,
    });
  }
  return out.sort((a, b) => (b.liveAtEnd - b.liveAtStart) - (a.liveAtEnd - a.liveAtStart) || a.caller - b.caller);
}
