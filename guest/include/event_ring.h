/* event_ring.h: the flight recorder's ring (mm_debug_info.event_ring_*, docs/chain-table.md,
 * "Event ring"). Every memory-manager event is written into a ring of struct mm_event_record
 * (mm_event.h) in kernel memory; a debugger drains it through the RAM file. Single CPU: a
 * record is written with interrupts off (inside the memory manager's write section), fields
 * first, then seq, then mm_event_head. */
#ifndef EVENT_RING_H
#define EVENT_RING_H
#include <stdint.h>
#include "mm_event.h"
#include "mm.h"   /* mm_generation */

#define MM_EVENT_RING_CAPACITY 16384u   /* records (power of two): 768 KiB, a static array */

/* Ring-only kind beyond the contract's: a chain's head flags changed otherwise than by
 * freeze/unfreeze (MmMarkSwappable): chain, flags = new flags, arg = old flags. */
#define MM_EV_FLAGS 18u

extern volatile struct mm_event_record mm_event_ring[MM_EVENT_RING_CAPACITY];
extern volatile uint32_t mm_event_head;   /* records ever written */
extern uint32_t mm_tsc_khz;               /* TSC rate measured at boot, 0 before */
extern int mm_ring_on;                    /* event_ring_init's choice */

/* Turns the ring on (or leaves it off: cmdline "ring=off") and fills the descriptor's
 * event_ring_* fields; with the ring off the descriptor says capacity 0. Call once, after
 * debuginfo_init. */
void event_ring_init(int enabled);
/* Measures the TSC against the PIT timer over ~50 ms (interrupts must be on) and stores the
 * rate in mm_tsc_khz and the descriptor. */
void event_ring_calibrate(void);
/* Appends one record (pid = the running process) if the ring is on. Never fails. */
void mm_ring_event(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                   uint32_t status, uint32_t caller, uint32_t extra);
/* Like mm_ring_event with an explicit pid (context switches record the process left). */
void mm_ring_event_pid(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                       uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid);
/* Out of line: mm_ring_put with interrupts saved and disabled around it, for a caller outside
 * every memory-manager write section (event_ring.c). */
void mm_ring_write_unlocked(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                            uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid);

/* Appends record n = mm_event_head at slot n % capacity: one rdtsc, the eleven fields, then
 * seq = n + 1, then the head. Interrupts must be off (single CPU: nothing else writes the ring
 * meanwhile). The slot's old seq is not cleared first: a reader keeps only records it read
 * below the head it saw before its copy and at least capacity - 1 below the head it saw after
 * (debug-adapter/src/mm/model/event-ring.ts), which excludes the slot being written, so the
 * writer costs twelve stores and the head's. */
static inline void mm_ring_put(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                               uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid)
{
    uint32_t n = mm_event_head, lo, hi;
    volatile struct mm_event_record *r = &mm_event_ring[n & (MM_EVENT_RING_CAPACITY - 1)];
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    r->tsc_lo = lo;
    r->tsc_hi = hi;
    r->kind = kind;
    r->chain = chain;
    r->blocks = blocks;
    r->flags = flags;
    r->arg = arg;
    r->status = status;
    r->caller = caller;
    r->pid = pid;
    r->extra = extra;
    r->seq = n + 1;      /* volatile stores stay in program order: seq after every field */
    mm_event_head = n + 1;
}

/* The writer, inlined into mm_event. Every memory-manager event is recorded inside a write
 * section (generation.h: mm_generation odd, interrupts off), so the common path saves and
 * restores no interrupt state (under TCG pushf/cli/sti are helper calls, and sti ends a
 * translation block); a caller outside every section takes the out-of-line path. */
static inline void mm_ring_write(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                                 uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid)
{
    if (!mm_ring_on)
        return;
    if (mm_generation & 1)
        mm_ring_put(kind, chain, blocks, flags, arg, status, caller, extra, pid);
    else
        mm_ring_write_unlocked(kind, chain, blocks, flags, arg, status, caller, extra, pid);
}

/* mm_event (fills mm_last_event and calls the hook) whose ring record carries other flags and
 * an extra argument (mappings: the page offset and the address space). */
void mm_event_x(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status,
                uint32_t caller, uint32_t ring_flags, uint32_t extra);
#endif
