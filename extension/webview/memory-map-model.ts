// What the physical memory map draws, without drawing it. Our guest: which chain owns each 16 KiB
// block, the colour of a block by chain and state, the text shown when hovering a block. Any
// kernel: the frame map of the document (frames.mapping runs of 4 KiB frames, and the allocators'
// layer when a description gives one) folded into cells of a power-of-two number of frames, so
// that 3 GiB and more of RAM is a few thousand cells and never an element or a loop per frame; a
// cell's colour is the state most of its frames are in, its tooltip counts them all. Pure (no DOM),
// so it is tested in Node and shared by the dashboard and the VS Code webview.

import type { ChainView, FrameAllocState, FrameMapState, FrameRun, FramesJson, GuestSnapshotView } from '../../contract/guest-document.js';

/** Block states by the map character of docs/snapshot-schema.md. */
export const BLOCK_STATE_NAMES: { readonly [char: string]: string } = {
  '.': 'free', C: 'chain head', c: 'chain', K: 'reserved: kernel', F: 'reserved: firmware', D: 'reserved: DOS memory', _: 'not RAM', X: 'corrupt',
};

const STATE_COLOURS: { readonly [char: string]: string } = {
  '.': '#343b45', K: '#7a5a2e', F: '#55575c', D: '#3f6146', _: '#111214', X: '#ff2bd6',
};

/** Which chain each block belongs to (-1: none), and the chains by id. */
export interface MapIndex {
  readonly chainOf: Int32Array;
  readonly chains: ReadonlyMap<number, ChainView>;
}

export function indexSnapshot(s: GuestSnapshotView): MapIndex {
  const chainOf = new Int32Array(s.blocks.map.length).fill(-1);
  const chains = new Map<number, ChainView>();
  for (const c of s.chains) {
    chains.set(c.id, c);
    for (const b of c.blocks) if (b >= 0 && b < chainOf.length) chainOf[b] = c.id;
  }
  return { chainOf, chains };
}

/** A stable colour per chain: hue from the owner's sequence number (so a moved chain keeps it). */
export function chainColour(c: ChainView): string {
  const key = c.owner.seq || c.id;
  const hue = Math.round((key * 137.508) % 360);
  if (c.flagNames.includes('frozen')) return `hsl(${hue}, 35%, 42%)`;
  return `hsl(${hue}, 70%, 58%)`;
}

