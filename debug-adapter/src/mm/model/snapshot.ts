// Builds one immutable MmSnapshot of the guest's memory manager from guest-physical reads:
// the descriptor locates everything; page tables are walked with our own walker; chains are
// decoded from the block table; mappings are found by reverse lookup from the page tables;
// findings collect every inconsistency. Every walk is bounded; garbage becomes findings.

import { MmDebugInfo, DESCRIPTOR_SIZE, decodeDescriptor } from './descriptor';
import { MappingRun } from './address-space';
import {
  BLOCK_SIZE, BLOCK_STATES, BlockCounts, BlockRun, BlockState, ChainFlags, ChainTable, DecodedChain, PAGES_PER_BLOCK, S_FREE, SWAPPED_BLOCK, SWAP_CACHED, SWAP_FREE, SWAP_OUT,
  SwapSlots, SwappedBlock, decodeChainTable, updateChainTable,
} from './chain-table';
import { Finding, SourceSite } from './findings';
import {
  DpmiBlockRecord, OwnerRecord, PcbRecord, ProcessMode, ProcessState, V86TaskRecord, XmsHandleRecord,
  decodeDpmiBlocks, decodeOwner, decodePcb, decodeV86Task, decodeVector, decodeXmsHandles,
} from './guest-structures';
import { DosArenaRecord, SwappedPte, V86TaskInfo, decodeMcbChain, mcbChainFindings, swappedPagesOf, v86TaskInfo } from './dos-arena';
import { v86ForeignMemory } from './v86-checks';
import { ENTRIES_PER_TABLE, PAGE_SIZE, entryFrame } from './paging-entry';
import { swappedEntry } from './swap-entry';
import { LeafSpanMemo, TableCache, WalkFinding, walkAddress, walkMappings32 } from '../../../../qemu-bridge/src/paging/page-table-walk';
import { PagingModel, pagingModel } from '../../../../qemu-bridge/src/paging/paging-modes';

/** Reads guest-physical memory (any tier). */
export type PhysicalReader = (address: number, length: number) => Promise<Buffer>;

export interface ControlRegisters {
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
}

export interface SnapshotSource {
  readonly read: PhysicalReader;
  /** Physical address of `mm_debug_info` (from the ELF symbol and its load mapping). */
  readonly descriptorPhys: number;
  readonly registers: ControlRegisters;
  /** Resolves a code address to a source site, when symbols are loaded. */
  readonly resolveSite?: (address: number) => SourceSite | undefined;
  /** Sequence number of this stop, for diffs. */
  readonly stop?: number;
}

export type AddressSpaceId = 'kernel' | number; // 'kernel' or a pid

/** Where (part of) a chain is mapped. */
export interface ChainMapping {
  readonly space: AddressSpaceId;
  readonly virtual: number;
  readonly length: number;
  /** The chain page mapped at `virtual`. */
  readonly firstPage: number;
}

export interface ChainHandle {
  readonly type: 'xms' | 'dpmi';
  readonly handle: number;
}

export interface ChainInfo {
  readonly id: number;
  readonly flags: ChainFlags;
  readonly blockCount: number;
  readonly sizeBytes: number;
  /** Block indices in chain order; SWAPPED_BLOCK (-1) where a block is swapped out. */
  readonly blocks: readonly number[];
  readonly runs: readonly BlockRun[];
  /** The blocks swapped out to the disk: chain position and slot (our guest's swapping). */
  readonly swapped: readonly SwappedBlock[];
  readonly owner: OwnerRecord;
  readonly site?: SourceSite;
  readonly mappedAt: readonly ChainMapping[];
  readonly handles: readonly ChainHandle[];
}

export interface ProcessInfo {
  readonly pid: number;
  readonly name: string;
  readonly state: ProcessState;
  readonly current: boolean;
  readonly pcbAddress: number;
  readonly upd: readonly number[];
  /** For the current process: whether KPD[0..63] equals its UPD (ignoring the accessed bit). */
  readonly updMatchesKpd?: boolean;
  readonly mappings: readonly MappingRun[];
  /** How it runs (descriptor version 2) and why it ended. */
  readonly mode: ProcessMode;
  readonly exitCode: number;
  /** DOS tasks: their struct v86_task and conventional memory (null when the record cannot be read). */
  readonly v86?: V86TaskInfo | null;
  /** Pages of its UPD whose PTEs say they are swapped out. */
  readonly swappedPages: readonly SwappedPte[];
}

/** A page whose PTE holds a swap slot (not present; docs/chain-table.md "Swapped-out blocks"). */
export interface SwappedPage {
  readonly space: AddressSpaceId;
  readonly virtual: number;
  readonly slot: number;
  /** The page within the block (PTE bits 2..3). */
  readonly page: number;
  /** The raw PTE. */
  readonly entry: number;
  /** From the kernel's mapping registry: the chain and its page mapped here. */
  readonly chain?: number;
  readonly chainPage?: number;
}

/** One slot of the swap slot table that is in use. */
export interface SwapSlotInfo {
  readonly slot: number;
  readonly state: 'out' | 'cached' | 'invalid';
  readonly rawState: number;
  readonly chain: number;
  /** 'out': the link the swapped block's entry had. */
  readonly next: number;
  /** 'cached': the resident block this slot is a clean copy of. */
  readonly block: number;
}

/** Our guest's swapping (mm_debug_info v2): the counters, the slots in use, the swapped PTEs. */
export interface SwapInfo {
  /** Slots on the swap disk (0: no disk, swapping off). */
  readonly slotCount: number;
  /** The kernel's swap_slots_used. */
  readonly used: number;
  readonly outs: number;
  readonly ins: number;
  readonly slots: readonly SwapSlotInfo[];
  readonly pages: readonly SwappedPage[];
}

export interface MmSnapshot {
  readonly schema: typeof SNAPSHOT_SCHEMA;
  readonly stop: number;
  readonly registers: ControlRegisters & { readonly paging: boolean; readonly pse: boolean; readonly writeProtect: boolean };
  readonly geometry: {
    readonly blockSize: number;
    readonly pageSize: number;
    readonly blockCount: number;
    readonly kernelBase: number;
    readonly userSpaceEnd: number;
    readonly kpdPhys: number;
  };
  readonly kernel: { readonly pde: readonly number[]; readonly mappings: readonly MappingRun[] };
  readonly processes: readonly ProcessInfo[];
  readonly chains: readonly ChainInfo[];
  readonly blocks: BlockCounts & { readonly largestFreeRun: number; readonly fragmentationPercent: number; readonly map: string };
  readonly xms: readonly XmsHandleRecord[];
  readonly dpmi: readonly DpmiBlockRecord[];
  /** Our guest's swapping; absent when the slot table could not be read. */
  readonly swap?: SwapInfo;
  readonly counters: { readonly allocations: number; readonly defragRuns: number; readonly defragMoved: number; readonly contextSwitches: number; readonly ticks: number; readonly faultInjected: number };
  /** The DOS arena's MCB chain (absent when the descriptor names no arena or it cannot be read). */
  readonly dos?: DosArenaRecord;
  readonly findings: readonly Finding[];
}

/** The version of docs/snapshot-schema.md this snapshot's JSON follows. */
export const SNAPSHOT_SCHEMA = 3;

