/* defrag.c: block reshuffling. Moves the blocks of movable chains (neither frozen nor
 * contiguous) to coalesce free space, rewriting links, mappings and owner records so that
 * virtual addresses and contents stay the same. When a chain's head moves its ID changes;
 * the relocation listeners (mm.h) rewrite every holder of the old ID. */
#include "mm.h"
#include "mm_event.h"
#include "event_ring.h"
#include "console.h"
#include "heap.h"
#include "paging.h"
#include "string.h"
#include "swap.h"
#include "timer.h"
#include "x86.h"

uint32_t mm_defrag_runs;
uint32_t mm_defrag_moved;

/* Allocation-size statistics for the policy (see mm_defrag_policy_note). */
#define POLICY_INTERVAL 64u        /* look at fragmentation every 64 allocations */
#define POLICY_FRAG_PERCENT 50u    /* defragment above this fragmentation ... */
#define POLICY_SPREAD 8u           /* ... when the largest request is 8x the smallest */
static uint32_t since_check, min_req = 0xFFFFFFFFu, max_req;

static bool movable_head(uint32_t e)
{
    return ct_is_head(e) && !(e & (CT_FROZEN | CT_CONTIG));
}

/* A chain whose blocks may move: a movable head, and no block swapped out (the walks below
 * follow block links only; such a chain waits until its blocks are back). */
static bool movable_chain(uint32_t h)
{
    return movable_head(mm_block_table[h]) && !swap_chain_has_swapped(h);
}

/* Moves block `src` (the `index`-th of chain *id, after `prev`, 0 if it is the head) to the
 * free block `dst`. Updates *id when the head moves. */
static void move_block(chain_id_t *id, uint32_t prev, uint32_t src, uint32_t index, uint32_t dst)
{
    mm_ring_event(MM_EV_MOVED, *id, src, 0, dst, MM_OK, (uint32_t)__builtin_return_address(0), index);
    mm_copy_block(dst, src);
    mm_block_table[dst] = mm_block_table[src];
    mm_block_table[src] = CT_FREE;
    swap_block_moved(src, dst);
    if (prev) {
        mm_block_table[prev] = (mm_block_table[prev] & CT_FLAG_BITS) | dst;
    } else {
        mm_owners[dst] = mm_owners[src];
        mm_owners[src] = (struct mm_owner){0, 0, 0, OWNER_NONE, 0};
        mm_rename_mappings(src, dst);
        swap_chain_renamed(src, dst);
        mm_notify_relocation(src, dst);
        mm_ring_event(MM_EV_RENAMED, src, 0, 0, dst, MM_OK, (uint32_t)__builtin_return_address(0), 0);
        *id = dst;
    }
    for (uint32_t p = 0; p < MM_PAGES_PER_BLOCK; p++)
        mm_remap_page(*id, index * MM_PAGES_PER_BLOCK + p, (dst << MM_BLOCK_SHIFT) + p * MM_PAGE_SIZE);
    mm_defrag_moved++;
}

int mm_move_block(uint32_t src, uint32_t dst)
{
    uint32_t f = irq_save();
    int r = MM_ERR_INVALID;
    if (src == 0 || dst == 0 || src >= mm_block_count || dst >= mm_block_count || !ct_is_free(mm_block_table[dst]))
        goto out;
    r = MM_ERR_BAD_ID;
    for (uint32_t h = 1; h < mm_block_count && r == MM_ERR_BAD_ID; h++) {
        if (!ct_is_head(mm_block_table[h]))
            continue;
        uint32_t prev = 0, b = h, i = 0;
        for (; b != CT_END && i <= mm_block_count; prev = b, b = ct_field(mm_block_table[b]), i++) {
            if (b != src)
                continue;
            if (!movable_chain(h)) {
                r = MM_ERR_FROZEN;
            } else {
                chain_id_t id = h;
                move_block(&id, prev, src, i, dst);
                r = MM_OK;
            }
            break;
        }
    }
out:
    irq_restore(f);
    return r;
}

/* Lowest free block at or above `from` that is outside [lo, hi), or 0. */
static uint32_t free_outside(uint32_t from, uint32_t lo, uint32_t hi)
{
    for (uint32_t b = from; b < mm_block_count; b++) {
        if (b >= lo && b < hi)
            b = hi;
        if (b < mm_block_count && ct_is_free(mm_block_table[b]))
            return b;
    }
    return 0;
}

/* Per-block marks used while planning: 1 = belongs to a movable chain. */
#define MAX_BLOCKS (1u << 18)
static uint32_t movable[MAX_BLOCKS / 32];

static void mark_movable(void)
{
    memset(movable, 0, sizeof movable);
    for (uint32_t h = 1; h < mm_block_count; h++) {
        if (!movable_chain(h))
            continue;
        uint32_t n = 0;
        for (uint32_t b = h; b != CT_END && n++ <= mm_block_count; b = ct_field(mm_block_table[b]))
            movable[b / 32] |= 1u << (b % 32);
    }
}

static inline bool is_movable(uint32_t b) { return (movable[b / 32] >> (b % 32)) & 1; }

