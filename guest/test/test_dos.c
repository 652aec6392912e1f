/* test_dos.c: the DOS memory allocator (MCB chain in the conventional-memory arena) and
 * ISA DMA buffers: every operation and every error path, checked against the MCBs. */
#include "dos.h"
#include "mm.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define OWNER 0x42u

static struct mcb *mcb_of(uint16_t seg)
{
    return (struct mcb *)P2V(((uint32_t)seg - 1) << 4);
}

/* Number of MCBs in the chain (the chain must be sound). */
static uint32_t mcb_count(void)
{
    uint32_t n = 0;
    for (uint32_t m = dos_first_mcb;; m += 1 + ((struct mcb *)P2V(m << 4))->size) {
        n++;
        if (((struct mcb *)P2V(m << 4))->type == 'Z')
            return n;
    }
}

TEST(dos, arena_sound_and_reserved)
{
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    CHECK_EQ(dos_first_mcb, DOS_ARENA_START_SEG);
    for (uint32_t b = DOS_ARENA_START_SEG >> 10; b < DOS_ARENA_END_SEG >> 10; b++)
        CHECK_EQ(mm_block_table[b], CT_RESERVED_BASE + CT_RSV_DOS);
    return 0;
}

TEST(dos, alloc_free)
{
    uint32_t free0, largest0, free1, largest1;
    dos_stats(&free0, &largest0);
    uint16_t seg = 0;
    CHECK_OK(dos_alloc(100, OWNER, &seg, 0));
    CHECK(seg > DOS_ARENA_START_SEG && seg < DOS_ARENA_END_SEG);
    struct mcb *m = mcb_of(seg);
    CHECK_EQ(m->owner, OWNER);
    CHECK_EQ(m->size, 100);
    CHECK(m->type == 'M' || m->type == 'Z');
    /* The block is usable memory: fill all of it and the chain stays sound. */
    memset(P2V((uint32_t)seg << 4), 0xA5, 100 * 16);
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    dos_stats(&free1, &largest1);
    CHECK_EQ(free1, free0 - 101);             /* 100 paragraphs and one for the new MCB */
    CHECK_OK(dos_free(seg));
    dos_stats(&free1, &largest1);
    CHECK_EQ(free1, free0);
    CHECK_EQ(largest1, largest0);
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

TEST(dos, alloc_owner_zero_is_system)
{
    uint16_t seg = 0;
    CHECK_OK(dos_alloc(1, 0, &seg, 0));
    CHECK_EQ(mcb_of(seg)->owner, DOS_OWNER_SYSTEM);
    CHECK_OK(dos_free(seg));
    return 0;
}

TEST(dos, alloc_zero_paragraphs)
{
    uint16_t a = 0, b = 0;
    CHECK_OK(dos_alloc(0, OWNER, &a, 0));
    CHECK_EQ(mcb_of(a)->size, 0);
    CHECK_OK(dos_alloc(1, OWNER, &b, 0));
    CHECK_EQ(b, a + 1);                       /* the next MCB follows at once */
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_free(b));
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

TEST(dos, first_fit_reuses_hole)
{
    uint16_t a, b, c, d;
    CHECK_OK(dos_alloc(20, OWNER, &a, 0));
    CHECK_OK(dos_alloc(20, OWNER, &b, 0));
    CHECK_OK(dos_alloc(20, OWNER, &c, 0));
    CHECK_EQ(b, a + 21);
    CHECK_EQ(c, b + 21);
    CHECK_OK(dos_free(b));
    CHECK_EQ(mcb_of(b)->owner, 0);
    CHECK_OK(dos_alloc(20, OWNER, &d, 0));
    CHECK_EQ(d, b);                           /* the hole is the first fit */
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_free(c));
    CHECK_OK(dos_free(d));
    return 0;
}

