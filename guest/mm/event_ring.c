/* event_ring.c: the flight recorder's ring (event_ring.h). The ring is a static array in the
 * kernel image (.bss, 768 KiB), so it exists from the first instruction and never moves. */
#include "event_ring.h"
#include "debuginfo.h"
#include "paging.h"
#include "proc.h"
#include "timer.h"
#include "x86.h"

volatile struct mm_event_record mm_event_ring[MM_EVENT_RING_CAPACITY];
volatile uint32_t mm_event_head;
uint32_t mm_tsc_khz;
int mm_ring_on;

_Static_assert((MM_EVENT_RING_CAPACITY & (MM_EVENT_RING_CAPACITY - 1)) == 0, "ring capacity must be a power of two");
_Static_assert(sizeof(struct mm_event_record) == 48, "the ring record is 48 bytes (debugger contract)");

static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Contract: sets the descriptor's ring fields; capacity 0 when disabled. */
void event_ring_init(int enabled)
{
    mm_ring_on = enabled;
    mm_debug_info.event_ring_addr = enabled ? (uint32_t)mm_event_ring : 0;
    mm_debug_info.event_ring_phys = enabled ? V2P((uint32_t)mm_event_ring) : 0;
    mm_debug_info.event_ring_capacity = enabled ? MM_EVENT_RING_CAPACITY : 0;
    mm_debug_info.event_head_addr = enabled ? (uint32_t)&mm_event_head : 0;
}

/* Contract: waits for a timer tick edge, counts TSC cycles over 50 ticks (1 ms each). Needs
 * interrupts on and the timer running (else it never returns). */
void event_ring_calibrate(void)
{
    uint32_t start = timer_ms();
    while (timer_ms() == start)
        hlt();
    uint32_t t0 = timer_ms();
    uint64_t c0 = read_tsc();
    while (timer_ms() - t0 < 50)
        hlt();
    uint64_t c1 = read_tsc();
    uint32_t ms = timer_ms() - t0;
    uint64_t cycles = c1 - c0;
    /* cycles / ms without libgcc's 64-bit division: the rate fits 32 bits (< 4 THz) */
    uint32_t khz = 0;
    for (int bit = 31; bit >= 0; bit--) {
        uint64_t t = (uint64_t)(khz | (1u << bit)) * ms;
        if (t <= cycles)
            khz |= 1u << bit;
    }
    mm_tsc_khz = khz;
    mm_debug_info.tsc_khz = khz;
}

void mm_ring_write_unlocked(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                            uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid)
{
    uint32_t was = irq_save();
    mm_ring_put(kind, chain, blocks, flags, arg, status, caller, extra, pid);
    irq_restore(was);
}

void mm_ring_event_pid(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                       uint32_t status, uint32_t caller, uint32_t extra, uint32_t pid)
{
    mm_ring_write(kind, chain, blocks, flags, arg, status, caller, extra, pid);
}

void mm_ring_event(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg,
                   uint32_t status, uint32_t caller, uint32_t extra)
{
    mm_ring_event_pid(kind, chain, blocks, flags, arg, status, caller, extra, current ? current->pid : 0);
}