const MAX_PROCESSES = 1024;
/** Largest read of consecutive blocks of page tables (KernelMemory.prefetch). */
const PREFETCH_RUN = 1 << 20;
const MAX_VECTOR = 65536;
const KPD_USER_ENTRIES_LIMIT = 768; // entries below the kernel half
/** Walks are reused only while a snapshot has read fewer distinct tables than this (the walker stops at 256 Ki). */
const REUSE_TABLES_LIMIT = 200_000;

/** One character per block for the physical map (docs/snapshot-schema.md), by state code. */
const MAP_CHARS: Record<BlockState, string> = { free: '.', head: 'C', body: 'c', corrupt: 'X', hole: '_', firmware: 'F', kernel: 'K', dos: 'D' };
const MAP_CODES = Uint8Array.from(BLOCK_STATES.map((s) => MAP_CHARS[s].charCodeAt(0)));

function blockMap(states: Uint8Array): string {
  const out = Buffer.allocUnsafe(states.length);
  for (let i = 0; i < states.length; i++) out[i] = MAP_CODES[states[i]];
  return out.toString('latin1');
}

/** A 16 KiB block of page tables as last read: its bytes (our copy), and views of its four tables. */
interface TableBlock {
  readonly bytes: Buffer;
  readonly words: readonly Uint32Array[];
  readonly buffers: readonly Buffer[];
}

/** One address space's walk as a snapshot made it, with what it was made of (SnapshotCache.spaceWalks). */
interface SpaceWalkMemo {
  /** The directory entries walked (a copy), and the tables they name, in entry order (undefined: unreadable). */
  readonly entries: Uint32Array;
  readonly tables: readonly (Uint32Array | undefined)[];
  readonly walk: SliceWalk;
  /** A process's swapped-out PTEs (swappedPagesOf over the same tables). */
  swappedPages?: SwappedPte[];
}

/**
 * What one builder keeps between the snapshots of one guest, so that a snapshot after the guest
 * ran re-decodes only what changed (docs/benchmarks.md "Memory-manager snapshot"): every block
 * of page tables as last read (a block whose bytes read the same is the same object again, so
 * the walker's span memo and everything keyed by it still hold), the walker's spans of each
 * unchanged page table, the block table with its decoding (updated, not decoded again, when a few
 * entries changed: updateChainTable), each chain's ChainInfo and each address space's walk while
 * what they were made of is unchanged. Everything is re-read at every
 * snapshot and compared; nothing is trusted without the bytes. A snapshot built with a cache is
 * deep-equal to one built without (debug-adapter/test/mm-snapshot-cache*.test.ts). One per guest session: the
 * bytes are compared, so a wrong cache costs time, never correctness; blocks not read by the last
 * snapshot are dropped.
 */
export class SnapshotCache {
  /** Blocks of page tables by physical address, as the last snapshot read them. */
  tableBlocks = new Map<number, TableBlock>();
  /** The walker's spans of unchanged last-level tables. */
  readonly spans = new LeafSpanMemo();
  /** Page tables (the cache's own views, so unchanged ones) found to hold no swapped-out PTE, with the swap mark looked for. */
  readonly noSwapped = new WeakMap<Uint32Array, number>();
  /** The block table's entries (a copy), the slot table it was decoded with, the decoding and each block's page in its chain. */
  chainTable?: ChainTableMemo;
  /** The owner records as the last snapshot read them (its chains' heads), and the buffer the next one reads into. */
  owners?: Buffer;
  spareOwners?: Buffer;
  /** The last snapshot's chains by head, and the resolver their sites came from (kept only with the same resolver, taken to answer the same for an address: one per session). */
  chainInfos = new Map<number, ChainInfo>();
  resolveSite?: (address: number) => SourceSite | undefined;
  /**
   * Each address space's walk (and swapped PTEs) as the last snapshot made it, by space: reused
   * whole when the space's directory entries are the same and every table they name is the same
   * (unchanged) object again. Spaces not walked by the last snapshot are dropped.
   */
  spaceWalks = new Map<string, SpaceWalkMemo>();
  /** Snapshots built with this cache, and how many 16 KiB blocks of tables the last one found unchanged / read. */
  builds = 0;
  lastReused = 0;
  lastRead = 0;
  /**
   * How the last snapshot decoded the block table ('same': as before; 'updated': only the chains
   * holding a changed entry walked again; 'whole'), how many chains it walked again, how many
   * ChainInfo objects and address-space walks it kept from the snapshot before.
   */
  lastTable: 'same' | 'updated' | 'whole' = 'whole';
  lastChainsWalked = 0;
  lastChainsKept = 0;
  lastWalksKept = 0;
}

function sameSlots(a: SwapSlots | undefined, b: SwapSlots | undefined): boolean {
  if (!a || !b) return a === b;
  const eq = (x: Uint32Array, y: Uint32Array): boolean =>
    x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  return a.count === b.count && a.swappedBase === b.swappedBase && eq(a.state, b.state) && eq(a.chain, b.chain) && eq(a.next, b.next) && eq(a.block, b.block);
}

interface ChainTableMemo {
  readonly entries: Uint32Array;
  readonly slots?: SwapSlots;
  readonly table: ChainTable;
  /** Each block's first page in its chain (chain position * PAGES_PER_BLOCK), or -1. */
  readonly pageIndexOf: Int32Array;
}

/** Each block's first page in its chain, or -1 (ChainTableMemo.pageIndexOf). */
function pageIndexOfChains(blockCount: number, chains: readonly DecodedChain[]): Int32Array {
  const pageIndexOf = new Int32Array(blockCount).fill(-1);
  for (const c of chains) {
    const blocks = c.blocks;
    for (let i = 0; i < blocks.length; i++) if (blocks[i] !== SWAPPED_BLOCK) pageIndexOf[blocks[i]] = i * PAGES_PER_BLOCK;
  }
  return pageIndexOf;
}

/**
 * The block table decoded: the cache's decoding when the entries and the slot table are the same
 * as then; with the same slot table, an update of it (updateChainTable: only the chains holding a
 * changed entry are walked again); else decoded whole.
 */
function chainTableOf(bytes: Buffer, slots: SwapSlots | undefined, cache: SnapshotCache | undefined): ChainTableMemo {
  const entries = toWords(bytes);
  const kept = cache?.chainTable;
  const same = kept !== undefined && sameSlots(kept.slots, slots);
  if (kept && same && Buffer.from(kept.entries.buffer, kept.entries.byteOffset, kept.entries.byteLength).equals(bytes)) {
    if (cache) {
      cache.lastTable = 'same';
      cache.lastChainsWalked = 0;
    }
    return kept;
  }
  let memo: ChainTableMemo;
  if (kept && same) {
    const u = updateChainTable(kept.table, kept.entries, entries, slots);
    let pageIndexOf: Int32Array;
    if (u.removed.length || u.added.length) {
      pageIndexOf = kept.pageIndexOf.slice();
      for (const c of u.removed) for (const b of c.blocks) if (b !== SWAPPED_BLOCK) pageIndexOf[b] = -1;
      for (const c of u.added) c.blocks.forEach((b, i) => { if (b !== SWAPPED_BLOCK) pageIndexOf[b] = i * PAGES_PER_BLOCK; });
    } else {
      pageIndexOf = u.table === kept.table ? kept.pageIndexOf : pageIndexOfChains(entries.length, u.table.chains);
    }
    memo = { entries: entries.slice(), slots, table: u.table, pageIndexOf };
    if (cache) {
      const updated = u.removed.length > 0 || u.added.length > 0;
      cache.lastTable = updated ? 'updated' : 'whole';
      cache.lastChainsWalked = updated ? u.added.length : u.table.chains.length;
    }
  } else {
    if (cache) {
      cache.lastTable = 'whole';
      cache.lastChainsWalked = 0;
    }
    const table = decodeChainTable(entries, slots);
    if (cache) cache.lastChainsWalked = table.chains.length;
    memo = { entries: cache ? entries.slice() : entries, slots, table, pageIndexOf: pageIndexOfChains(entries.length, table.chains) };
  }
  if (cache) cache.chainTable = memo;
  return memo;
}

