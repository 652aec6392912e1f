/* check.c: the invariant checker. Walks the whole block table and the mapping registry
 * and reports the first broken invariant. Tests run it after every operation. */
#include "mm.h"
#include "console.h"
#include "paging.h"
#include "string.h"

#define MAX_BLOCKS (1u << 18)
static uint32_t seen[MAX_BLOCKS / 32];
static char why_buf[160];

static int fail(const char **why, const char *fmt, uint32_t a, uint32_t b)
{
    ksnprintf(why_buf, sizeof why_buf, fmt, a, b);
    if (why)
        *why = why_buf;
    return MM_ERR_INVALID;
}

static inline int test_and_set(uint32_t b)
{
    int was = (seen[b / 32] >> (b % 32)) & 1;
    seen[b / 32] |= 1u << (b % 32);
    return was;
}

int mm_check(const char **why)
{
    uint32_t n = mm_block_count, free = 0;
    memset(seen, 0, sizeof seen);
    /* Pass 1: every entry is one of the four shapes. */
    for (uint32_t b = 0; b < n; b++) {
        uint32_t e = mm_block_table[b];
        if (ct_is_free(e)) {
            free++;
            continue;
        }
        if (ct_is_reserved(e))
            continue;
        uint32_t field = ct_field(e);
        if (field >= CT_RESERVED_BASE && field != CT_END)
            return fail(why, "block %u: entry 0x%x is not a valid shape", b, e);
        if (field != CT_END && field >= n)
            return fail(why, "block %u links to %u, past the table", b, field);
        if (!ct_is_head(e) && (e & CT_FLAG_BITS))
            return fail(why, "block %u: chain flags on a non-head entry 0x%x", b, e);
        if (ct_is_head(e) && b == 0)
            return fail(why, "block %u is a head but block 0 is never a chain (0x%x)", b, e);
    }
    if (free != mm_free_blocks)
        return fail(why, "free count is %u but %u blocks are free", mm_free_blocks, free);
    /* Pass 2: walk every chain from its head; each block is reached once. */
    for (uint32_t h = 1; h < n; h++) {
        uint32_t e = mm_block_table[h];
        if (!ct_is_head(e))
            continue;
        if ((e & CT_CONTIG) && !(e & CT_FROZEN))
            return fail(why, "contiguous chain %u is not frozen (0x%x)", h, e);
        uint32_t b = h, steps = 0;
        while (b != CT_END) {
            if (++steps > n)
                return fail(why, "chain %u does not end (cycle)", h, 0);
            if (test_and_set(b))
                return fail(why, "block %u is reached twice (chain %u)", b, h);
            if (b != h && ct_is_head(mm_block_table[b]))
                return fail(why, "chain %u runs into the head of chain %u", h, b);
            if (ct_is_free(mm_block_table[b]) || ct_is_reserved(mm_block_table[b]))
                return fail(why, "chain %u links to free or reserved block %u", h, b);
            uint32_t next = ct_field(mm_block_table[b]);
            if ((e & CT_CONTIG) && next != CT_END && next != b + 1)
                return fail(why, "contiguous chain %u is not contiguous at block %u", h, b);
            b = next;
        }
        if (mm_owners[h].seq == 0)
            return fail(why, "chain %u has no owner record", h, 0);
    }
    /* Pass 3: no body block outside every chain. */
    for (uint32_t b = 1; b < n; b++) {
        uint32_t e = mm_block_table[b];
        if (!ct_is_free(e) && !ct_is_reserved(e) && !test_and_set(b))
            return fail(why, "block %u (0x%x) belongs to no chain", b, e);
    }
    /* Pass 4: every registered mapping points at its chain's pages. */
    for (uint32_t i = 0; i < mm_mapping_count; i++) {
        struct mm_mapping *m = &mm_mappings[i];
        uint32_t total = MmChainBlocks(m->chain) * MM_PAGES_PER_BLOCK;
        if (!total)
            return fail(why, "mapping at 0x%x refers to dead chain %u", m->va, m->chain);
        if (m->page_offset + m->pages > total)
            return fail(why, "mapping at 0x%x runs past the end of chain %u", m->va, m->chain);
        if (m->upd && m->va + m->pages * MM_PAGE_SIZE > USER_SPACE_END)
            return fail(why, "user mapping at 0x%x reaches past 256 MiB (chain %u)", m->va, m->chain);
        for (uint32_t p = 0; p < m->pages; p++) {
            uint32_t phys, va = m->va + p * MM_PAGE_SIZE;
            MmChainPagePhysical(m->chain, m->page_offset + p, &phys);
            uint32_t pte = mm_lookup_pte(va, m->upd);
            if (!(pte & PTE_P) || (pte & PTE_ADDR) != phys)
                return fail(why, "page 0x%x does not map its chain page (pte 0x%x)", va, pte);
            if (!!(pte & PTE_U) != !!m->upd)
                return fail(why, "page 0x%x has the wrong user bit (pte 0x%x)", va, pte);
        }
    }
    return MM_OK;
}
