/* dos.c: conventional memory the DOS way. The arena [DOS_ARENA_START_SEG, DOS_ARENA_END_SEG)
 * is a chain of memory control blocks, each in the paragraph before its block, walked
 * first fit; free neighbours are always merged. Also ISA-DMA-safe contiguous buffers. */
#include "generation.h"
#include "dos.h"
#include "mm_event.h"
#include "console.h"
#include "string.h"
#include "x86.h"

uint16_t dos_first_mcb;

#define DOS_ERR_MCB 7
#define DOS_ERR_MEM 8
#define DOS_ERR_BLOCK 9

/* The arena is reserved (CT_RSV_DOS) low memory, direct mapped at P2V. */
static struct mcb *mcb_at(uint32_t seg)
{
    return (struct mcb *)P2V(seg << 4);
}

/* Segment of the MCB after the one at m (its type must be 'M'). */
static uint32_t next_mcb(uint32_t m)
{
    return m + 1 + mcb_at(m)->size;
}

/* Why the MCB at segment m is broken, or NULL if it is sound: the type is 'M' or 'Z', the
 * block stays inside the arena, and only 'Z' ends exactly at the arena's end. */
static const char *mcb_bad(uint32_t m)
{
    struct mcb *p = mcb_at(m);
    uint32_t end = m + 1 + p->size;
    if (p->type != 'M' && p->type != 'Z')
        return "MCB type is neither 'M' nor 'Z'";
    if (end > DOS_ARENA_END_SEG)
        return "MCB block runs past the end of the arena";
    if (p->type == 'Z' && end != DOS_ARENA_END_SEG)
        return "last MCB ('Z') does not end at the end of the arena";
    if (p->type == 'M' && end == DOS_ARENA_END_SEG)
        return "MCB 'M' at the end of the arena has no successor";
    return 0;
}

/* Walks the whole chain. Returns NULL if it is sound, else why not. Each step moves at
 * least one paragraph forward inside the arena, so the walk is bounded. */
static const char *walk_check(void)
{
    bool prev_free = false;
    for (uint32_t m = dos_first_mcb;; m = next_mcb(m)) {
        const char *why = mcb_bad(m);
        if (why)
            return why;
        bool is_free = mcb_at(m)->owner == 0;
        if (is_free && prev_free)
            return "two adjacent free blocks were not merged";
        prev_free = is_free;
        if (mcb_at(m)->type == 'Z')
            return 0;
    }
}

/* Finds the block whose segment is `seg` (MCB at seg-1). Returns 0 with *mcb and *prev
 * (the MCB before it, 0 for the first) or DOS_ERR_BLOCK. The chain must be sound. */
static int find_block(uint32_t seg, uint32_t *mcb, uint32_t *prev)
{
    uint32_t p = 0;
    for (uint32_t m = dos_first_mcb;; p = m, m = next_mcb(m)) {
        if (m + 1 == seg) {
            *mcb = m;
            *prev = p;
            return 0;
        }
        if (m + 1 > seg || mcb_at(m)->type == 'Z')
            return DOS_ERR_BLOCK;
    }
}

/* Cuts the block at MCB m down to `paras` paragraphs (it has at least that many); the
 * rest, less one paragraph for its MCB, becomes a free block after it. */
static void split(uint32_t m, uint16_t paras)
{
    struct mcb *p = mcb_at(m);
    if (p->size == paras)
        return;
    struct mcb *q = mcb_at(m + 1 + paras);
    memset(q, 0, sizeof *q);
    q->type = p->type;
    q->owner = 0;
    q->size = (uint16_t)(p->size - paras - 1);
    p->type = 'M';
    p->size = paras;
}

/* If the block after MCB m is free, absorbs it (and its MCB) into m. */
static void merge_next(uint32_t m)
{
    struct mcb *p = mcb_at(m);
    if (p->type == 'Z')
        return;
    struct mcb *q = mcb_at(next_mcb(m));
    if (q->owner != 0)
        return;
    p->size = (uint16_t)(p->size + q->size + 1);
    p->type = q->type;
    memset(q, 0, sizeof *q);    /* a stale MCB must not look valid */
}

void dos_init(void)
{
    dos_first_mcb = DOS_ARENA_START_SEG;
    struct mcb *p = mcb_at(dos_first_mcb);
    memset(p, 0, sizeof *p);
    p->type = 'Z';
    p->owner = 0;
    p->size = (uint16_t)(DOS_ARENA_END_SEG - DOS_ARENA_START_SEG - 1);
}

int dos_alloc(uint16_t paragraphs, uint16_t owner, uint16_t *seg, uint16_t *largest)
{
    uint32_t f = mm_write_begin();
    int r = DOS_ERR_MEM;
    uint16_t best = 0;
    if (walk_check()) {
        r = DOS_ERR_MCB;
        goto out;
    }
    for (uint32_t m = dos_first_mcb;; m = next_mcb(m)) {
        struct mcb *p = mcb_at(m);
        if (p->owner == 0 && p->size >= paragraphs) {
            split(m, paragraphs);
            p->owner = owner ? owner : DOS_OWNER_SYSTEM;
            memset(p->name, 0, sizeof p->name);
            *seg = (uint16_t)(m + 1);
            r = DOS_OK;
            break;
        }
        if (p->owner == 0 && p->size > best)
            best = p->size;
        if (p->type == 'Z')
            break;
    }
    if (r == DOS_ERR_MEM && largest)
        *largest = best;
out:
    mm_event(MM_EV_DOS, 0, paragraphs, owner, 1, (uint32_t)r, (uint32_t)__builtin_return_address(0));
    mm_write_end(f);
    return r;
}

