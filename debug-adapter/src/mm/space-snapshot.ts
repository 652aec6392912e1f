// The level-0 snapshot: what mmscope knows of any kernel with nothing described (no descriptor,
// no ELF needed): the paging mode from the control registers, the current address space from CR3
// walked by the one page walker into mapping runs, the non-present entries that hold something,
// and the walker's findings. Exact: addresses are bigints here and follow the JSON address rule
// of docs/snapshot-schema.md when serialised. Pure apart from the physical reader.

import { MappingRange, NonPresentEntry, PhysicalBytesReader, SharedSubtree, TableCache, WalkFinding, WalkLimits, walkMappings } from '../../../qemu-bridge/src/paging/page-table-walk';
import { PagingKind, pagingModel, topTableAddress } from '../../../qemu-bridge/src/paging/paging-modes';
import { jsonAddress, pageSizeName } from '../../../qemu-bridge/src/paging/translation-steps';
import { SNAPSHOT_SCHEMA } from './snapshot';

/** The registers that select and locate the paging structures (EFER reads as 0 when absent). */
export interface PagingRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

export interface SpaceSnapshotSource {
  readonly read: PhysicalBytesReader;
  readonly registers: PagingRegisters;
  /** MAXPHYADDR (QEMU's CPU models: 40 unless `phys-bits` says otherwise). */
  readonly physicalBits?: number;
  readonly stop?: number;
  readonly limits?: WalkLimits;
}

export interface SpaceSnapshot {
  readonly level: 0;
  readonly stop: number;
  readonly paging: PagingKind;
  readonly registers: PagingRegisters;
  /** Physical address of the top-level table CR3 names. */
  readonly topTable: bigint;
  readonly mappings: readonly MappingRange[];
  /** Tables reached again past the walk's budget: their pages are those at `sameAs`, not listed again. */
  readonly shared: readonly SharedSubtree[];
  /** Mapped pages (of any size), listed in `mappings` or under `shared`. */
  readonly pages: number;
  readonly nonPresent: readonly NonPresentEntry[];
  readonly nonPresentDropped: number;
  readonly findings: readonly WalkFinding[];
  readonly tablesRead: number;
}

/** Walks the current address space (the one CR3 names) of any kernel. Never throws on guest data. */
export async function buildSpaceSnapshot(src: SpaceSnapshotSource): Promise<SpaceSnapshot> {
  const r = src.registers;
  const model = pagingModel({ cr0: r.cr0, cr4: r.cr4, efer: r.efer }, src.physicalBits);
  const walk = await walkMappings(model, r.cr3, new TableCache(src.read), src.limits);
  return {
    level: 0,
    stop: src.stop ?? 0,
    paging: model.kind,
    registers: r,
    topTable: model.kind === 'none' ? 0n : topTableAddress(model, r.cr3),
    mappings: walk.runs,
    shared: walk.shared,
    pages: walk.pages + walk.shared.reduce((n, x) => n + x.pages, 0),
    nonPresent: walk.nonPresent,
    nonPresentDropped: walk.nonPresentDropped,
    findings: walk.findings,
    tablesRead: walk.tablesRead,
  };
}

type JsonAddress = number | string;

export interface SpaceMappingJson {
  readonly va: JsonAddress;
  readonly pa: number;
  readonly size: JsonAddress;
  readonly flags: number;
  readonly nx: boolean;
  readonly pageSize: number;
  readonly writable: boolean;
  readonly user: boolean;
}

/** The level-0 document (docs/snapshot-schema.md, "Level 0"). */
export interface SpaceSnapshotJson {
  readonly schema: typeof SNAPSHOT_SCHEMA;
  readonly level: 0;
  readonly stop: number;
  readonly paging: PagingKind;
  readonly cr0: JsonAddress;
  readonly cr3: JsonAddress;
  readonly cr4: JsonAddress;
  readonly efer: JsonAddress;
  readonly topTable: number;
  readonly pages: number;
  readonly tablesRead: number;
  readonly mappings: readonly SpaceMappingJson[];
  readonly shared: readonly { readonly va: JsonAddress; readonly level: string; readonly table: number; readonly sameAs: JsonAddress; readonly span: JsonAddress; readonly pages: number; readonly size: JsonAddress }[];
  readonly nonPresent: readonly { readonly va: JsonAddress; readonly level: string; readonly entryAddress: number; readonly raw: string }[];
  readonly nonPresentDropped: number;
  readonly findings: readonly { readonly kind: string; readonly va: JsonAddress; readonly level?: string; readonly raw?: string; readonly message: string }[];
}

