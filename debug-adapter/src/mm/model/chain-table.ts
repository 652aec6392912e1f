// Decodes the guest's block (chain) table as docs/chain-table.md defines it: every block's
// state, every chain from its head, and the structural findings (cycles, dangling links, a
// block in two chains, flags on a non-head entry, a broken contiguous chain, orphan blocks).
// With our guest's swap slot table (SwapSlots, read through mm_debug_info v2) a link
// CT_SWAPPED_BASE + s continues through slot s: the chain keeps its full length, the swapped
// block is marked (SWAPPED_BLOCK in `blocks`, its slot in `swapped`), and the slot findings
// (swapped-frozen-chain, swap-slot-shared, swap-slot-free-in-use) are made here.
// Pure and bounded: each block is visited at most once per chain walk, walks stop after
// blockCount steps, so a corrupted table costs O(blocks) and never hangs.

import { Finding } from './findings';

export const BLOCK_SIZE = 16384;
export const PAGES_PER_BLOCK = 4;

export const CT_FIELD_MASK = 0x07ffffff;
export const CT_HEAD = 1 << 27;
export const CT_FROZEN = 1 << 28;
export const CT_CONTIG = 1 << 29;
export const CT_SWAPPABLE = 1 << 30;
export const CT_USER = 0x80000000;
export const CT_FLAG_BITS = 0xf8000000;
export const CT_END = 0x07ffffff;
export const CT_FREE = 0x07fffffe;
export const CT_RESERVED_BASE = 0x07fffff0;
/** Link field CT_SWAPPED_BASE + s: the next block is swapped out to slot s (guest/include/swap.h). */
export const CT_SWAPPED_BASE = 0x04000000;
export const CT_SWAPPED_MAX = 0x03fffff0;
/** In DecodedChain.blocks: this position's block is swapped out (see DecodedChain.swapped). */
export const SWAPPED_BLOCK = -1;

/** enum swap_slot_state. */
export const SWAP_FREE = 0;
export const SWAP_OUT = 1;
export const SWAP_CACHED = 2;

/** The guest's swap slot table, one entry per slot (struct swap_slot's fields). */
export interface SwapSlots {
  readonly count: number;
  readonly state: Uint32Array;
  readonly chain: Uint32Array;
  readonly next: Uint32Array;
  readonly block: Uint32Array;
  /** The descriptor's CT_SWAPPED_BASE (normally the constant above). */
  readonly swappedBase: number;
}

/** A swapped-out block of a chain: its position in the chain and its slot. */
export interface SwappedBlock {
  readonly index: number;
  readonly slot: number;
}

export function isSwappedLink(field: number, base = CT_SWAPPED_BASE): boolean {
  return field >= base && field < base + CT_SWAPPED_MAX;
}

export type ReservedKind = 'hole' | 'firmware' | 'kernel' | 'dos';
export const RESERVED_KINDS: readonly ReservedKind[] = ['hole', 'firmware', 'kernel', 'dos'];

export type BlockState = 'free' | 'head' | 'body' | 'corrupt' | ReservedKind;

/** Block states as small codes (index into BLOCK_STATES), kept in a Uint8Array per block. */
export const BLOCK_STATES: readonly BlockState[] = ['free', 'head', 'body', 'corrupt', 'hole', 'firmware', 'kernel', 'dos'];
export const S_FREE = 0;
export const S_HEAD = 1;
export const S_BODY = 2;
export const S_CORRUPT = 3;
const S_RESERVED_FIRST = 4;

export interface ChainFlags {
  readonly frozen: boolean;
  readonly contiguous: boolean;
  readonly swappable: boolean;
  readonly user: boolean;
}

/** A run of consecutive blocks of one chain: blocks [first, first + count). */
export interface BlockRun {
  readonly first: number;
  readonly count: number;
}

export interface DecodedChain {
  /** The head block's index. */
  readonly id: number;
  readonly flags: ChainFlags;
  /** Block indices in chain (virtual) order; SWAPPED_BLOCK (-1) where the block is swapped out. */
  readonly blocks: readonly number[];
  /** The resident blocks grouped into physically consecutive runs (a swapped block ends a run). */
  readonly runs: readonly BlockRun[];
  /** The swapped-out blocks, by position (empty when none or without a slot table). */
  readonly swapped: readonly SwappedBlock[];
  /** False when the walk stopped on a cycle or a bad link. */
  readonly complete: boolean;
}