/** Kernel-virtual reads through the direct map or a walk of the KPD, with a table cache. */
class KernelMemory {
  private readonly tables = new Map<number, Uint32Array | undefined>();
  /** This snapshot's blocks of tables (moved into the cache at the end). */
  private readonly blocks = new Map<number, TableBlock>();
  private readonly buffers = new Map<number, Buffer>();
  private reused = 0;
  private walksKept = 0;
  kpd: Uint32Array = new Uint32Array(ENTRIES_PER_TABLE);

  /** 32-bit paging over the KPD, with PSE (and PGE) as the kernel set them in CR4. */
  readonly model: PagingModel;
  private readonly pse: boolean;

  constructor(private readonly read: PhysicalReader, private readonly d: MmDebugInfo, cr4: number, private readonly cache?: SnapshotCache) {
    this.model = pagingModel({ cr0: 0x80000000, cr4 });
    this.pse = (cr4 & 0x10) !== 0;
    this.walkerTables = new TableCache(this.readForWalker, cache?.spans, this.heldForWalker);
  }

  /** This snapshot's walks of address spaces (moved into the cache at the end). */
  private readonly spaceWalks = new Map<string, SpaceWalkMemo>();

  /** Hands this snapshot's blocks of tables and walks to the cache (the ones it did not use are dropped). */
  finish(): void {
    if (!this.cache) return;
    this.cache.tableBlocks = this.blocks;
    this.cache.spaceWalks = this.spaceWalks;
    this.cache.builds++;
    this.cache.lastReused = this.reused;
    this.cache.lastRead = this.blocks.size;
    this.cache.lastWalksKept = this.walksKept;
  }

  async loadKpd(): Promise<void> {
    this.kpd = toWords(await this.read(this.d.kpdPhys, PAGE_SIZE));
  }

  /**
   * The page table at `phys`, or undefined when it lies outside RAM or cannot be read. Page
   * tables come four to a block, so the whole 16 KiB block is read at once and its four pages
   * cached: a quarter of the reads.
   */
  async table(phys: number): Promise<Uint32Array | undefined> {
    if (!this.tables.has(phys)) {
      const block = phys - (phys % this.d.blockSize);
      const ram = this.d.blockCount * this.d.blockSize;
      try {
        if (block + this.d.blockSize > ram) throw new Error('outside RAM');
        this.adoptBlock(block, await this.read(block, this.d.blockSize));
      } catch {
        this.tables.set(phys, undefined);
      }
    }
    return this.tables.get(phys);
  }

  /** The tables of a block read (its pages not known yet). */
  private adoptBlock(block: number, bytes: Buffer): void {
    const tb = this.tableBlock(block, bytes);
    for (let p = 0; p < tb.words.length; p++) {
      const at = block + p * PAGE_SIZE;
      if (!this.tables.has(at)) {
        this.tables.set(at, tb.words[p]);
        this.buffers.set(at, tb.buffers[p]);
      }
    }
  }

