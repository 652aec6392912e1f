/* test_swap.c: swapping to the IDE disk (swap.h). Blocks out and back with every page
 * checked, page clean (a clean block is not written again), frozen and contiguous chains
 * never swapped, swap-in on a fault through the KPD and through a UPD, slots freed by free
 * and resize, the accessed-bit policy, and a stress that wants twice the free RAM.
 * Every boot of the test runner attaches a disk (guest/test/qemu-run.ts); the tests that
 * need one fail without it. swap.nodisk_nomem checks the other case (swapdisk=none). */
#include "console.h"
#include "heap.h"
#include "modes.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "swap.h"
#include "test.h"
#include "x86.h"

#define SWAP_VA    0xEF000000u   /* single test chains */
#define STRESS_VA  0xF0000000u   /* the stress's chains, one after another */
#define USER_VA    0x0E000000u

static uint32_t word_of(uint32_t tag, uint32_t page, uint32_t i)
{
    uint32_t x = tag * 0x9E3779B1u ^ page * 0x85EBCA77u ^ i * 0xC2B2AE3Du;
    return x ^ (x >> 15);
}

static void fill_page(uint32_t va, uint32_t tag, uint32_t page)
{
    uint32_t *w = (uint32_t *)va;
    for (uint32_t i = 0; i < 1024; i++)
        w[i] = word_of(tag, page, i);
    __asm__ volatile("" ::: "memory");   /* a fault may have changed the swap counters */
}

/* Number of words of the page at va that differ from the pattern. */
static uint32_t page_errors(uint32_t va, uint32_t tag, uint32_t page)
{
    const volatile uint32_t *w = (const volatile uint32_t *)va;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < 1024; i++)
        bad += w[i] != word_of(tag, page, i);
    __asm__ volatile("" ::: "memory");   /* a fault may have changed the swap counters */
    return bad;
}

/* The link of the index-th block of a chain (a block index or a swapped link). */
static uint32_t link_at(chain_id_t id, uint32_t index)
{
    uint32_t l = id;
    while (index-- && l != CT_END)
        l = mm_next_link(l);
    return l;
}

#define NEED_DISK() do { if (!swap_slot_count) return test_fail(__FILE__, __LINE__, "no swap disk (boot with -drive if=ide)"); } while (0)

/* Allocates like MmAllocateChain but without its defragmentation policy, which may rename a
 * movable chain whose ID a test holds (it depends on how many allocations earlier tests made,
 * so on the RAM size). Sets mm_last_error like MmAllocateChain. */
static chain_id_t alloc(uint32_t flags, uint32_t blocks)
{
    chain_id_t id = 0;
    mm_last_error = mm_allocate_chain(flags, blocks, OWNER_KERNEL, (uint32_t)__builtin_return_address(0), &id);
    return mm_last_error == MM_OK ? id : 0;
}

TEST(swap, out_and_back)
{
    NEED_DISK();
    uint32_t free0 = mm_free_blocks, used0 = swap_slots_used, ins0 = swap_ins, outs0 = swap_outs;
    chain_id_t id = alloc(CHAIN_SWAPPABLE, 8);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)SWAP_VA, 0, 0));
    for (uint32_t p = 0; p < 32; p++)
        fill_page(SWAP_VA + p * MM_PAGE_SIZE, 1, p);
    for (uint32_t i = 1; i < 8; i++)
        CHECK_OK(swap_out_block(id, i));
    CHECK_EQ(swap_out_block(id, 0), MM_ERR_RANGE);          /* the head stays */
    CHECK_EQ(swap_out_block(id, 3), MM_ERR_RANGE);          /* out already */
    CHECK_MM();
    CHECK_EQ(mm_free_blocks, free0 - 1);
    CHECK_EQ(swap_slots_used, used0 + 7);
    CHECK_EQ(swap_outs, outs0 + 7);
    CHECK_EQ(MmChainBlocks(id), 8);
    for (uint32_t i = 1; i < 8; i++) {
        uint32_t l = link_at(id, i);
        CHECK(ct_is_swapped_link(l));
        uint32_t s = ct_swap_slot(l);
        CHECK_EQ(swap_slots[s].state, SWAP_OUT);
        CHECK_EQ(swap_slots[s].chain, id);
        for (uint32_t p = 0; p < 4; p++)
            CHECK_EQ(mm_lookup_pte(SWAP_VA + (i * 4 + p) * MM_PAGE_SIZE, 0), pte_swapped(s, p));
    }
    /* Reading every page faults each block back in; the contents are the same. */
    for (uint32_t p = 0; p < 32; p++)
        CHECK_EQ(page_errors(SWAP_VA + p * MM_PAGE_SIZE, 1, p), 0);
    CHECK_EQ(swap_ins, ins0 + 7);
    CHECK_EQ(mm_free_blocks, free0 - 8);
    for (uint32_t i = 0; i < 8; i++)
        CHECK(!ct_is_swapped_link(link_at(id, i)));
    CHECK(mm_lookup_pte(SWAP_VA + 31 * MM_PAGE_SIZE, 0) & PTE_P);
    CHECK_MM();
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(swap_slots_used, used0);     /* the clean copies went with the chain */
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}

