// The memory manager's state as the history reconstructs it (issue 16): chains with their block
// counts, flags, owners and (where known) block lists, the mapping registry per address space,
// and counters. Built from an MmSnapshot (a keyframe) and advanced one recorded event at a time.
//
// What the state knows exactly, and what it does not (docs/history.md, "What the state claims"):
// - exact: which chains are live (IDs, renames followed), each chain's block count, its flags
//   (frozen, contiguous, swappable, user: every change is an event), which of its positions are
//   swapped out and to which slot (the swap events name the position), its owner's allocation sequence number and kind, the caller of
//   its allocation (except where a front end rewrites it: a DOS task's low chain, DOS DMA
//   buffers), every mapping registry entry (space,
//   virtual address, chain, first chain page, pages), the allocation and free counters (the
//   free counter only when the keyframe gave it);
// - exact while `blocks` is defined: the chain's block list (from the keyframe, then moves and
//   swaps). An allocation or a growth does not say which blocks it took (next fit from a rover
//   the guest does not export), so the list becomes undefined there;
// - exact: the free block count (every event says how many blocks it took or gave back);
//   `freeBlocksExact` stays true unless the events contradicted the state (see anomalies);
// - not claimed: the owner's size in bytes and handle (front ends rewrite them without an
//   event), dirty bits, swap slots' clean copies, the DOS arena, XMS and DPMI handle tables
//   (their calls are counted only).
// Pure: no imports of session code.

import { MmEventKind, MmHistoryEvent } from './mm-history-event';
import { CT_CONTIG, CT_FROZEN, CT_SWAPPABLE, CT_USER, SWAPPED_BLOCK } from './chain-table';
import { OWNER_KINDS } from './guest-structures';
import { MmSnapshot } from './snapshot';

export const PAGE = 4096;
export const PAGES_PER_BLOCK = 4;
/** The kernel page directory's space key (a process's space is its UPD's kernel-virtual address). */
export const KERNEL_SPACE = 0;

/** One mapping registry entry: pages [pageOffset, pageOffset + pages) of its chain at `virtual`. */
export interface HistoryMapping {
  /** The UPD's kernel-virtual address (struct mm_mapping.upd), or KERNEL_SPACE for the KPD. */
  space: number;
  virtual: number;
  pageOffset: number;
  pages: number;
}

export interface HistoryChain {
  id: number;
  /** Chain flag bits (CT_FROZEN | CT_CONTIG | CT_SWAPPABLE | CT_USER); swappable not claimed. */
  flags: number;
  blockCount: number;
  /** Blocks in chain order, SWAPPED_BLOCK where out; undefined when not known (see above). */
  blocks: number[] | undefined;
  /** Slot of each swapped-out position (position → slot): the swap events name both. */
  slots: Map<number, number>;
  /** Blocks swapped out (slots.size). */
  swappedOut: number;
  /** Owner record: allocation sequence number, kind code (enum mm_owner_kind), allocating call. */
  seq: number;
  kind: number;
  caller: number;
  /** The process that allocated it (undefined for chains from a keyframe). */
  pid: number | undefined;
  mappings: HistoryMapping[];
}

export interface HistoryCounters {
  /** mm_alloc_seq: allocations since boot. */
  allocations: number;
  /** mm_free_count: chains freed since boot; undefined when the keyframe did not give it. */
  frees: number | undefined;
  freeBlocks: number;
  freeBlocksExact: boolean;
  defragRuns: number;
  moves: number;
  swapOuts: number;
  swapIns: number;
  switches: number;
  xmsCalls: number;
  dpmiCalls: number;
  dosCalls: number;
  /** The running process (from switches; undefined until the first one after a keyframe without it). */
  currentPid: number | undefined;
}

/** Where applying an event went outside what the state knows (the event stream or the keyframe is not consistent). */
export interface HistoryAnomaly {
  readonly seq: number;
  readonly message: string;
}

const MAX_ANOMALIES = 100;
/** The slots of a chain with nothing out, shared (never changed: a swap-out gives the chain its own map). */
const NO_SLOTS: Map<number, number> = new Map();

export class MmHistoryState {
  readonly chains = new Map<number, HistoryChain>();
  counters: HistoryCounters = {
    allocations: 0, frees: undefined, freeBlocks: 0, freeBlocksExact: true, defragRuns: 0, moves: 0, swapOuts: 0, swapIns: 0,
    switches: 0, xmsCalls: 0, dpmiCalls: 0, dosCalls: 0, currentPid: undefined,
  };
  /** Seq of the last event applied (0 = none). */
  lastSeq = 0;
  /** The first anomalies met (bounded); empty when every event fitted the state. */
  anomalies: HistoryAnomaly[] = [];