const rawHex = (v: bigint): string => `0x${v.toString(16)}`;

export function spaceSnapshotToJson(s: SpaceSnapshot): SpaceSnapshotJson {
  return {
    schema: SNAPSHOT_SCHEMA,
    level: 0,
    stop: s.stop,
    paging: s.paging,
    cr0: jsonAddress(s.registers.cr0),
    cr3: jsonAddress(s.registers.cr3),
    cr4: jsonAddress(s.registers.cr4),
    efer: jsonAddress(s.registers.efer),
    topTable: Number(s.topTable),
    pages: s.pages,
    tablesRead: s.tablesRead,
    mappings: s.mappings.map((m) => ({
      va: jsonAddress(m.virtual), pa: Number(m.physical), size: jsonAddress(m.length), flags: m.flags, nx: m.noExecute,
      pageSize: Number(m.pageSize), writable: m.writable, user: m.user,
    })),
    shared: s.shared.map((x) => ({ va: jsonAddress(x.virtual), level: x.level, table: Number(x.tableAddress), sameAs: jsonAddress(x.sameAs), span: jsonAddress(x.span), pages: x.pages, size: jsonAddress(x.bytes) })),
    nonPresent: s.nonPresent.map((n) => ({ va: jsonAddress(n.virtual), level: n.level, entryAddress: Number(n.entryAddress), raw: rawHex(n.raw) })),
    nonPresentDropped: s.nonPresentDropped,
    findings: s.findings.map((f) => ({ kind: f.kind, va: jsonAddress(f.virtual), ...(f.level ? { level: f.level } : {}), ...(f.raw !== undefined ? { raw: rawHex(f.raw) } : {}), message: f.text })),
  };
}

const PAGING_NAMES: Record<PagingKind, string> = {
  none: 'paging off', 'x86-32': '32-bit paging', pae: 'PAE paging', 'x86-64': '4-level paging', 'x86-64-la57': '5-level paging',
};

/** Terminal text: the mode, the mapping runs (at most `maxRuns`), the findings. */
export function formatSpaceSnapshot(s: SpaceSnapshot, options: { maxRuns?: number } = {}): string {
  const wide = s.paging === 'x86-64' || s.paging === 'x86-64-la57';
  const va = (v: bigint): string => `0x${v.toString(16).padStart(wide ? 16 : 8, '0')}`;
  const out = [
    `${PAGING_NAMES[s.paging]}, CR3 0x${s.registers.cr3.toString(16)} (no memory-manager description: level 0)`,
    `${s.pages} mapped pages in ${s.mappings.length} runs, ${s.tablesRead} page tables read, ${s.nonPresent.length + s.nonPresentDropped} non-present entries with content`,
    '',
    `mappings:`,
  ];
  const max = options.maxRuns ?? 200;
  for (const m of s.mappings.slice(0, max)) {
    const access = `${m.writable ? 'rw' : 'r-'}${m.noExecute ? '-' : 'x'} ${m.user ? 'user' : 'kernel'}${m.global ? ' global' : ''}`;
    out.push(`  ${va(m.virtual)}-${va(m.virtual + m.length - 1n)} -> 0x${m.physical.toString(16).padStart(8, '0')}  ${String(m.pages).padStart(6)} x ${pageSizeName(Number(m.pageSize)).padEnd(6)} ${access}`);
  }
  if (s.mappings.length > max) out.push(`  ... ${s.mappings.length - max} more`);
  for (const x of s.shared.slice(0, 20)) out.push(`  ${va(x.virtual)}-${va(x.virtual + x.span - 1n)}: the ${x.level} table at 0x${x.tableAddress.toString(16)} again (${x.pages} pages, as at ${va(x.sameAs)})`);
  if (s.shared.length > 20) out.push(`  ... ${s.shared.length - 20} more repeats of shared tables`);
  out.push('', `findings: ${s.findings.length}`);
  for (const f of s.findings) out.push(`  ${f.kind}: ${f.text}`);
  return out.join('\n') + '\n';
}
