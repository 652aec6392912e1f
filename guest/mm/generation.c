/* generation.c: the seqlock around memory-manager changes (generation.h). */
#include "generation.h"
#include "mm.h"
#include "console.h"
#include "x86.h"

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

void mm_write_end(uint32_t was)
{
    if (depth == 0)
        panic("mm_write_end without mm_write_begin");
    if (--depth == 0) {
        __asm__ volatile("" ::: "memory");        /* every store lands before it */
        mm_generation++;                          /* even: consistent again */
    }
    irq_restore(was);
}

uint32_t mm_write_depth(void)
{
    return depth;
}
