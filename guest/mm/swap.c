/* swap.c: swapping blocks of swappable chains to the ATA disk (swap.h, docs/chain-table.md
 * "Swapped-out blocks").
 *
 * Slot s is sectors [32 s, 32 s + 32) of the disk. A swapped-out block keeps its place in
 * its chain through the link CT_SWAPPED_BASE + s; swap_slots[s].next continues the chain.
 * Its PTEs hold pte_swapped(s, page). A block swapped back in keeps its slot as a clean
 * copy (SWAP_CACHED) until a PTE of it gets D, its physical address is handed out, or it is
 * freed; a clean block swapped out again is not written ("page clean").
 *
 * Victims: a clock over chain heads. Each resident non-head block of an eligible chain
 * (swappable, neither frozen nor contiguous) whose PTEs show A gets its A bits cleared and
 * is skipped once (second chance); one without A is swapped out. Unmapped blocks have no A
 * and go first. Every entry point runs with interrupts off and saves/restores the mapping
 * windows, so a page fault in the middle of a window user does not disturb it. */
#include "swap.h"
#include "event_ring.h"
#include "ata.h"
#include "console.h"
#include "heap.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "x86.h"

struct swap_slot *swap_slots;
uint32_t swap_slot_count;
uint32_t swap_slots_used;
uint32_t swap_outs, swap_ins;
uint32_t swap_clean_outs, swap_errors, swap_suspended;

static uint16_t *cache_of;     /* per block: 1 + its SWAP_CACHED slot, 0 = none */
static uint32_t slot_rover;    /* next-fit start for free slots */
static uint32_t slot_hwm;      /* slots at or above this were never used */
static uint32_t hand = 1;      /* clock hand: the next chain head to look at */
static uint32_t block_rover = 1;
static chain_id_t pinned;      /* chain being swapped in whole: reclaim leaves it alone */

#define IO_WINDOW ((enum window_slot)4)   /* windows 4..7: one block, virtually contiguous */

void swap_init(void)
{
    swap_slot_count = 0;
    int r = ata_init();
    if (r != ATA_OK) {
        kprintf("swap: no disk (ata %d), swapping off\n", r);
        return;
    }
    uint32_t slots = ata_sectors / SWAP_SLOT_SECTORS;
    if (slots > SWAP_MAX_SLOTS)
        slots = SWAP_MAX_SLOTS;
    swap_slots = kzalloc(slots * sizeof *swap_slots);
    cache_of = kzalloc(mm_block_count * sizeof *cache_of);
    if (!slots || !swap_slots || !cache_of) {
        kfree(swap_slots);
        kfree(cache_of);
        swap_slots = 0;
        cache_of = 0;
        kprintf("swap: disk of %u sectors, no room for the slot table, swapping off\n", ata_sectors);
        return;
    }
    swap_slot_count = slots;
    kprintf("swap: %u slots (%u MiB) on ata0\n", slots, slots / 64);
}

void mm_set_next_link(uint32_t holder, uint32_t link)
{
    if (ct_is_swapped_link(holder))
        swap_slots[ct_swap_slot(holder)].next = link;
    else
        mm_block_table[holder] = (mm_block_table[holder] & CT_FLAG_BITS) | link;
}

static bool eligible_head(uint32_t e)
{
    return ct_is_head(e) && (e & CT_SWAPPABLE) && !(e & (CT_FROZEN | CT_CONTIG));
}

/* ---- slots ---- */

static void slot_set_free(uint32_t s)
{
    if (swap_slots[s].state == SWAP_CACHED && swap_slots[s].block < mm_block_count)
        cache_of[swap_slots[s].block] = 0;
    if (swap_slots[s].state != SWAP_FREE)
        swap_slots_used--;
    swap_slots[s] = (struct swap_slot){SWAP_FREE, 0, 0, 0};
}

/* A free slot, or a SWAP_CACHED one whose clean copy is dropped; SWAP_MAX_SLOTS if every
 * slot holds a swapped-out block. The slot is left SWAP_FREE. */
static uint32_t slot_alloc(void)
{
    for (uint32_t i = 0; i < swap_slot_count; i++) {
        uint32_t s = (slot_rover + i) % swap_slot_count;
        if (swap_slots[s].state == SWAP_FREE) {
            slot_rover = s + 1;
            return s;
        }
    }
    for (uint32_t s = 0; s < swap_slot_count; s++)
        if (swap_slots[s].state == SWAP_CACHED) {
            slot_set_free(s);
            return s;
        }
    return SWAP_MAX_SLOTS;
}

void swap_slot_release(uint32_t slot)
{
    if (slot < swap_slot_count)
        slot_set_free(slot);
}

uint32_t swap_cached_slot(uint32_t block)
{
    return cache_of && block < mm_block_count ? cache_of[block] : 0;
}

