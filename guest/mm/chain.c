/* chain.c: the block table. Physical memory is cut into 16 KiB blocks; a chain is a
 * linked list of blocks threaded through the table (layout in chain_table.h). This file
 * allocates, frees, resizes and queries chains, and keeps the owner records. */
#include "mm.h"
#include "mm_event.h"
#include "event_ring.h"
#include "console.h"
#include "paging.h"
#include "string.h"
#include "swap.h"
#include "x86.h"

uint32_t *mm_block_table;
uint32_t mm_block_count;
struct mm_owner *mm_owners;
uint32_t mm_free_blocks;
uint32_t mm_alloc_seq;
uint32_t mm_free_count;
volatile uint32_t mm_generation;
int mm_last_error;
static uint32_t rover;              /* next-fit start for ordinary allocations */

static struct { mm_relocation_fn fn; void *ctx; } listeners[MM_MAX_LISTENERS];

const char *mm_strerror(int status)
{
    switch (status) {
    case MM_OK: return "ok";
    case MM_ERR_INVALID: return "invalid argument";
    case MM_ERR_BAD_ID: return "not a live chain";
    case MM_ERR_NOMEM: return "out of memory";
    case MM_ERR_CONTIG: return "contiguous chain";
    case MM_ERR_RANGE: return "out of range";
    case MM_ERR_ALIGN: return "not page aligned";
    case MM_ERR_BUSY: return "already mapped";
    case MM_ERR_FROZEN: return "chain is frozen";
    case MM_ERR_NOT_MAPPED: return "not mapped";
    default: return "unknown error";
    }
}

bool mm_chain_valid(chain_id_t id)
{
    return id != 0 && id < mm_block_count && ct_is_head(mm_block_table[id]);
}

/* Sets the link field of entry b, keeping its flag bits. */
static inline void set_link(uint32_t b, uint32_t next)
{
    mm_block_table[b] = (mm_block_table[b] & CT_FLAG_BITS) | next;
}

uint32_t MmChainBlocks(chain_id_t id)
{
    if (!mm_chain_valid(id))
        return 0;
    uint32_t n = 0, limit = mm_block_count + swap_slot_count;
    for (uint32_t l = id; l != CT_END && n <= limit; l = mm_next_link(l))
        n++;
    return n;
}

int mm_chain_block(chain_id_t id, uint32_t index, uint32_t *block)
{
    if (!block)
        return MM_ERR_INVALID;
    if (!mm_chain_valid(id))
        return MM_ERR_BAD_ID;
    uint32_t l = id;
    for (uint32_t i = 0; i < index; i++) {
        l = mm_next_link(l);
        if (l == CT_END)
            return MM_ERR_RANGE;
    }
    /* The caller wants a physical block: a swapped one comes back in, and its clean copy
     * is dropped because the caller may write it behind the dirty bits' back. */
    if (ct_is_swapped_link(l)) {
        int r = swap_in_slot(ct_swap_slot(l), &l);
        if (r != MM_OK)
            return r;
    }
    swap_block_forget(l);
    *block = l;
    return MM_OK;
}

/* Takes `blocks` free blocks (next fit) and links them into a new chain. The caller has
 * checked that enough blocks are free. Returns the head. */
static uint32_t take_blocks(uint32_t blocks, uint32_t head_flags)
{
    uint32_t head = 0, prev = 0, b = rover;
    for (uint32_t got = 0; got < blocks; b++) {
        if (b >= mm_block_count)
            b = 1;
        if (!ct_is_free(mm_block_table[b]))
            continue;
        if (got == 0) {
            head = b;
            mm_block_table[b] = CT_HEAD | head_flags | CT_END;
        } else {
            mm_block_table[b] = CT_END;
            set_link(prev, b);
        }
        prev = b;
        got++;
    }
    rover = b;
    mm_free_blocks -= blocks;
    return head;
}

/* Makes `blocks` blocks free by swapping out swappable blocks, if swapping can (checked
 * first, so a hopeless request changes nothing). True when enough blocks are free. */
static bool reclaim_for(uint32_t blocks)
{
    if (blocks > mm_free_blocks + swap_reclaimable())
        return false;
    swap_reclaim(blocks - mm_free_blocks);
    return blocks <= mm_free_blocks;
}

static void record_owner(chain_id_t id, uint16_t kind, uint32_t caller, uint32_t size_bytes)
{
    mm_owners[id] = (struct mm_owner){caller, ++mm_alloc_seq, size_bytes, kind, 0};
}

