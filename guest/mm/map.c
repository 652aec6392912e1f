/* map.c: MmMapChainToVirtualAddress and friends. Maps a chain's 4 KiB pages into the KPD
 * (kernel half) or into a process's UPD (user space below 256 MiB), keeps the registry of
 * mappings (the reverse map used by free, resize, defragmentation and dirty tracking), and
 * edits page tables only through the WIN_PT mapping window (paging.h). */
#include "mm.h"
#include "mm_event.h"
#include "event_ring.h"
#include "console.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "swap.h"
#include "x86.h"

struct mm_mapping mm_mappings[MM_MAX_MAPPINGS];
uint32_t mm_mapping_count;

/* True when edits to this space must be flushed from the TLB now: the KPD, or the UPD of
 * the running process (whose entries are copied in KPD[0..63]). */
static bool space_is_live(uint32_t *upd)
{
    return !upd || (current && upd == current->upd);
}

static inline void flush_if_live(uint32_t va, uint32_t *upd)
{
    if (space_is_live(upd))
        invlpg(va);
}

/* Returns the PTE for `va` through the WIN_PT window (valid until the next WIN_PT use), or
 * NULL when no page table covers it (or a 4 MiB page does). With `create`, allocates the
 * page table; *err is set to MM_ERR_NOMEM if that fails. */
static uint32_t *pte_slot(uint32_t va, uint32_t *upd, int create, int *err)
{
    uint32_t *pde = upd ? &upd[PDX(va)] : &kpd[PDX(va)];
    if (!(*pde & PTE_P)) {
        if (!create)
            return 0;
        uint32_t frame = pt_alloc_frame();
        if (!frame) {
            *err = MM_ERR_NOMEM;
            return 0;
        }
        *pde = frame | PTE_P | PTE_W | (upd ? PTE_U : 0);
        if (upd && space_is_live(upd))
            kpd[PDX(va)] = *pde;
    }
    if (*pde & PTE_PS)
        return 0;
    uint32_t *pt = window_map(WIN_PT, *pde & PTE_ADDR);
    return &pt[PTX(va)];
}

uint32_t mm_lookup_pte(uint32_t va, uint32_t *upd)
{
    uint32_t f = irq_save();
    uint32_t *pte = pte_slot(va, upd, 0, 0);
    uint32_t v = pte ? *pte : 0;
    irq_restore(f);
    return v;
}

/* True when a present PTE maps a block that belongs to a chain, or the PTE holds a
 * swapped-out page (of a chain too). */
static bool maps_chain_block(uint32_t pte)
{
    if (pte_is_swapped(pte))
        return true;
    uint32_t b = (pte & PTE_ADDR) >> MM_BLOCK_SHIFT;
    if (!(pte & PTE_P) || b >= mm_block_count)
        return false;
    uint32_t e = mm_block_table[b];
    return !ct_is_free(e) && !ct_is_reserved(e);
}

/* Clears `pages` PTEs from `va`; in the direct map the original mapping comes back. */
static void unmap_range(uint32_t va, uint32_t pages, uint32_t *upd)
{
    for (uint32_t i = 0; i < pages; i++, va += MM_PAGE_SIZE) {
        uint32_t *pte = pte_slot(va, upd, 0, 0);
        if (!pte)
            continue;
        if (!upd && va >= KERNEL_VBASE && V2P(va) < mm_lowmap_end)
            *pte = V2P(va) | PTE_P | PTE_W;
        else
            *pte = 0;
        flush_if_live(va, upd);
    }
}

/* Creates the page tables [va, va + pages) lacks. On MM_ERR_NOMEM, frees the ones it made,
 * so a refused mapping leaves the page tables as they were. */
static int create_tables(uint32_t va, uint32_t pages, uint32_t *upd)
{
    static uint16_t made[1024];
    uint32_t n = 0, first = PDX(va), last = PDX(va + (pages - 1) * MM_PAGE_SIZE);
    for (uint32_t i = first; i <= last; i++) {
        uint32_t *pde = upd ? &upd[i] : &kpd[i];
        if (*pde & PTE_P)
            continue;
        int err = MM_OK;
        pte_slot(i << 22, upd, 1, &err);
        if (err != MM_OK) {
            while (n--) {
                uint32_t *undo = upd ? &upd[made[n]] : &kpd[made[n]];
                pt_free_frame(*undo & PTE_ADDR);
                *undo = 0;
                if (upd && space_is_live(upd))
                    kpd[made[n]] = 0;
            }
            return err;
        }
        made[n++] = (uint16_t)i;
    }
    return MM_OK;
}