TEST(dos, split_leaves_free_rest)
{
    uint16_t a, b, c, d;
    CHECK_OK(dos_alloc(50, OWNER, &a, 0));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_alloc(20, OWNER, &c, 0));    /* cut from the 50-paragraph hole */
    CHECK_EQ(c, a);
    struct mcb *rest = (struct mcb *)P2V((uint32_t)(c + 20) << 4);
    CHECK_EQ(rest->type, 'M');
    CHECK_EQ(rest->owner, 0);
    CHECK_EQ(rest->size, 50 - 20 - 1);
    CHECK_OK(dos_alloc(29, OWNER, &d, 0));    /* exactly the rest: no split */
    CHECK_EQ(d, c + 21);
    CHECK_EQ(mcb_of(d)->size, 29);
    CHECK_OK(dos_free(b));
    CHECK_OK(dos_free(c));
    CHECK_OK(dos_free(d));
    return 0;
}

TEST(dos, free_coalesces_neighbours)
{
    uint32_t n0 = mcb_count(), free0, free1, largest0, largest1;
    dos_stats(&free0, &largest0);
    uint16_t a, b, c, guard;
    CHECK_OK(dos_alloc(30, OWNER, &a, 0));
    CHECK_OK(dos_alloc(30, OWNER, &b, 0));
    CHECK_OK(dos_alloc(30, OWNER, &c, 0));
    CHECK_OK(dos_alloc(1, OWNER, &guard, 0));
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_free(c));
    CHECK_OK(dos_free(b));                    /* merges with both neighbours */
    CHECK_EQ(mcb_of(a)->owner, 0);
    CHECK_EQ(mcb_of(a)->size, 30 * 3 + 2);
    CHECK_EQ(mcb_of(a)->type, 'M');
    CHECK_OK(dos_free(guard));                /* and now with the free rest of the arena */
    CHECK_EQ(mcb_count(), n0);
    dos_stats(&free1, &largest1);
    CHECK_EQ(free1, free0);
    CHECK_EQ(largest1, largest0);
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

TEST(dos, resize_shrink_and_grow_in_place)
{
    uint16_t a, largest = 0;
    CHECK_OK(dos_alloc(100, OWNER, &a, 0));
    uint8_t *p = P2V((uint32_t)a << 4);
    for (uint32_t i = 0; i < 50 * 16; i++)
        p[i] = (uint8_t)(i * 13);
    CHECK_OK(dos_resize(a, 50, &largest));
    CHECK_EQ(mcb_of(a)->size, 50);
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);        /* the cut-off rest merged with what follows */
    CHECK_OK(dos_resize(a, 300, &largest));
    CHECK_EQ(mcb_of(a)->size, 300);
    for (uint32_t i = 0; i < 50 * 16; i++)
        CHECK_EQ(p[i], (uint8_t)(i * 13));
    CHECK_OK(dos_resize(a, 300, &largest));   /* same size: nothing to do */
    CHECK_EQ(mcb_of(a)->size, 300);
    CHECK_EQ(dos_check(&why), DOS_OK);
    CHECK_OK(dos_free(a));
    return 0;
}

TEST(dos, resize_blocked_reports_largest)
{
    uint16_t a, b, c, largest = 0;
    CHECK_OK(dos_alloc(40, OWNER, &a, 0));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    CHECK_EQ(dos_resize(a, 41, &largest), 8); /* b sits right after a */
    CHECK_EQ(largest, 40);
    CHECK_EQ(mcb_of(a)->size, 40);
    CHECK_EQ(mcb_of(b)->owner, OWNER);
    CHECK_EQ(b, a + 41);
    /* Make a free block of 10 + 1 + 20 paragraphs between a and a guard: a can then grow
     * to 40 + 32 paragraphs (the free block's MCB included) but not one more. */
    CHECK_OK(dos_free(b));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    CHECK_OK(dos_alloc(20, OWNER, &c, 0));
    uint16_t guard;
    CHECK_OK(dos_alloc(1, OWNER, &guard, 0));
    CHECK_OK(dos_free(b));
    CHECK_OK(dos_free(c));                    /* a, free(10+1+20), guard */
    CHECK_EQ(dos_resize(a, 40 + 32 + 1, &largest), 8);
    CHECK_EQ(largest, 40 + 32);
    CHECK_EQ(mcb_of(a)->size, 40);
    CHECK_OK(dos_resize(a, 40 + 32, &largest));
    CHECK_EQ(mcb_of(a)->size, 72);
    CHECK_EQ(a + 72 + 1, guard);              /* no free block left between them */
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_free(guard));
    return 0;
}