  /**
   * Reads every page table the given directory entries refer to (not 4 MiB pages), all at once:
   * consecutive blocks of tables in one read each (up to PREFETCH_RUN bytes; over the gdbstub one
   * pipelined series of packets instead of one per block). A run that cannot be read is read
   * again table by table, so what cannot be read is exactly what `table` says cannot.
   */
  async prefetch(entries: ArrayLike<number>, pse: boolean): Promise<void> {
    const wanted = new Set<number>();
    const bs = this.d.blockSize;
    const ram = this.d.blockCount * bs;
    const blocks = new Set<number>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] >>> 0;
      if (e & 1 && !(pse && e & 0x80) && !this.tables.has(entryFrame(e))) {
        const f = entryFrame(e);
        wanted.add(f);
        const block = f - (f % bs);
        if (block + bs <= ram) blocks.add(block);
      }
    }
    const sorted = [...blocks].sort((a, b) => a - b);
    const runs: { start: number; count: number }[] = [];
    for (const b of sorted) {
      const last = runs[runs.length - 1];
      if (last && last.start + last.count * bs === b && (last.count + 1) * bs <= PREFETCH_RUN) last.count++;
      else runs.push({ start: b, count: 1 });
    }
    await Promise.all(runs.map(async (r) => {
      let bytes: Buffer;
      try {
        bytes = await this.read(r.start, r.count * bs);
      } catch {
        return; // read table by table below
      }
      if (bytes.length !== r.count * bs) return;
      for (let i = 0; i < r.count; i++) {
        const block = r.start + i * bs;
        if (!this.tables.has(block)) this.adoptBlock(block, bytes.subarray(i * bs, (i + 1) * bs));
      }
    }));
    // The tables the runs did not bring (outside RAM, or a run that could not be read), one by one.
    const missing = [...wanted].filter((f) => !this.tables.has(f));
    if (missing.length) await Promise.all(missing.map((f) => this.table(f)));
  }

  /** The block as read now: the cache's object when its bytes are the same as last time, else a new one (a copy). */
  private tableBlock(block: number, bytes: Buffer): TableBlock {
    const kept = this.blocks.get(block) ?? this.cache?.tableBlocks.get(block);
    if (kept && kept.bytes.equals(bytes)) {
      if (!this.blocks.has(block)) this.reused++;
      this.blocks.set(block, kept);
      return kept;
    }
    // Our copy: the reader's buffer may be a view of memory it reuses.
    const own = this.cache ? Buffer.from(bytes) : bytes;
    const all = toWords(own);
    const words: Uint32Array[] = [];
    const buffers: Buffer[] = [];
    const pages = own.length / PAGE_SIZE;
    for (let p = 0; p < pages; p++) {
      // A table of a changed block whose own 4 KiB read the same is the same object again.
      const old = kept && kept.buffers.length === pages ? kept.buffers[p] : undefined;
      if (old && old.equals(own.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE))) {
        words.push(kept?.words[p] as Uint32Array);
        buffers.push(old);
        continue;
      }
      const w = all.subarray(p * 1024, (p + 1) * 1024);
      words.push(w);
      buffers.push(Buffer.from(w.buffer, w.byteOffset, PAGE_SIZE));
    }
    const tb: TableBlock = { bytes: own, words, buffers };
    this.blocks.set(block, tb);
    return tb;
  }

  lookup = (phys: number): Uint32Array | undefined => this.tables.get(phys);

  /**
   * The table at `phys` when it may hold a swapped-out PTE (a `mark` entry not present); undefined
   * when it is not read or holds none. Unchanged tables are tested once (SnapshotCache.noSwapped).
   */
  swapCandidate = (phys: number, mark: number): Uint32Array | undefined => {
    const t = this.tables.get(phys);
    if (!t || mark === 0) return undefined;
    // Tested once per snapshot (a table is asked about by each scan), and once while unchanged (the cache).
    const memo = this.cache?.noSwapped ?? this.noSwapped;
    if (memo.get(t) === mark) return undefined;
    for (let k = 0; k < t.length; k++) {
      const e = t[k];
      if ((e & 1) === 0 && (e & mark) !== 0) return t;
    }
    memo.set(t, mark);
    return undefined;
  };
  private readonly noSwapped = new WeakMap<Uint32Array, number>();

  /** The tables read already (prefetch), for the walker without a read or a promise. */
  private readonly heldForWalker = (address: bigint, length: number): Buffer | undefined => {
    if (length !== PAGE_SIZE) return undefined;
    const phys = Number(address);
    if (phys === this.d.kpdPhys) return Buffer.from(this.kpd.buffer, this.kpd.byteOffset, PAGE_SIZE);
    return this.buffers.get(phys);
  };

  private readonly readForWalker = async (address: bigint, length: number): Promise<Buffer> => {
    const phys = Number(address);
    if (phys === this.d.kpdPhys && length === PAGE_SIZE) return Buffer.from(this.kpd.buffer, this.kpd.byteOffset, PAGE_SIZE);
    if (length !== PAGE_SIZE) return this.read(phys, length);
    const t = await this.table(phys);
    const b = this.buffers.get(phys);
    if (!t || !b) throw new Error('it lies outside RAM or cannot be read');
    return b;
  };

  /** The one page walker's tables: through this object's cache of 16 KiB blocks of tables (the same Buffer for an unchanged table). */
  private readonly walkerTables: TableCache;

  /**
   * Walks directory entries first..first+count-1 of the KPD (or of a process's UPD laid over the
   * KPD's first entries) with the one walker, into mapping runs.
   */
  async walk(slice: { first: number; count: number; upd?: readonly number[] }, space: string): Promise<SliceWalk> {
    return (await this.spaceWalk(slice, space)).walk;
  }

  /**
   * The walk of a slice (`space` names it in the cache), reused from the cache's last snapshot when
   * its entries and every table they name are the same as then (the tables must be read already:
   * `prefetch` first). The result is the walk's, either way.
   */
  async spaceWalk(slice: { first: number; count: number; upd?: readonly number[] }, space: string): Promise<SpaceWalkMemo> {
    const source: ArrayLike<number> = slice.upd ?? this.kpd;
    const from = slice.upd ? 0 : slice.first;
    const entries = new Uint32Array(slice.count);
    const tables: (Uint32Array | undefined)[] = [];
    const pse = this.pse;
    for (let i = 0; i < slice.count; i++) {
      const e = (entries[i] = source[from + i] >>> 0);
      if (e & 1 && !(pse && e & 0x80)) tables.push(this.tables.get(entryFrame(e)));
    }
    const kept = this.cache?.spaceWalks.get(space);
    // (Far below the walker's table limit, so a walk skipped cannot change where a later one stops.)
    if (kept && this.tables.size < REUSE_TABLES_LIMIT && kept.entries.length === entries.length && kept.tables.length === tables.length &&
      kept.entries.every((e, i) => e === entries[i]) && kept.tables.every((t, i) => t === tables[i] && t !== undefined)) {
      this.spaceWalks.set(space, kept);
      this.walksKept++;
      return kept;
    }
    const memo: SpaceWalkMemo = { entries, tables, walk: await this.walkSlice(slice) };
    if (this.cache && tables.every((t) => t !== undefined)) this.spaceWalks.set(space, memo);
    return memo;
  }

  private async walkSlice(slice: { first: number; count: number; upd?: readonly number[] }): Promise<SliceWalk> {
    let table: Buffer | undefined;
    if (slice.upd) {
      table = Buffer.alloc(PAGE_SIZE);
      slice.upd.forEach((e, i) => table?.writeUInt32LE(e >>> 0, i * 4));
    }
    const w = await walkMappings32(this.model, this.d.kpdPhys, this.walkerTables, {}, { first: slice.first, count: slice.count, ...(table ? { table } : {}) });
    return w;
  }

  /** Physical address of a kernel-virtual address, or undefined if unmapped. */
  async toPhys(va: number): Promise<number | undefined> {
    const d = this.d;
    // The guest's direct map of low memory (from its descriptor): no walk needed.
    if (va >= d.kernelVbase && va - d.kernelVbase < d.lowmapEnd) return va - d.kernelVbase;
    const walk = await walkAddress(this.model, d.kpdPhys, va, this.walkerTables);
    return walk.kind === 'mapped' ? Number(walk.physical) : undefined;
  }

  /** Reads `len` bytes at a kernel-virtual address, page by page; throws if a page is unmapped. */
  async readVirt(va: number, len: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let done = 0;
    while (done < len) {
      const v = (va + done) >>> 0;
      const n = Math.min(len - done, PAGE_SIZE - (v & 0xfff));
      const p = await this.toPhys(v);
      if (p === undefined) throw new Error(`kernel address 0x${v.toString(16)} is not mapped`);
      parts.push(await this.read(p, n));
      done += n;
    }
    return Buffer.concat(parts, len);
  }

  async u32(va: number): Promise<number> {
    return (await this.readVirt(va, 4)).readUInt32LE(0);
  }
}

/** A walk of part of a 32-bit directory: its runs (numbers: our guest is a 32-bit kernel) and the walker's findings. */
interface SliceWalk {
  readonly runs: MappingRun[];
  readonly findings: readonly WalkFinding[];
}

/** The buffer as little-endian 32-bit words (one copy; the host is little-endian like the guest). */
function toWords(buf: Buffer): Uint32Array {
  const n = buf.length >>> 2;
  if (buf.byteOffset % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, n); // a view: the reader gave us this buffer
  const copy = new Uint8Array(n * 4);
  copy.set(buf.subarray(0, n * 4));
  return new Uint32Array(copy.buffer);
}

/** Reads and decodes the descriptor only (for callers that need its addresses). */
export async function readDescriptor(read: PhysicalReader, descriptorPhys: number): Promise<MmDebugInfo> {
  return decodeDescriptor(await read(descriptorPhys, DESCRIPTOR_SIZE));
}

/**
 * The snapshot of the guest as it is now. With `cache` (one per guest session), what the bytes
 * show unchanged since the cache's last snapshot is not decoded again; the result is the same.
 */