static void remove_entry(uint32_t i)
{
    mm_mappings[i] = mm_mappings[--mm_mapping_count];
}

int mm_map_pages(uint32_t flags, chain_id_t id, uint32_t va, uint32_t page_offset, uint32_t pages, uint32_t *upd)
{
    uint32_t mode = flags & (MAP_KPD | MAP_UPD);
    if ((flags & ~(MAP_KPD | MAP_UPD | MAP_READONLY | MAP_PAGE_ZERO)) || (mode != MAP_KPD && mode != MAP_UPD) ||
        ((flags & MAP_PAGE_ZERO) && mode != MAP_UPD))
        return MM_ERR_INVALID;
    if (mode == MAP_UPD && !upd)
        return MM_ERR_INVALID;
    if (mode == MAP_KPD)
        upd = 0;
    if (va & (MM_PAGE_SIZE - 1))
        return MM_ERR_ALIGN;
    uint32_t f = irq_save();
    int r = MM_OK;
    uint32_t total = MmChainBlocks(id) * MM_PAGES_PER_BLOCK;
    if (!total) {
        r = MM_ERR_BAD_ID;
        goto out;
    }
    if (page_offset >= total || pages > total - page_offset) {
        r = MM_ERR_RANGE;
        goto out;
    }
    if (!pages)
        pages = total - page_offset;
    uint64_t end = (uint64_t)va + (uint64_t)pages * MM_PAGE_SIZE;
    if (upd ? ((va < MM_PAGE_SIZE && !(flags & MAP_PAGE_ZERO)) || end > USER_SPACE_END) : (va < KERNEL_VBASE || end > WINDOW_BASE)) {
        r = MM_ERR_RANGE;
        goto out;
    }
    if (mm_mapping_count >= MM_MAX_MAPPINGS) {
        r = MM_ERR_NOMEM;
        goto out;
    }
    /* Pass 1: refuse pages that already map a chain (or lie under a 4 MiB page). */
    for (uint32_t i = 0; i < pages; i++) {
        uint32_t v = va + i * MM_PAGE_SIZE;
        uint32_t pde = upd ? upd[PDX(v)] : kpd[PDX(v)];
        uint32_t *pte = pte_slot(v, upd, 0, 0);
        if ((pde & PTE_P) && (pde & PTE_PS)) {
            r = MM_ERR_BUSY;
            goto out;
        }
        if (pte && maps_chain_block(*pte)) {
            r = MM_ERR_BUSY;
            goto out;
        }
    }
    /* Pass 1b: create the missing page tables; if one cannot be had, remove those made. */
    r = create_tables(va, pages, upd);
    if (r != MM_OK)
        goto out;
    /* Pass 2: write the PTEs, walking the chain's links from page_offset; a page of a
     * swapped-out block gets its swapped PTE (it comes in on the first touch). */
    uint32_t pte_flags = PTE_P | ((flags & MAP_READONLY) ? 0 : PTE_W) | (upd ? PTE_U : 0);
    uint32_t b = id;
    for (uint32_t i = 0; i < page_offset / MM_PAGES_PER_BLOCK; i++)
        b = mm_next_link(b);
    for (uint32_t i = 0, pg = page_offset; i < pages; i++, pg++) {
        if (i && pg % MM_PAGES_PER_BLOCK == 0)
            b = mm_next_link(b);
        uint32_t v = va + i * MM_PAGE_SIZE;
        uint32_t *pte = pte_slot(v, upd, 0, 0);
        if (ct_is_swapped_link(b))
            *pte = pte_swapped(ct_swap_slot(b), pg % MM_PAGES_PER_BLOCK);
        else
            *pte = (b << MM_BLOCK_SHIFT) + (pg % MM_PAGES_PER_BLOCK) * MM_PAGE_SIZE + pte_flags;
        flush_if_live(v, upd);
    }
    mm_mappings[mm_mapping_count++] = (struct mm_mapping){id, va, page_offset, pages, mode | (flags & MAP_READONLY), upd};
    mm_event_x(MM_EV_MAPPED, id, pages, flags, va, MM_OK, (uint32_t)__builtin_return_address(0), (flags & 0xffu) | (page_offset << 8), (uint32_t)upd);
out:
    irq_restore(f);
    return r;
}

int MmMapChainToVirtualAddress(uint32_t flags, chain_id_t id, void *map_to, uint32_t page_offset, void *if_upd_address)
{
    return mm_map_pages(flags, id, (uint32_t)map_to, page_offset, 0, (uint32_t *)if_upd_address);
}

