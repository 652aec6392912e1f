// Code lenses on allocation call sites: for each source line that allocated live chains, how many
// chains and blocks it holds now ("3 live chains, 24 blocks allocated here").

import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { sameSource } from './site-files';

export interface AllocationLens {
  /** Zero-based line. */
  readonly line: number;
  readonly title: string;
  readonly chains: readonly number[];
}

export function allocationLenses(snap: SnapshotJson, docPath: string): AllocationLens[] {
  const byLine = new Map<number, { chains: number[]; blocks: number }>();
  for (const c of snap.chains) {
    if (!c.site?.file || !c.site.line || !sameSource(c.site.file, docPath)) continue;
    const e = byLine.get(c.site.line) ?? { chains: [], blocks: 0 };
    e.chains.push(c.id);
    e.blocks += c.blocks.length;
    byLine.set(c.site.line, e);
  }
  return [...byLine.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([line, e]) => ({
      line: line - 1,
      title: `${e.chains.length} live chain${e.chains.length === 1 ? '' : 's'}, ${e.blocks} block${e.blocks === 1 ? '' : 's'} allocated here`,
      chains: e.chains,
    }));
}
