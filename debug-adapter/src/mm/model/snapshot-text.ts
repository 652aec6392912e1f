// A compact human-readable rendering of a snapshot for terminals (CLI, the demo main job).

import { MmSnapshot } from './snapshot';
import { chainFlagNames } from './snapshot-json';
import { formatSite } from './site-resolver';
import { pageSizeName, translationStepLines } from '../../../../qemu-bridge/src/paging/translation-steps';
import type { Translation, TranslationStep } from '../../../../contract/translation';

const hex = (n: number, w = 8): string => `0x${(n >>> 0).toString(16).padStart(w, '0')}`;
const kib = (bytes: number): string => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`);

export function formatSnapshot(s: MmSnapshot, options: { maxChains?: number } = {}): string {
  const out: string[] = [];
  const b = s.blocks;
  out.push(`cr3 ${hex(s.registers.cr3)}  paging ${s.registers.paging ? 'on' : 'off'}  PSE ${s.registers.pse ? 'on' : 'off'}`);
  out.push(`blocks: ${s.geometry.blockCount} of 16 KiB (${kib(s.geometry.blockCount * s.geometry.blockSize)}): ${b.used} used, ${b.free} free, ${b.reserved} reserved` +
    `${b.corrupt ? `, ${b.corrupt} corrupt` : ''}; largest free run ${b.largestFreeRun}, fragmentation ${b.fragmentationPercent}%`);
  out.push(`counters: ${s.counters.allocations} allocations, ${s.counters.defragRuns} defragmentations (${s.counters.defragMoved} blocks moved), ${s.counters.contextSwitches} context switches`);
  out.push('', 'processes:');
  for (const p of s.processes) {
    const pages = p.mappings.reduce((n, r) => n + r.length, 0);
    out.push(`  ${p.current ? '*' : ' '} pid ${String(p.pid).padEnd(3)} ${p.name.padEnd(12)} ${p.state.padEnd(9)} ${p.mode.padEnd(6)} user space ${kib(pages).padStart(9)} in ${p.mappings.length} runs` +
      `${p.swappedPages.length ? `, ${p.swappedPages.length} pages swapped out` : ''}${p.updMatchesKpd === false ? '  (KPD slice STALE)' : ''}`);
    if (p.v86) {
      const t = p.v86;
      out.push(`        DOS task: PSP ${hex(t.pspSeg, 4)} ${t.status}, low chain ${t.lowChain} (${kib(t.lowChainBytes)}), ${t.mcbBlocks.length} MCB blocks (${kib(t.mcbParagraphs * 16)}), XMS ${t.xmsHandles.length}, DPMI ${t.dpmiHandles.length}`);
    }
  }
  if (s.dos) {
    const d = s.dos;
    out.push(`DOS arena: ${d.blocks.length} MCB blocks, ${kib(d.usedParagraphs * 16)} used, ${kib(d.freeParagraphs * 16)} free${d.broken ? `; BROKEN at segment ${hex(d.broken.segment, 4)}` : ''}`);
  }
  if (s.swap) {
    const w = s.swap;
    out.push(w.slotCount ? `swap: ${w.used} of ${w.slotCount} slots in use, ${w.outs} blocks out, ${w.ins} in` : 'swap: off (no swap disk)');
  }
  const max = options.maxChains ?? 40;
  out.push('', `chains: ${s.chains.length}`);
  for (const c of s.chains.slice(0, max)) {
    const flags = chainFlagNames(c.flags).join(',') || '-';
    const where = c.mappedAt.map((m) => `${m.space === 'kernel' ? 'kernel' : `pid ${m.space}`}@${hex(m.virtual)}`).join(' ') || 'unmapped';
    const handles = c.handles.map((h) => `${h.type}#${h.handle}`).join(' ');
    out.push(`  ${String(c.id).padStart(6)} ${String(c.blockCount).padStart(4)} blk ${flags.padEnd(18)} ${c.owner.kind.padEnd(10)} ${where} ${handles} ${formatSite(c.site, c.owner.caller)}`.trimEnd());
  }
  if (s.chains.length > max) out.push(`  ... ${s.chains.length - max} more`);
  out.push('', `findings: ${s.findings.length}`);
  for (const f of s.findings) out.push(`  ${f.severity.padEnd(7)} ${f.kind}: ${f.message}`);
  return out.join('\n') + '\n';
}

/** The name of a step's table: our guest's KPD or the process's UPD for the directory entry, else the level (PML4, PDPT, PD, PT). */
export function translationTableName(t: Translation, step: TranslationStep): string {
  if (step.level === 'PD' && t.directorySource) return t.directorySource.toUpperCase();
  return step.level;
}

/** A translation's virtual address as text: 8 hex digits, or the exact hex of a 64-bit one. */
export function virtualText(v: number | string): string {
  return typeof v === 'number' ? hex(v) : v;
}

export function formatTranslation(t: Translation): string {
  const where = t.space === 'current' ? 'the current address space' : t.space === 'kernel' ? 'the kernel' : typeof t.space === 'string' ? `the address space ${t.space}` : `process ${t.space}`;
  const lines = [`${virtualText(t.virtual)} in ${where}${t.directorySource ? ` (directory: ${t.directorySource.toUpperCase()})` : ''}`];
  for (const line of translationStepLines(t, (step) => translationTableName(t, step), ' (in the PCB)')) lines.push(`  ${line}`);
  if (t.swapped) {
    lines.push(`  ${t.notMapped} — page ${t.swapped.page} of its block`);
    lines.push(t.chain !== undefined ? `  chain ${t.chain}, page ${t.chainPage}, allocated by ${formatSite(t.site)}` : '  no chain holds the slot');
  } else if (t.notMapped) {
    lines.push(`  not mapped: ${t.notMapped}`);
  } else if (!t.directorySource) {
    lines.push(`  physical ${hex(t.physical ?? 0)} (${pageSizeName(t.pageSize ?? 4096)} page, ${t.writable ? 'writable' : 'read-only'}, ${t.user ? 'user' : 'kernel'}${t.nx ? ', no execute' : ''})`);
  } else {
    lines.push(`  physical ${hex(t.physical ?? 0)} (${pageSizeName(t.pageSize ?? 4096)} page), block ${t.block ?? '-'}`);
    lines.push(t.chain !== undefined ? `  chain ${t.chain}, page ${t.chainPage}, allocated by ${formatSite(t.site)}` : '  no chain (reserved or free memory)');
  }
  return lines.join('\n') + '\n';
}

/** One line for a debug hover: where a pointer lands (physical address, block, chain, allocation site). */
export function formatTranslationNote(t: Translation): string {
  if (t.swapped) return `${t.notMapped}${t.chain !== undefined ? ` · chain ${t.chain} page ${t.chainPage}, ${formatSite(t.site)}` : ''}`;
  if (t.notMapped) return `not mapped (${t.notMapped})`;
  const parts = [`phys ${hex(t.physical ?? 0)}`];
  if (!t.directorySource) {
    parts.push(`${pageSizeName(t.pageSize ?? 4096)} page`, `${t.writable ? 'rw' : 'ro'}${t.nx ? ' nx' : ''} ${t.user ? 'user' : 'kernel'}`);
    return parts.join(' · ');
  }
  if (t.block !== undefined) parts.push(`block ${t.block}`);
  if (t.chain !== undefined) parts.push(`chain ${t.chain}, ${formatSite(t.site)}`);
  else parts.push('no chain');
  return parts.join(' · ');
}
