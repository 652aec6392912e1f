// The allocator shapes of docs/memory-model.md as pure decoders: bytes and values in, unit states
// (free / used / reserved), 4 KiB frame runs and structural findings out. The linked shapes
// (free list, buddy) walk through an injected link reader, so they can be tested on hand-built
// images. Every walk is bounded (at most units + 1 links) and cycle-safe; garbage becomes
// findings (free-list-cycle, free-frame-twice, pointer-outside-ram), never a hang or a throw.

import type { FindingDocJson, FrameAllocState, FrameRun, PhysicalRegionJson } from './snapshot-document';
import { BLOCK_STATES, decodeChainTable } from './chain-table';

export const UNIT_FREE = 0;
export const UNIT_USED = 1;
export const UNIT_RESERVED = 2;
const STATE_NAMES: readonly FrameAllocState[] = ['free', 'used', 'reserved'];
export const FRAME_BYTES = 4096;

/** The units an allocator manages: `units` units of `unitBytes` from physical `base`. */
export interface UnitRange {
  readonly base: bigint;
  readonly unitBytes: number;
  readonly units: number;
  /** QEMU's memory map, when known: a unit outside every RAM region is not RAM. */
  readonly regions?: readonly PhysicalRegionJson[];
}

export interface UnitCounts {
  readonly free: number;
  readonly used: number;
  readonly reserved: number;
}

export interface DecodedUnits {
  /** One state code per unit (UNIT_FREE, UNIT_USED, UNIT_RESERVED). */
  readonly states: Uint8Array;
  readonly findings: readonly FindingDocJson[];
  /** Buddy: free blocks per order. */
  readonly freeByOrder?: readonly number[];
}

const hex = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;

/** The 4 KiB frame runs of unit states (a unit of 16 KiB covers four frames). Sorted, merged. */
export function frameRuns(states: Uint8Array, base: bigint, unitBytes: number): FrameRun<FrameAllocState>[] {
  const perUnit = Math.max(1, Math.floor(unitBytes / FRAME_BYTES));
  const firstFrame = Number(base / BigInt(FRAME_BYTES));
  const runs: [number, number, FrameAllocState][] = [];
  for (let u = 0; u < states.length; ) {
    let v = u + 1;
    while (v < states.length && states[v] === states[u]) v++;
    runs.push([firstFrame + u * perUnit, (v - u) * perUnit, STATE_NAMES[states[u]]]);
    u = v;
  }
  return runs;
}

export function countUnits(states: Uint8Array): UnitCounts {
  let free = 0;
  let used = 0;
  let reserved = 0;
  for (let i = 0; i < states.length; i++) {
    if (states[i] === UNIT_FREE) free++;
    else if (states[i] === UNIT_RESERVED) reserved++;
    else used++;
  }
  return { free, used, reserved };
}

/** The unit a physical address lies in, or why it lies in none. */
export function unitOf(range: UnitRange, physical: bigint): { unit: number } | { outside: string } {
  const end = range.base + BigInt(range.units) * BigInt(range.unitBytes);
  if (physical < range.base || physical >= end) return { outside: `outside the memory it manages (${hex(range.base)}..${hex(end - 1n)})` };
  if (range.regions && range.regions.length) {
    const inRam = range.regions.some((r) => r.kind === 'ram' && physical >= BigInt(r.base) && physical < BigInt(r.base) + BigInt(r.size));
    if (!inRam) return { outside: 'which is not RAM in QEMU\'s memory map' };
  }
  return { unit: Number((physical - range.base) / BigInt(range.unitBytes)) };
}

export interface BitmapLayout {
  /** The bit value that means used (default 1). */
  readonly used?: 0 | 1;
  readonly bitOrder?: 'lsb' | 'msb';
  /** The word size for msb order. */
  readonly wordBytes?: 1 | 2 | 4 | 8;
}

/** Bytes of bitmap needed for `units` units. */
export function bitmapBytes(units: number, layout: BitmapLayout = {}): number {
  const word = layout.bitOrder === 'msb' ? (layout.wordBytes ?? 1) : 1;
  return Math.ceil(units / (8 * word)) * word;
}

/** One bit per unit. */
export function decodeBitmap(bytes: Uint8Array, units: number, layout: BitmapLayout = {}): DecodedUnits {
  const usedBit = layout.used ?? 1;
  const states = new Uint8Array(units);
  const wordBits = 8 * (layout.wordBytes ?? 1);
  for (let i = 0; i < units; i++) {
    let bit: number;
    if (layout.bitOrder === 'msb') {
      const w = Math.floor(i / wordBits);
      const inWord = wordBits - 1 - (i % wordBits);
      // little-endian words: bit b of a word is bit b % 8 of its byte b / 8
      bit = (bytes[w * (wordBits / 8) + (inWord >> 3)] >> (inWord & 7)) & 1;
    } else {
      bit = (bytes[i >> 3] >> (i & 7)) & 1;
    }
    states[i] = bit === usedBit ? UNIT_USED : UNIT_FREE;
  }
  return { states, findings: [] };
}

