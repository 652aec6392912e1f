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
/* mm_event (fills mm_last_event and calls the hook) whose ring record carries other flags and
 * an extra argument (mappings: the page offset and the address space). */
void mm_event_x(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status,
                uint32_t caller, uint32_t ring_flags, uint32_t extra);
#endif
