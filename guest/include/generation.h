/* generation.h: the memory manager's seqlock. mm_generation (mm.h, located by
 * mm_debug_info.generation_addr) is odd while the memory manager changes any structure a
 * debugger decodes (block table, owners, mapping registry, KPD/UPD/page tables, PCB list,
 * XMS/DPMI/DOS tables, swap slots, handle heaps) and even when they are consistent again.
 * A live reader reads it before and after its read and keeps the read only if both values
 * are the same even number.
 *
 * Every writer brackets its change with mm_write_begin()/mm_write_end(). The pair also
 * disables interrupts (it replaces irq_save/irq_restore: one CPU, so this is the lock) and
 * nests: only the outermost begin makes the generation odd and only the outermost end makes
 * it even, so one outermost operation advances it by exactly 2. */
#ifndef GENERATION_H
#define GENERATION_H
#include <stdint.h>

/* Disables interrupts, and at the outermost level makes mm_generation odd. Returns the
 * interrupt state to hand to mm_write_end. */
uint32_t mm_write_begin(void);
/* Ends the section begun by the matching mm_write_begin: at the outermost level makes
 * mm_generation even again; then restores the interrupt state `was`. */
void mm_write_end(uint32_t was);
/* How many write sections are open now (0 outside every memory-manager change). */
uint32_t mm_write_depth(void);

/* The hold: how a live reader gets the memory manager to stand still for the length of a copy
 * (mm_debug_info.hold_addr). The reader writes request = 1 (through the RAM file, while the
 * guest runs); the next outermost mm_write_end, right after making the generation even, sets
 * held = 1 and waits, interrupts still off, until the reader writes request = 0 again, then
 * sets held = 0 and goes on. So the reader copies a consistent state while nothing changes it,
 * without stopping the vCPU. The wait is bounded (MM_HOLD_MAX_US, by the TSC; a loop count
 * before the TSC is calibrated): a reader that goes away cannot hang the guest. */
struct mm_hold {
    volatile uint32_t request;   /* written by the reader only */
    volatile uint32_t held;      /* 1 while the guest waits in mm_write_end */
    volatile uint32_t holds;     /* holds granted since boot */
    volatile uint32_t timeouts;  /* holds that ended by the bound, not by the reader */
};
#define MM_HOLD_MAX_US 20000u
extern struct mm_hold mm_hold;
#endif