void mm_owner_set(chain_id_t id, uint16_t kind, uint16_t handle, uint32_t caller, uint32_t size_bytes)
{
    if (!mm_chain_valid(id))
        return;
    mm_owners[id].kind = kind;
    mm_owners[id].handle = handle;
    if (caller)
        mm_owners[id].caller = caller;
    if (size_bytes)
        mm_owners[id].size_bytes = size_bytes;
}

int mm_allocate_chain(uint32_t flags, uint32_t blocks, uint16_t kind, uint32_t caller, chain_id_t *out)
{
    if (blocks == 0 || (flags & ~CT_CHAIN_FLAGS) || !out)
        return MM_ERR_INVALID;
    if (flags & CHAIN_CONTIG)
        return MmAllocateContiguous(blocks, 0, 0, flags & ~CHAIN_CONTIG, out);
    uint32_t f = irq_save();
    if (blocks > mm_free_blocks && !reclaim_for(blocks)) {
        irq_restore(f);
        return MM_ERR_NOMEM;
    }
    chain_id_t id = take_blocks(blocks, flags);
    record_owner(id, kind, caller, blocks * MM_BLOCK_SIZE);
    *out = id;
    mm_event(MM_EV_ALLOCATED, id, blocks, flags, kind, MM_OK, caller);
    irq_restore(f);
    return MM_OK;
}

chain_id_t MmAllocateChain(uint32_t flags, uint32_t blocks)
{
    chain_id_t id = 0;
    if (blocks)
        mm_defrag_policy_note(blocks);   /* before: a defragmentation may rename chains */
    int r = mm_allocate_chain(flags, blocks, OWNER_KERNEL, (uint32_t)__builtin_return_address(0), &id);
    mm_last_error = r;
    return r == MM_OK ? id : 0;
}

/* Finds `blocks` free blocks in a row below `ceiling` whose first address is a multiple of
 * `align`. Returns the first block index, or 0 if there is no such run. */
uint32_t mm_find_free_run(uint32_t blocks, uint32_t ceiling, uint32_t align)
{
    uint32_t limit = mm_block_count;
    if (ceiling && (ceiling >> MM_BLOCK_SHIFT) < limit)
        limit = ceiling >> MM_BLOCK_SHIFT;
    uint32_t step = align > MM_BLOCK_SIZE ? align >> MM_BLOCK_SHIFT : 1;
    for (uint32_t start = step; start + blocks <= limit; start += step) {
        uint32_t n = 0;
        while (n < blocks && ct_is_free(mm_block_table[start + n]))
            n++;
        if (n == blocks)
            return start;
        if (step == 1)
            start += n;   /* skip past the block that stopped the run */
    }
    return 0;
}

int MmAllocateContiguous(uint32_t blocks, uint32_t ceiling, uint32_t align, uint32_t extra_flags, chain_id_t *out)
{
    if (blocks == 0 || !out || (extra_flags & ~CT_CHAIN_FLAGS) || (align & (align - 1)))
        return MM_ERR_INVALID;
    uint32_t caller = (uint32_t)__builtin_return_address(0);
    uint32_t f = irq_save();
    uint32_t start = mm_find_free_run(blocks, ceiling, align);
    if (!start && blocks <= mm_free_blocks && mm_defrag_make_run(blocks, ceiling, align) == MM_OK)
        start = mm_find_free_run(blocks, ceiling, align);
    if (!start) {
        irq_restore(f);
        return MM_ERR_NOMEM;
    }
    uint32_t flags = extra_flags | CHAIN_CONTIG | CHAIN_FROZEN;
    for (uint32_t i = 0; i < blocks; i++)
        mm_block_table[start + i] = i + 1 < blocks ? start + i + 1 : CT_END;
    mm_block_table[start] |= CT_HEAD | flags;
    mm_free_blocks -= blocks;
    record_owner(start, OWNER_DMA, caller, blocks * MM_BLOCK_SIZE);
    *out = start;
    mm_event(MM_EV_ALLOCATED, start, blocks, flags, OWNER_DMA, MM_OK, caller);
    irq_restore(f);
    return MM_OK;
}

/* Frees every block from link `l` to the end of its chain: resident blocks become free
 * (with their clean copies), swapped-out ones give back their slots. */
