// "When did it break?" (issue 16): for a finding at a stop, the first event after which the
// finding holds in every reconstructed state up to the stop, with its call site and process.
//
// A predicate per finding kind is evaluated on reconstructed states (history-state.ts). Kinds
// covered (the ones that arise through memory-manager calls, so the events show them):
// - leaked-chain: the chain (identified by its allocation sequence number, so renames do not
//   lose it) is live and has no mapping. The answer is its allocation, or the unmapping that
//   left it unmapped for good;
// - handle-to-freed-chain: no live chain has the ID the handle names. The answer is the free
//   (or the rename away) after which the ID stayed dead.
// And, where the reconstructed state shows the fields the finding tests (our guest's memory
// manager refuses to make these itself, so on it they come only from writes behind its back, and
// the state at the stop does not show them; another kernel's, or a regression, would):
// - swapped-frozen-chain: the chain (by its allocation) is frozen or contiguous with blocks out;
//   the answer is the freeze, flag change or swap-out after which it held;
// - contiguous-not-frozen: the chain is contiguous and not frozen (the unfreeze or flag change);
// - user-mapping-above-limit: a kernel-space (KPD) mapping covers the finding's address (the map).
// The other kinds are corruptions written behind the memory manager's back (guest/kernel/
// inject.c writes the tables directly): no event shows them, so no predicate is offered and the
// answer says so (`covered: false`), naming at most the allocation of the chain involved.
//
// Search: a predicate can only change at the events of the thing it is about, so positions are
// the states after those events, walked backwards from the stop until the predicate fails; the
// answer is the next one. A general predicate without such events is bisected (firstHolding),
// which assumes it stays true once it holds (checked at both ends).

import { MmHistory } from './history-timeline';
import { HistoryChain, KERNEL_SPACE, MmHistoryState } from './history-state';
import { CT_CONTIG, CT_FROZEN } from './chain-table';
import { MmEventKind, MmHistoryEvent } from './mm-history-event';
import { Finding, FindingKind, SourceSite } from './findings';
import { SiteResolver, chainEventIndices } from './history-blame';

export type StatePredicate = (state: MmHistoryState) => boolean;

/** The finding kinds that have a predicate. */
export const COVERED_FINDING_KINDS: readonly FindingKind[] = ['leaked-chain', 'handle-to-freed-chain', 'swapped-frozen-chain', 'contiguous-not-frozen', 'user-mapping-above-limit'];

export interface BreakingEvent {
  readonly covered: true;
  /** The state after this position is the first of the run that ends at the stop in which the finding holds. */
  readonly position: number;
  /** The event at index position - 1 (undefined when the finding already held at the first keyframe). */
  readonly event?: MmHistoryEvent;
  readonly site?: SourceSite;
  readonly pid?: number;
  /** True when the finding held at the first state the history has: it broke before the recording. */
  readonly beforeRecording: boolean;
}

export interface NotCovered {
  readonly covered: false;
  readonly reason: string;
  /** The allocation of the chain the finding names, when the history has it. */
  readonly chainAllocation?: { readonly position: number; readonly event: MmHistoryEvent; readonly site?: SourceSite };
}

export type WhenResult = BreakingEvent | NotCovered;

function answer(history: MmHistory, position: number, first: number, resolve?: SiteResolver): BreakingEvent {
  if (position <= first) return { covered: true, position: first, beforeRecording: true };
  const event = history.source.get(position - 1);
  const site = event.caller && resolve ? resolve(event.caller) : undefined;
  return { covered: true, position, event, ...(site ? { site } : {}), pid: event.pid, beforeRecording: false };
}

/**
 * First position p in [lo, hi] such that `pred` holds at every position of [p, hi], checking
 * only the states after the events in `candidates` (the only events that can change it), or
 * undefined if it does not hold at hi.
 */
export function firstHoldingAt(history: MmHistory, pred: StatePredicate, lo: number, hi: number, candidates: readonly number[]): number | undefined {
  const at = (p: number): boolean => {
    const v = history.stateAt(p);
    return v !== undefined && pred(v.state);
  };
  if (!at(hi)) return undefined;
  const positions = [...new Set(candidates.map((i) => i + 1))].filter((p) => p > lo && p <= hi).sort((a, b) => b - a);
  let first = hi;
  for (const p of positions) {
    // Between two candidates nothing changes the predicate: the state after p - 1 is the one before event p - 1.
    if (!at(p - 1)) return p;
    first = p - 1;
  }
  return at(lo) ? lo : first;
}

