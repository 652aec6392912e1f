/* test_map.c: MmMapChainToVirtualAddress into the KPD and UPDs, its refusals, unmapping,
 * and the dirty bits, including the seed design's own example. */
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define KWIN 0xE0000000u

/* The seed's example maps an 8-block chain (32 pages) at mem_window, so the window is
 * sized to hold all 32 pages; it lives in the kernel image's .bss. */
__attribute__((aligned(4096))) uint32_t mem_window[1024 * 32];

TEST(map, seed_example)
{
    chain_id_t id = MmAllocateChain(0, 8);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, mem_window, 0, 0));
    mem_window[0] = 0xDEADBEEF;
    uint32_t phys, got = 0;
    CHECK_OK(MmChainPagePhysical(id, 0, &phys));
    mm_phys_read(phys, &got, 4);
    CHECK_EQ(got, 0xDEADBEEF);
    /* The last page of the window is the chain's last page. */
    mem_window[1024 * 31 + 5] = 0x5EED;
    CHECK_OK(MmChainPagePhysical(id, 31, &phys));
    mm_phys_read(phys + 20, &got, 4);
    CHECK_EQ(got, 0x5EED);
    CHECK_OK(MmUnmapChain(MAP_KPD, id, mem_window, 0));
    /* The kernel's own page is back under mem_window. */
    CHECK_EQ(mm_lookup_pte((uint32_t)mem_window, 0) & PTE_ADDR, V2P(mem_window));
    CHECK(mem_window[0] != 0xDEADBEEF);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, kpd_pages_and_offset)
{
    chain_id_t id = MmAllocateChain(0, 3);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 5, 0));
    for (uint32_t p = 0; p < 12 - 5; p++) {
        uint32_t phys;
        CHECK_OK(MmChainPagePhysical(id, p + 5, &phys));
        CHECK_EQ(mm_lookup_pte(KWIN + p * MM_PAGE_SIZE, 0) & PTE_ADDR, phys);
        *(volatile uint32_t *)(KWIN + p * MM_PAGE_SIZE) = 0xC0DE0000 + p;
        uint32_t got;
        mm_phys_read(phys, &got, 4);
        CHECK_EQ(got, 0xC0DE0000 + p);
    }
    CHECK_EQ(mm_lookup_pte(KWIN + 7 * MM_PAGE_SIZE, 0) & PTE_P, 0);   /* nothing past the end */
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & PTE_U, 0);                      /* kernel pages */
    CHECK_OK(MmUnmapChain(MAP_KPD, id, (void *)KWIN, 0));
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & PTE_P, 0);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, upd_of_current_process)
{
    chain_id_t id = MmAllocateChain(CHAIN_USER, 1);
    uint32_t va = 0x00400000;
    CHECK_OK(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)va, 0, current->upd));
    CHECK(current->upd[PDX(va)] & PTE_P);
    CHECK_EQ(kpd[PDX(va)], current->upd[PDX(va)]);     /* the live KPD slice follows */
    CHECK(mm_lookup_pte(va, current->upd) & PTE_U);
    *(volatile uint32_t *)va = 0xFEEDF00D;
    uint32_t phys, got;
    CHECK_OK(MmChainPagePhysical(id, 0, &phys));
    mm_phys_read(phys, &got, 4);
    CHECK_EQ(got, 0xFEEDF00D);
    CHECK_OK(MmUnmapChain(MAP_UPD, id, (void *)va, current->upd));
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, upd_of_another_space)
{
    static uint32_t other[UPD_ENTRIES];
    memset(other, 0, sizeof other);
    chain_id_t id = MmAllocateChain(CHAIN_USER, 1);
    uint32_t va = 0x00800000, before = kpd[PDX(va)];
    CHECK_OK(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)va, 2, other));
    CHECK(other[PDX(va)] & PTE_P);
    CHECK_EQ(kpd[PDX(va)], before);                   /* not the live space: KPD untouched */
    uint32_t phys;
    CHECK_OK(MmChainPagePhysical(id, 2, &phys));
    CHECK_EQ(mm_lookup_pte(va, other) & PTE_ADDR, phys);
    CHECK_OK(MmUnmapChain(MAP_UPD, id, (void *)va, other));
    mm_release_upd(other);
    CHECK_EQ(other[PDX(va)], 0);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, refusals)
{
    static uint32_t upd[UPD_ENTRIES];
    memset(upd, 0, sizeof upd);
    chain_id_t id = MmAllocateChain(0, 1);
    uint32_t maps = mm_mapping_count;
    /* user mappings at or above 256 MiB */
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)USER_SPACE_END, 0, upd), MM_ERR_RANGE);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)(USER_SPACE_END - MM_PAGE_SIZE), 0, upd), MM_ERR_RANGE);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)0, 0, upd), MM_ERR_RANGE);
    /* kernel mappings below 3 GiB or over the windows */
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)0x40000000, 0, 0), MM_ERR_RANGE);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)WINDOW_BASE, 0, 0), MM_ERR_RANGE);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(KWIN + 12), 0, 0), MM_ERR_ALIGN);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 4, 0), MM_ERR_RANGE);  /* past the end */
    CHECK_EQ(MmMapChainToVirtualAddress(0, id, (void *)KWIN, 0, 0), MM_ERR_INVALID);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD | MAP_UPD, id, (void *)KWIN, 0, upd), MM_ERR_INVALID);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)0x400000, 0, 0), MM_ERR_INVALID);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, id + 1, (void *)KWIN, 0, 0), MM_ERR_BAD_ID);
    CHECK_EQ(MmUnmapChain(MAP_KPD, id, (void *)KWIN, 0), MM_ERR_NOT_MAPPED);
    CHECK_EQ(mm_mapping_count, maps);
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & PTE_P, 0);
    /* a page that already maps another chain */
    chain_id_t other = MmAllocateChain(0, 1);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 0, 0));
    uint32_t pte = mm_lookup_pte(KWIN + MM_PAGE_SIZE, 0);
    CHECK_EQ(MmMapChainToVirtualAddress(MAP_KPD, other, (void *)(KWIN + MM_PAGE_SIZE), 0, 0), MM_ERR_BUSY);
    CHECK_EQ(mm_lookup_pte(KWIN + MM_PAGE_SIZE, 0), pte);
    CHECK_EQ(mm_mapping_count, maps + 1);
    CHECK_OK(MmFreeChain(other));
    CHECK_OK(MmFreeChain(id));                        /* frees its mapping too */
    CHECK_EQ(mm_mapping_count, maps);
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & PTE_P, 0);
    mm_release_upd(upd);
    return 0;
}

