// What the physical memory map draws, without drawing it: which chain owns each block, the colour
// of a block by chain and state, and the text shown when hovering a block. Pure (no DOM), so it
// is tested in Node and shared by the dashboard and the VS Code webview.

import type { ChainView, SnapshotView } from './snapshot-view.js';

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

export function indexSnapshot(s: SnapshotView): MapIndex {
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
export function blockColour(s: SnapshotView, index: MapIndex, i: number): string {
  const ch = s.blocks.map[i] ?? '_';
  const chain = index.chainOf[i];
  if (chain >= 0) {
    const c = index.chains.get(chain);
    if (c) return chainColour(c);
  }
  return STATE_COLOURS[ch] ?? (ch === 'C' || ch === 'c' ? '#9aa3ad' : '#ff2bd6');
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function siteText(site: ChainView['site']): string {
  if (!site) return 'unknown caller';
  const file = site.file ? site.file.split('/').pop() : undefined;
  return `${site.function ?? hex(site.address)}${file ? ` at ${file}:${site.line}` : ''}`;
}

/** One line per fact about block `i`, for the hover tooltip. */
export function describeBlock(s: SnapshotView, index: MapIndex, i: number): string[] {
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
