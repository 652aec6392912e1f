// The page walker for every x86 paging mode: one address (with every entry on the way), or a
// whole address space (every leaf, the non-present entries that hold something, and findings).
// Addresses are bigints throughout (x86-64 addresses do not fit a JavaScript number). Pure apart
// from the physical reader; bounded: each table is read at most once per walk (shared tables and
// recursive entries cost nothing more), the number of leaves and tables has a limit, and tables
// that cannot be read, reserved bits and non-canonical addresses become findings, never throws.

import { decodeEntry, PageEntry } from './page-entry';
import { canonical, isCanonical, LevelGeometry, PagingModel, TableLevel, topTableAddress } from './paging-modes';

/** Reads guest-physical memory; may throw or return fewer bytes for memory that is not there. */
export type PhysicalBytesReader = (physical: bigint, length: number) => Promise<Buffer>;

export interface WalkStep {
  readonly level: TableLevel;
  readonly tableAddress: bigint;
  readonly index: number;
  readonly entryAddress: bigint;
  /** 4 (32-bit paging) or 8. */
  readonly entryBytes: 4 | 8;
  readonly entry: PageEntry;
}

/** Permissions of a page: every level must allow a write or user access; any level may forbid execution. */
export interface PageAccess {
  readonly writable: boolean;
  readonly user: boolean;
  readonly noExecute: boolean;
}

export type AddressWalk =
  | ({ kind: 'mapped'; virtual: bigint; physical: bigint; pageSize: bigint; global: boolean; steps: WalkStep[] } & PageAccess)
  | { kind: 'not-present'; virtual: bigint; steps: WalkStep[] }
  | { kind: 'reserved-bits'; virtual: bigint; steps: WalkStep[] }
  | { kind: 'unreadable'; virtual: bigint; steps: WalkStep[]; tableAddress: bigint }
  | { kind: 'non-canonical'; virtual: bigint; steps: WalkStep[] }
  | { kind: 'paging-off'; virtual: bigint; physical: bigint; steps: WalkStep[] };

/** One mapped page (4 KiB, 2 MiB, 4 MiB or 1 GiB) of an address space. */
export interface PageLeaf extends PageAccess {
  readonly virtual: bigint;
  readonly physical: bigint;
  readonly pageSize: bigint;
  readonly level: TableLevel;
  readonly entryAddress: bigint;
  readonly entry: PageEntry;
}

/** A present-bit-clear entry with other bits set (a kernel's swap or bookkeeping encoding). */
export interface NonPresentEntry {
  readonly virtual: bigint;
  readonly level: TableLevel;
  readonly entryAddress: bigint;
  readonly raw: bigint;
}

export interface WalkFinding {
  readonly kind: 'reserved-bits' | 'unreadable-table' | 'limit';
  readonly virtual: bigint;
  readonly level?: TableLevel;
  readonly entryAddress?: bigint;
  readonly raw?: bigint;
  /** One sentence for the user. */
  readonly text: string;
}

/**
 * A table reached again from another entry (the same table, level and inherited access), whose
 * pages were not listed again because the walk's budget for repeated pages was spent: its pages
 * are those of the first occurrence at `sameAs`, shifted to `virtual`.
 */
export interface SharedSubtree {
  readonly virtual: bigint;
  /** The level of the shared table. */
  readonly level: TableLevel;
  readonly tableAddress: bigint;
  /** Where the same table was walked first (its leaves are listed there). */
  readonly sameAs: bigint;
  /** Mapped pages (of any size) and bytes under it. */
  readonly pages: number;
  readonly bytes: bigint;
}

export interface AddressSpaceWalk {
  readonly leaves: PageLeaf[];
  /** Repeats of a shared table past the budget (WalkLimits.maxRepeatedLeaves), counted once each. */
  readonly shared: SharedSubtree[];
  readonly nonPresent: NonPresentEntry[];
  /** Non-present entries with content beyond `maxNonPresent` (counted, not kept). */
  readonly nonPresentDropped: number;
  readonly findings: WalkFinding[];
  readonly tablesRead: number;
}

