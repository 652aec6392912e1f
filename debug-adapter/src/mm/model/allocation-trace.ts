// The record of traced allocation and free calls (level 2): every call of the alloc function
// entered and not yet returned (matched to its return by the stack pointer, so recursion,
// nesting and several vCPUs pair up), every live allocation with its call site, time, size and
// address space, and the findings tracing alone can make: a double free and a free of something
// never allocated. Pure: the session's tracer feeds it what it read at each hit.
//
// Failure modes, stated once: a call whose return is never seen (a longjmp, a thread that never
// resumes, a step by the user past the return) stays pending until a new call reuses its stack
// slot (same stack pointer, same address space) or the pending list overflows; it is then
// counted as abandoned, its allocation unknown, and a later free of what it returned is said as
// a warning, never as an error. Attached to a running kernel, a free of something allocated
// before tracing began is no finding at all. A kernel that fills its allocator by freeing frames
// it never allocated (xv6's freerange) does so from one call site many times: the second such
// free from a site withdraws the first one's finding (the filter may have stopped there once).

import type { FindingDocJson, SiteJson, TracedAllocationJson, TracingJson } from './snapshot-document';

/** What the alloc function returns (TracingDescription.alloc.returns). */
export type AllocReturns = 'address' | 'physical' | 'frame';

/** A call site resolved through the symbols (address: the return address). */
export interface ResolvedSite {
  readonly address: bigint;
  readonly function?: string;
  readonly file?: string;
  readonly line?: number;
}

export interface TraceOptions {
  readonly returns: AllocReturns;
  /** Resolves a return address to its call site. */
  readonly resolveSite: (returnAddress: bigint) => ResolvedSite;
  /** Pending calls kept at most (the oldest is abandoned beyond). Default 256. */
  readonly maxPending?: number;
  /** Traced calls kept in `history`, the most recent ones. Default 10000. */
  readonly maxHistory?: number;
  /** Freed addresses remembered for double-free findings, at most. Default 65536. */
  readonly maxFreed?: number;
  /**
   * Tracing ran since the kernel's first instruction: every allocation was seen, so a free of
   * something never allocated is an error. False when attached late (then it is no finding).
   */
  readonly complete: boolean;
}

/** One traced call's context: when, on which vCPU, in which address space. */
export interface CallContext {
  readonly time: number;
  readonly thread: number;
  readonly cr3: bigint;
}

interface PendingCall extends CallContext {
  readonly seq: number;
  readonly returnAddress: bigint;
  readonly stackPointerAfterReturn: bigint;
  readonly size: number;
}

export interface TracedAllocation {
  readonly address: bigint;
  readonly size: number;
  readonly site: ResolvedSite;
  readonly seq: number;
  readonly time: number;
  readonly thread: number;
  readonly cr3: bigint;
}

interface FreedRecord {
  /** Undefined: it was given to the allocator without a traced allocation (the kernel filling its pool). */
  readonly allocation?: TracedAllocation;
  readonly freedBy: ResolvedSite;
  readonly seq: number;
}

/** Frees of addresses no traced allocation returned, per call site. */
interface UnknownFrees {
  count: number;
  /** The finding the first one made, withdrawn when the site frees a second such address. */
  finding?: FindingDocJson;
}

/** One traced call in the order the calls completed (allocations at their return, frees at their entry). */
export interface TraceRecord {
  readonly kind: 'alloc' | 'free';
  readonly seq: number;
  /** What alloc returned, or what free was given. */
  readonly address: bigint;
  readonly returnAddress: bigint;
  readonly thread: number;
}

/** A return hit that matched no pending call (another path through the same address). */
export type ReturnMatch = { kind: 'allocated'; allocation: TracedAllocation } | { kind: 'failed'; seq: number } | { kind: 'unmatched' };

export type FreeResult =
  | { kind: 'freed'; allocation: TracedAllocation; seq: number }
  | { kind: 'double-free'; finding: FindingDocJson; seq: number }
  | { kind: 'never-allocated'; finding?: FindingDocJson; seq: number }
  | { kind: 'null'; seq: number };

export class AllocationTrace {
  private seq = 0;
  private readonly pending: PendingCall[] = [];
  private readonly liveByAddress = new Map<bigint, TracedAllocation>();
  private readonly freed = new Map<bigint, FreedRecord>();
  private readonly recordedFindings: FindingDocJson[] = [];
  private readonly unknownFrees = new Map<string, UnknownFrees>();
  /** Calls of the alloc function entered, returned (with a result), returned 0, freed, abandoned. */
  readonly counts = { allocCalls: 0, allocReturns: 0, failed: 0, frees: 0, abandoned: 0 };
  private readonly maxPending: number;
  private readonly maxFreed: number;
  private readonly maxHistory: number;
  private readonly records: TraceRecord[] = [];

  constructor(private readonly options: TraceOptions) {
    this.maxPending = options.maxPending ?? 256;
    this.maxFreed = options.maxFreed ?? 65536;
    this.maxHistory = options.maxHistory ?? 10000;
  }