int mm_defrag_make_run(uint32_t blocks, uint32_t ceiling, uint32_t align)
{
    if (blocks == 0 || blocks > mm_free_blocks)
        return MM_ERR_NOMEM;
    uint32_t f = irq_save();
    uint32_t moved0 = mm_defrag_moved;
    mark_movable();
    uint32_t limit = mm_block_count;
    if (ceiling && (ceiling >> MM_BLOCK_SHIFT) < limit)
        limit = ceiling >> MM_BLOCK_SHIFT;
    uint32_t step = align > MM_BLOCK_SIZE ? align >> MM_BLOCK_SHIFT : 1;
    /* Pick the window with the fewest movable blocks and no immovable one. */
    uint32_t best = 0, best_cost = 0xFFFFFFFFu;
    for (uint32_t s = step; s + blocks <= limit; s += step) {
        uint32_t cost = 0;
        bool ok = true;
        for (uint32_t i = 0; i < blocks && ok; i++) {
            uint32_t e = mm_block_table[s + i];
            if (ct_is_free(e))
                continue;
            if (is_movable(s + i))
                cost++;
            else
                ok = false;
        }
        if (ok && cost < best_cost) {
            best = s;
            best_cost = cost;
            if (cost == 0)
                break;
        }
    }
    if (!best || mm_free_blocks - (blocks - best_cost) < best_cost) {
        irq_restore(f);
        return MM_ERR_NOMEM;
    }
    /* Move every movable block out of [best, best + blocks), chain by chain. */
    uint32_t lo = best, hi = best + blocks, dst_hint = 1;
    for (uint32_t h = 1; h < mm_block_count; h++) {
        if (!movable_chain(h))
            continue;
        chain_id_t id = h;
        uint32_t prev = 0, b = h, i = 0;
        while (b != CT_END && i <= mm_block_count) {
            uint32_t next = ct_field(mm_block_table[b]);
            if (b >= lo && b < hi) {
                uint32_t dst = free_outside(dst_hint, lo, hi);
                if (!dst)
                    break;   /* cannot happen: counted above */
                dst_hint = dst + 1;
                move_block(&id, prev, b, i, dst);
                b = dst;
            }
            prev = b;
            b = next;
            i++;
        }
    }
    mm_defrag_runs++;
    mm_event(MM_EV_DEFRAG, 0, mm_defrag_moved - moved0, 0, blocks, MM_OK, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return MM_OK;
}

/* prev_of[b]: the block before b in its chain (0 for a head); built per defragmentation on
 * the kernel heap, sized to the block count. */
static uint32_t *prev_of;
static uint32_t prev_cap;

static inline bool is_immovable(uint32_t b)
{
    return !ct_is_free(mm_block_table[b]) && !is_movable(b);
}

/* Moves block `src` of a movable chain to free block `dst`, finding its chain, predecessor
 * and index through prev_of, and keeps prev_of and the movable marks up to date. */
static void relocate(uint32_t src, uint32_t dst)
{
    uint32_t index = 0, head = src;
    while (prev_of[head]) {
        head = prev_of[head];
        index++;
    }
    chain_id_t id = head;
    move_block(&id, prev_of[src], src, index, dst);
    prev_of[dst] = prev_of[src];
    prev_of[src] = 0;
    uint32_t next = ct_field(mm_block_table[dst]);
    if (next != CT_END)
        prev_of[next] = dst;
    movable[dst / 32] |= 1u << (dst % 32);
    movable[src / 32] &= ~(1u << (src % 32));
}

uint32_t MmDefragment(void)
{
    if (prev_cap < mm_block_count) {      /* before irq_save: the heap may grow */
        kfree(prev_of);
        prev_of = kmalloc(mm_block_count * sizeof(uint32_t));
        prev_cap = prev_of ? mm_block_count : 0;
        if (!prev_of)
            return 0;
    }
    uint32_t f = irq_save();
    uint32_t before = mm_defrag_moved;
    mark_movable();
    memset(prev_of, 0, mm_block_count * sizeof(uint32_t));
    for (uint32_t h = 1; h < mm_block_count; h++) {
        if (!movable_chain(h))
            continue;
        uint32_t steps = 0;
        for (uint32_t b = h, next; (next = ct_field(mm_block_table[b])) != CT_END && steps++ < mm_block_count; b = next)
            prev_of[next] = b;
    }
    /* Compact each segment between immovable blocks: movable blocks slide to its bottom, its
     * free blocks gather in one run at its top. Free space never crosses an immovable block,
     * so no free run shrinks and the largest one can only grow. */
    for (uint32_t b = 1; b < mm_block_count;) {
        if (is_immovable(b)) {
            b++;
            continue;
        }
        uint32_t lo = b;
        while (b < mm_block_count && !is_immovable(b))
            b++;
        uint32_t hi = b - 1;
        for (;;) {
            while (lo < hi && !ct_is_free(mm_block_table[lo]))
                lo++;
            while (hi > lo && !is_movable(hi))
                hi--;
            if (lo >= hi)
                break;
            relocate(hi, lo);
            lo++;
            hi--;
        }
    }
    mm_defrag_runs++;
    mm_event(MM_EV_DEFRAG, 0, mm_defrag_moved - before, 0, 0, MM_OK, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return mm_defrag_moved - before;
}

/* Largest run of free blocks, for the fragmentation figure. */
uint32_t mm_largest_free_run(void)
{
    uint32_t best = 0, run = 0;
    for (uint32_t b = 0; b < mm_block_count; b++) {
        run = ct_is_free(mm_block_table[b]) ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* Fragmentation in percent: 0 when all free space is one run, near 100 when scattered. */
uint32_t mm_fragmentation_percent(void)
{
    if (!mm_free_blocks)
        return 0;
    return 100u - mm_largest_free_run() * 100u / mm_free_blocks;
}

void mm_defrag_policy_note(uint32_t blocks)
{
    if (blocks < min_req)
        min_req = blocks;
    if (blocks > max_req)
        max_req = blocks;
    if (++since_check < POLICY_INTERVAL)
        return;
    bool spread = max_req >= POLICY_SPREAD * min_req;
    since_check = 0;
    min_req = 0xFFFFFFFFu;
    max_req = 0;
    if (spread && mm_fragmentation_percent() > POLICY_FRAG_PERCENT)
        MmDefragment();
}