export interface WalkLimits {
  /** Leaves kept before the walk stops with a `limit` finding (default 4 Mi). */
  readonly maxLeaves?: number;
  /** Distinct tables read before the walk stops (default 256 Ki: 1 GiB of tables). */
  readonly maxTables?: number;
  /** Non-present entries with content kept (default 64 Ki); the rest are counted. */
  readonly maxNonPresent?: number;
  /**
   * Leaves listed again for tables reached a second time (default 64 Ki): beyond, a repeat is a
   * SharedSubtree (a KASAN zero shadow maps terabytes through one table; listing it page by page
   * would never end).
   */
  readonly maxRepeatedLeaves?: number;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** Reads whole tables once each (keyed by physical address and size). */
export class TableCache {
  private readonly tables = new Map<string, Buffer | Error>();

  constructor(private readonly read: PhysicalBytesReader) {}

  get count(): number {
    return this.tables.size;
  }

  async table(address: bigint, geometry: LevelGeometry): Promise<Buffer | Error> {
    const bytes = geometry.entries * geometry.entryBytes;
    const key = `${address}:${bytes}`;
    let t = this.tables.get(key);
    if (!t) {
      try {
        const b = await this.read(address, bytes);
        t = b.length === bytes ? b : new Error(`only ${b.length} of its ${bytes} bytes could be read`);
      } catch (e) {
        t = e instanceof Error ? e : new Error(String(e));
      }
      this.tables.set(key, t);
    }
    return t;
  }
}

function entryOf(table: Buffer, geometry: LevelGeometry, index: number): bigint {
  return geometry.entryBytes === 4 ? BigInt(table.readUInt32LE(index * 4)) : table.readBigUInt64LE(index * 8);
}

async function readEntry(read: PhysicalBytesReader, address: bigint, geometry: LevelGeometry): Promise<bigint | Error> {
  try {
    const b = await read(address, geometry.entryBytes);
    if (b.length !== geometry.entryBytes) return new Error(`only ${b.length} of ${geometry.entryBytes} bytes could be read`);
    return entryOf(b, geometry, 0);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function indexOf(geometry: LevelGeometry, virtual: bigint): number {
  return Number((virtual >> BigInt(geometry.shift)) & BigInt(geometry.entries - 1));
}

function combine(access: PageAccess, entry: PageEntry, geometry: LevelGeometry, model: PagingModel): PageAccess {
  // A PAE PDPTE carries no permissions.
  if (model.kind === 'pae' && geometry.level === 'PDPT') return access;
  return { writable: access.writable && entry.writable, user: access.user && entry.user, noExecute: access.noExecute || entry.noExecute };
}

const OPEN: PageAccess = { writable: true, user: true, noExecute: false };

/** Walks the tables for one virtual address from `cr3` (any address space, not only the current one). */
export async function walkAddress(model: PagingModel, cr3: number | bigint, virtualIn: number | bigint, read: PhysicalBytesReader | TableCache): Promise<AddressWalk> {
  const virtual = BigInt(virtualIn);
  const steps: WalkStep[] = [];
  if (model.kind === 'none') return { kind: 'paging-off', virtual, physical: virtual & 0xffffffffn, steps };
  if (!isCanonical(model, virtual)) return { kind: 'non-canonical', virtual, steps };
  let tableAddress = topTableAddress(model, cr3);
  let access = OPEN;
  for (const geometry of model.levels) {
    const index = indexOf(geometry, virtual);
    const entryAddress = tableAddress + BigInt(index * geometry.entryBytes);
    // With a cache, whole tables (shared with other walks); otherwise only the entries on the way.
    const raw = read instanceof TableCache ? await read.table(tableAddress, geometry).then((t) => (t instanceof Error ? t : entryOf(t, geometry, index))) : await readEntry(read, entryAddress, geometry);
    if (raw instanceof Error) return { kind: 'unreadable', virtual, steps, tableAddress };
    const entry = decodeEntry(model, geometry, raw);
    steps.push({ level: geometry.level, tableAddress, index, entryAddress, entryBytes: geometry.entryBytes, entry });
    if (!entry.present) return { kind: 'not-present', virtual, steps };
    if (entry.reserved !== 0n) return { kind: 'reserved-bits', virtual, steps };
    access = combine(access, entry, geometry, model);
    if (entry.leaf) {
      const pageSize = geometry.largePage && entry.largePage ? geometry.largePage : 0x1000n;
      return { kind: 'mapped', virtual, physical: entry.address + (virtual & (pageSize - 1n)), pageSize, global: entry.global, steps, ...access };
    }
    tableAddress = entry.address;
  }
  // Unreachable: the last level's entries are always leaves.
  return { kind: 'not-present', virtual, steps };
}

/** Walks a whole address space: every leaf in virtual order, non-present entries with content, and findings. */
export async function walkAddressSpace(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits = {}): Promise<AddressSpaceWalk> {
  const maxLeaves = limits.maxLeaves ?? 4 << 20;
  const maxTables = limits.maxTables ?? 256 << 10;
  const maxNonPresent = limits.maxNonPresent ?? 64 << 10;
  let repeatBudget = limits.maxRepeatedLeaves ?? 64 << 10;
  const cache = read instanceof TableCache ? read : new TableCache(read);
  const out: { leaves: PageLeaf[]; shared: SharedSubtree[]; nonPresent: NonPresentEntry[]; nonPresentDropped: number; findings: WalkFinding[] } = { leaves: [], shared: [], nonPresent: [], nonPresentDropped: 0, findings: [] };
  if (model.kind === 'none') return { ...out, tablesRead: 0 };
  let stopped = false;
  const stop = (virtual: bigint, text: string): void => {
    stopped = true;
    out.findings.push({ kind: 'limit', virtual, text });
  };
  // Each table's entries are decoded once per walk, however many entries refer to it.
  const decoded = new Map<string, (PageEntry | undefined)[]>();
  // Tables walked already (with the access inherited from above): where, and what lay under them.
  const walked = new Map<string, { virtual: bigint; pages: number; bytes: bigint }>();
  const visit = async (depth: number, tableAddress: bigint, base: bigint, access: PageAccess, repeating: boolean): Promise<{ pages: number; bytes: bigint }> => {
    const geometry = model.levels[depth];
    const none = { pages: 0, bytes: 0n };
    const key = `${tableAddress}:${depth}`;
    const subtree = `${key}:${access.writable ? 1 : 0}${access.user ? 1 : 0}${access.noExecute ? 1 : 0}`;
    const before = walked.get(subtree);
    // A repeat is paid for once, at its top (the tables under it repeat with it).
    if (before && !repeating) {
      if (before.pages > repeatBudget) {
        out.shared.push({ virtual: base, level: geometry.level, tableAddress, sameAs: before.virtual, pages: before.pages, bytes: before.bytes });
        return before;
      }
      repeatBudget -= before.pages;
    }
    if (!before && cache.count >= maxTables) {
      stop(base, `The walk stopped after ${maxTables} page tables; the rest of the address space from ${hex(base)} is not shown.`);
      return none;
    }
    const table = await cache.table(tableAddress, geometry);
    if (table instanceof Error) {
      out.findings.push({ kind: 'unreadable-table', virtual: base, level: geometry.level, text: `The ${geometry.level} table at physical ${hex(tableAddress)} (for virtual ${hex(base)}) cannot be read (${table.message}); it lies outside RAM or the entry that points to it is corrupt.` });
      return none;
    }
    let entries = decoded.get(key);
    if (!entries) decoded.set(key, (entries = new Array<PageEntry | undefined>(geometry.entries)));
    let pages = 0;
    let bytes = 0n;
    for (let index = 0; index < geometry.entries && !stopped; index++) {
      let entry = entries[index];
      if (!entry) {
        const raw = entryOf(table, geometry, index);
        if (raw === 0n) continue;
        entries[index] = entry = decodeEntry(model, geometry, raw);
      }
      const virtual = canonical(model, base + (BigInt(index) << BigInt(geometry.shift)));
      const entryAddress = tableAddress + BigInt(index * geometry.entryBytes);
      if (!entry.present) {
        if (out.nonPresent.length < maxNonPresent) out.nonPresent.push({ virtual, level: geometry.level, entryAddress, raw: entry.raw });
        else out.nonPresentDropped++;
        continue;
      }
      if (entry.reserved !== 0n) {
        out.findings.push({ kind: 'reserved-bits', virtual, level: geometry.level, entryAddress, raw: entry.raw, text: `The ${geometry.level} entry for ${hex(virtual)} at physical ${hex(entryAddress)} (${hex(entry.raw)}) has reserved bits ${hex(entry.reserved)} set; the CPU faults on any access through it.` });
        continue;
      }
      const next = combine(access, entry, geometry, model);
      if (entry.leaf) {
        if (out.leaves.length >= maxLeaves) {
          stop(virtual, `The walk stopped after ${maxLeaves} mapped pages; the rest of the address space from ${hex(virtual)} is not shown.`);
          break;
        }
        const pageSize = entry.largePage && geometry.largePage ? geometry.largePage : 0x1000n;
        out.leaves.push({ virtual, physical: entry.address, pageSize, level: geometry.level, entryAddress, entry, ...next });
        pages++;
        bytes += pageSize;
      } else {
        const under = await visit(depth + 1, entry.address, virtual, next, repeating || before !== undefined);
        pages += under.pages;
        bytes += under.bytes;
      }
    }
    if (!before) walked.set(subtree, { virtual: base, pages, bytes });
    return { pages, bytes };
  };
  await visit(0, topTableAddress(model, cr3), 0n, OPEN, false);
  return { ...out, tablesRead: cache.count };
}

/** A run of pages contiguous in virtual and physical memory with the same access (as `info mem` merges). */
export interface MappedRange extends PageAccess {
  readonly virtual: bigint;
  readonly physical: bigint;
  readonly length: bigint;
}

/** Merges leaves (in virtual order) into runs contiguous in both address spaces with equal access. */
export function mergeLeaves(leaves: readonly PageLeaf[]): MappedRange[] {
  const runs: MappedRange[] = [];
  for (const leaf of leaves) {
    const last = runs[runs.length - 1];
    if (last && last.virtual + last.length === leaf.virtual && last.physical + last.length === leaf.physical &&
      last.writable === leaf.writable && last.user === leaf.user && last.noExecute === leaf.noExecute) {
      runs[runs.length - 1] = { ...last, length: last.length + leaf.pageSize };
    } else {
      runs.push({ virtual: leaf.virtual, physical: leaf.physical, length: leaf.pageSize, writable: leaf.writable, user: leaf.user, noExecute: leaf.noExecute });
    }
  }
  return runs;
}

/**
 * Pages contiguous in virtual and physical memory whose leaf entries have the same low 12 bits,
 * NX and page size, and the same effective access (the snapshot's mapping runs: expanded page by
 * page they are exactly what the hardware sees).
 */
export interface MappingRange extends MappedRange {
  readonly pageSize: bigint;
  /** Low 12 bits of every leaf entry of the run. */
  readonly flags: number;
  readonly global: boolean;
  readonly pages: number;
  readonly dirtyPages: number;
  readonly accessedPages: number;
}

/** Merges leaves (in virtual order) into mapping runs (see MappingRange). */
export function mappingRanges(leaves: readonly PageLeaf[]): MappingRange[] {
  const runs: { -readonly [K in keyof MappingRange]: MappingRange[K] }[] = [];
  let cur: (typeof runs)[number] | undefined;
  for (const leaf of leaves) {
    const flags = leaf.entry.flags;
    if (!(cur && cur.virtual + cur.length === leaf.virtual && cur.physical + cur.length === leaf.physical && cur.pageSize === leaf.pageSize &&
      cur.flags === flags && cur.noExecute === leaf.noExecute && cur.writable === leaf.writable && cur.user === leaf.user)) {
      cur = { virtual: leaf.virtual, physical: leaf.physical, length: 0n, pageSize: leaf.pageSize, flags, global: leaf.entry.global,
        writable: leaf.writable, user: leaf.user, noExecute: leaf.noExecute, pages: 0, dirtyPages: 0, accessedPages: 0 };
      runs.push(cur);
    }
    cur.length += leaf.pageSize;
    cur.pages++;
    if (leaf.entry.dirty) cur.dirtyPages++;
    if (leaf.entry.accessed) cur.accessedPages++;
  }
  return runs;
}
