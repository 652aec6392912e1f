// Builds one immutable MmSnapshot of the guest's memory manager from guest-physical reads:
// the descriptor locates everything; page tables are walked with our own walker; chains are
// decoded from the block table; mappings are found by reverse lookup from the page tables;
// findings collect every inconsistency. Every walk is bounded; garbage becomes findings.

import { MmDebugInfo, DESCRIPTOR_SIZE, decodeDescriptor } from './descriptor';
import { MappingRun } from './address-space';
import { BLOCK_SIZE, BLOCK_STATES, BlockCounts, BlockRun, BlockState, ChainFlags, PAGES_PER_BLOCK, S_FREE, decodeChainTable } from './chain-table';
import { Finding, SourceSite } from './findings';
import {
  DpmiBlockRecord, OwnerRecord, PcbRecord, ProcessMode, ProcessState, SwapCounters, V86TaskRecord, XmsHandleRecord,
  decodeDpmiBlocks, decodeOwner, decodePcb, decodeV86Task, decodeVector, decodeXmsHandles,
} from './guest-structures';
import { DosArenaRecord, SwappedPte, V86TaskInfo, decodeMcbChain, mcbChainFindings, swappedPagesOf, v86TaskInfo } from './dos-arena';
import { v86ForeignMemory } from './v86-checks';
import { ENTRIES_PER_TABLE, PAGE_SIZE, entryFrame } from './paging-entry';
import { TableCache, WalkFinding, walkAddress, walkMappings32 } from '../../../../qemu-bridge/src/paging/page-table-walk';
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
  readonly blocks: readonly number[];
  readonly runs: readonly BlockRun[];
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
  readonly counters: { readonly allocations: number; readonly defragRuns: number; readonly defragMoved: number; readonly contextSwitches: number; readonly ticks: number; readonly faultInjected: number };
  /** The DOS arena's MCB chain (absent when the descriptor names no arena or it cannot be read). */
  readonly dos?: DosArenaRecord;
  /** The swap counters (absent when the descriptor has none). */
  readonly swap?: SwapCounters;
  readonly findings: readonly Finding[];
}

/** The version of docs/snapshot-schema.md this snapshot's JSON follows. */
export const SNAPSHOT_SCHEMA = 3;

const MAX_PROCESSES = 1024;
const MAX_VECTOR = 65536;
const KPD_USER_ENTRIES_LIMIT = 768; // entries below the kernel half

/** One character per block for the physical map (docs/snapshot-schema.md), by state code. */
const MAP_CHARS: Record<BlockState, string> = { free: '.', head: 'C', body: 'c', corrupt: 'X', hole: '_', firmware: 'F', kernel: 'K', dos: 'D' };
const MAP_CODES = Uint8Array.from(BLOCK_STATES.map((s) => MAP_CHARS[s].charCodeAt(0)));

function blockMap(states: Uint8Array): string {
  const out = Buffer.allocUnsafe(states.length);
  for (let i = 0; i < states.length; i++) out[i] = MAP_CODES[states[i]];
  return out.toString('latin1');
}

/** Kernel-virtual reads through the direct map or a walk of the KPD, with a table cache. */
class KernelMemory {
  private readonly tables = new Map<number, Uint32Array | undefined>();
  kpd: Uint32Array = new Uint32Array(ENTRIES_PER_TABLE);

  /** 32-bit paging over the KPD, with PSE (and PGE) as the kernel set them in CR4. */
  readonly model: PagingModel;