export async function buildSnapshot(src: SnapshotSource, cache?: SnapshotCache): Promise<MmSnapshot> {
  const d = await readDescriptor(src.read, src.descriptorPhys);
  const findings: Finding[] = [];
  const { cr0, cr3, cr4 } = src.registers;
  const pse = (cr4 & 0x10) !== 0;
  const mem = new KernelMemory(src.read, d, cr4, cache);
  await mem.loadKpd();

  // The swap slot table (kernel heap), then the block table through it, and the owner records.
  const slots = await readSwapSlots(mem, d);
  const tableMemo = chainTableOf(await src.read(d.blockTablePhys, d.blockCount * 4), slots?.table, cache);
  const table = tableMemo.table;
  findings.push(...table.findings);
  const ownersBuf = await readOwners(src.read, d, table.chains, cache);
  const pageIndexOf = tableMemo.pageIndexOf;
  // Chains by id (their head block, below blockCount): arrays, not maps, for the ~10^4 chains of a big guest.
  // (Not `new Array(blockCount)`: above 100 000 elements V8 makes that a dictionary.)
  const chainById = new Map<number, DecodedChain>();
  for (const c of table.chains) {
    chainById.set(c.id, c);
  }
  const isChain = (id: number): boolean => chainById.has(id);

  // Processes, bounded and cycle-safe.
  const currentPcb = await mem.u32(d.currentAddr).catch(() => 0);
  const pcbs: PcbRecord[] = [];
  const seen = new Set<number>();
  for (let p = await mem.u32(d.procListAddr).catch(() => 0); p !== 0; ) {
    if (seen.has(p) || pcbs.length >= MAX_PROCESSES) {
      findings.push({ kind: 'process-list-broken', severity: 'error', message: `the process list loops back to the PCB at 0x${p.toString(16)}` });
      break;
    }
    seen.add(p);
    let pcb: PcbRecord;
    try {
      pcb = decodePcb(await mem.readVirt(p, d.pcbSize), p, d);
    } catch {
      findings.push({ kind: 'process-list-broken', severity: 'error', message: `the process list points at 0x${p.toString(16)}, which is not mapped` });
      break;
    }
    pcbs.push(pcb);
    p = pcb.next;
  }

  // Address spaces, through the one walker: the kernel half of the KPD, then each process's UPD.
  await mem.prefetch(mem.kpd.subarray(0), pse);
  const kernelFirst = d.kernelVbase >>> 22;
  const windowFirst = d.windowBase >>> 22;
  const kernelWalk = await mem.walk({ first: kernelFirst, count: ENTRIES_PER_TABLE - kernelFirst }, 'kernel');
  // The mapping windows point at whatever page the kernel last edited: shown, never checked.
  const kernelChecked = kernelWalk.runs.filter((r) => r.virtual >>> 22 !== windowFirst);
  noteProblems(kernelWalk, findings, undefined);
  const middle = await mem.walk({ first: d.updEntries, count: KPD_USER_ENTRIES_LIMIT - d.updEntries }, 'middle');
  for (const run of middle.runs) {
    findings.push({ kind: 'user-mapping-above-limit', severity: 'error', virtual: run.virtual,
      message: `0x${run.virtual.toString(16)}..0x${(run.virtual + run.length).toString(16)} is mapped in the KPD between 256 MiB and the kernel half, outside every process's user space` });
  }
  for (const r of kernelChecked) {
    if (r.user && r.writable) {
      findings.push({ kind: 'kernel-page-user-writable', severity: 'error', virtual: r.virtual,
        message: `kernel page${r.pages > 1 ? 's' : ''} 0x${r.virtual.toString(16)}${r.pages > 1 ? `..0x${(r.virtual + r.length).toString(16)}` : ''} writable from user mode` });
    }
  }

  const processes: Omit<ProcessInfo, 'v86'>[] = [];
  const spaceRuns = new Map<AddressSpaceId, readonly MappingRun[]>([['kernel', kernelChecked]]);
  for (const pcb of pcbs) {
    await mem.prefetch(pcb.upd, pse);
    const spaceWalk = await mem.spaceWalk({ first: 0, count: d.updEntries, upd: pcb.upd }, `pcb:${pcb.address}`);
    const walk = spaceWalk.walk;
    noteProblems(walk, findings, pcb.pid);
    spaceRuns.set(pcb.pid, walk.runs);
    const current = pcb.address === currentPcb;
    let updMatchesKpd: boolean | undefined;
    if (current) {
      updMatchesKpd = pcb.upd.every((e, i) => ((mem.kpd[i] & ~0x20) >>> 0) === ((e & ~0x20) >>> 0));
      if (!updMatchesKpd) {
        findings.push({ kind: 'stale-upd', severity: 'error', pid: pcb.pid,
          message: `the KPD's user slice does not match the UPD of the running process ${pcb.pid} (${pcb.name}): a context switch did not copy it` });
      }
    }
    processes.push({ pid: pcb.pid, name: pcb.name, state: pcb.state, current, pcbAddress: pcb.address, upd: pcb.upd, updMatchesKpd, mappings: walk.runs,
      mode: pcb.mode, exitCode: pcb.exitCode, swappedPages: (spaceWalk.swappedPages ??= swappedPagesOf(pcb.upd, (phys) => mem.swapCandidate(phys, d.pteSwapMark >>> 0), d, pse)) });
  }

  // Reverse lookup: which chain page each mapped page shows.
  const mappedAt = new Map<number, ChainMapping[]>();
  const blockLimit = d.blockCount;
  for (const [space, runs] of spaceRuns) {
    let open: { -readonly [K in keyof ChainMapping]: ChainMapping[K] } | undefined;
    let openChain = -1;
    // Pages that map a free block are reported once per block and virtual range.
    let freeRun: { block: number; start: number; end: number } | undefined;
    const flushFree = (): void => {
      if (!freeRun) return;
      const { block, start, end } = freeRun;
      findings.push({ kind: 'free-block-mapped', severity: 'error', block, virtual: start, pid: typeof space === 'number' ? space : undefined,
        message: `${spaceName(space)} maps 0x${start.toString(16)}${end - start > PAGE_SIZE ? `..0x${(end - 1).toString(16)}` : ''} to free block ${block}` });
      freeRun = undefined;
    };
    for (const r of runs) {
      // Step through the run a block-sized piece at a time: every page of a piece lies in the
      // same block, so one lookup serves up to four pages.
      for (let off = 0; off < r.length;) {
        const phys = r.physical + off;
        const va = r.virtual + off;
        const block = Math.floor(phys / BLOCK_SIZE);
        const piece = Math.min(BLOCK_SIZE - (phys % BLOCK_SIZE), r.length - off);
        off += piece;
        if (block >= blockLimit) {
          open = undefined;
          continue;
        }
        if (table.states[block] === S_FREE) {
          if (freeRun && freeRun.block === block && freeRun.end === va) freeRun.end += piece;
          else {
            flushFree();
            freeRun = { block, start: va, end: va + piece };
          }
        }
        const chain = table.chainOf[block];
        if (chain < 0) {
          open = undefined;
          continue;
        }
        const page = pageIndexOf[block] + Math.floor((phys % BLOCK_SIZE) / PAGE_SIZE);
        if (open && openChain === chain && open.virtual + open.length === va && open.firstPage + open.length / PAGE_SIZE === page) {
          open.length += piece;
        } else {
          open = { space, virtual: va, length: piece, firstPage: page };
          openChain = chain;
          const list = mappedAt.get(chain);
          if (list) list.push(open);
          else mappedAt.set(chain, [open]);
        }
      }
    }
    flushFree();
  }

  // Swapped-out pages: not-present PTEs with the swap mark, checked against the slot table.
  const swap = slots ? await swapInfo(mem, d, slots, table, pcbs, spaceRuns, findings) : undefined;

  // Handle tables.
  const xms = await readVector(mem, d.xmsHandlesAddr, (buf, v) => decodeXmsHandles(buf, v, d));
  const dpmi = await readVector(mem, d.dpmiBlocksAddr, (buf, v) => decodeDpmiBlocks(buf, v, d));
  const handlesOf = new Map<number, ChainHandle[]>();
  const addHandle = (chain: number, h: ChainHandle): void => {
    if (chain === 0) return;
    if (!isChain(chain)) {
      findings.push({ kind: 'handle-to-freed-chain', severity: 'error', chain,
        message: `${h.type.toUpperCase()} handle 0x${h.handle.toString(16)} refers to chain ${chain}, which is not a live chain` });
      return;
    }
    const list = handlesOf.get(chain) ?? [];
    list.push(h);
    handlesOf.set(chain, list);
  };
  for (const x of xms) addHandle(x.chain, { type: 'xms', handle: x.handle });
  for (const b of dpmi) addHandle(b.chain, { type: 'dpmi', handle: b.handle });

  // DOS: the arena's MCB chain, each DOS task's record, conventional memory and first megabyte.
  const dos = await readDosArena(src.read, d);
  if (dos) findings.push(...mcbChainFindings(dos));
  const v86Records = await readV86Tasks(mem, d, pcbs);
  const chainBytes = (id: number): number | undefined => (isChain(id) ? (chainById.get(id) as DecodedChain).blocks.length * BLOCK_SIZE : undefined);
  const withV86: ProcessInfo[] = processes.map((p, i) => {
    const rec = v86Records[i];
    return rec === undefined ? p : { ...p, v86: rec && v86TaskInfo(p.pid, rec, chainBytes(rec.lowChain) ?? 0, dos, xms, dpmi) };
  });
  const lowChains = new Map<number, number>();
  for (const p of withV86) if (p.v86 && p.v86.lowChain) lowChains.set(p.v86.lowChain, p.pid);
  const handleChains = new Map<number, { pid: number; what: string }>();
  for (const x of xms) if (x.chain) handleChains.set(x.chain, { pid: x.ownerPid, what: `XMS handle 0x${x.handle.toString(16)}` });
  for (const b of dpmi) if (b.chain) handleChains.set(b.chain, { pid: b.ownerPid, what: `DPMI block 0x${b.handle.toString(16)}` });
  for (const p of withV86) {
    if (!p.v86 || p.state === 'zombie' || p.state === 'unused') continue;
    findings.push(...v86ForeignMemory({ pid: p.pid, name: p.name, lowChain: p.v86.lowChain, runs: p.mappings }, {
      blockSize: BLOCK_SIZE, chainOf: table.chainOf, lowChains, handleChains,
      arenaStart: d.dosFirstMcbSeg * 16, arenaEnd: d.dosArenaEndSeg * 16,
    }));
  }

  // Chains with owners, sites, mappings and handles.
  const swappedOf = swappedPagesByChain(swap);
  // A chain decoded as last time (the same DecodedChain), with the same owner record, mappings and
  // handles, is the same ChainInfo object as last time (the site resolver is one per session).
  const lastInfos = cache && cache.resolveSite === src.resolveSite && cache.owners && cache.owners.length === ownersBuf.length ? cache.chainInfos : undefined;
  const lastOwners = cache?.owners;
  const infos = new Map<number, ChainInfo>();
  let chainsKept = 0;
  const chains: ChainInfo[] = table.chains.map((c) => {
    const at = c.id * d.ownerSize;
    const last = lastInfos?.get(c.id);
    const mapped = withSwappedPages(mappedAt.get(c.id) ?? [], swappedOf.get(c.id));
    const handles = handlesOf.get(c.id) ?? [];
    let info: ChainInfo;
    if (last && last.blocks === c.blocks && lastOwners && ownersBuf.compare(lastOwners, at, at + d.ownerSize, at, at + d.ownerSize) === 0 &&
      sameMappings(last.mappedAt, mapped) && sameHandles(last.handles, handles)) {
      info = last;
      chainsKept++;
    } else {
      const owner = decodeOwner(ownersBuf, at, d);
      const site = owner.caller && src.resolveSite ? src.resolveSite(owner.caller) : undefined;
      info = {
        id: c.id, flags: c.flags, blockCount: c.blocks.length, sizeBytes: c.blocks.length * BLOCK_SIZE, blocks: c.blocks, runs: c.runs, swapped: c.swapped,
        owner, site, mappedAt: mapped, handles,
      };
    }
    if (cache) infos.set(c.id, info);
    const { owner, site } = info;
    if (!info.mappedAt.length && !info.handles.length && owner.kind !== 'page-table' && owner.kind !== 'dma') {
      findings.push({ kind: 'leaked-chain', severity: 'warning', chain: c.id, ...(site ? { site } : {}),
        message: `chain ${c.id} (${info.blockCount} blocks, ${owner.kind}) is neither mapped nor held by a handle: a leak?` });
    }
    return info;
  });
  attachSites(findings, chains);
  if (cache) {
    cache.chainInfos = infos;
    cache.lastChainsKept = chainsKept;
    cache.resolveSite = src.resolveSite;
    cache.spareOwners = cache.owners;
    cache.owners = ownersBuf;
  }

  const counter = (addr: number): Promise<number> => mem.u32(addr).catch(() => 0);
  mem.finish();

  return {
    schema: SNAPSHOT_SCHEMA,
    stop: src.stop ?? 0,
    registers: { cr0, cr3, cr4, paging: (cr0 & 0x80000000) !== 0, pse, writeProtect: (cr0 & 0x10000) !== 0 },
    geometry: { blockSize: d.blockSize, pageSize: d.pageSize, blockCount: d.blockCount, kernelBase: d.kernelVbase, userSpaceEnd: d.userSpaceEnd, kpdPhys: d.kpdPhys },
    kernel: { pde: Array.from(mem.kpd), mappings: kernelWalk.runs },
    processes: withV86,
    chains,
    blocks: { ...table.counts, largestFreeRun: table.largestFreeRun, fragmentationPercent: table.fragmentationPercent, map: blockMap(table.states) },
    xms,
    dpmi,
    ...(swap ? { swap } : {}),
    counters: {
      allocations: await counter(d.allocSeqAddr),
      defragRuns: await counter(d.defragRunsAddr),
      defragMoved: await counter(d.defragMovedAddr),
      contextSwitches: await counter(d.contextSwitchesAddr),
      ticks: await counter(d.ticksAddr),
      faultInjected: await counter(d.faultInjectedAddr),
    },
    ...(dos ? { dos } : {}),
    findings,
  };
}

