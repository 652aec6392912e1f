// Writes a translation as the chain of steps a kernel developer reads in the hover:
// virtual → PDE → PTE → physical → block → chain → allocation site. Also a fallback walk on the
// snapshot's merged mapping runs, for when the debug session cannot be asked (the live feed).

import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { Translation } from '../../debug-adapter/src/mm/translate';
import { decodeEntryFlags } from '../../debug-adapter/src/mm/paging-entry';

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** One line per step, markdown. */
export function translationLines(t: Translation): string[] {
  const space = t.space === 'kernel' ? 'kernel space' : `pid ${t.space}`;
  const lines = [`virtual \`${hex(t.virtual)}\` (${space})`];
  const dir = t.directorySource === 'upd' ? 'UPD' : 'KPD';
  if (t.pde) lines.push(`→ PDE ${dir}[${t.pde.index}] = \`${hex(t.pde.value)}\`${t.pde.address !== undefined ? ` at ${hex(t.pde.address)}` : ''}`);
  if (t.pte) lines.push(`→ PTE [${t.pte.index}] = \`${hex(t.pte.value)}\` at ${hex(t.pte.address ?? 0)}`);
  else if (t.physical !== undefined && t.pageSize === 4 << 20) lines.push('→ 4 MiB page (no page table)');
  if (t.notMapped) {
    lines.push(`→ not mapped: ${t.notMapped}`);
    return lines;
  }
  if (t.physical !== undefined) lines.push(`→ physical \`${hex(t.physical)}\``);
  if (t.block !== undefined) lines.push(`→ block ${t.block}`);
  if (t.chain !== undefined) lines.push(`→ chain ${t.chain}${t.chainPage !== undefined ? ` (page ${t.chainPage})` : ''}`);
  if (t.site) lines.push(`→ allocated by ${t.site.function ?? hex(t.site.address)}${t.site.file ? ` at ${path.basename(t.site.file)}:${t.site.line}` : ''}`);
  return lines;
}

/**
 * Translates `virtual` with the snapshot alone (its merged mapping runs, no page-table reads):
 * no PTE step, but the physical address, block, chain and site are the same as the adapter's.
 */
export function translateOnSnapshot(snap: SnapshotJson, virtual: number, pid?: number): Translation {
  const proc = pid === undefined ? snap.processes.find((p) => p.current) : snap.processes.find((p) => p.pid === pid);
  const index = virtual >>> 22;
  const user = virtual < snap.geometry.userSpaceEnd && proc !== undefined;
  const value = ((user && proc ? proc.upd[index] : snap.kpd[index]) ?? 0) >>> 0;
  const flags = decodeEntryFlags(value);
  const base: Translation = { virtual, space: user && proc ? proc.pid : 'kernel', directorySource: user ? 'upd' : 'kpd', pde: { index, value, flags } };
  const runs = user && proc ? proc.mappings : snap.kernelMappings;
  const run = runs.find((r) => virtual >= r.va && virtual < r.va + r.size);
  if (!run) return { ...base, notMapped: flags.present ? 'no page-table entry maps it' : `directory entry ${index} is not present` };
  const physical = run.pa + (virtual - run.va);
  const block = Math.floor(physical / snap.geometry.blockSize);
  const chain = snap.chains.find((c) => c.blocks.includes(block));
  const pagesPerBlock = snap.geometry.blockSize / snap.geometry.pageSize;
  return {
    ...base,
    physical,
    pageSize: run.flags & 0x80 ? 4 << 20 : snap.geometry.pageSize,
    block: block < snap.geometry.blockCount ? block : undefined,
    chain: chain?.id,
    chainPage: chain ? chain.blocks.indexOf(block) * pagesPerBlock + Math.floor((physical % snap.geometry.blockSize) / snap.geometry.pageSize) : undefined,
    site: chain?.site ?? undefined,
  };
}
