/* test_chain.c: allocating, freeing, resizing and querying chains, with every error path. */
#include "console.h"
#include "mm.h"
#include "string.h"
#include "test.h"

/* A checksum of the whole block table, to show that a refused call changed nothing. */
static uint32_t table_sum(void)
{
    uint32_t s = 0;
    for (uint32_t b = 0; b < mm_block_count; b++)
        s = s * 31u + mm_block_table[b];
    return s + mm_free_blocks;
}

TEST(chain, alloc_free)
{
    uint32_t free0 = mm_free_blocks;
    chain_id_t id = MmAllocateChain(0, 3);
    CHECK(id != 0);
    CHECK_EQ(mm_free_blocks, free0 - 3);
    CHECK_EQ(MmChainBlocks(id), 3);
    uint32_t e = mm_block_table[id];
    CHECK(ct_is_head(e));
    uint32_t b1 = ct_field(e), b2 = ct_field(mm_block_table[b1]);
    CHECK_EQ(mm_block_table[b1] & CT_FLAG_BITS, 0);        /* body entries carry no flags */
    CHECK_EQ(mm_block_table[b2], CT_END);                   /* last entry: END, no flags */
    CHECK_MM();
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(mm_block_table[id], CT_FREE);
    CHECK_EQ(mm_block_table[b1], CT_FREE);
    CHECK_EQ(mm_block_table[b2], CT_FREE);
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}