function sameMappings(a: readonly ChainMapping[], b: readonly ChainMapping[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.space !== y.space || x.virtual !== y.virtual || x.length !== y.length || x.firstPage !== y.firstPage) return false;
  }
  return true;
}

function sameHandles(a: readonly ChainHandle[], b: readonly ChainHandle[]): boolean {
  return a.length === b.length && a.every((h, i) => h.type === b[i].type && h.handle === b[i].handle);
}

function spaceName(space: AddressSpaceId): string {
  return space === 'kernel' ? 'the KPD' : `process ${space}`;
}

function noteProblems(walk: SliceWalk, findings: Finding[], pid: number | undefined): void {
  const whose = pid === undefined ? '' : ` of process ${pid}`;
  for (const f of walk.findings) {
    const virtual = Number(f.virtual);
    if (f.kind === 'unreadable-table') {
      findings.push({ kind: 'unreadable-page-table', severity: 'error', pid, virtual, message: `directory entry ${virtual >>> 22}${whose}: ${f.text}` });
    } else if (f.kind === 'reserved-bits') {
      findings.push({ kind: 'reserved-bits', severity: 'error', pid, virtual, message: `${f.text.replace(/\.$/, '')}${whose ? ` (in the address space${whose})` : ''}.` });
    }
  }
}

