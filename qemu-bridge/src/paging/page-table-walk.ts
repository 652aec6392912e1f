// The page walker for every x86 paging mode: one address (with every entry on the way), or a
// whole address space (every leaf, the non-present entries that hold something, and findings).
// Addresses are bigints throughout (x86-64 addresses do not fit a JavaScript number). Pure apart
// from the physical reader; bounded: each table is read at most once per walk (shared tables and
// recursive entries cost nothing more), the number of leaves and tables has a limit, and tables
// that cannot be read, reserved bits and non-canonical addresses become findings, never throws.

import { decodeEntry, leafMasks32, PageEntry } from './page-entry';
import { canonical, isCanonical, KIB4, LevelGeometry, PagingModel, TableLevel, topTableAddress } from './paging-modes';

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
  /** The virtual range the table covers (from `virtual`, and from `sameAs`). */
  readonly span: bigint;
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
  /** Physical addresses of the paging-structure tables this walk read (the top table first), each once. */
  readonly tables: bigint[];
}

export interface WalkLimits {
  /** Leaves kept before the walk stops with a `limit` finding (default 4 Mi). */
  readonly maxLeaves?: number;
  /** Distinct tables read before the walk stops (default 256 Ki: 1 GiB of tables). */
  readonly maxTables?: number;
  /** Non-present entries with content kept (default 64 Ki); the rest are counted. */
  readonly maxNonPresent?: number;
  /**
   * Leaves listed again for tables reached a second time (default 4 Ki): beyond, a repeat is a
   * SharedSubtree (a KASAN zero shadow maps terabytes through one table; listing it page by page
   * would never end).
   */
  readonly maxRepeatedLeaves?: number;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/**
 * What walks remember of last-level tables between walks, for a caller that hands the walker the
 * same Buffer object again for a table whose bytes did not change (the snapshot builder's
 * SnapshotCache compares the bytes it reads with the last ones and keeps the old object when
 * equal). Keyed by the Buffer object: a table read again into a new Buffer is scanned again.
 * Only tables whose scan yielded mapped spans and nothing else (no non-present entry with content,
 * no reserved bits, no limit) are remembered, so replaying the spans is exactly the scan.
 */
export class LeafSpanMemo {
  private readonly spans = new WeakMap<Buffer, { key: string; spans: Float64Array; pages: number }>();

  /** The spans (first, count, flags, nx, physical per span) a scan of `table` with `key` yielded, if remembered. */
  get(table: Buffer, key: string): { spans: Float64Array; pages: number } | undefined {
    const m = this.spans.get(table);
    return m && m.key === key ? m : undefined;
  }

  set(table: Buffer, key: string, spans: Float64Array, pages: number): void {
    this.spans.set(table, { key, spans, pages });
  }
}

/** Reads whole tables once each (keyed by physical address and size). */
export class TableCache {
  /** Each table's read, started once (concurrent askers share it). */
  private readonly tables = new Map<string, Promise<Buffer | Error>>();
  /** The reads that have completed, by the same key (so a walk need not wait for a table it has). */
  private readonly done = new Map<string, Buffer | Error>();

  /** Tables served by `have` (counted once each, as reads are). */
  private readonly had = new Set<bigint>();

  /**
   * `memo`: spans of last-level tables remembered across walks (see LeafSpanMemo). `have`: the
   * tables the caller holds already (it read them itself, e.g. in larger pieces), served without a
   * read or a promise; undefined for the others, which are read.
   */
  constructor(private readonly read: PhysicalBytesReader, readonly memo?: LeafSpanMemo, private readonly have?: (address: bigint, length: number) => Buffer | undefined) {}

  get count(): number {
    return this.tables.size + this.had.size;
  }

  /** The caller's copy of the table, if `have` holds it. */
  private held(address: bigint, bytes: number): Buffer | undefined {
    const b = this.have?.(address, bytes);
    if (b && b.length === bytes) {
      this.had.add(address);
      return b;
    }
    return undefined;
  }