  /**
   * Chains this state may change in place. A clone shares every chain object with its original
   * and neither owns them any more: the first change to a chain copies it (copy on write), so
   * a keyframe costs its map plus the chains changed after it.
   */
  private readonly mine = new Set<HistoryChain>();

  /** A copy that changes independently of this state (keyframes stay untouched while a copy advances). */
  clone(): MmHistoryState {
    const s = new MmHistoryState();
    for (const [id, c] of this.chains) s.chains.set(id, c);
    this.mine.clear();
    s.counters = { ...this.counters };
    s.lastSeq = this.lastSeq;
    s.anomalies = this.anomalies.slice();
    return s;
  }

  /** The chain with ID `id`, made this state's own so it may be changed. */
  private own(c: HistoryChain): HistoryChain {
    if (this.mine.has(c)) return c;
    const copy: HistoryChain = { ...c, blocks: c.blocks?.slice(), slots: c.slots.size ? new Map(c.slots) : NO_SLOTS, mappings: c.mappings.map((m) => ({ ...m })) };
    this.chains.set(copy.id, copy);
    this.mine.add(copy);
    return copy;
  }

  /**
   * Replaces each chain equal on every field to the same chain of `other` (a state reconstructed
   * at the same position) with `other`'s object, which neither state then owns: a stop's
   * keyframe shares the chains that did not change with the keyframes before it (copy on write
   * keeps both right). A chain whose block list `other` does not know is kept (it brings that list).
   * Returns how many chains are shared.
   */
  shareUnchanged(other: MmHistoryState): number {
    let shared = 0;
    for (const [id, c] of this.chains) {
      const o = other.chains.get(id);
      if (!o || o === c || !sameChain(c, o)) continue;
      this.chains.set(id, o);
      this.mine.delete(c);
      other.mine.delete(o); // neither owns it now: the first change on either side copies it
      shared++;
    }
    return shared;
  }

  /** Adds a chain this state owns (keyframe construction). */
  addChain(c: HistoryChain): void {
    this.chains.set(c.id, c);
    this.mine.add(c);
  }

  /** Live blocks (resident and swapped) in chains. */
  usedBlocks(): number {
    let n = 0;
    for (const c of this.chains.values()) n += c.blockCount;
    return n;
  }

  /** The chain holding `block` among chains whose block list is known, or undefined. */
  chainOfBlock(block: number): HistoryChain | undefined {
    for (const c of this.chains.values()) if (c.blocks?.includes(block)) return c;
    return undefined;
  }

  /** The chain and its page mapped at `virtual` in `space`, or undefined. */
  pageAt(space: number, virtual: number): { chain: HistoryChain; page: number } | undefined {
    const va = virtual - (virtual % PAGE);
    for (const c of this.chains.values()) {
      for (const m of c.mappings) {
        if (m.space === space && va >= m.virtual && va < m.virtual + m.pages * PAGE) return { chain: c, page: m.pageOffset + (va - m.virtual) / PAGE };
      }
    }
    return undefined;
  }

  private note(e: MmHistoryEvent, message: string): void {
    if (this.anomalies.length < MAX_ANOMALIES) this.anomalies.push({ seq: e.seq, message });
  }

