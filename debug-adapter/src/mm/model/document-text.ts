// The snapshot document (schema 3) as terminal text, for any kernel: the debug console's
// `spaces` and `frames`, and `mmscope snapshot` without --json on a kernel that is not ours
// (level 0 and level 1): the address spaces with their mapping runs, the processes, the frame
// map's counts, the allocators, the findings. Our guest's text stays snapshot-text.ts's.

import type { FindingDocJson, FrameMapState, JsonAddress, SnapshotDocument, SpaceJson } from './snapshot-document';

const PAGING_NAMES: Record<SnapshotDocument['pagingMode'], string> = {
  none: 'paging off', 'x86-32': '32-bit paging', pae: 'PAE paging', 'x86-64': '4-level paging', 'x86-64-la57': '5-level paging',
};

const LEVEL_NAMES: Record<string, string> = {
  '0': 'level 0: nothing described',
  '1': 'level 1: a memory-model description',
  descriptor: "our guest's mm_debug_info descriptor",
};

const big = (a: JsonAddress): bigint => BigInt(a);
const hex = (a: JsonAddress | bigint, digits = 8): string => `0x${(typeof a === 'bigint' ? a : big(a)).toString(16).padStart(digits, '0')}`;
const wide = (mode: SnapshotDocument['pagingMode']): number => (mode === 'x86-64' || mode === 'x86-64-la57' ? 16 : 8);

