// Allocation tracing without changing the kernel (level 2): internal breakpoints on the alloc
// function's first instruction (the return address and the arguments, per calling convention),
// on each return address a pending call will come back to (the result), and on the free
// function's first instruction (the argument). Every hit goes on at once; the record table
// (model/allocation-trace.ts) pairs returns with entries by stack pointer, so recursion, nested
// calls and several vCPUs are told apart. What a hit means for the exception filters is handed
// back as a TraceEvent. With recordInto(store), every traced call also goes into a flight-recorder
// event store (model/traced-events.ts), as our guest's ring does for its events.

import { addressFromBigInt, addressToBigInt, AddressWidth } from '../../../../qemu-bridge/src/address';
import type { DebugSymbols } from '../../symbols';
import { AllocationTrace, ResolvedSite, TracedAllocation } from '../model/allocation-trace';
import { abiForBitness, CallAbi, decodeCallEntry, decodeReturnValue, entryStackBytes, stackPointerOf } from '../model/call-abi';
import type { TracingDescription } from '../model/described-state';
import type { FindingDocJson, TracingJson } from '../model/snapshot-document';
import { sizeOfCall, TracedSize } from '../model/tracing-description';
import { makeSiteResolver } from '../model/site-resolver';
import type { EventStore } from '../model/event-store';
import { TracedCall, tracedCallEvent, TracedStatus, TRACED_TSC_KHZ } from '../model/traced-events';

/** What the tracer reads of the guest at a hit (the runtime's own access while a run operation holds it stopped). */
export interface TraceGuest {
  exactRegisters(): Promise<ReadonlyMap<string, bigint>>;
  readMemory(address: number, length: number): Promise<Buffer>;
  /** The vCPU that hit. */
  readonly thread: number;
}

/** One traced call, as the exception filters see it. */
export type TraceEvent =
  | { kind: 'allocated'; allocation: TracedAllocation }
  | { kind: 'freed'; address: bigint; site: ResolvedSite; allocation?: TracedAllocation; finding?: FindingDocJson; seq: number; cr3: bigint };

export class TraceSetupError extends Error {}

/** Return addresses kept armed once their calls returned. */
const WARM_RETURNS = 32;

/** The entry address of function `name` (its ELF symbol, else the DWARF function), or a sentence. */
export function functionEntry(symbols: DebugSymbols, name: string): number {
  const sym = symbols.elf.symbolsNamed(name).find((s) => s.type === 'func' || s.type === 'notype');
  if (sym) return sym.value;
  const fn = symbols.hasDebugInfo ? symbols.functions.find((f) => f.name === name) : undefined;
  if (fn) return fn.lowPc;
  throw new TraceSetupError(`the kernel has no function named "${name}", so its calls cannot be traced`);
}

export class AllocationTracer {
  readonly trace: AllocationTrace;
  readonly allocEntry: number;
  readonly freeEntry: number;
  private readonly abi: CallAbi;
  private readonly width: AddressWidth;
  private readonly size: TracedSize;
  private readonly freeArgument: number;
  private feed: { store: EventStore; pidOf: (cr3: bigint) => number | undefined; t0: bigint } | undefined;

  constructor(symbols: DebugSymbols, readonly description: TracingDescription, size: TracedSize, options: { complete: boolean }) {
    this.width = symbols.elf.addressWidth;
    this.abi = abiForBitness(symbols.elf.arch === 'x86-64' ? 64 : 32);
    this.allocEntry = functionEntry(symbols, description.alloc.function);
    this.freeEntry = functionEntry(symbols, description.free.function);
    if (this.allocEntry === this.freeEntry) throw new TraceSetupError(`"${description.alloc.function}" and "${description.free.function}" are the same code, so allocations and frees cannot be told apart`);
    this.size = size;
    this.freeArgument = description.free.argument ?? 0;
    const resolve = makeSiteResolver(symbols);
    const resolveSite = (ret: bigint): ResolvedSite => {
      const s = resolve(addressFromBigInt(ret, this.width));
      return { address: ret, ...(s?.function ? { function: s.function } : {}), ...(s?.file ? { file: s.file, line: s.line } : {}) };
    };
    this.trace = new AllocationTrace({ returns: description.alloc.returns, resolveSite, complete: options.complete });
  }

  /**
   * From now on, every traced call (allocations at their return, failed ones included; frees at
   * their entry) is appended to `store` as an allocated/freed event (model/traced-events.ts);
   * `pidOf` names the process of a call's CR3 (0 when it gives none). The store's rate becomes
   * TRACED_TSC_KHZ (its timestamps are host nanoseconds since this call).
   */
  recordInto(store: EventStore, pidOf: (cr3: bigint) => number | undefined = () => undefined): void {
    store.tscKhz = TRACED_TSC_KHZ;
    this.feed = { store, pidOf, t0: process.hrtime.bigint() };
  }

  /** The store recordInto feeds, if any. */
  get recordedEvents(): EventStore | undefined {
    return this.feed?.store;
  }

  private record(c: Omit<TracedCall, 'timeNs' | 'pid'>, cr3: bigint): void {
    const f = this.feed;
    if (!f) return;
    f.store.append(tracedCallEvent(f.store.length + 1, { ...c, pid: f.pidOf(cr3) ?? 0, timeNs: process.hrtime.bigint() - f.t0 }));
  }

