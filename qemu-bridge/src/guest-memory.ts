// GuestMemory: physical reads through the fastest tier the session has, virtual reads through
// our own page walker (any cr3), a per-stop page cache dropped on resume, and writes on request.

import { PhysicalMemoryTier, TierName } from './memory-tiers';
import { PagingMode, PhysicalRun, physicalPieces, translateRange, PAGE_SIZE } from './page-walker';
import { TableCache } from './paging/page-table-walk';
import { PagingModel } from './paging/paging-modes';
import { GuestRunningError, InvalidRangeError, NoMemoryTierError } from './errors';

export interface GuestMemoryOptions {
  /** Where CR4 comes from when readVirt is not told PSE (normally the gdbstub's cr4). */
  cr4?: () => Promise<number>;
  /** Largest single read accepted. Default 256 MiB. */
  maxReadLength?: number;
  /** Largest cache size in bytes. Default 64 MiB. */
  maxCacheBytes?: number;
}

/** Guest memory seen through a list of tiers, in priority order. */
export class GuestMemory {
  private readonly cache = new Map<number, Buffer>();
  private runningState = false;
  private readonly maxReadLength: number;
  private readonly maxCacheBytes: number;
  /** Counts of bytes served per tier (and from cache), for diagnostics and tests. */
  readonly served: Record<TierName | 'cache', number> = { 'ram-file': 0, gdbstub: 0, qmp: 0, cache: 0 };

  constructor(readonly tiers: readonly PhysicalMemoryTier[], private readonly options: GuestMemoryOptions = {}) {
    this.maxReadLength = options.maxReadLength ?? 256 << 20;
    this.maxCacheBytes = options.maxCacheBytes ?? 64 << 20;
  }

  /** Tells the memory whether the guest runs: running drops the cache and disables it. */
  setRunning(running: boolean): void {
    this.runningState = running;
    if (running) this.cache.clear();
  }

  get running(): boolean {
    return this.runningState;
  }

  /** Drops the per-stop cache. */
  invalidate(): void {
    this.cache.clear();
  }

  get cachedPages(): number {
    return this.cache.size;
  }

  /** Reads guest-physical memory. Throws NoMemoryTierError or GuestRunningError when no tier can serve a part. */
  async readPhys(address: number, length: number): Promise<Buffer> {
    checkRange(address, length, this.maxReadLength);
    const out = Buffer.allocUnsafe(length);
    await this.readPhysInto(address, out, 0, length);
    return out;
  }

  /**
   * Reads guest-physical memory into `target` at `offset`. Callers that read large ranges often can
   * reuse one buffer: a fresh multi-MiB buffer costs more in page faults than the RAM file read.
   */
  async readPhysInto(address: number, target: Buffer, offset = 0, length = target.length - offset): Promise<void> {
    checkRange(address, length, this.maxReadLength);
    if (offset < 0 || offset + length > target.length) throw new InvalidRangeError(`the target buffer holds ${target.length} bytes, not ${offset}+${length}`);
    let done = 0;
    while (done < length) {
      const a = address + done;
      const remaining = length - done;
      const { tier, n } = this.pickTier(a, remaining);
      if (tier.readInto && tier.name === 'ram-file') {
        await tier.readInto(a, target, offset + done, n);
      } else {
        const bytes = await this.readCached(tier, a, n);
        bytes.copy(target, offset + done);
      }
      this.served[tier.name] += n;
      done += n;
    }
  }

  /**
   * Reads guest-virtual memory through the page directory at `cr3`. `mode.pse` defaults to CR4.PSE
   * from the session (or true when the session cannot tell). Throws PageNotPresentError.
   */
  async readVirt(address: number, length: number, cr3: number, mode?: PagingMode): Promise<Buffer> {
    checkRange(address, length, this.maxReadLength);
    const runs = await this.translate(address, length, cr3, mode);
    const parts = await Promise.all(runs.map((r) => this.readPhys(r.physical, r.length)));
    return Buffer.concat(parts, length);
  }

  /**
   * Reads guest-virtual memory in any paging mode (`model`, from CR0/CR4/EFER) through the top-level
   * table at `cr3`, addresses exact. Throws PageNotPresentError at the first page not mapped.
   */
  async readVirtual(address: bigint, length: number, cr3: number | bigint, model: PagingModel): Promise<Buffer> {
    checkRange(0, length, this.maxReadLength);
    const pieces = await physicalPieces(model, cr3, address, length, new TableCache((a, n) => this.readPhys(Number(a), n)));
    const out = Buffer.allocUnsafe(length);
    for (const p of pieces) await this.readPhysInto(p.physical, out, p.offset, p.length);
    return out;
  }