int MmUnmapChain(uint32_t flags, chain_id_t id, void *map_to, void *if_upd_address)
{
    uint32_t mode = flags & (MAP_KPD | MAP_UPD);
    if (mode != MAP_KPD && mode != MAP_UPD)
        return MM_ERR_INVALID;
    if (mode == MAP_UPD && !if_upd_address)
        return MM_ERR_INVALID;
    uint32_t *upd = mode == MAP_UPD ? (uint32_t *)if_upd_address : 0;
    uint32_t f = irq_save();
    int r = mm_chain_valid(id) ? MM_ERR_NOT_MAPPED : MM_ERR_BAD_ID;
    for (uint32_t i = 0; i < mm_mapping_count && r == MM_ERR_NOT_MAPPED; i++) {
        struct mm_mapping *m = &mm_mappings[i];
        if (m->chain == id && m->va == (uint32_t)map_to && m->upd == upd) {
            unmap_range(m->va, m->pages, m->upd);
            remove_entry(i);
            r = MM_OK;
            mm_event_x(MM_EV_UNMAPPED, id, 0, flags, (uint32_t)map_to, MM_OK, (uint32_t)__builtin_return_address(0), flags, (uint32_t)upd);
        }
    }
    irq_restore(f);
    return r;
}

void mm_unmap_all(chain_id_t id, uint32_t from_page)
{
    for (uint32_t i = mm_mapping_count; i-- > 0;) {
        struct mm_mapping *m = &mm_mappings[i];
        if (m->chain != id || m->page_offset + m->pages <= from_page)
            continue;
        if (from_page <= m->page_offset) {
            mm_ring_event(MM_EV_UNMAPPED, id, 0, m->flags, m->va, MM_OK, (uint32_t)__builtin_return_address(0), (uint32_t)m->upd);
            unmap_range(m->va, m->pages, m->upd);
            remove_entry(i);
        } else {
            uint32_t keep = from_page - m->page_offset;
            mm_ring_event(MM_EV_UNMAPPED, id, keep, m->flags, m->va, MM_OK, (uint32_t)__builtin_return_address(0), (uint32_t)m->upd);
            unmap_range(m->va + keep * MM_PAGE_SIZE, m->pages - keep, m->upd);
            m->pages = keep;
        }
    }
}

void mm_remap_page(chain_id_t id, uint32_t page, uint32_t new_phys)
{
    for (uint32_t i = 0; i < mm_mapping_count; i++) {
        struct mm_mapping *m = &mm_mappings[i];
        if (m->chain != id || page < m->page_offset || page >= m->page_offset + m->pages)
            continue;
        uint32_t va = m->va + (page - m->page_offset) * MM_PAGE_SIZE;
        uint32_t *pte = pte_slot(va, m->upd, 0, 0);
        if (pte) {
            *pte = new_phys | (*pte & ~PTE_ADDR);
            flush_if_live(va, m->upd);
        }
    }
}

void mm_rename_mappings(chain_id_t old_id, chain_id_t new_id)
{
    for (uint32_t i = 0; i < mm_mapping_count; i++)
        if (mm_mappings[i].chain == old_id)
            mm_mappings[i].chain = new_id;
}

/* Calls visit(pte_pointer, va, mapping, page_index_in_mapping) for every page of every
 * mapping of chain `id`. */
static void for_each_mapped_page(chain_id_t id, void (*visit)(uint32_t *pte, uint32_t va, struct mm_mapping *m, void *ctx), void *ctx)
{
    for (uint32_t i = 0; i < mm_mapping_count; i++) {
        struct mm_mapping *m = &mm_mappings[i];
        if (m->chain != id)
            continue;
        for (uint32_t p = 0; p < m->pages; p++) {
            uint32_t va = m->va + p * MM_PAGE_SIZE;
            uint32_t *pte = pte_slot(va, m->upd, 0, 0);
            if (pte)
                visit(pte, va, m, ctx);
        }
    }
}

static void clean_visit(uint32_t *pte, uint32_t va, struct mm_mapping *m, void *ctx)
{
    ++*(uint32_t *)ctx;
    if ((*pte & PTE_P) && (*pte & PTE_D))
        swap_block_forget((*pte & PTE_ADDR) >> MM_BLOCK_SHIFT);   /* its swap copy is stale */
    *pte &= ~PTE_D;
    flush_if_live(va, m->upd);
}

