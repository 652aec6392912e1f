/* generation.c: the seqlock around memory-manager changes (generation.h). */
#include "generation.h"
#include "mm.h"
#include "console.h"
#include "x86.h"
#include "event_ring.h"

struct mm_hold mm_hold;
static uint32_t depth;   /* open write sections; only touched with interrupts off */

uint32_t mm_write_begin(void)
{
    uint32_t was = irq_save();
    if (depth++ == 0) {
        mm_generation++;                          /* odd: changes follow */
        __asm__ volatile("" ::: "memory");        /* no store may move above it */
    }
    return was;
}

static inline uint64_t tsc_now(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Waits, interrupts off, while a live reader copies (generation.h, "the hold"): until the
 * reader clears its request, or MM_HOLD_MAX_US have passed. */
static void hold_for_reader(void)
{
    uint64_t start = tsc_now();
    uint64_t limit = mm_tsc_khz ? (uint64_t)mm_tsc_khz * (MM_HOLD_MAX_US / 1000u) : 0;
    uint32_t spins = 0;
    mm_hold.held = 1;
    mm_hold.holds++;
    while (mm_hold.request) {
        __asm__ volatile("pause" ::: "memory");
        if (limit ? tsc_now() - start > limit : ++spins > 20000000u) {
            mm_hold.timeouts++;
            break;
        }
    }
    mm_hold.held = 0;
}

void mm_write_end(uint32_t was)
{
    if (depth == 0)
        panic("mm_write_end without mm_write_begin");
    if (--depth == 0) {
        __asm__ volatile("" ::: "memory");        /* every store lands before it */
        mm_generation++;                          /* even: consistent again */
        if (mm_hold.request)
            hold_for_reader();
    }
    irq_restore(was);
}

uint32_t mm_write_depth(void)
{
    return depth;
}