void swap_block_forget(uint32_t block)
{
    if (cache_of && block < mm_block_count && cache_of[block])
        slot_set_free(cache_of[block] - 1u);
}

void swap_block_moved(uint32_t src, uint32_t dst)
{
    if (!cache_of || !cache_of[src])
        return;
    cache_of[dst] = cache_of[src];
    cache_of[src] = 0;
    swap_slots[cache_of[dst] - 1u].block = dst;
}

void swap_chain_renamed(chain_id_t old_id, chain_id_t new_id)
{
    for (uint32_t s = 0; s < slot_hwm && s < swap_slot_count; s++)
        if (swap_slots[s].state != SWAP_FREE && swap_slots[s].chain == old_id)
            swap_slots[s].chain = new_id;
}

/* ---- the disk ---- */

/* Transfers block `block` to (write) or from slot `s`, in one 32-sector command through
 * windows 4..7. */
static int slot_io(uint32_t s, uint32_t block, bool write)
{
    void *va = 0;
    for (uint32_t p = 0; p < MM_PAGES_PER_BLOCK; p++) {
        void *w = window_map((enum window_slot)(IO_WINDOW + p), (block << MM_BLOCK_SHIFT) + p * MM_PAGE_SIZE);
        if (p == 0)
            va = w;
    }
    uint32_t lba = s * SWAP_SLOT_SECTORS;
    int r = write ? ata_write(lba, SWAP_SLOT_SECTORS, va) : ata_read(lba, SWAP_SLOT_SECTORS, va);
    if (r != ATA_OK) {
        kprintf("swap: ata %s of slot %u failed: %d\n", write ? "write" : "read", s, r);
        swap_errors++;
        return MM_ERR_NOMEM;
    }
    return MM_OK;
}

/* ---- PTEs of one block ---- */

/* Calls visit on every PTE that maps a page of the `index`-th block of chain `id`, with the
 * page within the block and the present-PTE flags the mapping gives it. */
static void for_each_block_pte(chain_id_t id, uint32_t index,
                               void (*visit)(uint32_t *pte, uint32_t va, struct mm_mapping *m, uint32_t page, void *ctx), void *ctx)
{
    uint32_t first = index * MM_PAGES_PER_BLOCK;
    for (uint32_t i = 0; i < mm_mapping_count; i++) {
        struct mm_mapping *m = &mm_mappings[i];
        if (m->chain != id || m->page_offset >= first + MM_PAGES_PER_BLOCK || m->page_offset + m->pages <= first)
            continue;
        for (uint32_t pg = first; pg < first + MM_PAGES_PER_BLOCK; pg++) {
            if (pg < m->page_offset || pg >= m->page_offset + m->pages)
                continue;
            uint32_t va = m->va + (pg - m->page_offset) * MM_PAGE_SIZE;
            uint32_t pde = m->upd ? m->upd[PDX(va)] : kpd[PDX(va)];
            if (!(pde & PTE_P) || (pde & PTE_PS))
                continue;
            uint32_t *pt = window_map(WIN_PT, pde & PTE_ADDR);
            visit(&pt[PTX(va)], va, m, pg - first, ctx);
        }
    }
}

static void flush(uint32_t va, struct mm_mapping *m)
{
    if (!m->upd || (current && m->upd == current->upd))
        invlpg(va);
}

struct ad_bits { uint32_t any; };

static void read_ad(uint32_t *pte, uint32_t va, struct mm_mapping *m, uint32_t page, void *ctx)
{
    (void)va; (void)m; (void)page;
    if (*pte & PTE_P)
        ((struct ad_bits *)ctx)->any |= *pte & (PTE_A | PTE_D);
}

static void clear_a(uint32_t *pte, uint32_t va, struct mm_mapping *m, uint32_t page, void *ctx)
{
    (void)page; (void)ctx;
    if ((*pte & PTE_P) && (*pte & PTE_A)) {
        *pte &= ~PTE_A;
        flush(va, m);
    }
}

static void set_swapped(uint32_t *pte, uint32_t va, struct mm_mapping *m, uint32_t page, void *ctx)
{
    *pte = pte_swapped(*(uint32_t *)ctx, page);
    flush(va, m);
}

static void set_present(uint32_t *pte, uint32_t va, struct mm_mapping *m, uint32_t page, void *ctx)
{
    uint32_t block = *(uint32_t *)ctx;
    uint32_t flags = PTE_P | ((m->flags & MAP_READONLY) ? 0 : PTE_W) | (m->upd ? PTE_U : 0);
    *pte = (block << MM_BLOCK_SHIFT) + page * MM_PAGE_SIZE + flags;
    flush(va, m);
}

/* ---- out and in ---- */