export interface BlockCounts {
  free: number;
  used: number;
  reserved: number;
  hole: number;
  firmware: number;
  kernel: number;
  dos: number;
  corrupt: number;
}

export interface ChainTable {
  readonly blockCount: number;
  /** One state code per block (BLOCK_STATES[code] names it). */
  readonly states: Uint8Array;
  /** Which chain each block belongs to (head index), or -1. */
  readonly chainOf: Int32Array;
  readonly chains: readonly DecodedChain[];
  readonly counts: BlockCounts;
  readonly largestFreeRun: number;
  /** 0 when all free blocks form one run; near 100 when they are scattered. */
  readonly fragmentationPercent: number;
  readonly findings: readonly Finding[];
  /** With a slot table: which chain's link reaches each slot (-1: none). */
  readonly slotChain?: Int32Array;
}

/** The state code of one entry (see BLOCK_STATES). */
export function classifyCode(e: number): number {
  const v = e >>> 0;
  if (v === CT_FREE) return S_FREE;
  if (v >= CT_RESERVED_BASE && v < CT_RESERVED_BASE + RESERVED_KINDS.length) return S_RESERVED_FIRST + v - CT_RESERVED_BASE;
  const field = v & CT_FIELD_MASK;
  if (field >= CT_RESERVED_BASE && field !== CT_END) return S_CORRUPT;
  return (v & CT_HEAD) !== 0 ? S_HEAD : S_BODY;
}

export function classifyEntry(e: number): BlockState {
  return BLOCK_STATES[classifyCode(e)];
}

export function decodeChainFlags(e: number): ChainFlags {
  return {
    frozen: (e & CT_FROZEN) !== 0,
    contiguous: (e & CT_CONTIG) !== 0,
    swappable: (e & CT_SWAPPABLE) !== 0,
    user: (e & CT_USER) !== 0,
  };
}

export function toRuns(blocks: readonly number[]): BlockRun[] {
  const runs: { first: number; count: number }[] = [];
  let last: { first: number; count: number } | undefined;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    if (b === SWAPPED_BLOCK) {
      last = undefined;
      continue;
    }
    if (last && last.first + last.count === b) last.count++;
    else runs.push((last = { first: b, count: 1 }));
  }
  return runs;
}

/** What the walks of one decoding share: the table, its states, who holds each block and slot, the findings. */
interface ChainWalk {
  readonly entries: Uint32Array;
  readonly states: Uint8Array;
  readonly chainOf: Int32Array;
  readonly slotChain: Int32Array | undefined;
  readonly swap: SwapSlots | undefined;
  readonly opaque: boolean;
  readonly findings: Finding[];
  opaqueSwapped: number;
}