TEST(swap, page_clean)
{
    NEED_DISK();
    chain_id_t id = alloc(CHAIN_SWAPPABLE, 2);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)SWAP_VA, 0, 0));
    for (uint32_t p = 0; p < 8; p++)
        fill_page(SWAP_VA + p * MM_PAGE_SIZE, 2, p);
    uint32_t outs0 = swap_outs, clean0 = swap_clean_outs;
    CHECK_OK(swap_out_block(id, 1));
    CHECK_EQ(swap_outs, outs0 + 1);
    /* Read only: the block comes back clean and goes out again without a write. */
    for (uint32_t p = 4; p < 8; p++)
        CHECK_EQ(page_errors(SWAP_VA + p * MM_PAGE_SIZE, 2, p), 0);
    uint32_t s = swap_cached_slot(link_at(id, 1));
    CHECK(s);
    CHECK_EQ(swap_slots[s - 1].state, SWAP_CACHED);
    CHECK_OK(swap_out_block(id, 1));
    CHECK_EQ(swap_outs, outs0 + 1);
    CHECK_EQ(swap_clean_outs, clean0 + 1);
    CHECK_EQ(ct_swap_slot(link_at(id, 1)), s - 1);        /* the same slot again */
    /* Dirtied: written again, and the new contents come back. */
    *(volatile uint32_t *)(SWAP_VA + 5 * MM_PAGE_SIZE + 40) = 0xD1D1D1D1u;
    CHECK_OK(swap_out_block(id, 1));
    CHECK_EQ(swap_outs, outs0 + 2);
    CHECK_EQ(swap_clean_outs, clean0 + 1);
    CHECK_EQ(*(volatile uint32_t *)(SWAP_VA + 5 * MM_PAGE_SIZE + 40), 0xD1D1D1D1u);
    CHECK_EQ(page_errors(SWAP_VA + 5 * MM_PAGE_SIZE, 2, 5), 1);
    /* Cleaning the chain (MmCleanChain clears D) must not let a stale copy pass as clean. */
    *(volatile uint32_t *)(SWAP_VA + 6 * MM_PAGE_SIZE) = 0x600D;
    CHECK_OK(MmCleanChain(id));
    CHECK_OK(swap_out_block(id, 1));
    CHECK_EQ(swap_outs, outs0 + 3);
    CHECK_EQ(*(volatile uint32_t *)(SWAP_VA + 6 * MM_PAGE_SIZE), 0x600D);
    /* Handing out a physical address drops the clean copy too. */
    uint32_t phys;
    CHECK_OK(MmChainPagePhysical(id, 7, &phys));
    CHECK_EQ(swap_cached_slot(link_at(id, 1)), 0);
    CHECK_MM();
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(swap, frozen_and_contiguous_never)
{
    NEED_DISK();
    chain_id_t fz = alloc(CHAIN_SWAPPABLE | CHAIN_FROZEN, 3), ct;
    CHECK(fz);
    CHECK_OK(MmAllocateContiguous(3, 0, 0, CHAIN_SWAPPABLE, &ct));
    CHECK_EQ(swap_out_block(fz, 1), MM_ERR_FROZEN);
    CHECK_EQ(swap_out_block(ct, 1), MM_ERR_FROZEN);
    CHECK_EQ(swap_reclaimable(), 0);
    CHECK_EQ(swap_reclaim(4), 0);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK(!ct_is_swapped_link(link_at(fz, i)));
        CHECK_EQ(link_at(ct, i), ct + i);
    }
    /* Freezing a chain with blocks out brings them back first. */
    chain_id_t sw = alloc(CHAIN_SWAPPABLE, 4);
    CHECK(sw);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, sw, (void *)SWAP_VA, 0, 0));
    for (uint32_t p = 0; p < 16; p++)
        fill_page(SWAP_VA + p * MM_PAGE_SIZE, 3, p);
    CHECK_OK(swap_out_block(sw, 1));
    CHECK_OK(swap_out_block(sw, 3));
    CHECK(swap_chain_has_swapped(sw));
    CHECK_OK(MmFreezeChain(sw));
    CHECK(!swap_chain_has_swapped(sw));
    CHECK_EQ(swap_out_block(sw, 2), MM_ERR_FROZEN);
    CHECK_MM();
    for (uint32_t p = 0; p < 16; p++)
        CHECK_EQ(page_errors(SWAP_VA + p * MM_PAGE_SIZE, 3, p), 0);
    /* So does taking the swappable flag away. */
    CHECK_OK(MmUnfreezeChain(sw));
    CHECK_OK(swap_out_block(sw, 2));
    CHECK_OK(MmMarkSwappable(sw, false));
    CHECK(!swap_chain_has_swapped(sw));
    CHECK_EQ(swap_reclaimable(), 0);
    CHECK_OK(MmFreeChain(sw));
    CHECK_OK(MmFreeChain(fz));
    CHECK_OK(MmFreeChain(ct));
    return 0;
}