TEST(dos, alloc_too_big_reports_largest)
{
    uint32_t free0, largest0;
    dos_stats(&free0, &largest0);
    uint16_t seg = 0x1234, largest = 0;
    CHECK_EQ(dos_alloc(0xFFFF, OWNER, &seg, &largest), 8);
    CHECK_EQ(seg, 0x1234);
    CHECK_EQ(largest, largest0);
    CHECK(largest > 0);
    /* The largest block is exactly allocatable, one more paragraph is not. */
    CHECK_EQ(dos_alloc((uint16_t)(largest0 + 1), OWNER, &seg, &largest), 8);
    CHECK_OK(dos_alloc((uint16_t)largest0, OWNER, &seg, &largest));
    CHECK_OK(dos_free(seg));
    uint32_t free1, largest1;
    dos_stats(&free1, &largest1);
    CHECK_EQ(free1, free0);
    return 0;
}

TEST(dos, invalid_segment)
{
    uint16_t a, largest;
    CHECK_OK(dos_alloc(10, OWNER, &a, 0));
    CHECK_EQ(dos_free(0), 9);
    CHECK_EQ(dos_free(0x0800), 9);            /* below the arena */
    CHECK_EQ(dos_free(0xA000), 9);            /* above it */
    CHECK_EQ(dos_free((uint16_t)(a + 1)), 9); /* inside a block */
    CHECK_EQ(dos_free((uint16_t)(a - 1)), 9); /* the MCB's own segment */
    CHECK_EQ(dos_resize((uint16_t)(a + 1), 5, &largest), 9);
    CHECK_EQ(mcb_of(a)->owner, OWNER);
    CHECK_OK(dos_free(a));
    CHECK_EQ(dos_resize(a, 5, &largest), 9);  /* a free block cannot be resized */
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

TEST(dos, double_free)
{
    uint16_t a, b;
    CHECK_OK(dos_alloc(10, OWNER, &a, 0));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    CHECK_OK(dos_free(a));
    CHECK_EQ(dos_free(a), 9);
    CHECK_OK(dos_free(b));
    CHECK_EQ(dos_free(b), 9);
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

TEST(dos, corrupt_mcb_detected)
{
    uint16_t a, b, seg, largest;
    CHECK_OK(dos_alloc(10, OWNER, &a, 0));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    struct mcb *m = mcb_of(a), saved = *m;
    const char *why = 0;

    m->type = 'X';
    CHECK_EQ(dos_check(&why), 7);
    CHECK(why != 0);
    CHECK_EQ(dos_alloc(1, OWNER, &seg, &largest), 7);
    CHECK_EQ(dos_free(b), 7);
    CHECK_EQ(dos_resize(b, 5, &largest), 7);
    *m = saved;

    m->size = 0xF000;                         /* runs past the end of the arena */
    why = 0;
    CHECK_EQ(dos_check(&why), 7);
    CHECK(why != 0);
    CHECK_EQ(dos_free(a), 7);
    *m = saved;

    struct mcb *z = mcb_of(b), zsaved = *z;
    z->owner = 0;                             /* b "free" next to ... */
    m->owner = 0;                             /* ... a "free": two free neighbours */
    why = 0;
    CHECK_EQ(dos_check(&why), 7);
    *m = saved;
    *z = zsaved;

    why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    CHECK_EQ(mcb_of(b)->owner, OWNER);        /* the failed calls changed nothing */
    CHECK_OK(dos_free(a));
    CHECK_OK(dos_free(b));
    return 0;
}

TEST(dos, release_owner)
{
    uint16_t a, b, c, d;
    CHECK_OK(dos_alloc(10, 0x77, &a, 0));
    CHECK_OK(dos_alloc(10, OWNER, &b, 0));
    CHECK_OK(dos_alloc(10, 0x77, &c, 0));
    CHECK_OK(dos_alloc(10, 0x77, &d, 0));
    CHECK_EQ(dos_release_owner(0x77), 3);
    CHECK_EQ(mcb_of(a)->owner, 0);
    CHECK_EQ(mcb_of(b)->owner, OWNER);
    CHECK_EQ(dos_release_owner(0x77), 0);
    CHECK_OK(dos_free(b));
    const char *why = 0;
    CHECK_EQ(dos_check(&why), DOS_OK);
    return 0;
}

/* ---- ISA DMA buffers ---- */

#define DMA_VA 0xE3800000u   /* where these tests map a buffer's chain (MAP_KPD) */

static uint32_t dma_word(uint32_t seed, uint32_t i)
{
    return (seed * 0x9E3779B1u) ^ (i * 0x85EBCA77u) ^ 0xD3A5u;
}

/* Checks that the `bytes` bytes at physical `phys` are chain `id`'s memory by two paths that
 * share nothing but the RAM: a pattern written physically (mm_phys_write at the address
 * dma_alloc_buffer returned) is read back through a KPD mapping of the chain (whose PTEs
 * come from the chain's links), then a second pattern goes the other way. Also that every
 * 4 KiB page of the chain sits at phys + 4 KiB * page (MmChainPagePhysical walks the links). */
static const char *check_dma_memory(chain_id_t id, uint32_t phys, uint32_t bytes, uint32_t seed)
{
    uint32_t pages = MmChainBlocks(id) * MM_PAGES_PER_BLOCK;
    for (uint32_t p = 0; p < pages; p++) {
        uint32_t pp = 0;
        CHECK_OK(MmChainPagePhysical(id, p, &pp));
        CHECK_EQ(pp, phys + p * MM_PAGE_SIZE);
    }
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)DMA_VA, 0, 0));
    volatile uint8_t *va = (volatile uint8_t *)DMA_VA;
    const char *err = 0;
    uint32_t words = bytes / 4, tail = bytes % 4;
    for (uint32_t i = 0; i < words; i++) {
        uint32_t w = dma_word(seed, i);
        mm_phys_write(phys + 4 * i, &w, 4);
    }
    for (uint32_t i = 0; i < tail; i++) {
        uint8_t b = (uint8_t)dma_word(seed, words + i);
        mm_phys_write(phys + 4 * words + i, &b, 1);
    }
    for (uint32_t i = 0; i < words && !err; i++)
        if (((volatile uint32_t *)va)[i] != dma_word(seed, i))
            err = test_fail(__FILE__, __LINE__, "word %u written at phys 0x%x reads 0x%x through the mapping",
                            i, phys + 4 * i, ((volatile uint32_t *)va)[i]);
    for (uint32_t i = 0; i < tail && !err; i++)
        if (va[4 * words + i] != (uint8_t)dma_word(seed, words + i))
            err = test_fail(__FILE__, __LINE__, "tail byte %u differs through the mapping", i);
    /* The other way: write through the mapping, read physically (first, last, a middle word). */
    if (!err) {
        uint32_t at[3] = {0, bytes / 2 & ~3u, bytes >= 4 ? bytes - 4 : 0};
        for (uint32_t k = 0; k < 3 && !err; k++) {
            uint32_t want = ~dma_word(seed, at[k]), got = 0, n = bytes >= 4 ? 4 : bytes;
            for (uint32_t j = 0; j < n; j++)
                va[at[k] + j] = (uint8_t)(want >> (8 * j));
            mm_phys_read(phys + at[k], &got, n);
            uint32_t mask = n == 4 ? 0xFFFFFFFFu : (1u << (8 * n)) - 1;
            if ((got & mask) != (want & mask))
                err = test_fail(__FILE__, __LINE__, "offset %u written through the mapping reads 0x%x at phys", at[k], got);
        }
    }
    int r = MmUnmapChain(MAP_KPD, id, (void *)DMA_VA, 0);
    if (!err && r != MM_OK)
        err = test_fail(__FILE__, __LINE__, "MmUnmapChain returned %d", r);
    return err;
}