  /** Advances the state by one event (events with a non-zero status change nothing but the counters of their kind). */
  apply(e: MmHistoryEvent): void {
    this.lastSeq = e.seq;
    const k = this.counters;
    switch (e.kind) {
      case MmEventKind.xms: k.xmsCalls++; return;
      case MmEventKind.dpmi: k.dpmiCalls++; return;
      case MmEventKind.dos: k.dosCalls++; return;
      case MmEventKind.switch: k.switches++; k.currentPid = e.arg; return;
      case MmEventKind.defrag: k.defragRuns++; return;
      default: break;
    }
    if (e.status !== 0) return;
    switch (e.kind) {
      case MmEventKind.allocated: {
        if (this.chains.has(e.chain)) this.note(e, `chain ${e.chain} allocated while live`);
        k.allocations++;
        k.freeBlocks -= e.blocks;
        this.addChain({
          id: e.chain, flags: e.flags >>> 0, blockCount: e.blocks, blocks: undefined, slots: NO_SLOTS, swappedOut: 0,
          seq: k.allocations, kind: e.arg, caller: e.caller, pid: e.pid, mappings: [],
        });
        return;
      }
      case MmEventKind.freed: {
        const c = this.chains.get(e.chain); // not changed, only dropped: no copy
        if (!c) this.note(e, `free of chain ${e.chain}, which is not live`);
        if (k.frees !== undefined) k.frees++;
        if (!c) return;
        k.freeBlocks += c.blockCount - c.swappedOut;
        this.chains.delete(c.id);
        return;
      }
      case MmEventKind.resized: {
        const c = this.chain(e);
        if (!c) return;
        const from = c.blockCount, to = e.blocks;
        c.flags = e.flags >>> 0; // the head's flags after the resize
        if (to < from) {
          // The tail's blocks out are known by position (swap events name it), so what the shrink frees is too.
          let outInTail = 0;
          for (const p of [...c.slots.keys()]) {
            if (p < to) continue;
            c.slots.delete(p);
            outInTail++;
          }
          if (c.blocks) c.blocks.length = to;
          c.swappedOut -= outInTail;
          k.freeBlocks += from - to - outInTail;
          trimMappings(c, to * PAGES_PER_BLOCK);
        } else {
          k.freeBlocks -= to - from;
          c.blocks = undefined;
        }
        c.blockCount = to;
        return;
      }
      case MmEventKind.mapped: {
        const c = this.chain(e);
        if (!c) return;
        c.mappings.push({ space: e.extra >>> 0, virtual: e.arg >>> 0, pageOffset: e.flags >>> 8, pages: e.blocks });
        return;
      }
      case MmEventKind.unmapped: {
        const c = this.chain(e);
        if (!c) return; // a free's own unmaps may follow the free
        const space = e.extra >>> 0, va = e.arg >>> 0;
        const i = c.mappings.findIndex((m) => m.space === space && va >= m.virtual && va < m.virtual + m.pages * PAGE);
        if (i < 0) {
          this.note(e, `chain ${c.id} has no mapping at 0x${va.toString(16)}`);
          return;
        }
        const m = c.mappings[i];
        // A keyframe's mappings come from page-table runs, which may join two registry entries:
        // the entry that starts at `va` is taken to run to the run's end.
        const before = (va - m.virtual) / PAGE;
        const left = Math.min(e.blocks, m.pages - before);
        if (before > 0) {
          m.pages = before;
          if (left > 0) c.mappings.push({ space, virtual: va, pageOffset: m.pageOffset + before, pages: left });
        } else if (left === 0) c.mappings.splice(i, 1);
        else m.pages = left;
        return;
      }
      case MmEventKind.moved: {
        k.moves++;
        const found = this.chains.get(e.chain);
        if (!found) {
          this.note(e, `no chain ${e.chain} for a move`);
          return;
        }
        const c = this.own(found);
        if (c.blocks) {
          if (c.blocks[e.extra] !== e.blocks) {
            this.note(e, `block ${e.extra} of chain ${c.id} is not block ${e.blocks}`);
            c.blocks = undefined;
          } else c.blocks[e.extra] = e.arg;
        }
        return;
      }
      case MmEventKind.renamed: {
        const found = this.chains.get(e.chain);
        if (!found) {
          this.note(e, `no chain ${e.chain} to rename`);
          return;
        }
        const c = this.own(found);
        this.chains.delete(e.chain);
        c.id = e.arg;
        this.chains.set(c.id, c);
        return;
      }
      case MmEventKind.frozen:
      case MmEventKind.unfrozen:
      case MmEventKind.flags: { const c = this.chain(e); if (c) c.flags = e.flags >>> 0; return; }
      case MmEventKind.swappedOut: {
        k.swapOuts++;
        k.freeBlocks++;
        const c = this.chain(e);
        if (!c) return;
        c.swappedOut++;
        if (c.slots === NO_SLOTS) c.slots = new Map();
        c.slots.set(e.extra, e.arg);
        if (c.blocks) {
          if (c.blocks[e.extra] !== e.blocks) {
            this.note(e, `block ${e.extra} of chain ${c.id} is not block ${e.blocks}`);
            c.blocks = undefined;
          } else c.blocks[e.extra] = SWAPPED_BLOCK;
        }
        return;
      }
      case MmEventKind.swappedIn: {
        k.swapIns++;
        k.freeBlocks--;
        const c = this.chain(e);
        if (!c) return;
        if (c.slots.delete(e.extra)) c.swappedOut--;
        else this.note(e, `block ${e.extra} of chain ${c.id} was not out`);
        if (c.blocks) c.blocks[e.extra] = e.blocks;
        return;
      }
      default:
        return; // cleaned, none and unknown kinds change nothing the state claims
    }
  }

  /** The event's chain, owned (to be changed), or undefined (noted) when it is not live. */
  private chain(e: MmHistoryEvent): HistoryChain | undefined {
    const c = this.chains.get(e.chain);
    if (!c && e.kind !== MmEventKind.unmapped) this.note(e, `${e.kind} on chain ${e.chain}, which is not live`);
    return c && this.own(c);
  }
}