  /**
   * Return addresses kept armed after their calls returned (the most recent WARM_RETURNS call
   * sites), so that a site called again needs no Z/z packets; with its hits: those that ended a
   * call and those that did not (a site reached often by other paths is dropped).
   */
  private readonly warm = new Map<number, { matched: number; unmatched: number }>();

  /** The code addresses to break at now: both entries, every pending return address, the warm ones. */
  breakpointAddresses(): number[] {
    return [...new Set([this.allocEntry, this.freeEntry, ...this.pendingReturns(), ...this.warm.keys()])];
  }

  private pendingReturns(): number[] {
    return this.trace.returnAddresses().map((a) => addressFromBigInt(a, this.width));
  }

  /** True when `pc` is one of the tracer's addresses. */
  owns(pc: number): boolean {
    return pc === this.allocEntry || pc === this.freeEntry || this.warm.has(pc) || this.pendingReturns().includes(pc);
  }

  /** Notes a hit at return address `pc`: keeps it warm (most recent last), or drops it when other paths reach it more often than returns. */
  private noteReturnHit(pc: number, matched: boolean): void {
    const w = this.warm.get(pc) ?? { matched: 0, unmatched: 0 };
    this.warm.delete(pc);
    if (matched) w.matched++;
    else w.unmatched++;
    if (w.unmatched > w.matched + 4) return;
    this.warm.set(pc, w);
    while (this.warm.size > WARM_RETURNS) this.warm.delete(this.warm.keys().next().value as number);
  }

  /**
   * A hit at `pc` (one of breakpointAddresses()): reads the call, records it, and returns what
   * happened (undefined: nothing to report, e.g. another path through a return address).
   * `changedBreakpoints` is set when the set of return addresses changed.
   */
  async hit(pc: number, guest: TraceGuest, time: number): Promise<{ event?: TraceEvent; changedBreakpoints: boolean }> {
    const before = this.returnKey();
    const regs = await guest.exactRegisters();
    const cr3 = regs.get('cr3') ?? 0n;
    let event: TraceEvent | undefined;
    // A return address may be the entry itself (a tail position), so returns are matched first.
    if (this.warm.has(pc) || this.pendingReturns().includes(pc)) {
      const ret = addressToBigInt(pc, this.width);
      const match = this.trace.returnFromAlloc(ret, stackPointerOf(this.abi, regs), decodeReturnValue(this.abi, regs));
      if (match.kind === 'allocated') {
        event = { kind: 'allocated', allocation: match.allocation };
        const a = match.allocation;
        this.record({ kind: 'alloc', address: a.address, size: a.size, returnAddress: ret, callSeq: a.seq, status: TracedStatus.ok }, a.cr3);
      } else if (match.kind === 'failed') {
        this.record({ kind: 'alloc', address: 0n, size: 0, returnAddress: ret, callSeq: match.seq, status: TracedStatus.failed }, cr3);
      }
      this.noteReturnHit(pc, match.kind !== 'unmatched');
      if (match.kind !== 'unmatched' || (pc !== this.allocEntry && pc !== this.freeEntry)) {
        return { event, changedBreakpoints: this.returnKey() !== before };
      }
    }
    if (pc === this.allocEntry || pc === this.freeEntry) {
      const sp = stackPointerOf(this.abi, regs);
      const stack = await guest.readMemory(addressFromBigInt(sp, this.width), entryStackBytes(this.abi));
      const call = decodeCallEntry(this.abi, regs, stack);
      if (pc === this.allocEntry) {
        this.trace.enterAlloc({
          time, thread: guest.thread, cr3, returnAddress: call.returnAddress, stackPointerAfterReturn: call.stackPointerAfterReturn,
          size: sizeOfCall(this.size, call.args),
        });
      } else {
        const address = call.args[this.freeArgument];
        const result = this.trace.free(address, call.returnAddress, { time, thread: guest.thread, cr3 });
        const site = this.trace.siteOf(call.returnAddress);
        const status = result.kind === 'freed' ? TracedStatus.ok : result.kind === 'null' ? TracedStatus.nullFree : result.kind === 'double-free' ? TracedStatus.doubleFree : TracedStatus.neverAllocated;
        this.record({ kind: 'free', address, size: result.kind === 'freed' ? result.allocation.size : 0, returnAddress: call.returnAddress, callSeq: result.seq, status }, cr3);
        if (result.kind === 'freed') event = { kind: 'freed', address, site, allocation: result.allocation, seq: result.seq, cr3 };
        else if (result.kind === 'double-free' || result.kind === 'never-allocated') event = { kind: 'freed', address, site, seq: result.seq, cr3, ...(result.finding ? { finding: result.finding } : {}) };
      }
    }
    return { event, changedBreakpoints: this.returnKey() !== before };
  }

  private returnKey(): string {
    return this.breakpointAddresses().sort((a, b) => a - b).join(',');
  }

  /** The document's tracing section. */
  json(extra: { callsPerSecond: number; slowdown?: number; pidOf?: (cr3: bigint) => number | undefined; maxLive?: number }): TracingJson {
    return this.trace.toJson({ allocFunction: this.description.alloc.function, freeFunction: this.description.free.function, ...extra });
  }
}
