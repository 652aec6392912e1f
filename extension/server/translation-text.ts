// Writes a translation as the chain of steps a kernel developer reads in the hover:
// virtual → PDE → PTE → physical → block → chain → allocation site. Also a fallback walk on the
// snapshot's merged mapping runs, for when the debug session cannot be asked (the live feed).

import * as path from 'path';
import { SnapshotJson } from '../../debug-adapter/src/mm/snapshot-json';
import { Translation } from '../../debug-adapter/src/mm/translate';
import { describeEntryFlags, decodeEntry } from '../../qemu-bridge/src/paging/page-entry';
import { pagingModel } from '../../qemu-bridge/src/paging/paging-modes';
import { pageSizeName, TranslationStep } from '../../qemu-bridge/src/paging/translation-steps';

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** One line per step, markdown. */
export function translationLines(t: Translation): string[] {
  const space = t.space === 'kernel' ? 'kernel space' : t.space === 'current' ? 'current address space' : `pid ${t.space}`;
  const lines = [`virtual \`${typeof t.virtual === 'number' ? hex(t.virtual) : t.virtual}\` (${space})`];
  for (const step of t.steps ?? []) {
    const where = step.entryAddress !== undefined ? ` at ${hex(step.entryAddress)}` : '';
    // Our guest's directory entry comes from the KPD or the process's UPD; otherwise the level's name.
    const name = step.level === 'PD' && t.directorySource ? `PDE ${t.directorySource === 'upd' ? 'UPD' : 'KPD'}` : step.level === 'PT' ? 'PTE' : step.level;
    lines.push(`→ ${name}[${step.index}] = \`${step.raw}\`${where}${step.describe ? ` ${step.describe}` : ''}`);
  }
  if (t.notMapped) {
    lines.push(`→ not mapped: ${t.notMapped}`);
    return lines;
  }
  if (t.pageSize !== undefined && t.pageSize !== 4096) lines.push(`→ ${pageSizeName(t.pageSize)} page`);
  if (t.space === 'current' && t.physical !== undefined) lines.push(`→ ${t.writable ? 'writable' : 'read-only'}, ${t.user ? 'user' : 'kernel'}${t.nx ? ', no execute' : ''}`);
  if (t.physical !== undefined) lines.push(`→ physical \`${hex(t.physical)}\``);
  if (t.block !== undefined) lines.push(`→ block ${t.block}`);
  if (t.chain !== undefined) lines.push(`→ chain ${t.chain}${t.chainPage !== undefined ? ` (page ${t.chainPage})` : ''}`);
  if (t.site) lines.push(`→ allocated by ${t.site.function ?? hex(t.site.address)}${t.site.file ? ` at ${path.basename(t.site.file)}:${t.site.line}` : ''}`);
  return lines;
}

/**
 * Translates `virtual` with the snapshot alone, for when the debug session cannot be asked: the
 * directory entry the snapshot holds (the UPD or KPD copy, decoded by the walker's decoder), then
 * a lookup in the walker's merged mapping runs (no page-table reads, so no PTE step). The
 * physical address, page size, block, chain and site are the same as the adapter's.
 */
export function translateOnSnapshot(snap: SnapshotJson, virtual: number, pid?: number): Translation {
  const proc = pid === undefined ? snap.processes.find((p) => p.current) : snap.processes.find((p) => p.pid === pid);
  const user = virtual < snap.geometry.userSpaceEnd && proc !== undefined;
  const index = virtual >>> 22;
  const model = pagingModel({ cr0: 0x80000000, cr4: snap.cr4 });
  const entry = decodeEntry(model, model.levels[0], BigInt(((user && proc ? proc.upd[index] : snap.kpd[index]) ?? 0) >>> 0));
  const directory: TranslationStep = {
    level: 'PD', index, raw: `0x${entry.raw.toString(16).padStart(8, '0')}`, flags: entry.flags, present: entry.present, leaf: entry.leaf,
    nx: false, describe: describeEntryFlags(entry), ...(user ? {} : { entryAddress: snap.geometry.kpdPhys + index * 4 }),
  };
  const base: Translation = { virtual, space: user && proc ? proc.pid : 'kernel', directorySource: user ? 'upd' : 'kpd', steps: [directory] };
  if (!entry.present) return { ...base, notMapped: `the PD entry ${index} is not present` };
  const runs = user && proc ? proc.mappings : snap.kernelMappings;
  const run = runs.find((r) => virtual >= r.va && virtual < r.va + r.size);
  if (!run) return { ...base, notMapped: 'no mapping of the snapshot covers it' };
  const physical = run.pa + (virtual - run.va);
  const block = Math.floor(physical / snap.geometry.blockSize);
  const chain = snap.chains.find((c) => c.blocks.includes(block));
  const pagesPerBlock = snap.geometry.blockSize / snap.geometry.pageSize;
  return {
    ...base,
    physical,
    pageSize: run.pageSize,
    nx: run.nx,
    block: block < snap.geometry.blockCount ? block : undefined,
    chain: chain?.id,
    chainPage: chain ? chain.blocks.indexOf(block) * pagesPerBlock + Math.floor((physical % snap.geometry.blockSize) / snap.geometry.pageSize) : undefined,
    site: chain?.site ?? undefined,
  };
}