const mappingKey = (m: HistoryMapping): string => `${m.space}:${m.virtual}:${m.pageOffset}:${m.pages}`;

/** Equal on every field the state keeps, block list included (both known); mappings in any order. */
function sameChain(a: HistoryChain, b: HistoryChain): boolean {
  if (a.id !== b.id || a.flags !== b.flags || a.blockCount !== b.blockCount || a.swappedOut !== b.swappedOut || a.seq !== b.seq || a.kind !== b.kind || a.caller !== b.caller) return false;
  if (!a.blocks || !b.blocks || a.blocks.length !== b.blocks.length || a.blocks.some((x, i) => x !== b.blocks?.[i])) return false;
  if (a.slots.size !== b.slots.size || [...a.slots].some(([k, v]) => b.slots.get(k) !== v)) return false;
  if (a.mappings.length !== b.mappings.length) return false;
  const keys = new Set(a.mappings.map(mappingKey));
  return b.mappings.every((m) => keys.has(mappingKey(m)));
}

/** Drops the mapped pages of chain pages >= `limit` (a shrink). */
function trimMappings(c: HistoryChain, limit: number): void {
  c.mappings = c.mappings.filter((m) => {
    if (m.pageOffset >= limit) return false;
    if (m.pageOffset + m.pages > limit) m.pages = limit - m.pageOffset;
    return true;
  });
}

/** Chain flag bits from a snapshot's decoded flags. */
export function flagBits(f: { frozen: boolean; contiguous: boolean; swappable: boolean; user: boolean }): number {
  return ((f.frozen ? CT_FROZEN : 0) | (f.contiguous ? CT_CONTIG : 0) | (f.swappable ? CT_SWAPPABLE : 0) | (f.user ? CT_USER : 0)) >>> 0;
}

/** The owner kind's code (enum mm_owner_kind) from its name; -1 for 'unknown'. */
export function ownerKindCode(name: string): number {
  return (OWNER_KINDS as readonly string[]).indexOf(name);
}

export interface KeyframeOptions {
  /** The descriptor's pcb_off_upd: a process's space key is its PCB address + this. */
  readonly pcbOffUpd: number;
  /** mm_free_count at the snapshot, when the caller read it (the snapshot does not carry it). */
  readonly frees?: number;
}

/** The space key of a snapshot's address space. */
export function spaceKey(snapshot: MmSnapshot, space: 'kernel' | number, pcbOffUpd: number): number | undefined {
  if (space === 'kernel') return KERNEL_SPACE;
  const p = snapshot.processes.find((q) => q.pid === space);
  return p ? (p.pcbAddress + pcbOffUpd) >>> 0 : undefined;
}

/** The space keys of a snapshot's address spaces (the KPD and each listed process's UPD). */
export function snapshotSpaces(snapshot: MmSnapshot, pcbOffUpd: number): Set<number> {
  return new Set([KERNEL_SPACE, ...snapshot.processes.map((p) => (p.pcbAddress + pcbOffUpd) >>> 0)]);
}

/** The state a snapshot shows (a keyframe). Mapping entries are the snapshot's runs per chain. */
export function stateFromSnapshot(snapshot: MmSnapshot, opts: KeyframeOptions): MmHistoryState {
  const s = new MmHistoryState();
  for (const c of snapshot.chains) {
    const slots = new Map<number, number>();
    for (const w of c.swapped) slots.set(w.index, w.slot);
    const mappings: HistoryMapping[] = [];
    for (const m of c.mappedAt) {
      const space = spaceKey(snapshot, m.space, opts.pcbOffUpd);
      if (space !== undefined) mappings.push({ space, virtual: m.virtual, pageOffset: m.firstPage, pages: m.length / PAGE });
    }
    s.addChain({
      id: c.id, flags: flagBits(c.flags), blockCount: c.blockCount, blocks: c.blocks.slice(), slots,
      swappedOut: c.blocks.filter((b) => b === SWAPPED_BLOCK).length,
      seq: c.owner.seq, kind: ownerKindCode(c.owner.kind), caller: c.owner.caller, pid: undefined, mappings,
    });
  }
  const current = snapshot.processes.find((p) => p.current);
  s.counters = {
    allocations: snapshot.counters.allocations, frees: opts.frees, freeBlocks: snapshot.blocks.free, freeBlocksExact: true,
    defragRuns: snapshot.counters.defragRuns, moves: 0, swapOuts: snapshot.swap?.outs ?? 0, swapIns: snapshot.swap?.ins ?? 0,
    switches: snapshot.counters.contextSwitches, xmsCalls: 0, dpmiCalls: 0, dosCalls: 0, currentPid: current?.pid,
  };
  return s;
}