/** Walks the chain whose head is block `h` (marking its blocks and slots as held by it), into its decoding and findings. */
function walkChain(w: ChainWalk, h: number): DecodedChain {
  const { entries, states, chainOf, slotChain, swap, findings } = w;
  const n = entries.length;
  const e = entries[h] >>> 0;
  const flags = decodeChainFlags(e);
  const blocks: number[] = [];
  const swapped: SwappedBlock[] = [];
  let complete = true;
  let b = h;
  const limit = n + (swap?.count ?? 0);
  for (let steps = 0; ; steps++) {
    if (steps > limit) {
      complete = false;
      findings.push({ kind: 'chain-cycle', severity: 'error', message: `chain ${h} never ends`, chain: h });
      break;
    }
    if (chainOf[b] === h) {
      complete = false;
      findings.push({ kind: 'chain-cycle', severity: 'error', message: `chain ${h} loops back to its own block ${b}`, chain: h, block: b });
      break;
    }
    if (chainOf[b] !== -1) {
      complete = false;
      findings.push({ kind: 'block-in-two-chains', severity: 'error', message: `block ${b} is reached from chain ${chainOf[b]} and from chain ${h}`, chain: h, block: b, otherChain: chainOf[b] });
      break;
    }
    chainOf[b] = h;
    blocks.push(b);
    let next = (entries[b] & CT_FIELD_MASK) >>> 0;
    // Swapped-out blocks: each slot continues the chain with its `next`.
    let stop = false;
    while (swap && slotChain && isSwappedLink(next, swap.swappedBase) && !stop) {
      const slot = next - swap.swappedBase;
      const at = blocks.length;
      if (slot >= swap.count) {
        findings.push({ kind: 'dangling-link', severity: 'error', message: `chain ${h}: link ${at} names swap slot ${slot}, past the slot table (${swap.count} slots)`, chain: h });
        stop = true;
      } else if (slotChain[slot] === h) {
        findings.push({ kind: 'chain-cycle', severity: 'error', message: `chain ${h} loops back to its own swap slot ${slot}`, chain: h });
        stop = true;
      } else if (slotChain[slot] !== -1) {
        findings.push({ kind: 'swap-slot-shared', severity: 'error', message: `swap slot ${slot} is held by a link of chain ${slotChain[slot]} and by one of chain ${h}`, chain: h, otherChain: slotChain[slot], slot });
        stop = true;
      } else if (swap.state[slot] === SWAP_FREE) {
        findings.push({ kind: 'swap-slot-free-in-use', severity: 'error', message: `chain ${h}: block ${at} is swapped out to slot ${slot}, but the slot table marks slot ${slot} free`, chain: h, slot });
        stop = true;
      } else if (swap.state[slot] !== SWAP_OUT) {
        findings.push({ kind: 'dangling-link', severity: 'error', message: `chain ${h}: block ${at} is swapped out to slot ${slot}, which holds no swapped-out block (state ${swap.state[slot]})`, chain: h, slot });
        stop = true;
      } else {
        slotChain[slot] = h;
        blocks.push(SWAPPED_BLOCK);
        swapped.push({ index: at, slot });
        next = swap.next[slot] >>> 0;
        if (++steps > limit) stop = true;
      }
    }
    if (stop) {
      complete = false;
      break;
    }
    if (next === CT_END) break;
    if (w.opaque && isSwappedLink(next)) {
      blocks.push(SWAPPED_BLOCK);
      w.opaqueSwapped++;
      complete = false;
      break;
    }
    if (next >= n) {
      complete = false;
      findings.push({ kind: 'dangling-link', severity: 'error', message: `chain ${h}: block ${b} links to ${next}, past the end of the table (${n} blocks)`, chain: h, block: b });
      break;
    }
    const ns = states[next];
    if (ns !== S_BODY) {
      complete = false;
      const what = ns === S_HEAD ? `the head of chain ${next}` : `a ${BLOCK_STATES[ns]} block`;
      findings.push({ kind: ns === S_HEAD ? 'block-in-two-chains' : 'dangling-link', severity: 'error',
        message: `chain ${h}: block ${b} links to block ${next}, ${what}`, chain: h, block: next });
      break;
    }
    b = next;
  }
  if (swapped.length && (flags.frozen || flags.contiguous)) {
    findings.push({ kind: 'swapped-frozen-chain', severity: 'error', chain: h, slot: swapped[0].slot,
      message: `${flags.contiguous ? 'contiguous' : 'frozen'} chain ${h} has ${swapped.length} block${swapped.length === 1 ? '' : 's'} swapped out (slot${swapped.length === 1 ? '' : 's'} ${swapped.map((x) => x.slot).join(', ')}); it must never leave memory` });
  }
  if (flags.contiguous && !swapped.length) {
    const broken = blocks.findIndex((x, i) => i > 0 && x !== blocks[i - 1] + 1);
    if (broken > 0) {
      findings.push({ kind: 'contiguous-not-contiguous', severity: 'error', message: `contiguous chain ${h} jumps from block ${blocks[broken - 1]} to ${blocks[broken]}`, chain: h, block: blocks[broken] });
    }
    if (!flags.frozen) findings.push({ kind: 'contiguous-not-frozen', severity: 'error', message: `contiguous chain ${h} is not frozen, so it could be moved`, chain: h });
  }
  return { id: h, flags, blocks, runs: toRuns(blocks), swapped, complete };
}