TEST(chain, flags_only_on_head)
{
    chain_id_t id = MmAllocateChain(CHAIN_USER | CHAIN_SWAPPABLE, 4);
    CHECK(id);
    uint32_t flags;
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK_EQ(flags, CHAIN_USER | CHAIN_SWAPPABLE);
    for (uint32_t b = ct_field(mm_block_table[id]); b != CT_END; b = ct_field(mm_block_table[b]))
        CHECK_EQ(mm_block_table[b] & CT_FLAG_BITS, 0);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(chain, invalid_ids)
{
    chain_id_t id = MmAllocateChain(0, 2);
    uint32_t body = ct_field(mm_block_table[id]);
    uint32_t sum = table_sum();
    CHECK_EQ(MmFreeChain(0), MM_ERR_BAD_ID);
    CHECK_EQ(MmFreeChain(mm_block_count + 5), MM_ERR_BAD_ID);
    CHECK_EQ(MmFreeChain(0x07FFFFFF), MM_ERR_BAD_ID);
    CHECK_EQ(MmFreeChain(body), MM_ERR_BAD_ID);             /* a body block is not an ID */
    CHECK_EQ(MmFreeChain(1), MM_ERR_BAD_ID);                /* reserved */
    CHECK_EQ(MmResizeChain(body, 5), MM_ERR_BAD_ID);
    CHECK_EQ(MmChainBlocks(body), 0);
    uint32_t flags;
    CHECK_EQ(MmChainFlags(body, &flags), MM_ERR_BAD_ID);
    CHECK_EQ(MmFreezeChain(body), MM_ERR_BAD_ID);
    CHECK_EQ(table_sum(), sum);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(chain, double_free_and_stale_id)
{
    chain_id_t id = MmAllocateChain(0, 2);
    CHECK_OK(MmFreeChain(id));
    uint32_t sum = table_sum();
    CHECK_EQ(MmFreeChain(id), MM_ERR_BAD_ID);
    CHECK_EQ(MmChainBlocks(id), 0);
    CHECK_EQ(MmResizeChain(id, 3), MM_ERR_BAD_ID);
    uint32_t phys;
    CHECK_EQ(MmChainPagePhysical(id, 0, &phys), MM_ERR_BAD_ID);
    CHECK_EQ(table_sum(), sum);
    return 0;
}

TEST(chain, bad_arguments)
{
    uint32_t sum = table_sum();
    CHECK_EQ(MmAllocateChain(0, 0), 0);
    CHECK_EQ(mm_last_error, MM_ERR_INVALID);
    CHECK_EQ(MmAllocateChain(CT_HEAD, 1), 0);                /* not a chain flag */
    CHECK_EQ(mm_last_error, MM_ERR_INVALID);
    CHECK_EQ(MmAllocateChain(0x00000100, 1), 0);
    CHECK_EQ(table_sum(), sum);
    return 0;
}

TEST(chain, out_of_memory)
{
    uint32_t sum = table_sum();
    CHECK_EQ(MmAllocateChain(0, mm_free_blocks + 1), 0);
    CHECK_EQ(mm_last_error, MM_ERR_NOMEM);
    chain_id_t c;
    CHECK_EQ(MmAllocateContiguous(mm_free_blocks + 1, 0, 0, 0, &c), MM_ERR_NOMEM);
    CHECK_EQ(table_sum(), sum);
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK_EQ(MmResizeChain(id, mm_free_blocks + 2), MM_ERR_NOMEM);
    CHECK_EQ(MmChainBlocks(id), 1);
    CHECK_OK(MmFreeChain(id));
    /* Everything that is free can be taken, and then nothing more. */
    chain_id_t all = MmAllocateChain(0, mm_free_blocks);
    CHECK(all);
    CHECK_EQ(mm_free_blocks, 0);
    CHECK_EQ(MmAllocateChain(0, 1), 0);
    CHECK_EQ(mm_last_error, MM_ERR_NOMEM);
    CHECK_OK(MmFreeChain(all));
    return 0;
}

TEST(chain, resize_grow_and_shrink)
{
    chain_id_t id = MmAllocateChain(0, 2);
    uint32_t phys0, phys1;
    CHECK_OK(MmChainPagePhysical(id, 0, &phys0));
    CHECK_OK(MmChainPagePhysical(id, 4, &phys1));
    uint32_t a = 0x11111111, b = 0x22222222, got;
    mm_phys_write(phys0, &a, 4);
    mm_phys_write(phys1, &b, 4);
    CHECK_OK(MmResizeChain(id, 6));
    CHECK_EQ(MmChainBlocks(id), 6);
    CHECK_MM();
    CHECK_OK(MmResizeChain(id, 1));
    CHECK_EQ(MmChainBlocks(id), 1);
    mm_phys_read(phys0, &got, 4);
    CHECK_EQ(got, a);                                      /* kept blocks keep their data */
    CHECK_EQ(mm_block_table[phys1 >> MM_BLOCK_SHIFT], CT_FREE);
    CHECK_EQ(MmResizeChain(id, 0), MM_ERR_INVALID);
    CHECK_OK(MmResizeChain(id, 1));                        /* same size: nothing to do */
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(chain, resize_contiguous_refused)
{
    chain_id_t id;
    CHECK_OK(MmAllocateContiguous(2, 0, 0, 0, &id));
    uint32_t sum = table_sum();
    CHECK_EQ(MmResizeChain(id, 3), MM_ERR_CONTIG);
    CHECK_EQ(MmResizeChain(id, 1), MM_ERR_CONTIG);
    CHECK_EQ(table_sum(), sum);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(chain, freeze_swappable)
{
    chain_id_t id = MmAllocateChain(0, 1);
    uint32_t flags;
    CHECK_OK(MmFreezeChain(id));
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK(flags & CHAIN_FROZEN);
    CHECK_OK(MmUnfreezeChain(id));
    CHECK_OK(MmMarkSwappable(id, true));
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK_EQ(flags, CHAIN_SWAPPABLE);
    CHECK_OK(MmMarkSwappable(id, false));
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK_EQ(flags, 0);
    CHECK_OK(MmFreeChain(id));
    chain_id_t c;
    CHECK_OK(MmAllocateContiguous(1, 0, 0, 0, &c));
    CHECK_EQ(MmUnfreezeChain(c), MM_ERR_CONTIG);           /* frozen is implied */
    CHECK_OK(MmFreeChain(c));
    return 0;
}

TEST(chain, contiguous_dma)
{
    chain_id_t id;
    CHECK_OK(MmAllocateContiguous(4, 16u << 20, 64 * 1024, 0, &id));
    uint32_t flags, phys;
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK_EQ(flags & (CHAIN_CONTIG | CHAIN_FROZEN), CHAIN_CONTIG | CHAIN_FROZEN);
    CHECK_OK(MmContiguousPhysicalAddress(id, &phys));
    CHECK_EQ(phys, id << MM_BLOCK_SHIFT);
    CHECK(phys + 4 * MM_BLOCK_SIZE <= 16u << 20);          /* under the ISA DMA ceiling */
    CHECK_EQ(phys % (64 * 1024), 0);
    for (uint32_t p = 0; p < 16; p++) {
        uint32_t pp;
        CHECK_OK(MmChainPagePhysical(id, p, &pp));
        CHECK_EQ(pp, phys + p * MM_PAGE_SIZE);
    }
    chain_id_t plain = MmAllocateChain(0, 1);
    CHECK_EQ(MmContiguousPhysicalAddress(plain, &phys), MM_ERR_CONTIG);
    CHECK_EQ(MmAllocateContiguous(1, 0, 3 * MM_BLOCK_SIZE, 0, &id), MM_ERR_INVALID); /* align not a power of 2 */
    CHECK_OK(MmFreeChain(plain));
    CHECK_OK(MmFreeChain(id));
    /* CHAIN_CONTIG through MmAllocateChain means the same thing. */
    chain_id_t c = MmAllocateChain(CHAIN_CONTIG, 3);
    CHECK(c);
    CHECK_OK(MmChainFlags(c, &flags));
    CHECK(flags & CHAIN_FROZEN);
    CHECK_OK(MmFreeChain(c));
    return 0;
}

TEST(chain, page_physical)
{
    chain_id_t id = MmAllocateChain(0, 2);
    uint32_t second = ct_field(mm_block_table[id]), phys;
    CHECK_OK(MmChainPagePhysical(id, 0, &phys));
    CHECK_EQ(phys, id << MM_BLOCK_SHIFT);
    CHECK_OK(MmChainPagePhysical(id, 3, &phys));
    CHECK_EQ(phys, (id << MM_BLOCK_SHIFT) + 3 * MM_PAGE_SIZE);
    CHECK_OK(MmChainPagePhysical(id, 6, &phys));
    CHECK_EQ(phys, (second << MM_BLOCK_SHIFT) + 2 * MM_PAGE_SIZE);
    CHECK_EQ(MmChainPagePhysical(id, 8, &phys), MM_ERR_RANGE);
    CHECK_OK(MmFreeChain(id));
    return 0;
}

TEST(chain, owner_records)
{
    uint32_t seq0 = mm_alloc_seq;
    chain_id_t a = MmAllocateChain(0, 1);
    chain_id_t b = MmAllocateChain(0, 2);
    CHECK_EQ(mm_owners[a].seq, seq0 + 1);
    CHECK_EQ(mm_owners[b].seq, seq0 + 2);
    CHECK_EQ(mm_owners[b].size_bytes, 2 * MM_BLOCK_SIZE);
    CHECK_EQ(mm_owners[a].kind, OWNER_KERNEL);
    /* The caller is an address inside this very function. */
    uint32_t fn = (uint32_t)test_chain_owner_records;
    CHECK(mm_owners[a].caller > fn && mm_owners[a].caller < fn + 0x400);
    mm_owner_set(b, OWNER_TEST, 7, 0, 0);
    CHECK_EQ(mm_owners[b].kind, OWNER_TEST);
    CHECK_EQ(mm_owners[b].handle, 7);
    CHECK_OK(MmFreeChain(a));
    CHECK_OK(MmFreeChain(b));
    CHECK_EQ(mm_owners[a].seq, 0);
    return 0;
}