/** The fill colour of block `i`. */
export function blockColour(s: GuestSnapshotView, index: MapIndex, i: number): string {
  const ch = s.blocks.map[i] ?? '_';
  const chain = index.chainOf[i];
  if (chain >= 0) {
    const c = index.chains.get(chain);
    if (c) return chainColour(c);
  }
  return STATE_COLOURS[ch] ?? (ch === 'C' || ch === 'c' ? '#9aa3ad' : '#ff2bd6');
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

export function siteText(site: ChainView['site']): string {
  if (!site) return 'unknown caller';
  const file = site.file ? site.file.split('/').pop() : undefined;
  const address = typeof site.address === 'number' ? hex(site.address) : site.address;
  return `${site.function ?? address}${file ? ` at ${file}:${site.line}` : ''}`;
}

/** One line per fact about block `i`, for the hover tooltip. */
export function describeBlock(s: GuestSnapshotView, index: MapIndex, i: number): string[] {
  const size = s.geometry.blockSize;
  const ch = s.blocks.map[i] ?? '?';
  const lines = [`block ${i} · physical ${hex(i * size)}–${hex((i + 1) * size - 1)}`];
  const chain = index.chainOf[i];
  const c = chain >= 0 ? index.chains.get(chain) : undefined;
  if (c) {
    const pos = c.blocks.indexOf(i);
    lines.push(`chain ${c.id}: ${c.blocks.length} block${c.blocks.length === 1 ? '' : 's'} (${Math.round(c.sizeBytes / 1024)} KiB), block ${pos + 1} of ${c.blocks.length}`);
    lines.push(`${c.owner.kind} #${c.owner.seq}${c.flagNames.length ? ' · ' + c.flagNames.join(', ') : ''}`);
    lines.push(`allocated by ${siteText(c.site)}`);
    if (c.mappedAt.length) lines.push(`mapped: ${c.mappedAt.map((m) => `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`} ${hex(m.virtual)}`).join(', ')}`);
    if (c.handles.length) lines.push(`handles: ${c.handles.map((h) => `${h.type.toUpperCase()} ${h.handle}`).join(', ')}`);
  } else {
    lines.push(BLOCK_STATE_NAMES[ch] ?? `state "${ch}"`);
  }
  return lines;
}

// ---- The frame map (any kernel) ----

/** The page tables' states, in the order of the legend (and of FrameCells.mapping's codes). */
export const FRAME_MAP_STATES: readonly FrameMapState[] = ['mapped', 'multi', 'table', 'unmapped', 'not-ram'];
/** The allocators' states (FrameCells.allocation's codes). */
export const FRAME_ALLOC_STATES: readonly FrameAllocState[] = ['free', 'used', 'reserved'];

export const FRAME_MAP_NAMES: Readonly<Record<FrameMapState, string>> = {
  mapped: 'mapped', multi: 'mapped at several addresses', table: 'page-table page', unmapped: 'RAM, not mapped', 'not-ram': 'not RAM',
};
export const FRAME_ALLOC_NAMES: Readonly<Record<FrameAllocState, string>> = { free: 'free in the allocator', used: 'allocated', reserved: 'reserved' };

export const FRAME_MAP_COLOURS: Readonly<Record<FrameMapState, string>> = {
  mapped: '#3f8fd8', multi: '#b36ae2', table: '#e8a33c', unmapped: '#343b45', 'not-ram': '#111214',
};
export const FRAME_ALLOC_COLOURS: Readonly<Record<FrameAllocState, string>> = { free: '#5fbf6a', used: '#d9534f', reserved: '#7a5a2e' };

/** Code of "no allocator covers these frames" in FrameCells.allocation. */
export const NO_ALLOCATOR = 255;

/** The frame map folded into cells. */
export interface FrameCells {
  /** Frames per cell: a power of two. */
  readonly framesPerCell: number;
  readonly cells: number;
  /** Frames drawn: frames.count, or further when a run of the document goes beyond it. */
  readonly frames: number;
  /** Per cell: the index in FRAME_MAP_STATES of the state most of its frames are in. */
  readonly mapping: Uint8Array;
  /**
   * Per cell: a rarer state some of its frames are in although most are not (page-table page, then
   * mapped at several addresses, then not RAM), drawn as a corner mark so that a few page tables
   * among 64 mapped frames still show; NO_ALLOCATOR when there is none.
   */
  readonly accent: Uint8Array;
  /** Per cell: the index in FRAME_ALLOC_STATES, or NO_ALLOCATOR; absent without an allocation layer. */
  readonly allocation?: Uint8Array;
  /** Per cell and state: how many frames (cells × states, row-major). */
  readonly mappingCounts: Uint32Array;
  readonly allocationCounts?: Uint32Array;
}

/** The smallest power of two of frames per cell that keeps the cells at most `maxCells`. */
export function framesPerCellFor(frames: number, maxCells: number): number {
  let n = 1;
  while (Math.ceil(frames / n) > Math.max(1, maxCells)) n *= 2;
  return n;
}

/** Adds each run's frames to the cells it covers: O(runs + cells), whatever the RAM size. */
function foldRuns<S extends string>(runs: readonly FrameRun<S>[], states: readonly S[], cells: number, per: number): Uint32Array {
  const k = states.length;
  const counts = new Uint32Array(cells * k);
  const code = new Map(states.map((s, i) => [s, i]));
  for (const [first, count, state] of runs) {
    const c = code.get(state);
    if (c === undefined || count <= 0) continue;
    const end = Math.min(first + count, cells * per);
    for (let f = Math.max(0, first); f < end;) {
      const cell = Math.floor(f / per);
      const next = Math.min(end, (cell + 1) * per);
      counts[cell * k + c] += next - f;
      f = next;
    }
  }
  return counts;
}

/** Per cell, the state with the most frames (ties: the earlier state); `none` for a cell with no frame counted. */
function dominant(counts: Uint32Array, k: number, cells: number, none: number): Uint8Array {
  const out = new Uint8Array(cells).fill(none);
  for (let i = 0; i < cells; i++) {
    let best = -1;
    let most = 0;
    for (let s = 0; s < k; s++) if (counts[i * k + s] > most) (most = counts[i * k + s]), (best = s);
    if (best >= 0) out[i] = best;
  }
  return out;
}

/** Frames to draw: frames.count, or the end of the last run when a layer goes further (bounded by 2^32 frames). */
export function frameExtent(frames: FramesJson): number {
  let end = frames.count;
  for (const runs of [frames.mapping, frames.allocation ?? []]) {
    const last = runs[runs.length - 1];
    if (last) end = Math.max(end, last[0] + last[1]);
  }
  return Math.min(end, 2 ** 32);
}

/** Folds the document's frame map into at most `maxCells` cells. */
export function frameCells(frames: FramesJson, maxCells: number): FrameCells {
  const extent = frameExtent(frames);
  const per = framesPerCellFor(extent, maxCells);
  const cells = Math.ceil(extent / per);
  const mappingCounts = foldRuns(frames.mapping, FRAME_MAP_STATES, cells, per);
  const k = FRAME_MAP_STATES.length;
  const mapping = dominant(mappingCounts, k, cells, FRAME_MAP_STATES.indexOf('unmapped'));
  const accent = new Uint8Array(cells).fill(NO_ALLOCATOR);
  const rare = (['table', 'multi', 'not-ram'] as const).map((s) => FRAME_MAP_STATES.indexOf(s));
  for (let i = 0; i < cells; i++) {
    for (const s of rare) {
      if (s !== mapping[i] && mappingCounts[i * k + s] > 0) {
        accent[i] = s;
        break;
      }
    }
  }
  if (!frames.allocation) return { framesPerCell: per, cells, frames: extent, mapping, accent, mappingCounts };
  const allocationCounts = foldRuns(frames.allocation, FRAME_ALLOC_STATES, cells, per);
  const allocation = dominant(allocationCounts, FRAME_ALLOC_STATES.length, cells, NO_ALLOCATOR);
  return { framesPerCell: per, cells, frames: extent, mapping, accent, mappingCounts, allocation, allocationCounts };
}

/** Bytes as text. */
function bytesText(n: number): string {
  for (const [unit, b] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 1024]] as const) if (n >= b && n % b === 0) return `${n / b} ${unit}`;
  return n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} B`;
}

/** One line per fact about cell `i`, for the hover tooltip. */
export function describeFrameCell(frames: FramesJson, c: FrameCells, i: number): string[] {
  const first = i * c.framesPerCell;
  const last = Math.min(c.frames, first + c.framesPerCell) - 1;
  const n = last - first + 1;
  const lines = [n === 1
    ? `frame ${first} · physical ${hex(first * 4096)}–${hex(first * 4096 + 4095)}`
    : `frames ${first}–${last} (${n}, ${bytesText(n * 4096)}) · physical ${hex(first * 4096)}–${hex((last + 1) * 4096 - 1)}`];
  const k = FRAME_MAP_STATES.length;
  const parts = FRAME_MAP_STATES.map((s, j) => [s, c.mappingCounts[i * k + j]] as const).filter(([, v]) => v > 0);
  lines.push(parts.map(([s, v]) => (n === 1 ? FRAME_MAP_NAMES[s] : `${FRAME_MAP_NAMES[s]}: ${v}`)).join(', ') || 'no page table maps it');
  if (c.allocationCounts) {
    const a = FRAME_ALLOC_STATES.length;
    const ap = FRAME_ALLOC_STATES.map((s, j) => [s, c.allocationCounts![i * a + j]] as const).filter(([, v]) => v > 0);
    lines.push(ap.length ? `allocator: ${ap.map(([s, v]) => (n === 1 ? FRAME_ALLOC_NAMES[s] : `${FRAME_ALLOC_NAMES[s]}: ${v}`)).join(', ')}` : 'no allocator covers it');
  }
  const lo = first * 4096;
  const hi = (last + 1) * 4096;
  const regions = frames.regions.filter((r) => r.base < hi && r.base + r.size > lo).map((r) => `${r.name} (${r.kind})`);
  if (regions.length) lines.push(`QEMU: ${regions.slice(0, 3).join(', ')}${regions.length > 3 ? ` and ${regions.length - 3} more` : ''}`);
  return lines;
}

export interface LegendEntry {
  readonly layer: 'mapping' | 'allocation';
  readonly state: FrameMapState | FrameAllocState;
  readonly name: string;
  readonly colour: string;
  readonly count: number;
}

/** The legend's entries with the document's counts (frames.counts, allocationCounts). */
export function frameLegend(frames: FramesJson): LegendEntry[] {
  const out: LegendEntry[] = FRAME_MAP_STATES
    .filter((s) => s !== 'not-ram' || frames.ramKnown)
    .map((s) => ({ layer: 'mapping', state: s, name: FRAME_MAP_NAMES[s], colour: FRAME_MAP_COLOURS[s], count: frames.counts[s] ?? 0 }));
  if (frames.allocation) {
    for (const s of FRAME_ALLOC_STATES) out.push({ layer: 'allocation', state: s, name: FRAME_ALLOC_NAMES[s], colour: FRAME_ALLOC_COLOURS[s], count: frames.allocationCounts?.[s] ?? 0 });
  }
  return out;
}

/** The caption under the map: RAM size, the cell size, and what the colours count. */
export function frameCaption(frames: FramesJson, c: FrameCells): string {
  const ram = frames.ramKnown ? `${bytesText(c.frames * 4096)} of frames` : `${c.frames} frames (QEMU's memory map unknown: RAM up to the highest frame known)`;
  return `${ram} · one cell = ${c.framesPerCell === 1 ? 'one 4 KiB frame' : `${c.framesPerCell} frames (${bytesText(c.framesPerCell * 4096)})`}`;
}
