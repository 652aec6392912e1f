/* check.c: the invariant checker. Walks the whole block table and the mapping registry
 * and reports the first broken invariant. Tests run it after every operation. */
#include "mm.h"
#include "console.h"
#include "paging.h"
#include "string.h"
#include "swap.h"

#define MAX_BLOCKS (1u << 18)
static uint32_t seen[MAX_BLOCKS / 32];
static uint32_t slot_seen[(SWAP_MAX_SLOTS + 32) / 32];   /* OUT slots reached by a link, CACHED ones by their block */
static char why_buf[160];

static int fail(const char **why, const char *fmt, uint32_t a, uint32_t b)
{
    ksnprintf(why_buf, sizeof why_buf, fmt, a, b);
    if (why)
        *why = why_buf;
    return MM_ERR_INVALID;
}

static inline int bit_test_and_set(uint32_t *bits, uint32_t b)
{
    int was = (bits[b / 32] >> (b % 32)) & 1;
    bits[b / 32] |= 1u << (b % 32);
    return was;
}
static inline int test_and_set(uint32_t b) { return bit_test_and_set(seen, b); }

/* The swap invariants of one link met while walking chain h (flags e). */
static int check_swapped_link(uint32_t h, uint32_t e, uint32_t link, const char **why)
{
    uint32_t s = ct_swap_slot(link);
    if (s >= swap_slot_count)
        return fail(why, "chain %u links to swap slot %u, past the slot table", h, s);
    if (e & (CT_FROZEN | CT_CONTIG))
        return fail(why, "frozen or contiguous chain %u has a block swapped out (slot %u)", h, s);
    if (swap_slots[s].state != SWAP_OUT)
        return fail(why, "chain %u links to swap slot %u, which holds no swapped-out block", h, s);
    if (swap_slots[s].chain != h)
        return fail(why, "swap slot %u belongs to chain %u", s, swap_slots[s].chain);
    if (bit_test_and_set(slot_seen, s))
        return fail(why, "swap slot %u is reached by two links (chain %u)", s, h);
    return MM_OK;
}

/* The clean copy (if any) of resident block b of chain h. */
static int check_cached(uint32_t h, uint32_t b, const char **why)
{
    uint32_t c = swap_cached_slot(b);
    if (!c)
        return MM_OK;
    uint32_t s = c - 1;
    if (s >= swap_slot_count || swap_slots[s].state != SWAP_CACHED || swap_slots[s].block != b || swap_slots[s].chain != h)
        return fail(why, "block %u names swap slot %u, which is not its clean copy", b, s);
    bit_test_and_set(slot_seen, s);
    return MM_OK;
}

/* Every slot after the walk: the used count, no OUT or CACHED slot left unreached. */
static int check_slots(const char **why)
{
    uint32_t used = 0;
    for (uint32_t s = 0; s < swap_slot_count; s++) {
        uint32_t st = swap_slots[s].state;
        if (st == SWAP_FREE)
            continue;
        used++;
        if (st != SWAP_OUT && st != SWAP_CACHED)
            return fail(why, "swap slot %u has state %u", s, st);
        if (!((slot_seen[s / 32] >> (s % 32)) & 1))
            return fail(why, st == SWAP_OUT ? "swap slot %u (out) is reached by no link of chain %u"
                                            : "swap slot %u (clean copy) names no resident block of chain %u",
                        s, swap_slots[s].chain);
    }
    if (used != swap_slots_used)
        return fail(why, "swap_slots_used is %u but %u slots are in use", swap_slots_used, used);
    return MM_OK;
}

int mm_check(const char **why)
{
    uint32_t n = mm_block_count, free = 0;
    int r;
    memset(seen, 0, sizeof seen);
    memset(slot_seen, 0, sizeof slot_seen);
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
        if (field != CT_END && field >= n && !ct_is_swapped_link(field))
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
            if (++steps > n + swap_slot_count)
                return fail(why, "chain %u does not end (cycle)", h, 0);
            if (ct_is_swapped_link(b)) {
                if ((r = check_swapped_link(h, e, b, why)) != MM_OK)
                    return r;
                b = swap_slots[ct_swap_slot(b)].next;
                if (b != CT_END && b >= n && !ct_is_swapped_link(b))
                    return fail(why, "swap slot of chain %u links to %u, past the table", h, b);
                continue;
            }
            if (test_and_set(b))
                return fail(why, "block %u is reached twice (chain %u)", b, h);
            if (b != h && ct_is_head(mm_block_table[b]))
                return fail(why, "chain %u runs into the head of chain %u", h, b);
            if (ct_is_free(mm_block_table[b]) || ct_is_reserved(mm_block_table[b]))
                return fail(why, "chain %u links to free or reserved block %u", h, b);
            if ((r = check_cached(h, b, why)) != MM_OK)
                return r;
            uint32_t next = ct_field(mm_block_table[b]);
            if ((e & CT_CONTIG) && next != CT_END && next != b + 1)
                return fail(why, "contiguous chain %u is not contiguous at block %u", h, b);
            b = next;
        }
        if (mm_owners[h].seq == 0)
            return fail(why, "chain %u has no owner record", h, 0);
    }
    if ((r = check_slots(why)) != MM_OK)
        return r;
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
        uint32_t link = m->chain;
        for (uint32_t i = 0; i < m->page_offset / MM_PAGES_PER_BLOCK; i++)
            link = mm_next_link(link);
        for (uint32_t p = 0; p < m->pages; p++) {
            uint32_t pg = m->page_offset + p, va = m->va + p * MM_PAGE_SIZE;
            if (p && pg % MM_PAGES_PER_BLOCK == 0)
                link = mm_next_link(link);
            uint32_t pte = mm_lookup_pte(va, m->upd);
            if (ct_is_swapped_link(link)) {   /* a swapped-out page holds its slot */
                if (pte != pte_swapped(ct_swap_slot(link), pg % MM_PAGES_PER_BLOCK))
                    return fail(why, "page 0x%x of a swapped-out block does not hold its slot (pte 0x%x)", va, pte);
                continue;
            }
            uint32_t phys = (link << MM_BLOCK_SHIFT) + (pg % MM_PAGES_PER_BLOCK) * MM_PAGE_SIZE;
            if (!(pte & PTE_P) || (pte & PTE_ADDR) != phys)
                return fail(why, "page 0x%x does not map its chain page (pte 0x%x)", va, pte);
            if (!!(pte & PTE_U) != !!m->upd)
                return fail(why, "page 0x%x has the wrong user bit (pte 0x%x)", va, pte);
        }
    }
    return MM_OK;
}
