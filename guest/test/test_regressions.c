/* test_regressions.c: regression tests for core problems the stress test and the benchmark
 * found (each failed on the core before its fix). */
#include "console.h"
#include "heap.h"
#include "mm.h"
#include "paging.h"
#include "test.h"

/* 1. MmUnmapChain(MAP_UPD, id, va, NULL) removes a KPD mapping of the chain at va: with
 *    MAP_UPD and a NULL UPD it looks for upd == 0, which is how KPD mappings are recorded.
 *    mm_map_pages refuses MAP_UPD with NULL (MM_ERR_INVALID); unmap should too. */
TEST(regress, unmap_upd_null_hits_kpd_mapping)
{
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)0xE3000000u, 0, 0));
    int r = MmUnmapChain(MAP_UPD, id, (void *)0xE3000000u, 0);
    bool still = (mm_lookup_pte(0xE3000000u, 0) & PTE_P) != 0;
    MmFreeChain(id);
    CHECK_EQ(r, MM_ERR_INVALID);
    CHECK(still);
    return 0;
}

/* 2. A refused mapping (MM_ERR_BUSY) still allocates page tables: pass 1 of mm_map_pages
 *    creates missing page tables page by page and only then meets the busy page. The header
 *    says every error leaves the tables unchanged. */
TEST(regress, busy_map_allocates_page_table)
{
    /* mm_allocate_chain, not MmAllocateChain: the latter runs the defragmentation policy
     * first, which may move (and rename) `a` while we hold its ID. */
    chain_id_t a = 0, b = 0;
    CHECK_OK(mm_allocate_chain(0, 1, OWNER_TEST, 0, &a));
    CHECK_OK(mm_allocate_chain(0, 2, OWNER_TEST, 0, &b));
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, a, (void *)0xE3400000u, 0, 0));  /* PT for 0xE3400000.. */
    uint32_t frames = pt_frames_used();
    /* 8 pages from 0xE33FF000: the first needs the (absent) PT of 0xE3000000.., the second is busy. */
    int r = MmMapChainToVirtualAddress(MAP_KPD, b, (void *)0xE33FF000u, 0, 0);
    uint32_t after = pt_frames_used();
    MmFreeChain(a);
    MmFreeChain(b);
    CHECK_EQ(r, MM_ERR_BUSY);
    CHECK_EQ(after, frames);
    return 0;
}

/* 3. MmDefragment can make fragmentation worse: it slides every movable block down into the
 *    lowest free block, so blocks sitting between frozen chains are moved into the largest
 *    free run, which shrinks, while the holes they leave stay cut up by the frozen chains.
 *    Layout built here (everything else allocated frozen):  [12 free] ... F m . F m . F m . ...
 *    Before: largest free run 12. After MmDefragment: 6. */
TEST(regress, defragment_shrinks_largest_free_run)
{
    /* Take every free block as a frozen one-block chain: nothing else can move or fill. */
    uint32_t n = 0;
    chain_id_t id;
    while (mm_allocate_chain(CHAIN_FROZEN, 1, OWNER_TEST, 0, &id) == MM_OK)
        n++;
    CHECK(n > 64);
    /* The pattern needs 12 + 6 * 3 consecutive blocks that are all ours. The lowest of our
     * blocks is not always the start of such a run: blocks freed by earlier tests (and the
     * next-fit rover wrapping round) leave single free blocks between the kernel's own
     * chains, so search the table for the first run of our one-block chains. */
    const uint32_t need = 12 + 6 * 3;
    uint32_t lo = 0, run = 0;
    for (uint32_t b = 1; b < mm_block_count && run < need; b++) {
        uint32_t e = mm_block_table[b];
        bool ours = ct_is_head(e) && ct_field(e) == CT_END && mm_owners[b].kind == OWNER_TEST;
        run = ours ? run + 1 : 0;
        if (run == 1)
            lo = b;
    }
    const char *err = 0;
    if (run < need)
        err = test_fail(__FILE__, __LINE__, "no %u consecutive blocks of ours among %u", need, n);
    if (!err) {
        for (uint32_t b = lo; b < lo + 12; b++)
            MmFreeChain(b);
        for (uint32_t k = 0; k < 6; k++) {
            uint32_t f = lo + 12 + k * 3;        /* F stays frozen */
            MmUnfreezeChain(f + 1);              /* m becomes movable */
            MmFreeChain(f + 2);                  /* . is a hole */
        }
        uint32_t before = mm_largest_free_run();
        MmDefragment();
        uint32_t after = mm_largest_free_run();
        if (before < 12)
            err = test_fail(__FILE__, __LINE__, "largest free run %u before MmDefragment, want >= 12", before);
        else if (after < before)
            err = test_fail(__FILE__, __LINE__, "largest free run %u before MmDefragment, %u after", before, after);
    }
    for (uint32_t b = 1; b < mm_block_count; b++)
        if (ct_is_head(mm_block_table[b]) && mm_owners[b].kind == OWNER_TEST)
            MmFreeChain(b);
    return err;
}

/* 4. MmChainPagePhysical(id, page, NULL) writes through NULL (a page fault in the kernel);
 *    MmChainFlags and MmContiguousPhysicalAddress answer MM_ERR_BAD_ID for a NULL out
 *    pointer where MmChainDirty answers MM_ERR_INVALID. Caller mistakes should return codes. */
TEST(regress, null_out_pointers)
{
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK(id);
    int f = MmChainFlags(id, 0);
    int c = MmContiguousPhysicalAddress(id, 0);
    int p = MmChainPagePhysical(id, 0, 0);
    int b = mm_chain_block(id, 0, 0);
    MmFreeChain(id);
    CHECK_EQ(f, MM_ERR_INVALID);
    CHECK_EQ(c, MM_ERR_INVALID);
    CHECK_EQ(p, MM_ERR_INVALID);
    CHECK_EQ(b, MM_ERR_INVALID);
    return 0;
}
