/* test_defrag.c: the defragmenter moves movable blocks, keeps contents and mappings, renames
 * chains whose head moved, and turns a failing contiguous allocation into a working one. */
#include "heap.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "test.h"

#define KWIN 0xE1000000u

/* A set of chain IDs that follows relocations. */
struct idset { chain_id_t *ids; uint32_t n; uint32_t renames; };

static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    struct idset *s = ctx;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->ids[i] == old_id) {
            s->ids[i] = new_id;
            s->renames++;
        }
}

static uint32_t pattern(uint32_t i, uint32_t word) { return i * 0x9E3779B9u ^ word; }

/* Writes a pattern into the first and last word of every page of chain ids[i]. */
static void fill(chain_id_t id, uint32_t i)
{
    uint32_t pages = MmChainBlocks(id) * MM_PAGES_PER_BLOCK;
    for (uint32_t p = 0; p < pages; p++) {
        uint32_t phys, v0 = pattern(i, p), v1 = ~pattern(i, p);
        MmChainPagePhysical(id, p, &phys);
        mm_phys_write(phys, &v0, 4);
        mm_phys_write(phys + MM_PAGE_SIZE - 4, &v1, 4);
    }
}

static int intact(chain_id_t id, uint32_t i)
{
    uint32_t pages = MmChainBlocks(id) * MM_PAGES_PER_BLOCK;
    for (uint32_t p = 0; p < pages; p++) {
        uint32_t phys, v0, v1;
        if (MmChainPagePhysical(id, p, &phys) != MM_OK)
            return 0;
        mm_phys_read(phys, &v0, 4);
        mm_phys_read(phys + MM_PAGE_SIZE - 4, &v1, 4);
        if (v0 != pattern(i, p) || v1 != ~pattern(i, p))
            return 0;
    }
    return 1;
}

/* Fills memory with 1-block chains and frees every other one: no two free blocks touch. */
static const char *fragment(struct idset *s)
{
    uint32_t cap = mm_free_blocks;
    s->ids = kzalloc(cap * sizeof(chain_id_t));
    CHECK(s->ids);
    s->n = 0;
    chain_id_t id;
    while (mm_free_blocks && s->n < cap && (id = MmAllocateChain(0, 1)) != 0)
        s->ids[s->n++] = id;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (i % 2 == 0) {
            CHECK_OK(MmFreeChain(s->ids[i]));
        } else {
            s->ids[kept] = s->ids[i];
            fill(s->ids[kept], kept);
            kept++;
        }
    }
    s->n = kept;
    return 0;
}

static void release(struct idset *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        MmFreeChain(s->ids[i]);
    kfree(s->ids);
}

TEST(defrag, makes_contiguous_allocation_succeed)
{
    static struct idset s;
    const char *err = fragment(&s);
    if (err)
        return err;
    CHECK_OK(mm_add_relocation_listener(follow, &s));
    CHECK(mm_free_blocks >= 8);
    CHECK_EQ(mm_find_free_run(8, 0, 0), 0);             /* without moving, it cannot work */
    uint32_t runs = mm_defrag_runs;
    chain_id_t c;
    int r = MmAllocateContiguous(8, 0, 0, 0, &c);
    mm_remove_relocation_listener(follow, &s);
    CHECK_OK(r);
    CHECK_EQ(mm_defrag_runs, runs + 1);
    for (uint32_t i = 0; i < 8; i++)
        CHECK_EQ(ct_field(mm_block_table[c + i]), i == 7 ? CT_END : c + i + 1);
    CHECK(s.renames > 0);                               /* moved chains got new IDs */
    for (uint32_t i = 0; i < s.n; i++)
        CHECK(mm_chain_valid(s.ids[i]) && intact(s.ids[i], i));
    CHECK_MM();
    CHECK_OK(MmFreeChain(c));
    release(&s);
    return 0;
}

TEST(defrag, compaction_keeps_mappings_and_data)
{
    static struct idset s;
    const char *err = fragment(&s);
    if (err)
        return err;
    CHECK_OK(mm_add_relocation_listener(follow, &s));
    /* Map a few of the chains in the kernel and in the current process's user space. */
    for (uint32_t i = 0; i < 4; i++)
        CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, s.ids[i], (void *)(KWIN + i * MM_BLOCK_SIZE), 0, 0));
    CHECK_OK(MmMapChainToVirtualAddress(MAP_UPD, s.ids[s.n - 1], (void *)0x00C00000, 0, current->upd));
    uint32_t frag_before = mm_fragmentation_percent(), run_before = mm_largest_free_run();
    uint32_t moved = MmDefragment();
    mm_remove_relocation_listener(follow, &s);
    CHECK(moved > 0);
    CHECK(mm_largest_free_run() > run_before);
    CHECK(mm_fragmentation_percent() < frag_before);
    for (uint32_t i = 0; i < s.n; i++)
        CHECK(intact(s.ids[i], i));
    /* The same virtual addresses still read the same data. */
    for (uint32_t i = 0; i < 4; i++) {
        volatile uint32_t *va = (volatile uint32_t *)(KWIN + i * MM_BLOCK_SIZE);
        CHECK_EQ(va[0], pattern(i, 0));
        CHECK_EQ(va[1024 * 3 + 1023], ~pattern(i, 3));
    }
    CHECK_EQ(*(volatile uint32_t *)0x00C00000, pattern(s.n - 1, 0));
    CHECK_MM();                                          /* PTEs point at the new blocks */
    release(&s);
    return 0;
}