TEST(swap, fault_in_upd)
{
    NEED_DISK();
    chain_id_t id = alloc(CHAIN_SWAPPABLE | CHAIN_USER, 3);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)USER_VA, 0, current->upd));
    for (uint32_t p = 0; p < 12; p++)
        fill_page(USER_VA + p * MM_PAGE_SIZE, 4, p);
    CHECK_OK(swap_out_block(id, 2));
    uint32_t pte = mm_lookup_pte(USER_VA + 9 * MM_PAGE_SIZE, current->upd);
    CHECK(pte_is_swapped(pte));
    CHECK_EQ(pte_swap_page(pte), 1);
    CHECK_MM();
    uint32_t ins0 = swap_ins;
    CHECK_EQ(page_errors(USER_VA + 9 * MM_PAGE_SIZE, 4, 9), 0);   /* the fault brings it in */
    CHECK_EQ(swap_ins, ins0 + 1);
    pte = mm_lookup_pte(USER_VA + 9 * MM_PAGE_SIZE, current->upd);
    CHECK((pte & PTE_P) && (pte & PTE_U) && (pte & PTE_W));
    for (uint32_t p = 8; p < 12; p++)
        CHECK_EQ(page_errors(USER_VA + p * MM_PAGE_SIZE, 4, p), 0);
    /* A mapping made while a block is out gets swapped PTEs and faults in too. */
    CHECK_OK(swap_out_block(id, 1));
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD | MAP_READONLY, id, (void *)SWAP_VA, 4, 0));
    CHECK(pte_is_swapped(mm_lookup_pte(SWAP_VA, 0)));
    CHECK_MM();
    CHECK_EQ(page_errors(SWAP_VA + 3 * MM_PAGE_SIZE, 4, 7), 0);
    pte = mm_lookup_pte(SWAP_VA + 3 * MM_PAGE_SIZE, 0);
    CHECK((pte & PTE_P) && !(pte & PTE_W) && !(pte & PTE_U));
    CHECK_EQ(mm_lookup_pte(USER_VA + 7 * MM_PAGE_SIZE, current->upd) & PTE_ADDR, pte & PTE_ADDR);
    CHECK_MM();
    CHECK_OK(MmUnmapChain(MAP_KPD, id, (void *)SWAP_VA, 0));
    CHECK_OK(MmUnmapChain(MAP_UPD, id, (void *)USER_VA, current->upd));
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(swap, free_and_resize_free_slots)
{
    NEED_DISK();
    uint32_t used0 = swap_slots_used;
    chain_id_t id = alloc(CHAIN_SWAPPABLE, 6);
    CHECK(id);
    for (uint32_t i = 1; i < 6; i++)
        CHECK_OK(swap_out_block(id, i));
    CHECK_EQ(swap_slots_used, used0 + 5);
    uint32_t gone = ct_swap_slot(link_at(id, 4));
    CHECK_OK(MmResizeChain(id, 3));              /* blocks 3..5 (out) give their slots back */
    CHECK_EQ(swap_slots_used, used0 + 2);
    CHECK_EQ(swap_slots[gone].state, SWAP_FREE);
    CHECK_EQ(MmChainBlocks(id), 3);
    CHECK_MM();
    CHECK_OK(MmResizeChain(id, 5));              /* grows after a swapped last block */
    CHECK_EQ(MmChainBlocks(id), 5);
    CHECK(ct_is_swapped_link(link_at(id, 2)));
    CHECK(!ct_is_swapped_link(link_at(id, 3)));
    CHECK_MM();
    uint32_t b;
    CHECK_OK(mm_chain_block(id, 1, &b));         /* in again; no clean copy (phys handed out) */
    CHECK_EQ(swap_slots_used, used0 + 1);
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(swap_slots_used, used0);
    return 0;
}