/**
 * Decodes a table of `entries` (one uint32 per block), following swapped links through `swap`.
 * `'opaque'`: the format is ours but the slot table is unknown (a memory-model description of
 * our guest): a swapped link ends its chain's walk without a finding, and since the blocks after
 * it cannot be reached, no orphan-block finding is made while any swapped link is seen.
 * Absent: a swapped link is a dangling link.
 */
export function decodeChainTable(entries: Uint32Array, swapTable?: SwapSlots | 'opaque'): ChainTable {
  const swap = swapTable === 'opaque' ? undefined : swapTable;
  let opaqueSwapped = 0;
  const n = entries.length;
  const states = new Uint8Array(n);
  const chainOf = new Int32Array(n).fill(-1);
  const findings: Finding[] = [];
  const counts: BlockCounts = { free: 0, used: 0, reserved: 0, hole: 0, firmware: 0, kernel: 0, dos: 0, corrupt: 0 };

  for (let b = 0; b < n; b++) {
    const e = entries[b] >>> 0;
    const code = classifyCode(e);
    states[b] = code;
    if (code === S_FREE) counts.free++;
    else if (code === S_HEAD || code === S_BODY) counts.used++;
    else if (code === S_CORRUPT) {
      counts.corrupt++;
      findings.push({ kind: 'corrupt-entry', severity: 'error', message: `block ${b} holds 0x${e.toString(16)}, which is no valid chain-table entry`, block: b });
    } else {
      counts.reserved++;
      counts[BLOCK_STATES[code] as ReservedKind]++;
    }
    if (code === S_BODY && (e & CT_FLAG_BITS) !== 0) {
      findings.push({ kind: 'flags-on-body', severity: 'error', message: `block ${b} is not a chain head but carries chain flags (0x${e.toString(16)})`, block: b });
    }
    if (code === S_HEAD && b === 0) {
      findings.push({ kind: 'corrupt-entry', severity: 'error', message: 'block 0 is marked as a chain head; block 0 is always reserved', block: 0 });
    }
  }

  const chains: DecodedChain[] = [];
  const slotChain = swap ? new Int32Array(swap.count).fill(-1) : undefined;
  const walk: ChainWalk = { entries, states, chainOf, slotChain, swap, opaque: swapTable === 'opaque', findings, opaqueSwapped: 0 };
  for (let h = 0; h < n; h++) {
    if (states[h] !== S_HEAD) continue;
    chains.push(walkChain(walk, h));
  }
  opaqueSwapped = walk.opaqueSwapped;

  for (let b = 0; b < n; b++) {
    if (states[b] === S_BODY && chainOf[b] === -1 && !opaqueSwapped) {
      findings.push({ kind: 'orphan-block', severity: 'warning', message: `block ${b} is marked in use but no chain reaches it`, block: b });
    }
  }

  let largest = 0;
  for (let b = 0, run = 0; b < n; b++) {
    run = states[b] === S_FREE ? run + 1 : 0;
    if (run > largest) largest = run;
  }
  const fragmentationPercent = counts.free ? 100 - Math.floor((largest * 100) / counts.free) : 0;
  return { blockCount: n, states, chainOf, chains, counts, largestFreeRun: largest, fragmentationPercent, findings, ...(slotChain ? { slotChain } : {}) };
}

/** What updateChainTable changed: the chains of the old decoding dropped, and the chains walked anew (in head order). */
export interface ChainTableUpdate {
  readonly table: ChainTable;
  readonly removed: readonly DecodedChain[];
  readonly added: readonly DecodedChain[];
}

/** Above this share of changed entries a table is decoded whole (updateChainTable). */
const UPDATE_LIMIT_DIVISOR = 8;

/**
 * The decoding of `entries`, made from `prev` (the decoding of `prevEntries` with the same slot
 * table) by walking again only the chains that hold a changed entry and the new heads: every other
 * chain keeps its DecodedChain object. Exactly what decodeChainTable(entries, swap) returns; when
 * that cannot be shown cheaply (the old or new table has any finding, the sizes differ, too much
 * changed), the table is decoded whole. `removed`/`added` are empty after a whole decoding.
 */