function attachSites(findings: Finding[], chains: readonly ChainInfo[]): void {
  if (!findings.some((f) => f.chain !== undefined && !f.site)) return;
  const byId = new Map(chains.map((c) => [c.id, c]));
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i];
    const c = f.chain !== undefined ? byId.get(f.chain) : undefined;
    if (c?.site && !f.site) findings[i] = { ...f, site: c.site };
  }
}

async function readVector<T>(mem: KernelMemory, addr: number, decode: (buf: Buffer, v: ReturnType<typeof decodeVector>) => T[]): Promise<T[]> {
  try {
    const v = decodeVector(await mem.readVirt(addr, 16));
    if (!v.data || !v.length || v.length > MAX_VECTOR || v.elemSize === 0 || v.elemSize > 256) return [];
    return decode(await mem.readVirt(v.data, v.length * v.elemSize), v);
  } catch {
    return [];
  }
}

/** The slot table and the kernel's swap counters, or undefined when they cannot be read. */
async function readSwapSlots(mem: KernelMemory, d: MmDebugInfo): Promise<{ table: SwapSlots; used: number; outs: number; ins: number } | undefined> {
  if (!d.swapSlotCountAddr || !d.swapSlotSize) return undefined;
  try {
    const count = await mem.u32(d.swapSlotCountAddr);
    const used = await mem.u32(d.swapUsedAddr);
    const outs = await mem.u32(d.swapOutsAddr);
    const ins = await mem.u32(d.swapInsAddr);
    const n = count <= MAX_SWAP_SLOTS ? count : 0;
    const table: SwapSlots = {
      count: n, swappedBase: d.ctSwappedBase,
      state: new Uint32Array(n), chain: new Uint32Array(n), next: new Uint32Array(n), block: new Uint32Array(n),
    };
    if (n) {
      const base = await mem.u32(d.swapSlotsAddr);
      const buf = await mem.readVirt(base, n * d.swapSlotSize);
      for (let i = 0; i < n; i++) {
        const at = i * d.swapSlotSize;
        table.state[i] = buf.readUInt32LE(at + d.swapOffState);
        table.chain[i] = buf.readUInt32LE(at + d.swapOffChain);
        table.next[i] = buf.readUInt32LE(at + d.swapOffNext);
        table.block[i] = buf.readUInt32LE(at + d.swapOffBlock);
      }
    }
    return { table, used, outs, ins };
  } catch {
    return undefined;
  }
}

/** Owner records closer than this many bytes are read in one piece (readOwners). */
const OWNER_GAP = 4096;

/**
 * The owner records (struct mm_owner[blockCount]) as one buffer, of which only the records of the
 * chains' heads are read (the rest is whatever the buffer held, never decoded): over the gdbstub the free
 * part of a big guest costs no packets. Records closer than OWNER_GAP are read in one piece.
 * Throws when a piece cannot be read (as a read of the whole array would).
 */
async function readOwners(read: PhysicalReader, d: MmDebugInfo, chains: readonly { readonly id: number }[], cache?: SnapshotCache): Promise<Buffer> {
  const size = d.blockCount * d.ownerSize;
  // The cache's spare buffer (the one before last): what is not read now is never decoded.
  const spare = cache?.spareOwners;
  const out = spare && spare.length === size ? spare : Buffer.allocUnsafe(size);
  if (cache) cache.spareOwners = undefined;
  const ids = chains.map((c) => c.id).filter((id) => id >= 0 && id < d.blockCount).sort((a, b) => a - b);
  const pieces: { start: number; end: number }[] = [];
  for (const id of ids) {
    const start = id * d.ownerSize;
    const end = start + d.ownerSize;
    const last = pieces[pieces.length - 1];
    if (last && start - last.end < OWNER_GAP) last.end = Math.max(last.end, end);
    else pieces.push({ start, end });
  }
  const parts = await Promise.all(pieces.map((p) => read(d.ownersPhys + p.start, p.end - p.start)));
  parts.forEach((b, i) => b.copy(out, pieces[i].start, 0, pieces[i].end - pieces[i].start));
  return out;
}

/** The arena's MCB chain, read from conventional memory (physical: the arena lies below 1 MiB). */
async function readDosArena(read: PhysicalReader, d: MmDebugInfo): Promise<DosArenaRecord | undefined> {
  const first = d.dosFirstMcbSeg;
  const end = d.dosArenaEndSeg;
  if (!first || end <= first || end > 0x10000) return undefined;
  try {
    return decodeMcbChain(await read(first * 16, (end - first) * 16), first, end);
  } catch {
    return undefined;
  }
}

const MAX_SWAP_SLOTS = 1 << 20;