/** Reads the link stored in a free unit (throws when the unit cannot be read). */
export type LinkReader = (link: bigint, physical: bigint) => Promise<bigint>;
/** Turns a link value into a physical address (by what the links hold); undefined: untranslatable. */
export type LinkTranslator = (link: bigint) => Promise<bigint | undefined>;

export interface FreeListWalk {
  /** The first unit of every free block reached, in list order. */
  readonly units: readonly number[];
  readonly findings: readonly FindingDocJson[];
}

/**
 * Walks a list linked through the free units from `head` (a link value; 0 ends). Stops at a link
 * that leaves the range (pointer-outside-ram), a unit seen before (free-list-cycle), an unreadable
 * unit, or after range.units + 1 links.
 */
export async function walkFreeList(
  allocator: string, what: string, head: bigint, range: UnitRange, toPhysical: LinkTranslator, readNext: LinkReader,
): Promise<FreeListWalk> {
  const units: number[] = [];
  const findings: FindingDocJson[] = [];
  const seen = new Set<number>();
  let link = head;
  for (let steps = 0; link !== 0n; steps++) {
    if (steps > range.units) {
      findings.push({ kind: 'free-list-cycle', severity: 'error', allocator, message: `The ${what} of allocator "${allocator}" is longer than the ${range.units} units it manages: it loops.` });
      break;
    }
    const physical = await toPhysical(link);
    if (physical === undefined) {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, message: `The ${what} of allocator "${allocator}" links to ${hex(link)} (link ${steps}), which is not mapped.` });
      break;
    }
    const at = unitOf(range, physical);
    if ('outside' in at) {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, physical: Number(physical),
        message: `The ${what} of allocator "${allocator}" links to ${hex(physical)} (link ${steps}), ${at.outside}.` });
      break;
    }
    if (seen.has(at.unit)) {
      findings.push({ kind: 'free-list-cycle', severity: 'error', allocator, physical: Number(physical),
        message: `The ${what} of allocator "${allocator}" comes back to ${hex(physical)} after ${steps} links: it is a cycle.` });
      break;
    }
    seen.add(at.unit);
    units.push(at.unit);
    try {
      link = await readNext(link, physical);
    } catch {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, physical: Number(physical),
        message: `The free unit at ${hex(physical)} on the ${what} of allocator "${allocator}" cannot be read.` });
      break;
    }
  }
  return { units, findings };
}

/** A free list: the units it reaches are free, the rest of the range used. */
export function freeListUnits(range: UnitRange, walk: FreeListWalk): DecodedUnits {
  const states = new Uint8Array(range.units).fill(UNIT_USED);
  for (const u of walk.units) states[u] = UNIT_FREE;
  return { states, findings: walk.findings };
}

/** A stack of free entries (already turned into physical addresses; undefined: untranslatable). */
export function decodeFreeStack(allocator: string, range: UnitRange, entries: readonly { readonly raw: bigint; readonly physical: bigint | undefined }[]): DecodedUnits {
  const states = new Uint8Array(range.units).fill(UNIT_USED);
  const findings: FindingDocJson[] = [];
  entries.forEach((e, i) => {
    if (e.physical === undefined) {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, message: `Entry ${i} of allocator "${allocator}"'s free stack is ${hex(e.raw)}, which is not mapped.` });
      return;
    }
    const at = unitOf(range, e.physical);
    if ('outside' in at) {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, physical: Number(e.physical),
        message: `Entry ${i} of allocator "${allocator}"'s free stack names ${hex(e.physical)}, ${at.outside}.` });
      return;
    }
    if (states[at.unit] === UNIT_FREE) {
      findings.push({ kind: 'free-frame-twice', severity: 'error', allocator, physical: Number(e.physical),
        message: `Entry ${i} of allocator "${allocator}"'s free stack names ${hex(e.physical)} again: that unit is free twice.` });
      return;
    }
    states[at.unit] = UNIT_FREE;
  });
  return { states, findings };
}

/** A buddy allocator: per order, the first units of its free blocks (from walkFreeList); a block of order k is 2^k units aligned to its size. */
export function decodeBuddy(allocator: string, range: UnitRange, orders: readonly FreeListWalk[]): DecodedUnits {
  const states = new Uint8Array(range.units).fill(UNIT_USED);
  const findings: FindingDocJson[] = orders.flatMap((o) => o.findings);
  const freeByOrder: number[] = [];
  // Blocks are aligned to their size in absolute unit numbers (physical address / unitBytes).
  const baseUnit = Number(range.base / BigInt(range.unitBytes));
  orders.forEach((walk, order) => {
    const span = 2 ** order;
    let count = 0;
    for (const first of walk.units) {
      const physical = Number(range.base + BigInt(first) * BigInt(range.unitBytes));
      if ((baseUnit + first) % span !== 0 || first + span > range.units) {
        findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, physical,
          message: `The order-${order} free block at ${hex(physical)} of allocator "${allocator}" ${first % span !== 0 ? `is not aligned to ${span} units` : 'runs past the end of the memory it manages'}.` });
        continue;
      }
      let twice = false;
      for (let u = first; u < first + span; u++) if (states[u] === UNIT_FREE) twice = true;
      if (twice) {
        findings.push({ kind: 'free-frame-twice', severity: 'error', allocator, physical,
          message: `The order-${order} free block at ${hex(physical)} of allocator "${allocator}" overlaps another free block: its units are free twice.` });
      }
      states.fill(UNIT_FREE, first, first + span);
      count++;
    }
    freeByOrder.push(count);
  });
  return { states, findings, freeByOrder };
}

