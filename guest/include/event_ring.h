/* event_ring.h: the flight recorder's ring (mm_debug_info.event_ring_*, docs/chain-table.md,
 * "Event ring"). Every memory-manager event is written into a ring of struct mm_event_record
 * (mm_event.h) in kernel memory; a debugger drains it through the RAM file. Single CPU: a
 * record is written under irq_save, fields first, then seq, then mm_event_head. */
#ifndef EVENT_RING_H
#define EVENT_RING_H
#include <stdint.h>
#include "mm_event.h"

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
/* The writer, inlined into mm_event: record n goes to slot n % capacity; seq is cleared first
 * (a reader comparing seq sees the slot as incomplete), the fields are written, then
 * seq = n + 1, then the head. Interrupts are off meanwhile (single CPU). */
static inline void mm_ring_write(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                                 uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid)
{
    if (!mm_ring_on)
        return;
    uint32_t ef;
    __asm__ volatile("pushf; pop %0; cli" : "=r"(ef) : : "memory");
    uint32_t n = mm_event_head, lo, hi;
    volatile struct mm_event_record *r = &mm_event_ring[n & (MM_EVENT_RING_CAPACITY - 1)];
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    r->seq = 0;
    __asm__ volatile("" ::: "memory");
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
    __asm__ volatile("" ::: "memory");
    r->seq = n + 1;
    __asm__ volatile("" ::: "memory");
    mm_event_head = n + 1;
    if (ef & 0x200)
        __asm__ volatile("sti" ::: "memory");
}

/* mm_event (fills mm_last_event and calls the hook) whose ring record carries other flags and
 * an extra argument (mappings: the page offset and the address space). */
void mm_event_x(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status,
                uint32_t caller, uint32_t ring_flags, uint32_t extra);
#endif