TEST(map, shrink_unmaps_tail)
{
    chain_id_t id = MmAllocateChain(0, 3);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 0, 0));
    CHECK_OK(MmResizeChain(id, 1));
    CHECK(mm_lookup_pte(KWIN + 3 * MM_PAGE_SIZE, 0) & PTE_P);
    CHECK_EQ(mm_lookup_pte(KWIN + 4 * MM_PAGE_SIZE, 0) & PTE_P, 0);
    CHECK_EQ(mm_lookup_pte(KWIN + 11 * MM_PAGE_SIZE, 0) & PTE_P, 0);
    CHECK_MM();
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, readonly)
{
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD | MAP_READONLY, id, (void *)KWIN, 0, 0));
    CHECK_EQ(mm_lookup_pte(KWIN, 0) & (PTE_P | PTE_W), PTE_P);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, dirty_and_clean)
{
    chain_id_t id = MmAllocateChain(0, 1);
    bool dirty = true;
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 0, 0));
    CHECK_OK(MmCleanChain(id));
    CHECK_OK(MmChainDirty(id, &dirty));
    CHECK(!dirty);
    volatile uint32_t *p = (volatile uint32_t *)(KWIN + 2 * MM_PAGE_SIZE);
    (void)p[0];                                         /* a read does not dirty */
    CHECK_OK(MmChainDirty(id, &dirty));
    CHECK(!dirty);
    p[0] = 1;
    CHECK_OK(MmChainDirty(id, &dirty));
    CHECK(dirty);
    CHECK(mm_lookup_pte(KWIN + 2 * MM_PAGE_SIZE, 0) & PTE_D);
    CHECK_EQ(mm_lookup_pte(KWIN + 1 * MM_PAGE_SIZE, 0) & PTE_D, 0);
    CHECK_OK(MmCleanChain(id));
    CHECK_OK(MmChainDirty(id, &dirty));
    CHECK(!dirty);
    CHECK_EQ(MmCleanChain(id + 1), MM_ERR_BAD_ID);
    CHECK_EQ(MmChainDirty(id + 1, &dirty), MM_ERR_BAD_ID);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(map, two_mappings_of_one_chain)
{
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)KWIN, 0, 0));
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(KWIN + 0x100000), 0, 0));
    *(volatile uint32_t *)KWIN = 0xABCD1234;
    CHECK_EQ(*(volatile uint32_t *)(KWIN + 0x100000), 0xABCD1234);
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(mm_lookup_pte(KWIN + 0x100000, 0) & PTE_P, 0);
    return 0;
}