int dos_free(uint16_t seg)
{
    uint32_t f = mm_write_begin();
    uint32_t m, prev;
    int r = walk_check() ? DOS_ERR_MCB : find_block(seg, &m, &prev);
    if (r == DOS_OK && mcb_at(m)->owner == 0)
        r = DOS_ERR_BLOCK;             /* already free */
    if (r == DOS_OK) {
        mcb_at(m)->owner = 0;
        merge_next(m);
        if (prev && mcb_at(prev)->owner == 0)
            merge_next(prev);
    }
    mm_event(MM_EV_DOS, 0, seg, 0, 2, (uint32_t)r, (uint32_t)__builtin_return_address(0));
    mm_write_end(f);
    return r;
}

int dos_resize(uint16_t seg, uint16_t paragraphs, uint16_t *largest)
{
    uint32_t f = mm_write_begin();
    uint32_t m, prev;
    int r = walk_check() ? DOS_ERR_MCB : find_block(seg, &m, &prev);
    if (r == DOS_OK && mcb_at(m)->owner == 0)
        r = DOS_ERR_BLOCK;
    if (r != DOS_OK)
        goto out;
    struct mcb *p = mcb_at(m);
    if (paragraphs <= p->size) {
        uint16_t old = p->size;
        split(m, paragraphs);
        if (old != paragraphs)
            merge_next(next_mcb(m));   /* the cut-off rest joins a free successor */
        goto out;
    }
    uint32_t avail = p->size;
    if (p->type == 'M' && mcb_at(next_mcb(m))->owner == 0)
        avail += mcb_at(next_mcb(m))->size + 1u;
    if (paragraphs > avail) {
        if (largest)
            *largest = (uint16_t)avail;
        r = DOS_ERR_MEM;
        goto out;
    }
    merge_next(m);
    split(m, paragraphs);
out:
    mm_event(MM_EV_DOS, 0, paragraphs, seg, 3, (uint32_t)r, (uint32_t)__builtin_return_address(0));
    mm_write_end(f);
    return r;
}

void dos_stats(uint32_t *free_paras, uint32_t *largest)
{
    uint32_t f = mm_write_begin();
    uint32_t total = 0, best = 0;
    /* Stops at the first broken MCB: the figures then cover the sound prefix. */
    for (uint32_t m = dos_first_mcb; !mcb_bad(m); m = next_mcb(m)) {
        struct mcb *p = mcb_at(m);
        if (p->owner == 0) {
            total += p->size;
            if (p->size > best)
                best = p->size;
        }
        if (p->type == 'Z')
            break;
    }
    mm_write_end(f);
    if (free_paras)
        *free_paras = total;
    if (largest)
        *largest = best;
}

int dos_check(const char **why)
{
    uint32_t f = mm_write_begin();
    const char *w = 0;
    if (dos_first_mcb != DOS_ARENA_START_SEG)
        w = "dos_first_mcb is not the start of the arena";
    for (uint32_t b = DOS_ARENA_START_SEG >> 10; !w && b < DOS_ARENA_END_SEG >> 10; b++)
        if (b >= mm_block_count || mm_block_table[b] != CT_RESERVED_BASE + CT_RSV_DOS)
            w = "arena block is not reserved CT_RSV_DOS in the chain table";
    if (!w)
        w = walk_check();
    mm_write_end(f);
    if (w && why)
        *why = w;
    return w ? DOS_ERR_MCB : DOS_OK;
}

uint32_t dos_release_owner(uint16_t owner)
{
    uint32_t n = 0;
    if (owner == 0)
        return 0;
    uint32_t f = mm_write_begin();
    /* Each round frees the first block of `owner`; freeing merges, so walk again. */
    while (!walk_check()) {
        uint32_t m = dos_first_mcb;
        while (mcb_at(m)->owner != owner && mcb_at(m)->type != 'Z')
            m = next_mcb(m);
        if (mcb_at(m)->owner != owner || dos_free((uint16_t)(m + 1)) != DOS_OK)
            break;
        n++;
    }
    mm_write_end(f);
    return n;
}

/* The ISA DMA controller counts addresses in 64 KiB pages below 16 MiB. Blocks are 16 KiB
 * and aligned to 16 KiB, so a run of n blocks cannot cross a 64 KiB boundary if it starts
 * at a multiple of: 16 KiB (n = 1), 32 KiB (n = 2), 64 KiB (n = 3 or 4). */
int dma_alloc_buffer(uint32_t bytes, chain_id_t *chain, uint32_t *phys)
{
    uint32_t caller = (uint32_t)__builtin_return_address(0);
    if (bytes == 0 || bytes > 0x10000u || !chain || !phys)
        return MM_ERR_INVALID;
    uint32_t blocks = (bytes + MM_BLOCK_SIZE - 1) >> MM_BLOCK_SHIFT;
    uint32_t align = blocks == 1 ? MM_BLOCK_SIZE : blocks == 2 ? 2 * MM_BLOCK_SIZE : 0x10000u;
    chain_id_t id;
    int r = MmAllocateContiguous(blocks, 0x1000000u, align, 0, &id);
    if (r != MM_OK)
        return r;
    mm_owner_set(id, OWNER_DMA, 0, caller, bytes);
    *chain = id;
    *phys = id << MM_BLOCK_SHIFT;
    return MM_OK;
}
