// Traced allocation calls (level 2, kernels that are not ours: mm/plugin/allocation-tracer.ts) as
// flight-recorder events (issue 16), so the event store, the history's timeline and blame, and
// the trace export (model/trace-export.ts) work for them as for our guest's ring. Pure: one
// traced call in, one MmHistoryEvent out.
//
// A traced call becomes (fields of struct mm_event_record, docs/history.md "Traced calls"):
//   kind    allocated (1) at the alloc function's return, freed (2) at the free function's entry
//   chain   what alloc returned / what free was given: low 32 bits (an address, a physical
//           address or a frame number, as the description's `returns` says)
//   extra   its high 32 bits (x86-64 kernels, PAE physical addresses)
//   blocks  the allocation's size as the description's `alloc.size` gives it (0 when it has none;
//           a free: the size of the allocation it freed, when traced)
//   arg     the tracer's own call number (TraceRecord.seq, `mmscope/tracing`'s history)
//   status  TracedStatus: 0 done, else a failed allocation (0 returned), free(NULL), a double
//           free or a free of something never allocated
//   caller  the call's return address, low 32 bits; flags its high 32 bits
//   pid     the process whose page directory CR3 named at the call (the description's
//           processes), 0 when not known
//   tsc     nanoseconds of host time since tracing began (the store's tscKhz is 1,000,000):
//           the guest's TSC cannot be read through the gdbstub

import { MmEventKind, MmHistoryEvent } from './mm-history-event';

/** status of a traced event. */
export const TracedStatus = {
  ok: 0,
  /** alloc returned 0. */
  failed: 1,
  /** free was given 0. */
  nullFree: 2,
  doubleFree: 3,
  neverAllocated: 4,
} as const;

/** The event store's "TSC" rate for traced calls: their timestamps are nanoseconds. */
export const TRACED_TSC_KHZ = 1_000_000;

/** One traced call, as the tracer knows it when it completes. */
export interface TracedCall {
  readonly kind: 'alloc' | 'free';
  /** What alloc returned (0: failed) or free was given. */
  readonly address: bigint;
  /** Size from the description's alloc.size (0: none). */
  readonly size: number;
  readonly returnAddress: bigint;
  /** The tracer's call number. */
  readonly callSeq: number;
  readonly status: number;
  readonly pid: number;
  /** Nanoseconds since tracing began. */
  readonly timeNs: bigint;
}

const low = (v: bigint): number => Number(v & 0xffffffffn);
const high = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);

/** The recorder's event for traced call `c`, numbered `seq` (1 for the first). */
export function tracedCallEvent(seq: number, c: TracedCall): MmHistoryEvent {
  return {
    seq,
    tsc: c.timeNs < 0n ? 0n : c.timeNs,
    kind: c.kind === 'alloc' ? MmEventKind.allocated : MmEventKind.freed,
    chain: low(c.address),
    blocks: Math.max(0, Math.min(0xffffffff, Math.floor(c.size))) >>> 0,
    flags: high(c.returnAddress),
    arg: c.callSeq >>> 0,
    status: c.status >>> 0,
    caller: low(c.returnAddress),
    pid: c.pid >>> 0,
    extra: high(c.address),
  };
}

/** The full value a traced event carried (chain + extra), e.g. to compare with the tracer's history. */
export function tracedEventAddress(e: Pick<MmHistoryEvent, 'chain' | 'extra'>): bigint {
  return (BigInt(e.extra >>> 0) << 32n) | BigInt(e.chain >>> 0);
}

/** The full return address a traced event carried (caller + flags). */
export function tracedEventCaller(e: Pick<MmHistoryEvent, 'caller' | 'flags'>): bigint {
  return (BigInt(e.flags >>> 0) << 32n) | BigInt(e.caller >>> 0);
}