/* Swaps out resident block `b`, the `index`-th of chain `id`, whose link is stored after
 * `holder`. Returns MM_OK (and the slot in *slot) or MM_ERR_NOMEM. */
static int out_block(chain_id_t id, uint32_t holder, uint32_t b, uint32_t index, uint32_t *slot)
{
    struct ad_bits ad = {0};
    for_each_block_pte(id, index, read_ad, &ad);
    uint32_t s = cache_of[b] ? cache_of[b] - 1u : SWAP_MAX_SLOTS;
    bool write = true;
    if (s != SWAP_MAX_SLOTS && !(ad.any & PTE_D)) {
        write = false;                       /* page clean: the slot has these contents */
    } else {
        if (s == SWAP_MAX_SLOTS)
            s = slot_alloc();
        if (s == SWAP_MAX_SLOTS)
            return MM_ERR_NOMEM;
        if (slot_io(s, b, true) != MM_OK) {
            if (swap_slots[s].state == SWAP_CACHED)
                slot_set_free(s);            /* its copy may be half overwritten */
            return MM_ERR_NOMEM;
        }
    }
    if (swap_slots[s].state == SWAP_FREE)
        swap_slots_used++;
    cache_of[b] = 0;
    swap_slots[s] = (struct swap_slot){SWAP_OUT, id, ct_field(mm_block_table[b]), 0};
    if (s >= slot_hwm)
        slot_hwm = s + 1;
    mm_set_next_link(holder, CT_SWAPPED_BASE + s);
    mm_block_table[b] = CT_FREE;
    mm_free_blocks++;
    for_each_block_pte(id, index, set_swapped, &s);
    mm_ring_event(MM_EV_SWAPPED_OUT, id, b, write ? 0 : 1, s, MM_OK, (uint32_t)__builtin_return_address(0), index);
    if (write)
        swap_outs++;
    else
        swap_clean_outs++;
    *slot = s;
    return MM_OK;
}

/* Finds the holder of link `link` in chain `id` and the link's index. False if absent. */
static bool find_link(chain_id_t id, uint32_t link, uint32_t *holder, uint32_t *index)
{
    uint32_t prev = id, l = mm_next_link(id), i = 1, limit = mm_block_count + swap_slot_count;
    for (; l != CT_END && i <= limit; prev = l, l = mm_next_link(l), i++)
        if (l == link) {
            *holder = prev;
            *index = i;
            return true;
        }
    return false;
}

static uint32_t take_free_block(void)
{
    for (uint32_t i = 0; i < mm_block_count; i++) {
        uint32_t b = (block_rover + i) % mm_block_count;
        if (b && ct_is_free(mm_block_table[b])) {
            block_rover = b + 1;
            return b;
        }
    }
    return 0;
}

static int in_slot(uint32_t s, uint32_t *block)
{
    if (s >= swap_slot_count || swap_slots[s].state != SWAP_OUT)
        return MM_ERR_INVALID;
    if (!mm_free_blocks)
        swap_reclaim(1);
    uint32_t b = mm_free_blocks ? take_free_block() : 0;
    if (!b)
        return MM_ERR_NOMEM;
    chain_id_t id = swap_slots[s].chain;
    uint32_t holder, index;
    if (!mm_chain_valid(id) || !find_link(id, CT_SWAPPED_BASE + s, &holder, &index))
        return MM_ERR_INVALID;
    if (slot_io(s, b, false) != MM_OK)
        return MM_ERR_NOMEM;
    mm_block_table[b] = swap_slots[s].next;   /* a body entry: no flags */
    mm_free_blocks--;
    mm_set_next_link(holder, b);
    swap_slots[s] = (struct swap_slot){SWAP_CACHED, id, 0, b};
    cache_of[b] = (uint16_t)(s + 1u);
    for_each_block_pte(id, index, set_present, &b);
    mm_ring_event(MM_EV_SWAPPED_IN, id, b, 0, s, MM_OK, (uint32_t)__builtin_return_address(0), index);
    swap_ins++;
    *block = b;
    return MM_OK;
}

int swap_in_slot(uint32_t slot, uint32_t *block)
{
    if (!block)
        return MM_ERR_INVALID;
    uint32_t f = irq_save(), win[WIN_COUNT];
    window_save(win);
    int r = in_slot(slot, block);
    window_restore(win);
    irq_restore(f);
    return r;
}

int swap_out_block(chain_id_t id, uint32_t index)
{
    uint32_t f = irq_save(), win[WIN_COUNT];
    window_save(win);
    int r = MM_OK;
    uint32_t holder = id, l = 0, i = 0;
    if (!mm_chain_valid(id)) {
        r = MM_ERR_BAD_ID;
    } else if (!eligible_head(mm_block_table[id])) {
        r = MM_ERR_FROZEN;
    } else if (!swap_slot_count) {
        r = MM_ERR_NOMEM;
    } else if (index == 0) {
        r = MM_ERR_RANGE;
    } else {
        for (l = mm_next_link(id), i = 1; i < index && l != CT_END; holder = l, l = mm_next_link(l), i++)
            ;
        if (l == CT_END || ct_is_swapped_link(l))
            r = MM_ERR_RANGE;
        else
            r = out_block(id, holder, l, index, &i);
    }
    window_restore(win);
    irq_restore(f);
    return r;
}