  /** The most recent traced calls, oldest first (failed allocations included, with address 0). */
  get history(): readonly TraceRecord[] {
    return this.records;
  }

  private remember(r: TraceRecord): void {
    this.records.push(r);
    if (this.records.length > this.maxHistory) this.records.splice(0, this.records.length - this.maxHistory);
  }

  /** Traced calls so far (alloc entries and frees). */
  get tracedCalls(): number {
    return this.counts.allocCalls + this.counts.frees;
  }

  /**
   * The alloc function was entered: remember the call until its return. A pending call whose
   * frame had the very same stack pointer in the same address space cannot still be running (its
   * stack slot is being reused): it is abandoned (its return was missed).
   */
  enterAlloc(call: CallContext & { returnAddress: bigint; stackPointerAfterReturn: bigint; size: number }): void {
    this.counts.allocCalls++;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.stackPointerAfterReturn === call.stackPointerAfterReturn && p.cr3 === call.cr3) {
        this.pending.splice(i, 1);
        this.counts.abandoned++;
      }
    }
    this.pending.push({ ...call, seq: ++this.seq });
    while (this.pending.length > this.maxPending) {
      this.pending.shift();
      this.counts.abandoned++;
    }
  }

  /** The return addresses some pending call will come back to (each needs a breakpoint). */
  returnAddresses(): bigint[] {
    return [...new Set(this.pending.map((p) => p.returnAddress))];
  }

  /** Calls entered and not returned yet. */
  get pendingCalls(): number {
    return this.pending.length;
  }

  /**
   * A stop at `returnAddress` with stack pointer `sp` and the alloc function's result `result`:
   * the pending call it ends (the same return address and exactly the stack pointer its `ret`
   * leaves, whatever the vCPU), or 'unmatched' when another path reached that address (a loop
   * back to it, another thread there, a call still in flight on another stack).
   */
  returnFromAlloc(returnAddress: bigint, sp: bigint, result: bigint): ReturnMatch {
    const at = this.pending.findIndex((p) => p.returnAddress === returnAddress && p.stackPointerAfterReturn === sp);
    if (at < 0) return { kind: 'unmatched' };
    const [call] = this.pending.splice(at, 1);
    this.counts.allocReturns++;
    this.remember({ kind: 'alloc', seq: call.seq, address: result, returnAddress, thread: call.thread });
    if (result === 0n) {
      this.counts.failed++;
      return { kind: 'failed', seq: call.seq };
    }
    const allocation: TracedAllocation = {
      address: result, size: call.size, site: this.options.resolveSite(returnAddress), seq: call.seq, time: call.time, thread: call.thread, cr3: call.cr3,
    };
    // A live record at the same address was freed without our seeing it (or the allocator hands out the same block twice): the newer wins.
    this.liveByAddress.set(result, allocation);
    this.freed.delete(result);
    return { kind: 'allocated', allocation };
  }

  /** The free function was entered with `address` (what alloc returned), from `returnAddress`. */
  free(address: bigint, returnAddress: bigint, context: CallContext): FreeResult {
    this.counts.frees++;
    const seq = ++this.seq;
    this.remember({ kind: 'free', seq, address, returnAddress, thread: context.thread });
    if (address === 0n) return { kind: 'null', seq };
    const site = this.options.resolveSite(returnAddress);
    const live = this.liveByAddress.get(address);
    if (live) {
      this.liveByAddress.delete(address);
      this.rememberFreed(address, { allocation: live, freedBy: site, seq });
      return { kind: 'freed', allocation: live, seq };
    }
    const earlier = this.freed.get(address);
    if (earlier) {
      const history = earlier.allocation
        ? `allocated by ${siteText(earlier.allocation.site)}, freed by ${siteText(earlier.freedBy)}`
        : `given to the allocator by ${siteText(earlier.freedBy)}`;
      const finding = this.finding('double-free', 'error', address, site, `${this.describe(address)} was freed twice: ${history}, then freed again by ${siteText(site)}.`);
      this.rememberFreed(address, { freedBy: site, seq, ...(earlier.allocation ? { allocation: earlier.allocation } : {}) });
      return { kind: 'double-free', finding, seq };
    }
    // From now on it is free: a second free of it is a double free.
    this.rememberFreed(address, { freedBy: site, seq });
    // Attached late: what was freed may have been allocated before tracing began; no finding.
    if (!this.options.complete) return { kind: 'never-allocated', seq };
    // A site that gives the allocator addresses it never handed out, again and again, is the
    // kernel filling its pool (xv6's freerange calling kfree): its first such free was no mistake.
    const key = returnAddress.toString();
    const unknown = this.unknownFrees.get(key) ?? { count: 0 };
    this.unknownFrees.set(key, unknown);
    unknown.count++;
    if (unknown.count > 1) {
      if (unknown.finding) this.withdraw(unknown.finding);
      unknown.finding = undefined;
      return { kind: 'never-allocated', seq };
    }
    if (this.counts.abandoned > 0) {
      const n = this.counts.abandoned;
      unknown.finding = this.finding('free-never-allocated', 'warning', address, site,
        `${siteText(site)} freed ${this.describe(address)}, which no traced allocation returned (${n} traced allocation${n === 1 ? '' : 's'} never returned, so it may be one of them).`);
      return { kind: 'never-allocated', finding: unknown.finding, seq };
    }
    unknown.finding = this.finding('free-never-allocated', 'error', address, site, `${siteText(site)} freed ${this.describe(address)}, which was never allocated.`);
    return { kind: 'never-allocated', finding: unknown.finding, seq };
  }

  /** Call sites that gave the allocator addresses it never handed out more than once (pool fillers), with their count. */
  poolFillers(): { site: ResolvedSite; frees: number }[] {
    return [...this.unknownFrees.entries()].filter(([, u]) => u.count > 1).map(([k, u]) => ({ site: this.options.resolveSite(BigInt(k)), frees: u.count }));
  }

  private rememberFreed(address: bigint, record: FreedRecord): void {
    this.freed.delete(address);
    this.freed.set(address, record);
    while (this.freed.size > this.maxFreed) this.freed.delete(this.freed.keys().next().value as bigint);
  }

  private withdraw(finding: FindingDocJson): void {
    const i = this.recordedFindings.indexOf(finding);
    if (i >= 0) this.recordedFindings.splice(i, 1);
  }

  /** The call site of a return address. */
  siteOf(returnAddress: bigint): ResolvedSite {
    return this.options.resolveSite(returnAddress);
  }

  /** Live allocations, oldest first. */
  live(): TracedAllocation[] {
    return [...this.liveByAddress.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The live allocation that contains `address` (blocks by their size), if any. */
  liveAt(address: bigint): TracedAllocation | undefined {
    const exact = this.liveByAddress.get(address);
    if (exact) return exact;
    for (const a of this.liveByAddress.values()) if (address >= a.address && address < a.address + BigInt(Math.max(1, a.size))) return a;
    return undefined;
  }

  get findings(): readonly FindingDocJson[] {
    return this.recordedFindings;
  }

  /** The document's tracing section (pid: the process an address space belongs to, when known). */
  toJson(extra: { allocFunction: string; freeFunction: string; callsPerSecond: number; slowdown?: number; pidOf?: (cr3: bigint) => number | undefined; maxLive?: number }): TracingJson {
    const live = this.live();
    const sites = new Map<string, { site: SiteJson; live: number; bytes: number }>();
    for (const a of live) {
      const key = a.site.address.toString();
      const s = sites.get(key) ?? { site: siteJson(a.site), live: 0, bytes: 0 };
      s.live++;
      s.bytes += a.size;
      sites.set(key, s);
    }
    const shown = extra.maxLive !== undefined ? live.slice(-extra.maxLive) : live;
    return {
      enabled: true,
      allocFunction: extra.allocFunction,
      freeFunction: extra.freeFunction,
      tracedCalls: this.tracedCalls,
      callsPerSecond: extra.callsPerSecond,
      ...(extra.slowdown !== undefined ? { slowdown: extra.slowdown } : {}),
      live: shown.map((a): TracedAllocationJson => {
        const pid = extra.pidOf?.(a.cr3);
        return { address: jsonAddress(a.address), size: a.size, site: siteJson(a.site), ...(pid !== undefined ? { pid } : {}), seq: a.seq, time: a.time };
      }),
      sites: [...sites.values()].sort((a, b) => b.live - a.live || b.bytes - a.bytes),
      ...(this.recordedFindings.length ? { findings: [...this.recordedFindings] } : {}),
    };
  }

  private describe(address: bigint): string {
    return this.options.returns === 'frame' ? `frame ${address}` : `0x${address.toString(16)}`;
  }

  private finding(kind: 'double-free' | 'free-never-allocated', severity: 'error' | 'warning', address: bigint, site: ResolvedSite, message: string): FindingDocJson {
    const where = this.options.returns === 'address'
      ? { virtual: jsonAddress(address) }
      : { physical: Number(this.options.returns === 'frame' ? address * 4096n : address) };
    const finding: FindingDocJson = { kind, severity, message, ...where, site: siteJson(site) };
    this.recordedFindings.push(finding);
    return finding;
  }
}

export function siteJson(site: ResolvedSite): SiteJson {
  return {
    address: jsonAddress(site.address),
    ...(site.function !== undefined ? { function: site.function } : {}),
    ...(site.file !== undefined ? { file: site.file } : {}),
    ...(site.line !== undefined ? { line: site.line } : {}),
  };
}

/** "build_tree at trace.c:57", or the hex return address when nothing is known. */
export function siteText(site: ResolvedSite): string {
  const file = site.file ? ` at ${site.file.split(/[\\/]/).pop()}:${site.line}` : '';
  return site.function || file ? `${site.function ?? `0x${site.address.toString(16)}`}${file}` : `0x${site.address.toString(16)}`;
}

function jsonAddress(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n ? Number(value) : `0x${value.toString(16)}`;
}