TEST(dma, buffer_sizes)
{
    static const uint32_t sizes[] = {1, 2, 4096, 16384, 16385, 32768, 32769, 40000, 49152, 65535, 65536};
    for (uint32_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint32_t n = sizes[i], phys = 0, p2 = 0, flags = 0;
        chain_id_t id = 0;
        CHECK_OK(dma_alloc_buffer(n, &id, &phys));
        CHECK(phys + n <= 0x1000000u);                    /* below 16 MiB */
        CHECK_EQ(phys >> 16, (phys + n - 1) >> 16);       /* within one 64 KiB page */
        CHECK_OK(MmContiguousPhysicalAddress(id, &p2));
        CHECK_EQ(p2, phys);
        CHECK_OK(MmChainFlags(id, &flags));
        CHECK_EQ(flags & (CHAIN_CONTIG | CHAIN_FROZEN), CHAIN_CONTIG | CHAIN_FROZEN);
        CHECK_EQ(MmChainBlocks(id), (n + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE);
        CHECK_EQ(mm_owners[id].kind, OWNER_DMA);
        CHECK_EQ(mm_owners[id].size_bytes, n);
        CHECK(mm_owners[id].caller != 0);
        /* The buffer really is the chain's memory: physical writes seen through a mapping. */
        const char *err = check_dma_memory(id, phys, n, 0x5A00u + i);
        CHECK_OK(MmFreeChain(id));
        if (err)
            return err;
    }
    return 0;
}

TEST(dma, many_buffers_disjoint)
{
    chain_id_t ids[8];
    uint32_t phys[8], size[8];
    for (uint32_t i = 0; i < 8; i++) {
        size[i] = i & 1 ? 0x10000u : 0x6000u;
        CHECK_OK(dma_alloc_buffer(size[i], &ids[i], &phys[i]));
        CHECK_EQ(phys[i] >> 16, (phys[i] + size[i] - 1) >> 16);
        CHECK(phys[i] + size[i] <= 0x1000000u);
        /* Disjoint ranges, not only different starts: [phys, phys + size) of the buffers,
         * and the blocks their chains hold, never overlap. */
        uint32_t lo_i = ids[i] << MM_BLOCK_SHIFT, hi_i = lo_i + MmChainBlocks(ids[i]) * MM_BLOCK_SIZE;
        CHECK(phys[i] >= lo_i && phys[i] + size[i] <= hi_i);
        for (uint32_t j = 0; j < i; j++) {
            CHECK(phys[i] + size[i] <= phys[j] || phys[j] + size[j] <= phys[i]);
            uint32_t lo_j = ids[j] << MM_BLOCK_SHIFT, hi_j = lo_j + MmChainBlocks(ids[j]) * MM_BLOCK_SIZE;
            CHECK(hi_i <= lo_j || hi_j <= lo_i);
        }
    }
    CHECK_MM();
    /* Each buffer gets its own pattern over all its bytes; an overlap would spoil one. */
    for (uint32_t i = 0; i < 8; i++)
        for (uint32_t k = 0; k < size[i] / 4; k++) {
            uint32_t w = dma_word(i, k);
            mm_phys_write(phys[i] + 4 * k, &w, 4);
        }
    const char *err = 0;
    for (uint32_t i = 0; i < 8 && !err; i++)
        for (uint32_t k = 0; k < size[i] / 4 && !err; k++) {
            uint32_t w = 0;
            mm_phys_read(phys[i] + 4 * k, &w, 4);
            if (w != dma_word(i, k))
                err = test_fail(__FILE__, __LINE__, "buffer %u word %u: 0x%x, want 0x%x", i, k, w, dma_word(i, k));
        }
    for (uint32_t i = 0; i < 8; i++)
        CHECK_OK(MmFreeChain(ids[i]));
    return err;
}

TEST(dma, invalid_sizes)
{
    chain_id_t id = 0x77;
    uint32_t phys = 0x88, free0 = mm_free_blocks;
    CHECK_EQ(dma_alloc_buffer(0, &id, &phys), MM_ERR_INVALID);
    CHECK_EQ(dma_alloc_buffer(0x10001u, &id, &phys), MM_ERR_INVALID);
    CHECK_EQ(dma_alloc_buffer(4096, 0, &phys), MM_ERR_INVALID);
    CHECK_EQ(dma_alloc_buffer(4096, &id, 0), MM_ERR_INVALID);
    CHECK_EQ(id, 0x77);
    CHECK_EQ(phys, 0x88);
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}