static void free_from(uint32_t l)
{
    while (l != CT_END) {
        uint32_t next = mm_next_link(l);
        if (ct_is_swapped_link(l)) {
            swap_slot_release(ct_swap_slot(l));
        } else {
            swap_block_forget(l);
            mm_block_table[l] = CT_FREE;
            mm_free_blocks++;
        }
        l = next;
    }
}

int MmFreeChain(chain_id_t id)
{
    uint32_t f = irq_save();
    if (!mm_chain_valid(id)) {
        irq_restore(f);
        return MM_ERR_BAD_ID;
    }
    uint32_t blocks = MmChainBlocks(id);
    mm_unmap_all(id, 0);   /* @dap:free-chain-unmap */
    mm_owners[id] = (struct mm_owner){0, 0, 0, OWNER_NONE, 0};
    free_from(id);
    mm_free_count++;
    mm_event(MM_EV_FREED, id, blocks, 0, 0, MM_OK, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return MM_OK;
}

int MmResizeChain(chain_id_t id, uint32_t blocks)
{
    uint32_t f = irq_save();
    int r = MM_OK;
    uint32_t have = MmChainBlocks(id);
    if (!have)
        r = MM_ERR_BAD_ID;
    else if (mm_block_table[id] & CT_CONTIG)
        r = MM_ERR_CONTIG;
    else if (blocks == 0)
        r = MM_ERR_INVALID;
    else if (blocks > have && blocks - have > mm_free_blocks && !reclaim_for(blocks - have))
        r = MM_ERR_NOMEM;
    if (r != MM_OK || blocks == have) {
        irq_restore(f);
        return r;
    }
    /* `last` is the link of the block that ends the chain afterwards (it may be swapped). */
    uint32_t last = id;
    for (uint32_t i = 1; i < (blocks < have ? blocks : have); i++)
        last = mm_next_link(last);
    if (blocks < have) {
        mm_unmap_all(id, blocks * MM_PAGES_PER_BLOCK);
        uint32_t tail = mm_next_link(last);
        mm_set_next_link(last, CT_END);
        free_from(tail);
    } else {
        uint32_t ext = take_blocks(blocks - have, 0);
        mm_block_table[ext] = (mm_block_table[ext] & CT_FIELD_MASK);   /* body: no flags */
        mm_set_next_link(last, ext);
    }
    mm_owners[id].size_bytes = blocks * MM_BLOCK_SIZE;
    mm_event(MM_EV_RESIZED, id, blocks, ct_flags(mm_block_table[id]), have, MM_OK, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return MM_OK;
}

int MmChainFlags(chain_id_t id, uint32_t *flags)
{
    if (!flags)
        return MM_ERR_INVALID;
    if (!mm_chain_valid(id))
        return MM_ERR_BAD_ID;
    *flags = ct_flags(mm_block_table[id]);
    return MM_OK;
}

/* Sets and clears head flags; the ring records the change as `kind` (MM_EV_FROZEN,
 * MM_EV_UNFROZEN or MM_EV_FLAGS) with flags = the new flags, arg = the old ones. */
static int change_flags(chain_id_t id, uint32_t set, uint32_t clear, uint32_t kind, uint32_t caller)
{
    uint32_t f = irq_save();
    int r = MM_OK;
    if (!mm_chain_valid(id)) {
        r = MM_ERR_BAD_ID;
    } else if ((clear & CHAIN_FROZEN) && (mm_block_table[id] & CT_CONTIG)) {
        r = MM_ERR_CONTIG;
    } else {
        uint32_t old = ct_flags(mm_block_table[id]);
        mm_block_table[id] = (mm_block_table[id] & ~clear) | set;
        mm_ring_event(kind, id, 0, ct_flags(mm_block_table[id]), old, MM_OK, caller, 0);
    }
    irq_restore(f);
    return r;
}

/* A frozen chain never leaves memory: its swapped-out blocks come back first. */
int MmFreezeChain(chain_id_t id)
{
    uint32_t f = irq_save();
    int r = swap_in_chain(id);
    if (r == MM_OK)
        r = change_flags(id, CHAIN_FROZEN, 0, MM_EV_FROZEN, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return r;
}
int MmUnfreezeChain(chain_id_t id)
{
    return change_flags(id, 0, CHAIN_FROZEN, MM_EV_UNFROZEN, (uint32_t)__builtin_return_address(0));
}
int MmMarkSwappable(chain_id_t id, bool swappable)
{
    if (swappable)
        return change_flags(id, CHAIN_SWAPPABLE, 0, MM_EV_FLAGS, (uint32_t)__builtin_return_address(0));
    uint32_t f = irq_save();   /* a chain that may not be swapped has nothing out */
    int r = swap_in_chain(id);
    if (r == MM_OK)
        r = change_flags(id, 0, CHAIN_SWAPPABLE, MM_EV_FLAGS, (uint32_t)__builtin_return_address(0));
    irq_restore(f);
    return r;
}

int MmContiguousPhysicalAddress(chain_id_t id, uint32_t *phys)
{
    if (!phys)
        return MM_ERR_INVALID;
    if (!mm_chain_valid(id))
        return MM_ERR_BAD_ID;
    if (!(mm_block_table[id] & CT_CONTIG))
        return MM_ERR_CONTIG;
    *phys = id << MM_BLOCK_SHIFT;
    return MM_OK;
}

int MmChainPagePhysical(chain_id_t id, uint32_t page, uint32_t *phys)
{
    if (!phys)
        return MM_ERR_INVALID;
    uint32_t b;
    int r = mm_chain_block(id, page / MM_PAGES_PER_BLOCK, &b);
    if (r != MM_OK)
        return r;
    *phys = (b << MM_BLOCK_SHIFT) + (page % MM_PAGES_PER_BLOCK) * MM_PAGE_SIZE;
    return MM_OK;
}

uint32_t mm_client_blocks(void)
{
    uint32_t n = 0;
    for (uint32_t b = 1; b < mm_block_count; b++) {
        if (!ct_is_head(mm_block_table[b]))
            continue;
        uint16_t k = mm_owners[b].kind;
        if (k != OWNER_PAGETABLE && k != OWNER_HEAP)
            n += MmChainBlocks(b);
    }
    return n;
}

int mm_add_relocation_listener(mm_relocation_fn fn, void *ctx)
{
    for (int i = 0; i < MM_MAX_LISTENERS; i++)
        if (!listeners[i].fn) {
            listeners[i].fn = fn;
            listeners[i].ctx = ctx;
            return MM_OK;
        }
    return MM_ERR_NOMEM;
}

void mm_remove_relocation_listener(mm_relocation_fn fn, void *ctx)
{
    for (int i = 0; i < MM_MAX_LISTENERS; i++)
        if (listeners[i].fn == fn && listeners[i].ctx == ctx)
            listeners[i].fn = 0;
}

void mm_notify_relocation(chain_id_t old_id, chain_id_t new_id)
{
    for (int i = 0; i < MM_MAX_LISTENERS; i++)
        if (listeners[i].fn)
            listeners[i].fn(old_id, new_id, listeners[i].ctx);
}

void mm_copy_block(uint32_t dst_block, uint32_t src_block)
{
    for (uint32_t p = 0; p < MM_PAGES_PER_BLOCK; p++) {
        uint32_t off = p * MM_PAGE_SIZE;
        void *s = window_map(WIN_SRC, (src_block << MM_BLOCK_SHIFT) + off);
        void *d = window_map(WIN_DST, (dst_block << MM_BLOCK_SHIFT) + off);
        memcpy(d, s, MM_PAGE_SIZE);
    }
}

void mm_zero_block(uint32_t block)
{
    for (uint32_t p = 0; p < MM_PAGES_PER_BLOCK; p++)
        memset(window_map(WIN_DST, (block << MM_BLOCK_SHIFT) + p * MM_PAGE_SIZE), 0, MM_PAGE_SIZE);
}

/* Copies between a buffer and physical memory a page at a time through window `slot`. */
static void phys_copy(uint32_t phys, uint8_t *buf, uint32_t len, int to_phys)
{
    uint32_t f = irq_save();
    while (len) {
        uint32_t off = phys & (MM_PAGE_SIZE - 1);
        uint32_t n = MM_PAGE_SIZE - off < len ? MM_PAGE_SIZE - off : len;
        uint8_t *w = (uint8_t *)window_map(WIN_SCRATCH, phys - off) + off;
        if (to_phys)
            memcpy(w, buf, n);
        else
            memcpy(buf, w, n);
        phys += n;
        buf += n;
        len -= n;
    }
    irq_restore(f);
}

void mm_phys_read(uint32_t phys, void *dst, uint32_t len) { phys_copy(phys, dst, len, 0); }
void mm_phys_write(uint32_t phys, const void *src, uint32_t len) { phys_copy(phys, (uint8_t *)src, len, 1); }