function pageSizeText(bytes: number): string {
  return bytes >= 1 << 30 ? `${bytes / (1 << 30)} GiB` : bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

/** One line per space: id, label, where it came from, its size. */
export function formatSpaces(doc: Pick<SnapshotDocument, 'spaces' | 'currentSpace'>, options: { only?: boolean } = {}): string {
  if (!doc.spaces.length) return 'no address space is known (paging is off)';
  const lines = options.only ? [] : [`${doc.spaces.length} address space${doc.spaces.length === 1 ? '' : 's'} (open one more with: space CR3)`];
  for (const s of doc.spaces) {
    const seen = s.firstSeenStop !== undefined ? `, seen at stops ${s.firstSeenStop}..${s.lastSeenStop}` : '';
    const stale = !s.current && !s.sources.some((x) => x === 'current' || x === 'process' || x === 'named') ? ' (possibly stale)' : '';
    const cr3 = s.label.startsWith('CR3 ') ? '' : ` (CR3 ${hex(s.cr3, 1)})`;
    lines.push(`${s.current ? '*' : ' '} ${s.id.padEnd(20)} ${s.label}${cr3}: ${s.pages} pages in ${s.mappings.length} runs, ${s.tablesRead} tables; ${s.sources.join(', ')}${seen}${stale}`);
  }
  return lines.join('\n');
}

const FRAME_STATE_NAMES: Record<FrameMapState, string> = {
  mapped: 'mapped once', multi: 'mapped at several addresses', table: 'page-table pages', unmapped: 'unmapped RAM', 'not-ram': 'not RAM',
};

/** The frame map's summary: counts per state, QEMU's regions, the allocators' layer. */
export function formatFrames(doc: SnapshotDocument): string {
  const f = doc.frames;
  const lines = [`${f.count} frames of 4 KiB (${pageSizeText(f.count * 4096)})${f.ramKnown ? `, RAM from QEMU's memory map (${f.regions.length} regions)` : ', RAM unknown (no QMP): no frame counts as not RAM'}`];
  for (const state of ['mapped', 'multi', 'table', 'unmapped', 'not-ram'] as const) lines.push(`  ${FRAME_STATE_NAMES[state].padEnd(28)} ${f.counts[state]}`);
  if (f.allocationCounts) lines.push(`  allocators: ${f.allocationCounts.used} used, ${f.allocationCounts.free} free, ${f.allocationCounts.reserved} reserved`);
  for (const r of f.regions.filter((x) => x.kind === 'ram')) lines.push(`  RAM ${hex(r.base)}-${hex(r.base + r.size - 1)} ${r.name}`);
  return lines.join('\n');
}

function findingLine(f: FindingDocJson): string {
  const where = [f.space, f.virtual !== undefined ? `va ${hex(f.virtual, 1)}` : undefined, f.physical !== undefined ? `pa ${hex(f.physical, 1)}` : undefined].filter(Boolean).join(' ');
  return `  ${f.severity} ${f.kind}: ${f.message}${where ? ` [${where}]` : ''}`;
}

/** The whole document as text (at most `maxRuns` mapping runs per space). */
export function formatDocument(doc: SnapshotDocument, options: { maxRuns?: number } = {}): string {
  const digits = wide(doc.pagingMode);
  const out = [
    `${PAGING_NAMES[doc.pagingMode]}, CR3 ${hex(doc.registers.cr3, 1)} (${LEVEL_NAMES[String(doc.level)] ?? doc.level})`,
    '',
    formatSpaces(doc),
  ];
  const max = options.maxRuns ?? 200;
  for (const s of doc.spaces.filter((x) => x.current || x.sources.includes('named') || x.sources.includes('process'))) out.push('', ...spaceLines(s, digits, max));
  if (doc.processes.length) {
    out.push('', `processes: ${doc.processes.length}`);
    for (const p of doc.processes) out.push(`${p.current ? '*' : ' '} pid ${String(p.pid).padStart(5)} ${p.name.padEnd(16)} ${p.state.padEnd(10)} ${p.space ?? 'no space'}`);
  }
  out.push('', formatFrames(doc));
  if (doc.allocators.length) {
    out.push('', 'allocators:');
    for (const a of doc.allocators) out.push(`  ${a.name} (${a.shape}, ${a.unitBytes} B units): ${a.total} units, ${a.used} used, ${a.free} free, ${a.reserved} reserved${a.counter ? `; ${a.counter.expression} = ${a.counter.value}${a.counter.agrees ? '' : ' (disagrees)'}` : ''}`);
  }
  for (const h of doc.heaps) out.push(`  heap ${h.name}: ${h.blocks.length} blocks, ${h.usedBytes} B used, ${h.freeBytes} B free${h.truncated ? ' (walk stopped at its bound)' : ''}`);
  if (doc.description?.errors.length) {
    out.push('', `description (${doc.description.source}): ${doc.description.errors.length} mistakes`);
    for (const e of doc.description.errors) out.push(`  ${e.path}${e.expression ? ` (${e.expression})` : ''}: ${e.message}`);
  }
  out.push('', `findings: ${doc.findings.length}`);
  for (const f of doc.findings) out.push(findingLine(f));
  return out.join('\n') + '\n';
}

function spaceLines(s: SpaceJson, digits: number, max: number): string[] {
  const out = [`${s.id} (${s.label}) mappings:`];
  for (const m of s.mappings.slice(0, max)) {
    const va = big(m.va);
    const end = va + big(m.size) - 1n;
    const access = `${m.writable ? 'rw' : 'r-'}${m.nx ? '-' : 'x'} ${m.user ? 'user' : 'kernel'}${m.flags & 0x100 ? ' global' : ''}`;
    out.push(`  ${hex(va, digits)}-${hex(end, digits)} -> ${hex(m.pa)}  ${String(Number(big(m.size) / BigInt(m.pageSize))).padStart(6)} x ${pageSizeText(m.pageSize).padEnd(7)} ${access}`);
  }
  if (s.mappings.length > max) out.push(`  ... ${s.mappings.length - max} more`);
  for (const x of s.shared.slice(0, 20)) out.push(`  ${hex(x.va, digits)}-${hex(big(x.va) + big(x.span) - 1n, digits)}: the ${x.level} table at ${hex(x.table, 1)} again (${x.pages} pages, as at ${hex(x.sameAs, digits)})`);
  if (s.shared.length > 20) out.push(`  ... ${s.shared.length - 20} more repeats of shared tables`);
  return out;
}
