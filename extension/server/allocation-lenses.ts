// Code lenses on allocation call sites: for each source line that allocated what is live now, how
// much it holds: our guest's chains ("3 live chains, 24 blocks allocated here", from its owner
// records), and, on any kernel whose description names its allocation functions (level 2),
// the traced allocations ("5 live allocations, 20 KiB allocated here").

import type { ViewSnapshot } from '../src/view-snapshot';
import { sameSource } from './site-files';

export interface AllocationLens {
  /** Zero-based line. */
  readonly line: number;
  readonly title: string;
  /** Our guest's chains allocated there (empty for traced allocations). */
  readonly chains: readonly number[];
  /** Traced allocations live from there (level 2). */
  readonly traced?: number;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function bytesText(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}

export function allocationLenses(snap: ViewSnapshot, docPath: string): AllocationLens[] {
  const byLine = new Map<number, { chains: number[]; blocks: number }>();
  for (const c of snap.chains ?? []) {
    if (!c.site?.file || !c.site.line || !sameSource(c.site.file, docPath)) continue;
    const e = byLine.get(c.site.line) ?? { chains: [], blocks: 0 };
    e.chains.push(c.id);
    e.blocks += c.blocks.length;
    byLine.set(c.site.line, e);
  }
  const chainLenses = [...byLine.entries()].map(([line, e]): AllocationLens => ({
    line: line - 1,
    title: `${plural(e.chains.length, 'live chain')}, ${plural(e.blocks, 'block')} allocated here`,
    chains: e.chains,
  }));
  const traced = new Map<number, { live: number; bytes: number }>();
  for (const s of snap.tracing?.sites ?? []) {
    if (!s.site.file || !s.site.line || s.live <= 0 || !sameSource(s.site.file, docPath)) continue;
    const e = traced.get(s.site.line) ?? { live: 0, bytes: 0 };
    e.live += s.live;
    e.bytes += s.bytes;
    traced.set(s.site.line, e);
  }
  const tracedLenses = [...traced.entries()].map(([line, e]): AllocationLens => ({
    line: line - 1,
    title: `${plural(e.live, 'live allocation')}, ${bytesText(e.bytes)} allocated here`,
    chains: [],
    traced: e.live,
  }));
  return [...chainLenses, ...tracedLenses].sort((a, b) => a.line - b.line);
}