export interface RegionEntry {
  readonly start: bigint;
  /** Bytes. */
  readonly length: bigint;
  readonly state: FrameAllocState;
}

export interface DecodedRegions {
  readonly frames: FrameRun<FrameAllocState>[];
  readonly counts: UnitCounts;
  readonly findings: readonly FindingDocJson[];
}

/** A region table: every frame a region touches takes its state; later regions win. Frames no region covers are absent. */
export function decodeRegions(allocator: string, regions: readonly RegionEntry[], maxFrames: number): DecodedRegions {
  const findings: FindingDocJson[] = [];
  const spans: { first: number; end: number; state: number }[] = [];
  regions.forEach((r, i) => {
    const end = r.start + r.length;
    if (r.length < 0n || end >= 1n << 64n) {
      findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, message: `Region ${i} of allocator "${allocator}" (${hex(r.start)}, length ${hex(r.length)}) wraps past the end of the address space.` });
      return;
    }
    if (r.length === 0n) return;
    const first = Number(r.start / BigInt(FRAME_BYTES));
    const last = Number((end + BigInt(FRAME_BYTES) - 1n) / BigInt(FRAME_BYTES));
    spans.push({ first, end: last, state: STATE_NAMES.indexOf(r.state) });
  });
  if (!spans.length) return { frames: [], counts: { free: 0, used: 0, reserved: 0 }, findings };
  const low = Math.min(...spans.map((s) => s.first));
  const high = Math.max(...spans.map((s) => s.end));
  if (high - low > maxFrames) {
    findings.push({ kind: 'pointer-outside-ram', severity: 'error', allocator, message: `The regions of allocator "${allocator}" span ${hex(BigInt(high - low) * 4096n)} bytes, more than mmscope decodes (${maxFrames} frames).` });
    return { frames: [], counts: { free: 0, used: 0, reserved: 0 }, findings };
  }
  const NONE = 255;
  const states = new Uint8Array(high - low).fill(NONE);
  for (const s of spans) states.fill(s.state, s.first - low, s.end - low);
  const frames: [number, number, FrameAllocState][] = [];
  let free = 0;
  let used = 0;
  let reserved = 0;
  for (let f = 0; f < states.length; ) {
    let g = f + 1;
    while (g < states.length && states[g] === states[f]) g++;
    if (states[f] !== NONE) {
      frames.push([low + f, g - f, STATE_NAMES[states[f]]]);
      if (states[f] === UNIT_FREE) free += g - f;
      else if (states[f] === UNIT_RESERVED) reserved += g - f;
      else used += g - f;
    }
    f = g;
  }
  return { frames, counts: { free, used, reserved }, findings };
}

/** Our chain table (docs/chain-table.md), through the one chain-table decoder: free, used (heads, bodies, corrupt), reserved. */
export function decodeChainTableUnits(allocator: string, entries: Uint32Array): DecodedUnits {
  const table = decodeChainTable(entries, 'opaque');   // no slot table at this level
  const states = new Uint8Array(table.blockCount);
  for (let b = 0; b < table.blockCount; b++) {
    const s = BLOCK_STATES[table.states[b]];
    states[b] = s === 'free' ? UNIT_FREE : s === 'head' || s === 'body' || s === 'corrupt' ? UNIT_USED : UNIT_RESERVED;
  }
  const findings: FindingDocJson[] = table.findings.map((f) => ({
    kind: f.kind, severity: f.severity, message: f.message, allocator,
    ...(f.chain !== undefined ? { chain: f.chain } : {}),
    ...(f.otherChain !== undefined ? { otherChain: f.otherChain } : {}),
    ...(f.block !== undefined ? { block: f.block } : {}),
  }));
  return { states, findings };
}

/** Findings of one kind an allocator reports one by one; the rest become one summary (garbage stays readable). */
export const MAX_FINDINGS_PER_KIND = 20;

export function capFindings(allocator: string, findings: readonly FindingDocJson[]): FindingDocJson[] {
  const byKind = new Map<string, number>();
  const out: FindingDocJson[] = [];
  for (const f of findings) {
    const n = (byKind.get(f.kind) ?? 0) + 1;
    byKind.set(f.kind, n);
    if (n <= MAX_FINDINGS_PER_KIND) out.push(f);
  }
  for (const [kind, n] of byKind) {
    if (n <= MAX_FINDINGS_PER_KIND) continue;
    const first = out.find((f) => f.kind === kind);
    out.push({ kind, severity: first?.severity ?? 'error', allocator, message: `Allocator "${allocator}" has ${n - MAX_FINDINGS_PER_KIND} more ${kind} findings like the ones above.` });
  }
  return out;
}
