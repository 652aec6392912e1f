/* test_generation.c: the seqlock (generation.h). mm_generation is even outside every
 * memory-manager operation, odd inside one (seen from a relocation listener that the
 * defragmenter calls mid-move), advances by exactly 2 per outermost operation, and nested
 * write sections do not advance it. Each measurement runs with interrupts off so that a
 * context switch (which also advances it) cannot land in between. */
#include "generation.h"
#include "mm.h"
#include "proc.h"
#include "test.h"
#include "x86.h"

#define GWIN 0xE1400000u

TEST(generation, even_after_every_public_op)
{
    chain_id_t id = MmAllocateChain(0, 2);
    CHECK(id);
    CHECK_EQ(mm_generation & 1, 0);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)GWIN, 0, 0));
    CHECK_EQ(mm_generation & 1, 0);
    CHECK_OK(MmResizeChain(id, 3));
    CHECK_EQ(mm_generation & 1, 0);
    CHECK_OK(MmUnmapChain(MAP_KPD, id, (void *)GWIN, 0));
    CHECK_EQ(mm_generation & 1, 0);
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(mm_generation & 1, 0);
    CHECK_EQ(mm_write_depth(), 0);
    return 0;
}

TEST(generation, two_per_outermost_op)
{
    uint32_t f = irq_save();
    uint32_t g0 = mm_generation;
    chain_id_t id = 0;
    int r = mm_allocate_chain(0, 1, OWNER_KERNEL, 0, &id);
    uint32_t g1 = mm_generation;
    int r2 = r == MM_OK ? MmMapChainToVirtualAddress(MAP_KPD, id, (void *)GWIN, 0, 0) : r;
    uint32_t g2 = mm_generation;
    int r3 = r == MM_OK ? MmFreeChain(id) : r;   /* unmaps inside: still one operation */
    uint32_t g3 = mm_generation;
    int r4 = MmFreeChain(id);                    /* an error path closes its section too */
    uint32_t g4 = mm_generation;
    irq_restore(f);
    CHECK_OK(r);
    CHECK_OK(r2);
    CHECK_OK(r3);
    CHECK_EQ(r4, MM_ERR_BAD_ID);
    CHECK_EQ(g0 & 1, 0);
    CHECK_EQ(g1, g0 + 2);
    CHECK_EQ(g2, g1 + 2);
    CHECK_EQ(g3, g2 + 2);
    CHECK_EQ(g4, g3 + 2);
    return 0;
}

TEST(generation, nesting_advances_once)
{
    uint32_t f = irq_save();
    uint32_t g0 = mm_generation;
    uint32_t w = mm_write_begin();
    uint32_t inside = mm_generation, depth = mm_write_depth();
    chain_id_t id = MmAllocateChain(0, 1);       /* nested: no change of generation */
    uint32_t after_alloc = mm_generation;
    int r = id ? MmFreeChain(id) : MM_ERR_NOMEM;
    uint32_t after_free = mm_generation;
    mm_write_end(w);
    uint32_t g1 = mm_generation;
    irq_restore(f);
    CHECK(id);
    CHECK_OK(r);
    CHECK_EQ(inside, g0 + 1);
    CHECK_EQ(depth, 1);
    CHECK_EQ(after_alloc, inside);
    CHECK_EQ(after_free, inside);
    CHECK_EQ(g1, g0 + 2);
    CHECK_EQ(mm_write_depth(), 0);
    return 0;
}

/* What a relocation listener saw while the defragmenter moved: the generation's parity and
 * the write depth; it also follows the one chain the test holds. */
struct seen { uint32_t calls, odd, depth_min; chain_id_t held; };

static void note(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    struct seen *s = ctx;
    s->calls++;
    s->odd += mm_generation & 1;
    if (mm_write_depth() < s->depth_min)
        s->depth_min = mm_write_depth();
    if (s->held == old_id)
        s->held = new_id;
}

TEST(generation, odd_inside_defragmentation)
{
    /* a free block below a movable chain: the defragmenter moves its head (a rename) */
    chain_id_t a = MmAllocateChain(0, 1), b = MmAllocateChain(0, 1);
    CHECK(a && b);
    struct seen s = {0, 0, ~0u, a > b ? a : b};
    CHECK_OK(MmFreeChain(a > b ? b : a));
    CHECK_OK(mm_add_relocation_listener(note, &s));
    MmDefragment();
    mm_remove_relocation_listener(note, &s);
    uint32_t g = mm_generation;
    int r = MmFreeChain(s.held);
    CHECK_OK(r);
    CHECK(s.calls > 0);
    CHECK_EQ(s.odd, s.calls);
    CHECK(s.depth_min >= 1);
    CHECK_EQ(g & 1, 0);
    return 0;
}

/* The hold (generation.h): with a request standing and nobody to clear it, the next outermost
 * mm_write_end holds, gives up at its bound, counts the timeout and goes on: a reader that went
 * away cannot hang the guest. Nested ends do not hold; without a request nothing holds. */
TEST(generation, hold_is_bounded)
{
    uint32_t holds0 = mm_hold.holds, timeouts0 = mm_hold.timeouts;
    chain_id_t id = MmAllocateChain(0, 1);       /* no request: no hold */
    uint32_t holds_without = mm_hold.holds;
    uint32_t f = irq_save();
    uint32_t w = mm_write_begin();
    mm_hold.request = 1;
    uint32_t w2 = mm_write_begin();
    mm_write_end(w2);                            /* nested: not a consistent point */
    uint32_t holds_nested = mm_hold.holds;
    mm_write_end(w);                             /* outermost: holds until the bound */
    uint32_t held_after = mm_hold.held;
    mm_hold.request = 0;
    irq_restore(f);
    int r = id ? MmFreeChain(id) : MM_ERR_NOMEM;
    CHECK(id);
    CHECK_OK(r);
    CHECK_EQ(holds_without, holds0);
    CHECK_EQ(holds_nested, holds0);
    CHECK_EQ(mm_hold.holds, holds0 + 1);
    CHECK_EQ(mm_hold.timeouts, timeouts0 + 1);
    CHECK_EQ(held_after, 0);
    CHECK_EQ(mm_generation & 1, 0);
    return 0;
}