/** The kernel's mapping registry (struct mm_mapping[]): which chain page each mapped page shows. */
async function readRegistry(mem: KernelMemory, d: MmDebugInfo, pcbs: readonly PcbRecord[]): Promise<{ space: AddressSpaceId; va: number; pages: number; chain: number; pageOffset: number }[]> {
  try {
    const count = await mem.u32(d.mappingsCountAddr);
    if (!count || count > 65536 || !d.mappingSize) return [];
    const buf = await mem.readVirt(d.mappingsAddr, count * d.mappingSize);
    const byUpd = new Map(pcbs.map((p) => [(p.address + d.pcbOffUpd) >>> 0, p.pid]));
    const out: { space: AddressSpaceId; va: number; pages: number; chain: number; pageOffset: number }[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * d.mappingSize;
      const upd = buf.readUInt32LE(at + d.mapOffUpd);
      const space: AddressSpaceId | undefined = upd === 0 ? 'kernel' : byUpd.get(upd);
      if (space === undefined) continue;
      out.push({ space, va: buf.readUInt32LE(at + d.mapOffVa), pages: buf.readUInt32LE(at + d.mapOffPages), chain: buf.readUInt32LE(at + d.mapOffChain), pageOffset: buf.readUInt32LE(at + d.mapOffPageOffset) });
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Every swapped PTE of the counted spaces (the kernel half without the windows, each UPD), and
 * the slot findings the PTEs show: a PTE holding a free slot (swap-slot-free-in-use), a slot
 * held for two different blocks by its link and PTEs (swap-slot-shared).
 */
async function swapInfo(mem: KernelMemory, d: MmDebugInfo, slots: { table: SwapSlots; used: number; outs: number; ins: number },
  table: ReturnType<typeof decodeChainTable>, pcbs: readonly PcbRecord[], spaces: ReadonlyMap<AddressSpaceId, readonly MappingRun[]>, findings: Finding[]): Promise<SwapInfo> {
  const t = slots.table;
  const mark = d.pteSwapMark >>> 0;
  const pages: SwappedPage[] = [];
  const scan = async (space: AddressSpaceId, pdes: ArrayLike<number>, first: number, count: number, skip: number): Promise<void> => {
    for (let i = first; i < first + count; i++) {
      const pde = pdes[i] >>> 0;
      if (i === skip || !(pde & 1) || pde & 0x80) continue;
      await mem.table(entryFrame(pde));
      const pt = mem.swapCandidate(entryFrame(pde), mark);
      if (!pt) continue;
      for (let k = 0; k < ENTRIES_PER_TABLE; k++) {
        const e = pt[k] >>> 0;
        if (e & 1 || !(e & mark)) continue; // swappedEntry's test, first: most entries are present or empty
        const sw = swappedEntry(e, mark, d.pteSwapPageShift, d.pteSwapSlotShift);
        if (sw) pages.push({ space, virtual: ((i << 22) | (k << 12)) >>> 0, ...sw, entry: e });
      }
    }
  };
  if (mark) {
    const kernelFirst = d.kernelVbase >>> 22;
    await scan('kernel', mem.kpd, kernelFirst, ENTRIES_PER_TABLE - kernelFirst, d.windowBase >>> 22);
    for (const p of pcbs) if (spaces.has(p.pid)) await scan(p.pid, p.upd, 0, d.updEntries, -1);
  }
  // Which block each PTE stands for, from the registry.
  const registry = pages.length ? await readRegistry(mem, d, pcbs) : [];
  const located = pages.map((pg) => {
    const m = registry.find((r) => r.space === pg.space && pg.virtual >= r.va && pg.virtual < r.va + r.pages * PAGE_SIZE);
    return m ? { ...pg, chain: m.chain, chainPage: m.pageOffset + (pg.virtual - m.va) / PAGE_SIZE } : pg;
  });
  // The block each slot's link stands for.
  const linkOwner = new Map<number, string>();
  for (const c of table.chains) for (const s of c.swapped) linkOwner.set(s.slot, `${c.id}:${s.index}`);
  const reported = new Set(findings.filter((f) => f.slot !== undefined && (f.kind === 'swap-slot-shared' || f.kind === 'swap-slot-free-in-use')).map((f) => `${f.kind}:${f.slot}`));
  const freeHeld = new Map<number, SwappedPage[]>();
  const holders = new Map<number, Set<string>>();
  for (const pg of located) {
    if (pg.slot >= t.count || t.state[pg.slot] === SWAP_FREE) {
      const list = freeHeld.get(pg.slot) ?? [];
      list.push(pg);
      freeHeld.set(pg.slot, list);
      continue;
    }
    if (pg.chain === undefined || pg.chainPage === undefined) continue;
    const set = holders.get(pg.slot) ?? new Set<string>(linkOwner.has(pg.slot) ? [linkOwner.get(pg.slot) as string] : []);
    set.add(`${pg.chain}:${Math.floor(pg.chainPage / PAGES_PER_BLOCK)}`);
    holders.set(pg.slot, set);
  }
  const where = (pg: SwappedPage): string => `${spaceName(pg.space)} at 0x${pg.virtual.toString(16)}`;
  for (const [slot, list] of freeHeld) {
    if (reported.has(`swap-slot-free-in-use:${slot}`)) continue;
    findings.push({ kind: 'swap-slot-free-in-use', severity: 'error', slot, virtual: list[0].virtual, pid: typeof list[0].space === 'number' ? list[0].space : undefined,
      message: `${list.length} PTE${list.length === 1 ? '' : 's'} (first: ${where(list[0])}) hold${list.length === 1 ? 's' : ''} swap slot ${slot}, which ${slot >= t.count ? 'is past the slot table' : 'the slot table marks free'}` });
  }
  for (const [slot, set] of holders) {
    if (set.size < 2 || reported.has(`swap-slot-shared:${slot}`)) continue;
    const blocks = [...set].map((k) => k.split(':')).map(([c, i]) => `block ${i} of chain ${c}`);
    findings.push({ kind: 'swap-slot-shared', severity: 'error', slot, chain: Number([...set][0].split(':')[0]),
      message: `swap slot ${slot} is held for ${blocks.join(' and for ')}` });
  }
  const inUse: SwapSlotInfo[] = [];
  for (let i = 0; i < t.count; i++) {
    const st = t.state[i];
    if (st === SWAP_FREE) continue;
    inUse.push({ slot: i, state: st === SWAP_OUT ? 'out' : st === SWAP_CACHED ? 'cached' : 'invalid', rawState: st, chain: t.chain[i], next: t.next[i], block: t.block[i] });
  }
  return { slotCount: t.count, used: slots.used, outs: slots.outs, ins: slots.ins, slots: inUse, pages: located };
}

/** The swapped-out pages located in a chain (registry known), by chain, in the order of `swap.pages`. */
function swappedPagesByChain(swap: SwapInfo | undefined): Map<number, SwappedPage[]> {
  const by = new Map<number, SwappedPage[]>();
  for (const pg of swap?.pages ?? []) {
    if (pg.chain === undefined || pg.chainPage === undefined) continue;
    const list = by.get(pg.chain);
    if (list) list.push(pg);
    else by.set(pg.chain, [pg]);
  }
  return by;
}

/**
 * The chain's mappings with its swapped-out pages (swappedPagesByChain) added (they are mapped,
 * only not present): pieces that continue each other in space, address and chain page are merged.
 */
function withSwappedPages(present: readonly ChainMapping[], pages: readonly SwappedPage[] | undefined): readonly ChainMapping[] {
  if (!pages || !pages.length) return present;
  const pieces: ChainMapping[] = [...present, ...pages.map((pg) => ({ space: pg.space, virtual: pg.virtual, length: PAGE_SIZE, firstPage: pg.chainPage as number }))];
  const key = (m: ChainMapping): string => (m.space === 'kernel' ? 'k' : `p${m.space}`);
  pieces.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.virtual - b.virtual));
  const out: { -readonly [K in keyof ChainMapping]: ChainMapping[K] }[] = [];
  for (const m of pieces) {
    const last = out[out.length - 1];
    if (last && last.space === m.space && last.virtual + last.length === m.virtual && last.firstPage + last.length / PAGE_SIZE === m.firstPage) last.length += m.length;
    else out.push({ ...m });
  }
  return out;
}

/**
 * Each PCB's struct v86_task, by index: undefined for a process that is not a DOS task (mode
 * kernel or user, or no record), null when the record cannot be read.
 */
async function readV86Tasks(mem: KernelMemory, d: MmDebugInfo, pcbs: readonly PcbRecord[]): Promise<(V86TaskRecord | null | undefined)[]> {
  return Promise.all(pcbs.map(async (p) => {
    if ((p.mode !== 'v86' && p.mode !== 'dpmi') || !p.v86 || !d.v86Size) return undefined;
    try {
      return decodeV86Task(await mem.readVirt(p.v86, d.v86Size), p.v86, d);
    } catch {
      return null;
    }
  }));
}