  constructor(private readonly read: PhysicalReader, private readonly d: MmDebugInfo, cr4: number) {
    this.model = pagingModel({ cr0: 0x80000000, cr4 });
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
        const words = toWords(await this.read(block, this.d.blockSize));
        for (let p = 0; p < this.d.blockSize / PAGE_SIZE; p++) {
          const at = block + p * PAGE_SIZE;
          if (!this.tables.has(at)) this.tables.set(at, words.subarray(p * 1024, (p + 1) * 1024));
        }
      } catch {
        this.tables.set(phys, undefined);
      }
    }
    return this.tables.get(phys);
  }

  /** Reads every page table the given directory entries refer to (not 4 MiB pages), all at once. */
  async prefetch(entries: ArrayLike<number>, pse: boolean): Promise<void> {
    const wanted = new Set<number>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] >>> 0;
      if (e & 1 && !(pse && e & 0x80) && !this.tables.has(entryFrame(e))) wanted.add(entryFrame(e));
    }
    await Promise.all([...wanted].map((f) => this.table(f)));
  }

  lookup = (phys: number): Uint32Array | undefined => this.tables.get(phys);

  /** The one page walker's tables: through this object's cache of 16 KiB blocks of tables. */
  private readonly walkerTables = new TableCache(async (address, length) => {
    const phys = Number(address);
    if (phys === this.d.kpdPhys && length === PAGE_SIZE) return Buffer.from(this.kpd.buffer, this.kpd.byteOffset, PAGE_SIZE);
    if (length !== PAGE_SIZE) return this.read(phys, length);
    const t = await this.table(phys);
    if (!t) throw new Error('it lies outside RAM or cannot be read');
    return Buffer.from(t.buffer, t.byteOffset, PAGE_SIZE);
  });

  /**
   * Walks directory entries first..first+count-1 of the KPD (or of a process's UPD laid over the
   * KPD's first entries) with the one walker, into mapping runs.
   */
  async walk(slice: { first: number; count: number; upd?: readonly number[] }): Promise<SliceWalk> {
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

export async function buildSnapshot(src: SnapshotSource): Promise<MmSnapshot> {
  const d = await readDescriptor(src.read, src.descriptorPhys);
  const findings: Finding[] = [];
  const { cr0, cr3, cr4 } = src.registers;
  const pse = (cr4 & 0x10) !== 0;
  const mem = new KernelMemory(src.read, d, cr4);
  await mem.loadKpd();

  // Block table and owner records.
  const table = decodeChainTable(toWords(await src.read(d.blockTablePhys, d.blockCount * 4)));
  findings.push(...table.findings);
  const ownersBuf = await src.read(d.ownersPhys, d.blockCount * d.ownerSize);
  const pageIndexOf = new Int32Array(d.blockCount).fill(-1);
  for (const c of table.chains) c.blocks.forEach((b, i) => (pageIndexOf[b] = i * PAGES_PER_BLOCK));

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
  const kernelWalk = await mem.walk({ first: kernelFirst, count: ENTRIES_PER_TABLE - kernelFirst });
  // The mapping windows point at whatever page the kernel last edited: shown, never checked.
  const kernelChecked = kernelWalk.runs.filter((r) => r.virtual >>> 22 !== windowFirst);
  noteProblems(kernelWalk, findings, undefined);
  const middle = await mem.walk({ first: d.updEntries, count: KPD_USER_ENTRIES_LIMIT - d.updEntries });
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
    const walk = await mem.walk({ first: 0, count: d.updEntries, upd: pcb.upd });
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
      mode: pcb.mode, exitCode: pcb.exitCode, swappedPages: swappedPagesOf(pcb.upd, mem.lookup, d, pse) });
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

  // Handle tables.
  const xms = await readVector(mem, d.xmsHandlesAddr, (buf, v) => decodeXmsHandles(buf, v, d));
  const dpmi = await readVector(mem, d.dpmiBlocksAddr, (buf, v) => decodeDpmiBlocks(buf, v, d));
  const handlesOf = new Map<number, ChainHandle[]>();
  const live = new Set(table.chains.map((c) => c.id));
  const addHandle = (chain: number, h: ChainHandle): void => {
    if (chain === 0) return;
    if (!live.has(chain)) {
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
  const chainBytes = new Map(table.chains.map((c) => [c.id, c.blocks.length * BLOCK_SIZE]));
  const withV86: ProcessInfo[] = processes.map((p, i) => {
    const rec = v86Records[i];
    return rec === undefined ? p : { ...p, v86: rec && v86TaskInfo(p.pid, rec, chainBytes.get(rec.lowChain) ?? 0, dos, xms, dpmi) };
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
  const chains: ChainInfo[] = table.chains.map((c) => {
    const owner = decodeOwner(ownersBuf, c.id * d.ownerSize, d);
    const site = owner.caller && src.resolveSite ? src.resolveSite(owner.caller) : undefined;
    const info: ChainInfo = {
      id: c.id, flags: c.flags, blockCount: c.blocks.length, sizeBytes: c.blocks.length * BLOCK_SIZE, blocks: c.blocks, runs: c.runs,
      owner, site, mappedAt: mappedAt.get(c.id) ?? [], handles: handlesOf.get(c.id) ?? [],
    };
    if (!info.mappedAt.length && !info.handles.length && owner.kind !== 'page-table' && owner.kind !== 'dma') {
      findings.push({ kind: 'leaked-chain', severity: 'warning', chain: c.id, ...(site ? { site } : {}),
        message: `chain ${c.id} (${info.blockCount} blocks, ${owner.kind}) is neither mapped nor held by a handle: a leak?` });
    }
    return info;
  });
  attachSites(findings, chains);

  const counter = (addr: number): Promise<number> => mem.u32(addr).catch(() => 0);

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
    counters: {
      allocations: await counter(d.allocSeqAddr),
      defragRuns: await counter(d.defragRunsAddr),
      defragMoved: await counter(d.defragMovedAddr),
      contextSwitches: await counter(d.contextSwitchesAddr),
      ticks: await counter(d.ticksAddr),
      faultInjected: await counter(d.faultInjectedAddr),
    },
    ...(dos ? { dos } : {}),
    ...(d.swapSlotCountAddr ? {
      swap: { slotCount: await counter(d.swapSlotCountAddr), used: await counter(d.swapUsedAddr), outs: await counter(d.swapOutsAddr), ins: await counter(d.swapInsAddr) },
    } : {}),
    findings,
  };
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
