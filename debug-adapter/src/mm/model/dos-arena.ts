// Our guest's DOS side and swapped-out pages, decoded from bytes (pure):
//   - the DOS arena's MCB chain (guest/include/dos.h): a bounded walk from the first MCB to the
//     arena's end; a damaged chain stops the walk and becomes an `mcb-chain-broken` finding;
//   - each DOS task's conventional memory: its private low chain, the MCB blocks it owns
//     (owner = its mcb_owner), its XMS handles and DPMI blocks (owner_pid = its pid);
//   - a process's swapped-out pages: not-present PTEs of its UPD's page tables that carry the
//     swap mark (guest/include/paging.h, through the descriptor's pteSwap* fields).

import type { MmDebugInfo } from './descriptor';
import type { Finding } from './findings';
import type { DpmiBlockRecord, V86TaskRecord, XmsHandleRecord } from './guest-structures';
import { swappedEntry } from './swap-entry';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export const MCB_TYPE_MIDDLE = 0x4d; // 'M'
export const MCB_TYPE_LAST = 0x5a;   // 'Z'
/** Owner id of blocks the kernel allocated for itself (dos.h DOS_OWNER_SYSTEM). */
export const MCB_OWNER_SYSTEM = 8;

/** One memory control block and the block after it. */
export interface McbBlockRecord {
  /** Segment of the MCB (the block's data starts at segment + 1). */
  readonly segment: number;
  /** 'M' (another follows) or 'Z' (the last). */
  readonly type: 'M' | 'Z';
  /** 0 free, 8 system, else the owning process's pid + 1. */
  readonly owner: number;
  /** Paragraphs in the block, not counting the MCB. */
  readonly paragraphs: number;
  readonly name: string;
}

export interface DosArenaRecord {
  /** The arena as the descriptor gives it: [firstMcbSeg, endSeg) in paragraphs. */
  readonly firstMcbSeg: number;
  readonly endSeg: number;
  /** The blocks the walk read, in order (up to the damage when the chain is broken). */
  readonly blocks: readonly McbBlockRecord[];
  readonly freeParagraphs: number;
  readonly usedParagraphs: number;
  readonly largestFreeParagraphs: number;
  /** Where and why the chain is broken; absent when it is sound. */
  readonly broken?: { readonly segment: number; readonly reason: string };
}

/**
 * Walks the MCB chain. `mem` holds conventional memory from paragraph `firstMcbSeg` up to
 * `endSeg`. Each step moves at least one paragraph forward, so the walk ends within the arena's
 * paragraphs; the first damage (a type byte neither 'M' nor 'Z', a block running past the arena's
 * end, a 'Z' that does not end at the arena's end, an 'M' with no room for a successor) stops it.
 */
export function decodeMcbChain(mem: Buffer, firstMcbSeg: number, endSeg: number): DosArenaRecord {
  const blocks: McbBlockRecord[] = [];
  let broken: DosArenaRecord['broken'];
  for (let m = firstMcbSeg, steps = 0; steps <= endSeg - firstMcbSeg; steps++) {
    const at = (m - firstMcbSeg) * 16;
    if (m >= endSeg || at + 16 > mem.length) {
      broken = { segment: m, reason: `the chain reaches segment ${hex(m)}, past the arena's end ${hex(endSeg)}, without a last ('Z') block` };
      break;
    }
    const type = mem[at];
    const owner = mem.readUInt16LE(at + 1);
    const paragraphs = mem.readUInt16LE(at + 3);
    const end = m + 1 + paragraphs;
    if (type !== MCB_TYPE_MIDDLE && type !== MCB_TYPE_LAST) {
      broken = { segment: m, reason: `its type byte is ${hex(type)}, neither 'M' nor 'Z'` };
      break;
    }
    const raw = mem.subarray(at + 8, at + 16);
    const nul = raw.indexOf(0);
    const name = raw.subarray(0, nul < 0 ? 8 : nul).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
    blocks.push({ segment: m, type: type === MCB_TYPE_LAST ? 'Z' : 'M', owner, paragraphs, name });
    if (end > endSeg) {
      broken = { segment: m, reason: `its block of ${paragraphs} paragraphs runs to segment ${hex(end)}, past the arena's end ${hex(endSeg)}` };
      break;
    }
    if (type === MCB_TYPE_LAST) {
      if (end !== endSeg) broken = { segment: m, reason: `it is the last block ('Z') but ends at segment ${hex(end)}, not at the arena's end ${hex(endSeg)}` };
      break;
    }
    if (end === endSeg) {
      broken = { segment: m, reason: `it says another block follows ('M') but ends at the arena's end ${hex(endSeg)}` };
      break;
    }
    m = end;
  }
  let free = 0;
  let used = 0;
  let largest = 0;
  for (const b of blocks) {
    if (b.owner === 0) {
      free += b.paragraphs;
      largest = Math.max(largest, b.paragraphs);
    } else used += b.paragraphs;
  }
  return { firstMcbSeg, endSeg, blocks, freeParagraphs: free, usedParagraphs: used, largestFreeParagraphs: largest, ...(broken ? { broken } : {}) };
}