TEST(swap, clock_second_chance)
{
    NEED_DISK();
    chain_id_t id = alloc(CHAIN_SWAPPABLE, 3);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)SWAP_VA, 0, 0));
    for (uint32_t p = 0; p < 12; p++)
        fill_page(SWAP_VA + p * MM_PAGE_SIZE, 5, p);
    CHECK_EQ(swap_reclaim(1), 1);   /* both accessed: a round clears A, the next takes one */
    uint32_t out1 = ct_is_swapped_link(link_at(id, 1)) ? 1 : 2;
    uint32_t kept = 3 - out1;
    CHECK(ct_is_swapped_link(link_at(id, out1)) && !ct_is_swapped_link(link_at(id, kept)));
    /* Touch the block that went out (it comes back accessed); the other one was not touched
     * since its A bit was cleared, so it is the next victim. */
    CHECK_EQ(page_errors(SWAP_VA + out1 * 4 * MM_PAGE_SIZE, 5, out1 * 4), 0);
    CHECK_EQ(swap_reclaim(1), 1);
    CHECK(ct_is_swapped_link(link_at(id, kept)));
    CHECK(!ct_is_swapped_link(link_at(id, out1)));
    CHECK_MM();
    CHECK_OK(MmFreeChain(id));
    return 0;
}

/* The allocator swaps under pressure; a request no swapping can meet changes nothing. */
TEST(swap, allocator_reclaims)
{
    NEED_DISK();
    uint32_t n = mm_free_blocks;
    chain_id_t sw = alloc(CHAIN_SWAPPABLE, n > 40 ? 32 : n / 2);
    CHECK(sw);
    uint32_t have = MmChainBlocks(sw);
    CHECK_EQ(alloc(CHAIN_FROZEN, mm_free_blocks + have), 0);   /* more than all */
    CHECK_EQ(mm_last_error, MM_ERR_NOMEM);
    CHECK(!swap_chain_has_swapped(sw));
    chain_id_t big = alloc(CHAIN_FROZEN, mm_free_blocks + have - 1);   /* all but the head */
    CHECK(big);
    for (uint32_t i = 1; i < have; i++)
        CHECK(ct_is_swapped_link(link_at(sw, i)));
    CHECK_MM();
    CHECK_OK(MmFreeChain(big));
    CHECK_OK(MmFreeChain(sw));
    return 0;
}

TEST(swap, nodisk_nomem)
{
    char buf[8];
    if (cmdline_get(kernel_cmdline, "swapdisk", buf, sizeof buf) && !strcmp(buf, "none")) {
        CHECK_EQ(swap_slot_count, 0);               /* booted without a disk: swapping off */
        CHECK(swap_slots == 0);
    } else {
        swap_suspended++;                           /* the same allocator path with a disk */
    }
    chain_id_t sw = alloc(CHAIN_SWAPPABLE, 4);
    CHECK(sw);
    CHECK_EQ(swap_reclaimable(), 0);
    CHECK_EQ(swap_out_block(sw, 1), swap_slot_count ? MM_OK : MM_ERR_NOMEM);
    if (swap_slot_count)
        CHECK_OK(swap_in_chain(sw));
    uint32_t free0 = mm_free_blocks;
    CHECK_EQ(alloc(0, mm_free_blocks + 1), 0);
    CHECK_EQ(mm_last_error, MM_ERR_NOMEM);
    CHECK_EQ(mm_free_blocks, free0);
    CHECK(!swap_chain_has_swapped(sw));
    CHECK_OK(MmFreeChain(sw));
    if (swap_slot_count)
        swap_suspended--;
    return 0;
}