  table(address: bigint, geometry: LevelGeometry): Promise<Buffer | Error> {
    const bytes = geometry.entries * geometry.entryBytes;
    const held = this.held(address, bytes);
    if (held) return Promise.resolve(held);
    const key = `${address}:${bytes}`;
    let t = this.tables.get(key);
    if (!t) {
      t = this.read(address, bytes).then(
        (b) => (b.length === bytes ? b : new Error(`only ${b.length} of its ${bytes} bytes could be read`)),
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      ).then((v) => {
        this.done.set(key, v);
        return v;
      });
      this.tables.set(key, t);
    }
    return t;
  }

  /** The table (or why it cannot be read) when its read has completed, else undefined. */
  ready(address: bigint, geometry: LevelGeometry): Buffer | Error | undefined {
    const bytes = geometry.entries * geometry.entryBytes;
    return this.held(address, bytes) ?? this.done.get(`${address}:${bytes}`);
  }

  /** Whether the table's read has started (or the caller holds it). */
  has(address: bigint, geometry: LevelGeometry): boolean {
    const bytes = geometry.entries * geometry.entryBytes;
    return this.had.has(address) || this.tables.has(`${address}:${bytes}`);
  }

  /** Starts the reads of tables not read yet, all at once (a slow tier pipelines them), without waiting. */
  prefetch(addresses: readonly bigint[], geometry: LevelGeometry, limit: number): void {
    const bytes = geometry.entries * geometry.entryBytes;
    for (const a of addresses) {
      if (this.count >= limit) return;
      if (!this.held(a, bytes)) void this.table(a, geometry);
    }
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

/**
 * Where the pages a traversal finds go. Last-level (4 KiB) pages come as numbers, without an
 * object per page (a walk may meet millions); large pages and everything else as objects.
 */
interface PageSink {
  /**
   * Entries first..first+count-1 of the last-level table at `tableAddress` (the `tableSeq`th such
   * table of the walk; its words as given, `step` words per entry), mapping `tableBase + index *
   * 4 KiB`: present, well formed, with the same low 12 bits (`flags`) and NX, physically contiguous
   * from `physical`.
   */
  span(words: Int32Array, step: number, tableSeq: number, tableBase: bigint, tableAddress: bigint, first: number, count: number, flags: number, physical: number, writable: boolean, user: boolean, noExecute: boolean): void;
  /** A present, well-formed leaf above the last level (2 MiB, 4 MiB or 1 GiB). */
  large(leaf: PageLeaf): void;
}

/** Which top-level entries a traversal covers, and optionally their values from elsewhere (a process's copy of its slice). */
export interface TopEntries {
  /** First top-level index walked (default 0). */
  readonly first?: number;
  /** How many (default: to the end of the table). */
  readonly count?: number;
  /** The raw top-level table to use instead of reading it (e.g. a KPD with a process's UPD laid over it). */
  readonly table?: Buffer;
}

interface TraversalResult {
  shared: SharedSubtree[];
  nonPresent: NonPresentEntry[];
  nonPresentDropped: number;
  findings: WalkFinding[];
  tablesRead: number;
  tables: bigint[];
}

/** The one traversal of an address space: every walk of a whole space goes through it. */
async function traverse(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits, sink: PageSink, top: TopEntries = {}): Promise<TraversalResult> {
  const maxLeaves = limits.maxLeaves ?? 4 << 20;
  const maxTables = limits.maxTables ?? 256 << 10;
  const maxNonPresent = limits.maxNonPresent ?? 64 << 10;
  let repeatBudget = limits.maxRepeatedLeaves ?? 4 << 10;
  const cache = read instanceof TableCache ? read : new TableCache(read);
  const out: TraversalResult = { shared: [], nonPresent: [], nonPresentDropped: 0, findings: [], tablesRead: 0, tables: [] };
  const tablesSeen = new Set<bigint>();
  if (model.kind === 'none') return out;
  let stopped = false;
  const stop = (virtual: bigint, text: string): void => {
    stopped = true;
    out.findings.push({ kind: 'limit', virtual, text });
  };
  const last = model.levels.length - 1;
  const leafGeometry = model.levels[last];
  const masks = leafMasks32(model, leafGeometry);
  const wide = leafGeometry.entryBytes === 8;
  const nxBit = model.nx && wide;
  const smallLimit = (virtual: bigint): void => stop(virtual, `The walk stopped after ${maxLeaves} mapped pages; the rest of the address space from ${hex(virtual)} is not shown.`);
  const nonPresent = (virtual: bigint, level: TableLevel, entryAddress: bigint, raw: bigint): void => {
    if (out.nonPresent.length < maxNonPresent) out.nonPresent.push({ virtual, level, entryAddress, raw });
    else out.nonPresentDropped++;
  };
  const reservedFinding = (virtual: bigint, level: TableLevel, entryAddress: bigint, raw: bigint, reserved: bigint): void => {
    out.findings.push({ kind: 'reserved-bits', virtual, level, entryAddress, raw, text: `The ${level} entry for ${hex(virtual)} at physical ${hex(entryAddress)} (${hex(raw)}) has reserved bits ${hex(reserved)} set; the CPU faults on any access through it.` });
  };

  let leafTables = 0;
  let listed = 0;
  const memo = cache.memo;
  /** The last level: numbers only, one pass over the table's words (or a replay of the spans the memo kept of it). */
  const smallPages = (table: Buffer, tableAddress: bigint, base: bigint, access: PageAccess): { pages: number; bytes: bigint } => {
    const words = wordsOf(table);
    const seq = ++leafTables;
    const entries = leafGeometry.entries;
    const step = wide ? 2 : 1;
    const emit = (first: number, count: number, flags: number, nx: boolean, physical: number): void =>
      sink.span(words, step, seq, base, tableAddress, first, count, flags, physical, access.writable && (flags & 2) !== 0, access.user && (flags & 4) !== 0, access.noExecute || nx);
    const memoKey = memo && `${access.writable ? 1 : 0}${access.user ? 1 : 0}${access.noExecute ? 1 : 0}${wide ? 1 : 0}${nxBit ? 1 : 0}`;
    const kept = memo && memoKey !== undefined ? memo.get(table, memoKey) : undefined;
    if (kept && listed + kept.pages <= maxLeaves) {
      const sp = kept.spans;
      for (let i = 0; i < sp.length; i += 5) emit(sp[i], sp[i + 1], sp[i + 2], sp[i + 3] !== 0, sp[i + 4]);
      listed += kept.pages;
      return { pages: kept.pages, bytes: BigInt(kept.pages) * KIB4 };
    }
    // What the memo will keep: the spans, as long as nothing else came out of the scan.
    const recorded: number[] | undefined = memo ? [] : undefined;
    let clean = true;
    const { reservedLow, reservedHigh, addressLow, addressHigh } = masks;
    let pages = 0;
    // The open span (no closure sees these, so they stay in registers): entries first..first+count-1,
    // same low 12 bits and NX, physically contiguous.
    let first = -1;
    let count = 0;
    let spanFlags = 0;
    let spanNx = false;
    let spanPhysical = 0;
    // 4-byte entries: the entry that continues the open span is exactly the last one plus 4 KiB
    // (same low 12 bits, the next frame; as a number, so a wrap past 4 GiB does not match).
    let expect = -1;
    const out1 = (first: number, count: number, flags: number, nx: boolean, physical: number): void => {
      if (recorded) recorded.push(first, count, flags, nx ? 1 : 0, physical);
      emit(first, count, flags, nx, physical);
    };
    for (let index = 0, at = 0; index < entries; index++, at += step) {
      const low = words[at];
      if (!wide && low >>> 0 === expect && listed < maxLeaves && (low & reservedLow) === 0) {
        listed++;
        count++;
        expect += 4096;
        continue;
      }
      const high = wide ? words[at + 1] : 0;
      if ((low & 1) === 0 || (low & reservedLow) !== 0 || (high & reservedHigh) !== 0 || listed >= maxLeaves) {
        expect = -1;
        if (count) {
          out1(first, count, spanFlags, spanNx, spanPhysical);
          pages += count;
          count = 0;
        }
        if (low === 0 && high === 0) continue;
        clean = false;
        const virtual = base + BigInt(index) * KIB4;
        const entryAddress = tableAddress + BigInt(index * leafGeometry.entryBytes);
        const raw = wide ? (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0) : BigInt(low >>> 0);
        if ((low & 1) === 0) {
          nonPresent(virtual, leafGeometry.level, entryAddress, raw);
        } else if ((low & reservedLow) !== 0 || (high & reservedHigh) !== 0) {
          reservedFinding(virtual, leafGeometry.level, entryAddress, raw, (BigInt((high & reservedHigh) >>> 0) << 32n) | BigInt((low & reservedLow) >>> 0));
        } else {
          smallLimit(virtual);
          break;
        }
        continue;
      }
      listed++;
      const physical = ((high & addressHigh) >>> 0) * 0x100000000 + ((low & addressLow) >>> 0);
      const flags = low & 0xfff;
      const nx = nxBit && high < 0;
      expect = (low >>> 0) + 4096;
      if (count && flags === spanFlags && nx === spanNx && physical === spanPhysical + count * 4096) {
        count++;
      } else {
        if (count) {
          out1(first, count, spanFlags, spanNx, spanPhysical);
          pages += count;
        }
        first = index;
        count = 1;
        spanFlags = flags;
        spanNx = nx;
        spanPhysical = physical;
      }
    }
    if (count) {
      out1(first, count, spanFlags, spanNx, spanPhysical);
      pages += count;
    }
    if (memo && memoKey !== undefined && recorded && clean) memo.set(table, memoKey, Float64Array.from(recorded), pages);
    return { pages, bytes: BigInt(pages) * KIB4 };
  };

  // Each upper table's entries are decoded once per walk, however many entries refer to it.
  const decoded = new Map<string, (PageEntry | undefined)[]>();
  // Tables walked already (with the access inherited from above): where, and what lay under them.
  const walked = new Map<string, { virtual: bigint; pages: number; bytes: bigint }>();
  type Visited = { pages: number; bytes: bigint };
  const none = (): Visited => ({ pages: 0, bytes: 0n });
  /** A table read: false (and a finding) when it could not be, else noted as seen. */
  const readable = (table: Buffer | Error, tableAddress: bigint, base: bigint, geometry: LevelGeometry): table is Buffer => {
    if (table instanceof Error) {
      out.findings.push({ kind: 'unreadable-table', virtual: base, level: geometry.level, text: `The ${geometry.level} table at physical ${hex(tableAddress)} (for virtual ${hex(base)}) cannot be read (${table.message}); it lies outside RAM or the entry that points to it is corrupt.` });
      return false;
    }
    if (!tablesSeen.has(tableAddress)) {
      tablesSeen.add(tableAddress);
      out.tables.push(tableAddress);
    }
    return true;
  };
  /** A last-level table, read: its pages (synchronous: no promise per last-level table). */
  const visitedLeaf = (table: Buffer | Error, tableAddress: bigint, base: bigint, access: PageAccess, geometry: LevelGeometry, before: Visited | undefined, subtree: string): Visited => {
    if (!readable(table, tableAddress, base, geometry)) return none();
    const result = smallPages(table, tableAddress, base, access);
    if (!before) walked.set(subtree, { virtual: base, ...result });
    return result;
  };
  /** An upper table, read: its entries, descending into the tables they point to. */
  const visitedUpper = async (table: Buffer | Error, depth: number, tableAddress: bigint, base: bigint, access: PageAccess, repeating: boolean, geometry: LevelGeometry,
    before: Visited | undefined, key: string, subtree: string): Promise<Visited> => {
    if (!readable(table, tableAddress, base, geometry)) return none();
    let entries = depth === 0 && top.table ? undefined : decoded.get(key);
    if (!entries) {
      entries = new Array<PageEntry | undefined>(geometry.entries);
      if (!(depth === 0 && top.table)) decoded.set(key, entries);
    }
    let pages = 0;
    let bytes = 0n;
    const first = depth === 0 ? top.first ?? 0 : 0;
    const end = depth === 0 ? Math.min(geometry.entries, first + (top.count ?? geometry.entries)) : geometry.entries;
    // The tables this one points to are read all at once before the walk descends (over the gdbstub
    // the reads pipeline instead of waiting for each other); each is still read once.
    const children: bigint[] = [];
    for (let index = first; index < end; index++) {
      const raw = entryOf(table, geometry, index);
      if ((raw & 1n) === 0n) continue;
      const e = entries[index] ?? (entries[index] = decodeEntry(model, geometry, raw));
      if (e.present && !e.leaf && e.reserved === 0n) children.push(e.address);
    }
    cache.prefetch(children, model.levels[depth + 1], maxTables);
    for (let index = first; index < end && !stopped; index++) {
      let entry = entries[index];
      if (!entry) {
        const raw = entryOf(table, geometry, index);
        if (raw === 0n) continue;
        entries[index] = entry = decodeEntry(model, geometry, raw);
      }
      const virtual = canonical(model, base + (BigInt(index) << BigInt(geometry.shift)));
      const entryAddress = tableAddress + BigInt(index * geometry.entryBytes);
      if (!entry.present) {
        nonPresent(virtual, geometry.level, entryAddress, entry.raw);
        continue;
      }
      if (entry.reserved !== 0n) {
        reservedFinding(virtual, geometry.level, entryAddress, entry.raw, entry.reserved);
        continue;
      }
      const next = combine(access, entry, geometry, model);
      if (entry.leaf) {
        if (listed >= maxLeaves) {
          smallLimit(virtual);
          break;
        }
        listed++;
        const pageSize = entry.largePage && geometry.largePage ? geometry.largePage : KIB4;
        sink.large({ virtual, physical: entry.address, pageSize, level: geometry.level, entryAddress, entry, ...next });
        pages++;
        bytes += pageSize;
      } else {
        const v = visit(depth + 1, entry.address, virtual, next, repeating || before !== undefined);
        const under = v instanceof Promise ? await v : v;
        pages += under.pages;
        bytes += under.bytes;
      }
    }
    const result = { pages, bytes };
    if (!before && depth > 0) walked.set(subtree, { virtual: base, ...result });
    return result;
  };
  /** Visits a table: at once when its read has completed (the result, not a promise, for a last-level one). */
  const visit = (depth: number, tableAddress: bigint, base: bigint, access: PageAccess, repeating: boolean): Visited | Promise<Visited> => {
    const geometry = model.levels[depth];
    const key = `${tableAddress}:${depth}`;
    const subtree = `${key}:${access.writable ? 1 : 0}${access.user ? 1 : 0}${access.noExecute ? 1 : 0}`;
    const before = depth === 0 ? undefined : walked.get(subtree);
    // A repeat is paid for once, at its top (the tables under it repeat with it).
    if (before && !repeating) {
      if (before.pages > repeatBudget) {
        out.shared.push({ virtual: base, level: geometry.level, tableAddress, sameAs: before.virtual, span: BigInt(geometry.entries) << BigInt(geometry.shift), pages: before.pages, bytes: before.bytes });
        return before;
      }
      repeatBudget -= before.pages;
    }
    if (!before && cache.count >= maxTables && !cache.has(tableAddress, geometry)) {
      stop(base, `The walk stopped after ${maxTables} page tables; the rest of the address space from ${hex(base)} is not shown.`);
      return none();
    }
    const ready = depth === 0 && top.table ? top.table : cache.ready(tableAddress, geometry);
    if (depth === last) {
      if (ready !== undefined) return visitedLeaf(ready, tableAddress, base, access, geometry, before, subtree);
      return cache.table(tableAddress, geometry).then((t) => visitedLeaf(t, tableAddress, base, access, geometry, before, subtree));
    }
    if (ready !== undefined) return visitedUpper(ready, depth, tableAddress, base, access, repeating, geometry, before, key, subtree);
    return cache.table(tableAddress, geometry).then((t) => visitedUpper(t, depth, tableAddress, base, access, repeating, geometry, before, key, subtree));
  };
  const all = visit(0, topTableAddress(model, cr3), 0n, OPEN, false);
  if (all instanceof Promise) await all;
  out.tablesRead = cache.count;
  return out;
}

/** The table's bytes as 32-bit little-endian words (a view when aligned, else a copy). */
function wordsOf(table: Buffer): Int32Array {
  if (table.byteOffset % 4 === 0) return new Int32Array(table.buffer, table.byteOffset, table.length >>> 2);
  const copy = new Uint8Array(table.length);
  copy.set(table);
  return new Int32Array(copy.buffer);
}

/** Walks a whole address space: every leaf in virtual order (one object each), non-present entries with content, and findings. */
export async function walkAddressSpace(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits = {}): Promise<AddressSpaceWalk> {
  const leaves: PageLeaf[] = [];
  const leafGeometry = model.levels[model.levels.length - 1];
  const sink: PageSink = {
    span(words, step, _seq, tableBase, tableAddress, first, count, _flags, physical, writable, user, noExecute) {
      for (let index = first; index < first + count; index++) {
        const low = BigInt(words[index * step] >>> 0);
        const raw = step === 2 ? (BigInt(words[index * step + 1] >>> 0) << 32n) | low : low;
        leaves.push({
          virtual: tableBase + BigInt(index) * KIB4, physical: BigInt(physical + (index - first) * 4096), pageSize: KIB4, level: leafGeometry.level,
          entryAddress: tableAddress + BigInt(index * leafGeometry.entryBytes), entry: decodeEntry(model, leafGeometry, raw), writable, user, noExecute,
        });
      }
    },
    large(leaf) {
      leaves.push(leaf);
    },
  };
  const r = await traverse(model, cr3, read, limits, sink);
  return { leaves, ...r };
}

/** An address space as mapping runs, built without an object per page. */
export interface MappingsWalk<R = MappingRange> {
  readonly runs: R[];
  /** Mapped pages (of any size) listed in `runs`. */
  readonly pages: number;
  readonly shared: SharedSubtree[];
  readonly nonPresent: NonPresentEntry[];
  readonly nonPresentDropped: number;
  readonly findings: WalkFinding[];
  readonly tablesRead: number;
  /** Physical addresses of the tables this walk read, each once. */
  readonly tables: bigint[];
}

/** A mapping run with number addresses, for address spaces whose addresses all fit (32-bit and PAE paging). */
export interface MappingRun32 {
  /** Low 12 bits of every leaf entry of the run. */
  readonly flags: number;
  readonly virtual: number;
  readonly physical: number;
  readonly length: number;
  readonly pageSize: number;
  /** Effective permissions over every level. */
  readonly writable: boolean;
  readonly user: boolean;
  readonly noExecute: boolean;
  readonly global: boolean;
  readonly pages: number;
  readonly dirtyPages: number;
  readonly accessedPages: number;
}

/** A run being built: numbers apart from the (shared, not allocated) base of its first table. */
interface OpenRun {
  base: bigint;
  /** `base` as a number when it is exact (below 2^53), else NaN. */
  baseNumber: number;
  offset: number;
  physical: number;
  bytes: number;
  pageSize: number;
  flags: number;
  global: boolean;
  writable: boolean;
  user: boolean;
  noExecute: boolean;
  pages: number;
  dirtyPages: number;
  accessedPages: number;
  /** Small pages: the last-level table and index the run ends at. */
  tableSeq: number;
  tableBase: bigint;
  lastIndex: number;
}

/** The one run merger over the traversal. */
async function walkOpenRuns(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits, top: TopEntries): Promise<MappingsWalk<OpenRun>> {
  const runs: OpenRun[] = [];
  let cur: OpenRun | undefined;
  let pages = 0;
  const leafEntries = model.levels.length ? model.levels[model.levels.length - 1].entries : 0;
  const leafSpan = BigInt(leafEntries) * KIB4;
  // The last table's base as a number, converted once per table.
  let seqOfBase = -1;
  let baseNumber = NaN;
  const numberOf = (b: bigint): number => (b >= 0n && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : NaN);
  const sink: PageSink = {
    span(_words, _step, tableSeq, tableBase, _tableAddress, first, count, flags, physical, writable, user, noExecute) {
      pages += count;
      // The span's entries share their low 12 bits, so all or none are dirty or accessed.
      const dirty = flags & 0x40 ? count : 0;
      const accessed = flags & 0x20 ? count : 0;
      const c = cur;
      if (c && c.pageSize === 4096 && c.physical + c.bytes === physical && c.flags === flags && c.writable === writable && c.user === user && c.noExecute === noExecute &&
        ((c.tableSeq === tableSeq && c.lastIndex === first - 1) || (first === 0 && c.tableSeq !== tableSeq && c.lastIndex === leafEntries - 1 && c.tableBase + leafSpan === tableBase))) {
        c.tableSeq = tableSeq;
        c.tableBase = tableBase;
        c.lastIndex = first + count - 1;
        c.bytes += count * 4096;
        c.pages += count;
        c.dirtyPages += dirty;
        c.accessedPages += accessed;
        return;
      }
      if (seqOfBase !== tableSeq) {
        seqOfBase = tableSeq;
        baseNumber = numberOf(tableBase);
      }
      cur = {
        base: tableBase, baseNumber, offset: first * 4096, physical, bytes: count * 4096, pageSize: 4096, flags, global: model.globalPages && (flags & 0x100) !== 0,
        writable, user, noExecute, pages: count, dirtyPages: dirty, accessedPages: accessed, tableSeq, tableBase, lastIndex: first + count - 1,
      };
      runs.push(cur);
    },
    large(leaf) {
      pages++;
      const e = leaf.entry;
      const size = Number(leaf.pageSize);
      const physical = Number(leaf.physical);
      const c = cur;
      if (c && c.pageSize === size && c.base + BigInt(c.offset + c.bytes) === leaf.virtual && c.physical + c.bytes === physical &&
        c.flags === e.flags && c.writable === leaf.writable && c.user === leaf.user && c.noExecute === leaf.noExecute) {
        c.bytes += size;
        c.pages++;
        if (e.dirty) c.dirtyPages++;
        if (e.accessed) c.accessedPages++;
        return;
      }
      cur = {
        base: leaf.virtual, baseNumber: numberOf(leaf.virtual), offset: 0, physical, bytes: size, pageSize: size, flags: e.flags, global: e.global,
        writable: leaf.writable, user: leaf.user, noExecute: leaf.noExecute, pages: 1, dirtyPages: e.dirty ? 1 : 0, accessedPages: e.accessed ? 1 : 0,
        tableSeq: -1, tableBase: -1n, lastIndex: -2,
      };
      runs.push(cur);
    },
  };
  const r = await traverse(model, cr3, read, limits, sink, top);
  return { runs, pages, ...r };
}

/**
 * Walks a whole address space (or the top-level entries `top` names) straight into mapping runs:
 * the same traversal as walkAddressSpace, so the same pages, findings and limits, but 4 KiB pages
 * are merged as numbers, so a million of them cost tens of milliseconds and no memory per page.
 */
export async function walkMappings(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits = {}, top: TopEntries = {}): Promise<MappingsWalk> {
  const w = await walkOpenRuns(model, cr3, read, limits, top);
  return {
    ...w,
    runs: w.runs.map((x) => ({
      virtual: x.base + BigInt(x.offset), physical: BigInt(x.physical), length: BigInt(x.bytes), pageSize: BigInt(x.pageSize), flags: x.flags, global: x.global,
      writable: x.writable, user: x.user, noExecute: x.noExecute, pages: x.pages, dirtyPages: x.dirtyPages, accessedPages: x.accessedPages,
    })),
  };
}

/** walkMappings with number addresses, for 32-bit and PAE paging (every virtual address below 4 GiB). */
export async function walkMappings32(model: PagingModel, cr3: number | bigint, read: PhysicalBytesReader | TableCache, limits: WalkLimits = {}, top: TopEntries = {}): Promise<MappingsWalk<MappingRun32>> {
  if (model.virtualBits !== 32) throw new RangeError(`walkMappings32 needs 32-bit addresses; ${model.kind} has ${model.virtualBits}-bit ones (use walkMappings)`);
  const w = await walkOpenRuns(model, cr3, read, limits, top);
  return {
    ...w,
    runs: w.runs.map((x) => ({
      flags: x.flags, virtual: x.baseNumber + x.offset, physical: x.physical, length: x.bytes, pageSize: x.pageSize,
      writable: x.writable, user: x.user, noExecute: x.noExecute, global: x.global, pages: x.pages, dirtyPages: x.dirtyPages, accessedPages: x.accessedPages,
    })),
  };
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