  /** The physically contiguous runs behind a virtual range. */
  async translate(address: number, length: number, cr3: number, mode?: PagingMode): Promise<PhysicalRun[]> {
    const paging = mode ?? { pse: this.options.cr4 ? ((await this.options.cr4()) & 0x10) !== 0 : true };
    return translateRange(address, length, cr3, paging, (a, n) => this.readPhys(a, n));
  }

  /** Writes guest-physical memory through the first tier that can write (gdbstub first, so QEMU sees the change). */
  async writePhys(address: number, data: Uint8Array): Promise<void> {
    checkRange(address, data.length, this.maxReadLength);
    const writers = this.tiers.filter((t) => t.write && t.coverage(address, data.length).covered && t.coverage(address, data.length).length === data.length);
    const ordered = [...writers.filter((t) => t.name === 'gdbstub'), ...writers.filter((t) => t.name !== 'gdbstub')];
    const tier = ordered.find((t) => t.usable());
    if (!tier || !tier.write) {
      if (ordered.length) throw new GuestRunningError('a memory write');
      throw new NoMemoryTierError('write guest memory');
    }
    await tier.write(address, data);
    for (let p = Math.floor(address / PAGE_SIZE); p * PAGE_SIZE < address + data.length; p++) this.cache.delete(p);
  }

  /**
   * Writes one 32-bit signal word through the RAM file while the guest runs (our guest's hold
   * request); undefined when there is no RAM file (then nothing is written).
   */
  async signalPhys(address: number, value: number): Promise<boolean> {
    const ram = this.tiers.find((t): t is PhysicalMemoryTier & { signal(a: number, v: number): Promise<void> } => t.name === 'ram-file' && 'signal' in t);
    if (!ram) return false;
    await ram.signal(address, value);
    for (let p = Math.floor(address / PAGE_SIZE); p * PAGE_SIZE < address + 4; p++) this.cache.delete(p);
    return true;
  }

  /** Writes guest-virtual memory through the page directory at `cr3`. */
  async writeVirt(address: number, data: Uint8Array, cr3: number, mode?: PagingMode): Promise<void> {
    const runs = await this.translate(address, data.length, cr3, mode);
    let off = 0;
    for (const r of runs) {
      await this.writePhys(r.physical, data.subarray(off, off + r.length));
      off += r.length;
    }
  }

  /** The first usable tier that serves `address`, and how many bytes it serves before a faster tier takes over. */
  private pickTier(address: number, length: number): { tier: PhysicalMemoryTier; n: number } {
    let blockedByRun = false;
    let n = length;
    for (const tier of this.tiers) {
      const c = tier.coverage(address, n);
      if (c.covered && tier.usable()) return { tier, n: c.length };
      if (c.covered) blockedByRun = true;
      // A faster tier that does not cover `address` may cover what follows: stop there.
      else n = c.length;
    }
    if (blockedByRun) throw new GuestRunningError('a memory read through the gdbstub');
    throw new NoMemoryTierError(`read physical 0x${address.toString(16)}`);
  }

  private async readCached(tier: PhysicalMemoryTier, address: number, length: number): Promise<Buffer> {
    if (this.runningState) return tier.read(address, length);
    const first = Math.floor(address / PAGE_SIZE);
    const last = Math.floor((address + length - 1) / PAGE_SIZE);
    // Read the missing pages in maximal contiguous spans.
    let p = first;
    while (p <= last) {
      if (this.cache.has(p)) {
        p++;
        continue;
      }
      let q = p;
      while (q + 1 <= last && !this.cache.has(q + 1)) q++;
      const bytes = await tier.read(p * PAGE_SIZE, (q - p + 1) * PAGE_SIZE);
      if (this.runningState) return tier.read(address, length); // resumed meanwhile
      for (let i = p; i <= q; i++) {
        if ((this.cache.size + 1) * PAGE_SIZE > this.maxCacheBytes) this.cache.clear();
        this.cache.set(i, bytes.subarray((i - p) * PAGE_SIZE, (i - p + 1) * PAGE_SIZE));
      }
      p = q + 1;
    }
    const out = Buffer.allocUnsafe(length);
    for (let i = first; i <= last; i++) {
      const page = this.cache.get(i);
      if (!page) return tier.read(address, length);
      const pageStart = i * PAGE_SIZE;
      const from = Math.max(address, pageStart);
      const to = Math.min(address + length, pageStart + PAGE_SIZE);
      page.copy(out, from - address, from - pageStart, to - pageStart);
    }
    return out;
  }
}

function checkRange(address: number, length: number, max: number): void {
  if (!Number.isSafeInteger(address) || address < 0) throw new InvalidRangeError(`address ${address} is not a non-negative integer`);
  if (!Number.isSafeInteger(length) || length < 0) throw new InvalidRangeError(`length ${length} is not a non-negative integer`);
  if (length > max) throw new InvalidRangeError(`length ${length} is larger than the ${max}-byte limit of one read`);
}