export function updateChainTable(prev: ChainTable, prevEntries: Uint32Array, entries: Uint32Array, swap: SwapSlots | undefined): ChainTableUpdate {
  const whole = (): ChainTableUpdate => ({ table: decodeChainTable(entries, swap), removed: [], added: [] });
  const n = entries.length;
  if (prev.findings.length || prevEntries.length !== n || prev.blockCount !== n || (swap ? prev.slotChain?.length !== swap.count : prev.slotChain !== undefined)) return whole();
  const changed: number[] = [];
  const most = n / UPDATE_LIMIT_DIVISOR;
  for (let b = 0; b < n; b++) {
    if (entries[b] !== prevEntries[b]) {
      changed.push(b);
      if (changed.length > most) return whole();
    }
  }
  if (!changed.length) return { table: prev, removed: [], added: [] };
  const states = prev.states.slice();
  const chainOf = prev.chainOf.slice();
  const slotChain = prev.slotChain?.slice();
  const counts: BlockCounts = { ...prev.counts };
  const count = (code: number, by: number): void => {
    if (code === S_FREE) counts.free += by;
    else if (code === S_HEAD || code === S_BODY) counts.used += by;
    else if (code === S_CORRUPT) counts.corrupt += by;
    else {
      counts.reserved += by;
      counts[BLOCK_STATES[code] as ReservedKind] += by;
    }
  };
  // The old chains holding a changed entry, and the new heads.
  const affected = new Set<number>();
  const heads: number[] = [];
  for (const b of changed) {
    const e = entries[b] >>> 0;
    const code = classifyCode(e);
    // Entries that are findings in themselves: the whole decoding says so.
    if (code === S_CORRUPT || (code === S_BODY && (e & CT_FLAG_BITS) !== 0) || (code === S_HEAD && b === 0)) return whole();
    count(states[b], -1);
    count(code, 1);
    states[b] = code;
    if (prev.chainOf[b] >= 0) affected.add(prev.chainOf[b]);
    if (code === S_HEAD) heads.push(b);
  }
  const removed: DecodedChain[] = [];
  const byId = new Map<number, DecodedChain>();
  for (const id of affected) {
    const c = chainById(prev, id);
    if (!c) return whole();
    removed.push(c);
    byId.set(id, c);
    for (const blk of c.blocks) if (blk !== SWAPPED_BLOCK && chainOf[blk] === id) chainOf[blk] = -1;
    if (slotChain) for (const sw of c.swapped) if (slotChain[sw.slot] === id) slotChain[sw.slot] = -1;
    if (states[id] === S_HEAD) heads.push(id);
  }
  const toWalk = [...new Set(heads)].sort((a, b) => a - b);
  const findings: Finding[] = [];
  const w: ChainWalk = { entries, states, chainOf, slotChain, swap, opaque: false, findings, opaqueSwapped: 0 };
  const added = toWalk.map((h) => walkChain(w, h));
  if (findings.length) return whole();
  // Orphans can only be among the changed blocks and those of the chains walked again.
  const orphan = (b: number): boolean => states[b] === S_BODY && chainOf[b] === -1;
  if (changed.some(orphan)) return whole();
  for (const c of removed) for (const blk of c.blocks) if (blk !== SWAPPED_BLOCK && orphan(blk)) return whole();
  // The chains in head order: the old ones kept, the new ones merged in.
  const chains: DecodedChain[] = [];
  let k = 0;
  for (const c of prev.chains) {
    if (byId.get(c.id) === c) continue;
    while (k < added.length && added[k].id < c.id) chains.push(added[k++]);
    chains.push(c);
  }
  while (k < added.length) chains.push(added[k++]);
  let largest = 0;
  for (let b = 0, run = 0; b < n; b++) {
    run = states[b] === S_FREE ? run + 1 : 0;
    if (run > largest) largest = run;
  }
  const fragmentationPercent = counts.free ? 100 - Math.floor((largest * 100) / counts.free) : 0;
  const table: ChainTable = { blockCount: n, states, chainOf, chains, counts, largestFreeRun: largest, fragmentationPercent, findings, ...(slotChain ? { slotChain } : {}) };
  return { table, removed, added };
}

/** The chain with head `id` in a decoding (its chains are in head order). */
function chainById(t: ChainTable, id: number): DecodedChain | undefined {
  let lo = 0;
  let hi = t.chains.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = t.chains[mid];
    if (c.id === id) return c;
    if (c.id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