/* ---- the stress ---- */

#define STRESS_FREE_BLOCKS 384u   /* 6 MiB stays free; twice that goes into swappable chains */
#define STRESS_MAX_CHAINS  256u

static uint32_t rng;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
}

static chain_id_t ids[STRESS_MAX_CHAINS], pin;
static uint32_t nids;

static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < nids; i++)
        if (ids[i] == old_id)
            ids[i] = new_id;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static const char *stress(void);

TEST(swap, stress_twice_ram)
{
    NEED_DISK();
    nids = 0;
    CHECK_OK(mm_add_relocation_listener(follow, 0));
    const char *err = stress();
    mm_remove_relocation_listener(follow, 0);
    for (uint32_t i = 0; i < nids; i++)
        MmFreeChain(ids[i]);
    if (pin)
        MmFreeChain(pin);
    pin = 0;
    return err;
}

static const char *stress(void)
{
    static uint32_t first_page[STRESS_MAX_CHAINS + 1];
    uint32_t outs0 = swap_outs, ins0 = swap_ins;
    rng = 0x5A17;
    /* Pin all free memory but STRESS_FREE_BLOCKS in a frozen chain, so the stress is the same
     * at every RAM size. */
    pin = 0;
    if (mm_free_blocks > STRESS_FREE_BLOCKS + 16) {
        pin = alloc(CHAIN_FROZEN, mm_free_blocks - STRESS_FREE_BLOCKS);
        CHECK(pin);
    }
    uint32_t want = 2 * mm_free_blocks, got = 0, n = 0;
    while (got < want && n < STRESS_MAX_CHAINS) {
        uint32_t blocks = 4 + rnd(5);
        if (blocks > want - got)
            blocks = want - got < 2 ? 2 : want - got;
        chain_id_t id = alloc(CHAIN_SWAPPABLE, blocks);
        if (!id)
            return test_fail(__FILE__, __LINE__, "chain %u of %u blocks refused (%d) with %u of %u allocated",
                             n, blocks, mm_last_error, got, want);
        ids[n] = id;
        nids = n + 1;
        first_page[n] = got * MM_PAGES_PER_BLOCK;
        if (MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(STRESS_VA + first_page[n] * MM_PAGE_SIZE), 0, 0) != MM_OK)
            return test_fail(__FILE__, __LINE__, "mapping chain %u failed", n);
        got += blocks;
        n++;
    }
    first_page[n] = got * MM_PAGES_PER_BLOCK;
    uint32_t pages = got * MM_PAGES_PER_BLOCK;
    /* Touch every page once, in random order (a random start and a stride coprime to it). */
    uint32_t stride = 1 + rnd(pages - 1);
    while (gcd(stride, pages) != 1)
        stride++;
    uint32_t start = rnd(pages);
    for (uint32_t k = 0; k < pages; k++) {
        uint32_t p = (start + k * stride) % pages;
        fill_page(STRESS_VA + p * MM_PAGE_SIZE, 6, p);
    }
    CHECK_MM();
    /* Read every page back, in another random order. */
    uint32_t bad = 0, bad_page = 0;
    start = rnd(pages);
    for (uint32_t k = 0; k < pages; k++) {
        uint32_t p = (start + k * (pages - stride)) % pages;
        uint32_t e = page_errors(STRESS_VA + p * MM_PAGE_SIZE, 6, p);
        if (e && !bad)
            bad_page = p;
        bad += e;
    }
    kprintf("swap stress: %u chains, %u blocks in %u free, %u swap-outs, %u swap-ins\n",
            n, got, want / 2, swap_outs - outs0, swap_ins - ins0);
    if (bad)
        return test_fail(__FILE__, __LINE__, "%u words wrong, first on page %u", bad, bad_page);
    CHECK(swap_outs - outs0 >= got / 2);
    CHECK(swap_ins - ins0 >= got / 4);
    CHECK_MM();
    for (uint32_t i = 0; i < n; i++)
        CHECK_OK(MmFreeChain(ids[i]));
    nids = 0;
    if (pin)
        CHECK_OK(MmFreeChain(pin));
    pin = 0;
    CHECK_EQ(swap_slots_used, 0);
    return 0;
}
