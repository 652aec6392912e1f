// The memory manager's recorded events (issue 16): one event as the recorder keeps it, the event
// kinds' names, and the read side of the event store that the history (keyframes,
// reconstruction, blame) builds on. Pure types and constants: no imports of session code.
//
// An event mirrors the guest's `struct mm_event_record` (guest/include/mm_event.h); the meaning
// of chain/blocks/flags/arg/extra depends on the kind (comments below). Events a drain could not
// read (the ring overwrote them before the adapter got there, or a record was torn) are kept as
// gaps: `LostRange`s in sequence order, never hidden.

/** enum mm_event_kind (guest/include/mm_event.h). */
export const MmEventKind = {
  none: 0,
  allocated: 1,   // chain = new ID, blocks, flags
  freed: 2,       // chain = freed ID, blocks it had
  resized: 3,     // chain, blocks = new size, arg = old size
  // mapped/unmapped, in the ring: extra = the address space's page directory as the mapping
  // registry keeps it (struct mm_mapping.upd, kernel-virtual; 0 = the KPD); mapped's flags carry
  // the page offset in bits 8..31 (MAP_* in bits 0..7). The ring also records an `unmapped` for
  // every registry entry the memory manager removes or trims by itself (free, shrink, swap), with
  // blocks = the pages left (0 = removed), so the registry can be replayed exactly.
  mapped: 4,      // chain, arg = virtual address, blocks = pages, flags = MAP_* | page offset << 8
  unmapped: 5,    // chain, arg = virtual address, blocks = pages left (0 = entry removed)
  defrag: 6,      // blocks = blocks moved
  xms: 7,         // arg = AX on entry (function in AH), status = BL error or 0
  dpmi: 8,        // arg = AX on entry, status = DPMI error or 0
  dos: 9,         // arg = 1 alloc / 2 free / 3 resize, blocks = paragraphs, status
  // ring-only kinds (version 3)
  moved: 10,      // defragmentation moved a block: chain, blocks = from block, arg = to block, extra = index in the chain
  renamed: 11,    // a chain's ID changed (its head moved): chain = old ID, arg = new ID
  frozen: 12,     // chain, flags = new head flags, arg = old
  unfrozen: 13,   // chain, flags = new head flags, arg = old
  cleaned: 14,    // dirty bits cleared: chain, blocks = pages cleaned
  swappedOut: 15, // chain, blocks = the block freed, arg = slot, extra = index in the chain, flags = 1 if clean (not written)
  swappedIn: 16,  // chain, blocks = the block filled, arg = slot, extra = index in the chain
  switch: 17,     // context switch: pid = the process switched from, arg = the one switched to
  // ring-only, beyond the contract (guest/include/event_ring.h): head flags changed otherwise
  // (MmMarkSwappable). frozen/unfrozen/flags all carry flags = the new head flags, arg = the old.
  flags: 18,      // chain, flags = new flags, arg = old flags
} as const;

export type MmEventKindName = keyof typeof MmEventKind;
export type MmEventKindCode = (typeof MmEventKind)[MmEventKindName];

const NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, code] of Object.entries(MmEventKind)) names[code] = name;
  return names;
})();

/** The kind's name, or `kind<N>` for a code this mmscope does not know. */
export function mmEventKindName(kind: number): string {
  return NAMES[kind] ?? `kind${kind}`;
}

/** Number of kind codes known (0..MM_EVENT_KIND_COUNT-1). */
export const MM_EVENT_KIND_COUNT = NAMES.length;

/** One recorded memory-manager event. All fields are uint32 except tsc. */
export interface MmHistoryEvent {
  /** Position in the guest's event stream: record n has seq n + 1 (the first event is seq 1). */
  readonly seq: number;
  /** Guest TSC when the event was recorded (cycles; divide by tsc_khz for milliseconds). */
  readonly tsc: bigint;
  readonly kind: number;
  readonly chain: number;
  readonly blocks: number;
  readonly flags: number;
  readonly arg: number;
  /** 0 = success, else the operation's error code. */
  readonly status: number;
  /** Return address of the public call (resolve through the ELF's symbols). */
  readonly caller: number;
  /** The running process when the event happened. */
  readonly pid: number;
  /** A kind's second argument, else 0. */
  readonly extra: number;
}

/** Events that were never read: seq in [firstSeq, firstSeq + count). */
export interface LostRange {
  readonly firstSeq: number;
  readonly count: number;
  /** Why: 'overrun' (the ring wrapped over them before a drain) or 'torn' (a record's seq did not match). */
  readonly reason: 'overrun' | 'torn';
}

/**
 * The read side of the event store (debug-adapter/src/mm/model/event-store.ts implements it).
 * Events are appended in seq order and never change; index i is the i-th event kept (not seq - 1:
 * lost events leave no index). Column getters avoid building objects in hot loops.
 */
export interface MmEventSource {
  /** Events kept. */
  readonly length: number;
  /** Events lost so far (sum of the lost ranges' counts). */
  readonly lostCount: number;
  /** The lost ranges in seq order. */
  lostRanges(): readonly LostRange[];
  /** The event at index i (0 <= i < length). */
  get(i: number): MmHistoryEvent;
  seqAt(i: number): number;
  kindAt(i: number): number;
  chainAt(i: number): number;
  tscAt(i: number): bigint;
  /** Index of the first kept event with seq >= `seq` (length if none). */
  indexOfSeq(seq: number): number;
  /** The events from index `from` (inclusive) to `to` (exclusive), in order. */
  range(from: number, to: number): Iterable<MmHistoryEvent>;
  /** The TSC rate in kHz the guest measured at boot (0 if unknown). */
  readonly tscKhz: number;
  /** Called after every append (events or a lost range); returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
}