/** The `mcb-chain-broken` finding of a walk, if the chain is broken. */
export function mcbChainFindings(arena: DosArenaRecord): Finding[] {
  if (!arena.broken) return [];
  const { segment, reason } = arena.broken;
  return [{ kind: 'mcb-chain-broken', severity: 'error', physical: segment * 16,
    message: `the DOS arena's MCB chain is broken at segment ${hex(segment)} (after ${arena.blocks.length} sound block${arena.blocks.length === 1 ? '' : 's'}): ${reason}` }];
}

/** A DOS task's conventional memory and handles, for the DOS view. */
export interface V86TaskInfo extends V86TaskRecord {
  /** Bytes of its private low chain (0 when it has none). */
  readonly lowChainBytes: number;
  /** Segments of the MCBs of the arena blocks it owns (owner = mcbOwner). */
  readonly mcbBlocks: readonly number[];
  readonly mcbParagraphs: number;
  /** Handles of the XMS blocks and DPMI memory blocks it owns (owner_pid = its pid). */
  readonly xmsHandles: readonly number[];
  readonly dpmiHandles: readonly number[];
}

export function v86TaskInfo(pid: number, task: V86TaskRecord, lowChainBytes: number, arena: DosArenaRecord | undefined,
  xms: readonly XmsHandleRecord[], dpmi: readonly DpmiBlockRecord[]): V86TaskInfo {
  const mine = (arena?.blocks ?? []).filter((b) => b.owner !== 0 && b.owner === task.mcbOwner);
  return {
    ...task, lowChainBytes,
    mcbBlocks: mine.map((b) => b.segment), mcbParagraphs: mine.reduce((n, b) => n + b.paragraphs, 0),
    xmsHandles: xms.filter((x) => x.ownerPid === pid).map((x) => x.handle),
    dpmiHandles: dpmi.filter((b) => b.ownerPid === pid).map((b) => b.handle),
  };
}

/** A page whose PTE says it is swapped out: not present, the swap mark, a slot and the page in the slot's block. */
export interface SwappedPte {
  readonly virtual: number;
  readonly slot: number;
  /** Which of the block's four pages (0..3). */
  readonly page: number;
  /** The raw PTE. */
  readonly entry: number;
}

/** Whether a PTE holds a swapped-out page (paging.h pte_is_swapped), by the descriptor's mark. */
export function isSwappedPte(pte: number, d: Pick<MmDebugInfo, 'pteSwapMark'>): boolean {
  // swappedEntry's test, without its result object (this runs for every entry of every table).
  return d.pteSwapMark !== 0 && (pte & 1) === 0 && (pte & d.pteSwapMark) !== 0;
}

/** The slot and page a swapped-out PTE holds (paging.h pte_swap_slot / pte_swap_page). */
export function decodeSwappedPte(pte: number, d: Pick<MmDebugInfo, 'pteSwapPageShift' | 'pteSwapSlotShift'>): { slot: number; page: number } {
  return { slot: (pte >>> 0) >>> d.pteSwapSlotShift, page: (pte >>> d.pteSwapPageShift) & 3 };
}

/**
 * The swapped-out pages of the page tables a UPD's present entries (not 4 MiB pages) refer to,
 * in address order, at most `limit`. `tableAt` gives a page table already read, or undefined.
 */
export function swappedPagesOf(upd: readonly number[], tableAt: (phys: number) => ArrayLike<number> | undefined,
  d: Pick<MmDebugInfo, 'pteSwapMark' | 'pteSwapPageShift' | 'pteSwapSlotShift'>, pse: boolean, limit = 65536): SwappedPte[] {
  const out: SwappedPte[] = [];
  const mark = d.pteSwapMark;
  if (mark === 0) return out;
  for (let i = 0; i < upd.length && out.length < limit; i++) {
    const pde = upd[i] >>> 0;
    if (!(pde & 1) || (pse && pde & 0x80)) continue;
    const table = tableAt((pde & 0xfffff000) >>> 0);
    if (!table) continue;
    for (let j = 0; j < table.length && out.length < limit; j++) {
      const e = table[j] >>> 0;
      if ((e & 1) === 0 && (e & mark) !== 0) out.push({ virtual: ((i << 22) | (j << 12)) >>> 0, ...decodeSwappedPte(e, d), entry: e });
    }
  }
  return out;
}