static void dirty_visit(uint32_t *pte, uint32_t va, struct mm_mapping *m, void *ctx)
{
    (void)va;
    (void)m;
    if (*pte & PTE_D)
        *(bool *)ctx = true;
}

int MmCleanChain(chain_id_t id)
{
    uint32_t f = irq_save();
    int r = mm_chain_valid(id) ? MM_OK : MM_ERR_BAD_ID;
    uint32_t pages = 0;
    if (r == MM_OK) {
        for_each_mapped_page(id, clean_visit, &pages);
        mm_ring_event(MM_EV_CLEANED, id, pages, 0, 0, MM_OK, (uint32_t)__builtin_return_address(0), 0);
    }
    irq_restore(f);
    return r;
}

int MmChainDirty(chain_id_t id, bool *dirty)
{
    if (!dirty)
        return MM_ERR_INVALID;
    uint32_t f = irq_save();
    int r = mm_chain_valid(id) ? MM_OK : MM_ERR_BAD_ID;
    *dirty = false;
    if (r == MM_OK)
        for_each_mapped_page(id, dirty_visit, dirty);
    irq_restore(f);
    return r;
}

int mm_collect_dirty(uint32_t flags, uint32_t va, uint32_t pages, uint32_t *upd, uint32_t *bitmap)
{
    if (!bitmap || (va & (MM_PAGE_SIZE - 1)))
        return MM_ERR_INVALID;
    if (!(flags & MAP_UPD))
        upd = 0;
    uint32_t f = irq_save();
    for (uint32_t i = 0; i < pages; i++) {
        uint32_t v = va + i * MM_PAGE_SIZE;
        uint32_t *pte = pte_slot(v, upd, 0, 0);
        if (i % 32 == 0)
            bitmap[i / 32] = 0;
        if (pte && (*pte & PTE_P) && (*pte & PTE_D)) {
            bitmap[i / 32] |= 1u << (i % 32);
            swap_block_forget((*pte & PTE_ADDR) >> MM_BLOCK_SHIFT);   /* its swap copy is stale */
            *pte &= ~PTE_D;
            flush_if_live(v, upd);
        }
    }
    irq_restore(f);
    return MM_OK;
}

void mm_release_upd(uint32_t *upd)
{
    uint32_t f = irq_save();
    for (uint32_t i = mm_mapping_count; i-- > 0;)
        if (mm_mappings[i].upd == upd) {
            mm_ring_event(MM_EV_UNMAPPED, mm_mappings[i].chain, 0, mm_mappings[i].flags, mm_mappings[i].va, MM_OK,
                          (uint32_t)__builtin_return_address(0), (uint32_t)upd);
            unmap_range(mm_mappings[i].va, mm_mappings[i].pages, upd);
            remove_entry(i);
        }
    for (uint32_t i = 0; i < UPD_ENTRIES; i++) {
        if (upd[i] & PTE_P)
            pt_free_frame(upd[i] & PTE_ADDR);
        upd[i] = 0;
        if (space_is_live(upd))
            kpd[i] = 0;
    }
    if (space_is_live(upd))
        flush_tlb();
    irq_restore(f);
}

int mm_map_reserved(uint32_t va, uint32_t phys, uint32_t pages, uint32_t *upd)
{
    if (!upd || !pages || (va | phys) & (MM_PAGE_SIZE - 1))
        return MM_ERR_INVALID;
    if (va >= USER_SPACE_END || pages > (USER_SPACE_END - va) / MM_PAGE_SIZE)
        return MM_ERR_RANGE;
    for (uint32_t i = 0; i < pages; i++) {
        uint32_t b = (phys + i * MM_PAGE_SIZE) >> MM_BLOCK_SHIFT;
        if (b >= mm_block_count || !ct_is_reserved(mm_block_table[b]))
            return MM_ERR_RANGE;
    }
    uint32_t f = irq_save();
    for (uint32_t i = 0; i < pages; i++) {
        uint32_t *pte = pte_slot(va + i * MM_PAGE_SIZE, upd, 0, 0);
        if (pte && (*pte & PTE_P)) {
            irq_restore(f);
            return MM_ERR_BUSY;
        }
    }
    int r = create_tables(va, pages, upd);
    if (r == MM_OK)
        for (uint32_t i = 0; i < pages; i++) {
            uint32_t v = va + i * MM_PAGE_SIZE;
            *pte_slot(v, upd, 0, 0) = (phys + i * MM_PAGE_SIZE) | PTE_P | PTE_W | PTE_U;
            flush_if_live(v, upd);
        }
    irq_restore(f);
    return r;
}