TEST(defrag, head_move_renames_chain)
{
    chain_id_t id = MmAllocateChain(0, 2);
    static struct idset s;
    static chain_id_t one[1];
    one[0] = id;
    s.ids = one;
    s.n = 1;
    s.renames = 0;
    fill(id, 42);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 0, 0));
    struct mm_owner owner = mm_owners[id];
    uint32_t dst = mm_find_free_run(1, 0, 0);
    CHECK(dst);
    CHECK_OK(mm_add_relocation_listener(follow, &s));
    int r = mm_move_block(id, dst);
    mm_remove_relocation_listener(follow, &s);
    CHECK_OK(r);
    CHECK_EQ(one[0], dst);
    CHECK_EQ(s.renames, 1);
    CHECK(!mm_chain_valid(id));
    CHECK_EQ(mm_owners[dst].seq, owner.seq);
    CHECK_EQ(mm_owners[dst].caller, owner.caller);
    CHECK(intact(dst, 42));
    CHECK_EQ(*(volatile uint32_t *)KWIN, pattern(42, 0));
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & PTE_ADDR, dst << MM_BLOCK_SHIFT);
    CHECK_OK(MmFreeChain(dst));
    return 0;
}

TEST(defrag, frozen_and_contiguous_stay)
{
    chain_id_t f = MmAllocateChain(CHAIN_FROZEN, 1), c;
    CHECK_OK(MmAllocateContiguous(1, 0, 0, 0, &c));
    uint32_t dst = mm_find_free_run(1, 0, 0);
    CHECK_EQ(mm_move_block(f, dst), MM_ERR_FROZEN);
    CHECK_EQ(mm_move_block(c, dst), MM_ERR_FROZEN);
    CHECK_EQ(mm_move_block(f, f), MM_ERR_INVALID);      /* destination not free */
    CHECK_EQ(mm_move_block(0, dst), MM_ERR_INVALID);
    MmDefragment();
    CHECK(mm_chain_valid(f) && mm_chain_valid(c));
    CHECK_OK(MmFreeChain(f));
    CHECK_OK(MmFreeChain(c));
    return 0;
}

TEST(defrag, impossible_run_fails_cleanly)
{
    /* A run longer than all free memory cannot be made; nothing moves. */
    uint32_t moved = mm_defrag_moved;
    CHECK_EQ(mm_defrag_make_run(mm_free_blocks + 1, 0, 0), MM_ERR_NOMEM);
    chain_id_t c;
    CHECK_EQ(MmAllocateContiguous(8, 0x100000, 0, 0, &c), MM_ERR_NOMEM); /* below 1 MiB: all reserved */
    CHECK_EQ(mm_defrag_moved, moved);
    return 0;
}

TEST(defrag, policy_runs_on_spread_and_fragmentation)
{
    static struct idset s;
    const char *err = fragment(&s);
    if (err)
        return err;
    CHECK_OK(mm_add_relocation_listener(follow, &s));
    CHECK(mm_fragmentation_percent() > 50);
    CHECK(mm_free_blocks >= 8);
    uint32_t runs = mm_defrag_runs;
    /* Requests of 1 and 8 blocks, alternately: a spread of 8x, on fragmented memory. */
    for (uint32_t i = 0; i < 2 * 64 && mm_defrag_runs == runs; i++) {
        chain_id_t id = MmAllocateChain(0, i % 2 ? 8 : 1);
        CHECK(id);
        CHECK_OK(MmFreeChain(id));
    }
    mm_remove_relocation_listener(follow, &s);
    CHECK(mm_defrag_runs > runs);
    CHECK(mm_fragmentation_percent() <= 50);
    for (uint32_t i = 0; i < s.n; i++)
        CHECK(intact(s.ids[i], i));
    release(&s);
    return 0;
}

TEST(defrag, policy_ignores_uniform_requests)
{
    static struct idset s;
    const char *err = fragment(&s);
    if (err)
        return err;
    uint32_t runs = 0;
    for (uint32_t i = 0; i < 4 * 64; i++) {       /* same size every time: no spread */
        if (i == 64)
            runs = mm_defrag_runs;                /* the first window may hold older requests */
        chain_id_t id = MmAllocateChain(0, 2);
        CHECK(id);
        CHECK_OK(MmFreeChain(id));
    }
    CHECK_EQ(mm_defrag_runs, runs);
    release(&s);
    return 0;
}
