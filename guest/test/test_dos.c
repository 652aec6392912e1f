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
        /* The buffer really is there: write its last byte physically and read it back. */
        uint8_t v = (uint8_t)(0x5A ^ i), got = 0;
        mm_phys_write(phys + n - 1, &v, 1);
        mm_phys_read(phys + n - 1, &got, 1);
        CHECK_EQ(got, v);
        CHECK_OK(MmFreeChain(id));
    }
    return 0;
}

TEST(dma, many_buffers_disjoint)
{
    chain_id_t ids[8];
    uint32_t phys[8];
    for (uint32_t i = 0; i < 8; i++) {
        CHECK_OK(dma_alloc_buffer(i & 1 ? 0x10000u : 0x6000u, &ids[i], &phys[i]));
        CHECK_EQ(phys[i] >> 16, (phys[i] + (i & 1 ? 0x10000u : 0x6000u) - 1) >> 16);
        CHECK(phys[i] < 0x1000000u);
        for (uint32_t j = 0; j < i; j++)
            CHECK(phys[i] != phys[j]);
    }
    CHECK_MM();
    for (uint32_t i = 0; i < 8; i++)
        CHECK_OK(MmFreeChain(ids[i]));
    return 0;
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