int swap_in_chain(chain_id_t id)
{
    uint32_t f = irq_save();
    int r = mm_chain_valid(id) ? MM_OK : MM_ERR_BAD_ID;
    uint32_t limit = mm_block_count + swap_slot_count, n = 0, b;
    chain_id_t was = pinned;
    pinned = id;
    for (uint32_t l = id; r == MM_OK && l != CT_END && n++ <= limit; l = mm_next_link(l))
        if (ct_is_swapped_link(l)) {
            r = swap_in_slot(ct_swap_slot(l), &b);
            if (r != MM_OK)
                break;
            l = b;
        }
    pinned = was;
    irq_restore(f);
    return r;
}

bool swap_chain_has_swapped(chain_id_t id)
{
    if (!swap_slots_used || !mm_chain_valid(id))
        return false;
    uint32_t limit = mm_block_count + swap_slot_count, n = 0;
    for (uint32_t l = id; l != CT_END && n++ <= limit; l = mm_next_link(l))
        if (ct_is_swapped_link(l))
            return true;
    return false;
}

uint32_t swap_reclaimable(void)
{
    if (!swap_slot_count || swap_suspended)
        return 0;
    uint32_t f = irq_save(), resident = 0, out = 0;
    for (uint32_t s = 0; s < slot_hwm; s++)
        out += swap_slots[s].state == SWAP_OUT;
    for (uint32_t h = 1; h < mm_block_count; h++) {
        if (!eligible_head(mm_block_table[h]))
            continue;
        uint32_t n = 0;
        for (uint32_t l = mm_next_link(h); l != CT_END && n++ <= mm_block_count + swap_slot_count; l = mm_next_link(l))
            resident += !ct_is_swapped_link(l);
    }
    irq_restore(f);
    uint32_t room = swap_slot_count - out;
    return resident < room ? resident : room;
}

uint32_t swap_reclaim(uint32_t want)
{
    if (!swap_slot_count || swap_suspended || !want)
        return 0;
    uint32_t f = irq_save(), win[WIN_COUNT], freed = 0;
    window_save(win);
    /* Two rounds over every head: the first may only clear accessed bits. */
    for (uint32_t step = 0; step < 2 * mm_block_count && freed < want; step++) {
        uint32_t h = hand;
        hand = hand + 1 < mm_block_count ? hand + 1 : 1;
        if (!eligible_head(mm_block_table[h]) || h == pinned)
            continue;
        uint32_t holder = h, i = 1, n = 0, limit = mm_block_count + swap_slot_count;
        for (uint32_t l = mm_next_link(h); l != CT_END && n++ <= limit && freed < want; i++) {
            uint32_t next = mm_next_link(l);
            if (!ct_is_swapped_link(l)) {
                struct ad_bits ad = {0};
                for_each_block_pte(h, i, read_ad, &ad);
                uint32_t s;
                if (ad.any & PTE_A) {
                    for_each_block_pte(h, i, clear_a, 0);   /* second chance */
                } else if (out_block(h, holder, l, i, &s) == MM_OK) {
                    freed++;
                    l = CT_SWAPPED_BASE + s;
                } else {
                    goto done;                               /* no slot or a disk error */
                }
            }
            holder = l;
            l = next;
        }
        if (freed >= want)
            hand = h;    /* this chain may have more to give next time */
    }
done:
    window_restore(win);
    irq_restore(f);
    return freed;
}

bool swap_fault(uint32_t va, uint32_t error_code)
{
    if ((error_code & 1) || !swap_slot_count)
        return false;              /* a protection fault, or swapping is off */
    uint32_t f = irq_save(), win[WIN_COUNT], b;
    window_save(win);
    bool ok = false;
    uint32_t pde = kpd[PDX(va)];
    if ((pde & PTE_P) && !(pde & PTE_PS)) {
        uint32_t pte = ((uint32_t *)window_map(WIN_PT, pde & PTE_ADDR))[PTX(va)];
        if (pte_is_swapped(pte)) {
            int r = in_slot(pte_swap_slot(pte), &b);
            ok = r == MM_OK;
            if (!ok)
                kprintf("swap: cannot bring slot %u back for %p: %s (%u disk errors)\n", pte_swap_slot(pte), (void *)va, mm_strerror(r), swap_errors);
        }
    }
    window_restore(win);
    irq_restore(f);
    return ok;
}