/** Bisection for a predicate that, once true, stays true up to hi (checked at both ends). */
export function firstHolding(history: MmHistory, pred: StatePredicate, lo: number, hi: number): number | undefined {
  const at = (p: number): boolean => {
    const v = history.stateAt(p);
    return v !== undefined && pred(v.state);
  };
  if (!at(hi)) return undefined;
  if (at(lo)) return lo;
  let a = lo, b = hi; // pred(a) false, pred(b) true
  while (b - a > 1) {
    const m = (a + b) >> 1;
    if (at(m)) b = m;
    else a = m;
  }
  return b;
}

/**
 * The first event after which `finding` (seen at the stop whose state is at position `stop`)
 * holds in the reconstructed states up to the stop.
 */
export function whenDidItBreak(history: MmHistory, finding: Finding, stop: number, resolve?: SiteResolver): WhenResult {
  const first = history.firstPosition;
  if (first === undefined || stop < first) return { covered: false, reason: 'the history has no state before this stop' };
  const atStop = history.stateAt(stop);
  if (!atStop) return { covered: false, reason: 'the history has no state at this stop' };
  const source = history.source;
  if (finding.kind === 'leaked-chain' && finding.chain !== undefined) {
    const chain = atStop.state.chains.get(finding.chain);
    if (!chain) return { covered: false, reason: `chain ${finding.chain} is not live in the reconstructed state at the stop` };
    const seq = chain.seq;
    const pred: StatePredicate = (s) => {
      for (const c of s.chains.values()) if (c.seq === seq) return c.mappings.length === 0;
      return false;
    };
    const p = firstHoldingAt(history, pred, first, stop, chainEventIndices(source, finding.chain, stop));
    return p === undefined ? { covered: false, reason: 'the reconstructed state at the stop does not show the leak (the chain is mapped)' } : answer(history, p, first, resolve);
  }
  if (finding.kind === 'handle-to-freed-chain' && finding.chain !== undefined) {
    const id = finding.chain;
    const candidates: number[] = [];
    for (let i = 0; i < stop; i++) {
      if (source.chainAt(i) === id) candidates.push(i);
      else if (source.kindAt(i) === MmEventKind.renamed && source.get(i).arg === id) candidates.push(i); // renamed into the ID
    }
    const p = firstHoldingAt(history, (s) => !s.chains.has(id), first, stop, candidates);
    return p === undefined ? { covered: false, reason: `chain ${id} is live in the reconstructed state at the stop` } : answer(history, p, first, resolve);
  }
  const byChain = chainPredicate(finding);
  if (byChain && finding.chain !== undefined) {
    const chain = atStop.state.chains.get(finding.chain);
    if (chain) {
      const seq = chain.seq;
      const pred: StatePredicate = (s) => {
        for (const c of s.chains.values()) if (c.seq === seq) return byChain(c);
        return false;
      };
      const p = firstHoldingAt(history, pred, first, stop, chainEventIndices(source, finding.chain, stop));
      if (p !== undefined) return answer(history, p, first, resolve);
    }
  }
  if (finding.kind === 'user-mapping-above-limit' && finding.virtual !== undefined) {
    const va = finding.virtual;
    const candidates: number[] = [];
    for (let i = 0; i < stop; i++) {
      const k = source.kindAt(i);
      if (k === MmEventKind.mapped || k === MmEventKind.unmapped || k === MmEventKind.freed || k === MmEventKind.resized || k === MmEventKind.swappedOut) candidates.push(i);
    }
    const p = firstHoldingAt(history, (s) => s.pageAt(KERNEL_SPACE, va) !== undefined, first, stop, candidates);
    if (p !== undefined) return answer(history, p, first, resolve);
  }
  const reason = byChain || finding.kind === 'user-mapping-above-limit'
    ? `no event shows a ${finding.kind}: the reconstructed state at the stop does not have it, so it was written behind the memory manager's back`
    : `no event shows a ${finding.kind}: the memory manager's calls never produce it (it is written behind their back)`;
  if (finding.chain === undefined) return { covered: false, reason };
  const alloc = chainEventIndices(source, finding.chain, stop).find((i) => source.kindAt(i) === MmEventKind.allocated);
  if (alloc === undefined) return { covered: false, reason };
  const event = source.get(alloc);
  const site = event.caller && resolve ? resolve(event.caller) : undefined;
  return { covered: false, reason, chainAllocation: { position: alloc + 1, event, ...(site ? { site } : {}) } };
}

/** The predicate on one chain for the chain kinds beyond leaks and freed handles, or undefined. */
function chainPredicate(finding: Finding): ((c: HistoryChain) => boolean) | undefined {
  switch (finding.kind) {
    case 'swapped-frozen-chain': return (c) => c.swappedOut > 0 && (c.flags & (CT_FROZEN | CT_CONTIG)) !== 0;
    case 'contiguous-not-frozen': return (c) => (c.flags & CT_CONTIG) !== 0 && (c.flags & CT_FROZEN) === 0;
    default: return undefined;
  }
}
