/* paging.c: the global KPD, the direct map of low memory, the mapping windows through
 * which all page tables and copied blocks are reached, and the pool of page-table frames
 * (carved four to a block from frozen chains owned by OWNER_PAGETABLE). */
#include "paging.h"
#include "console.h"
#include "mm.h"
#include "string.h"
#include "x86.h"

#define LOWMAP_MAX_TABLES 4   /* the direct map covers at most 16 MiB */

uint32_t kpd[1024] __attribute__((aligned(4096)));
static uint32_t low_pts[LOWMAP_MAX_TABLES][1024] __attribute__((aligned(4096)));
static uint32_t window_pt[1024] __attribute__((aligned(4096)));
uint32_t mm_lowmap_end;

static uint32_t pt_free_list;     /* physical address of the first free frame, 0 = none */
static uint32_t pt_used;

void paging_init(uint32_t lowmap_end)
{
    if (lowmap_end > LOWMAP_MAX_TABLES * 0x400000u)
        panic("direct map of %u bytes does not fit", lowmap_end);
    mm_lowmap_end = lowmap_end;
    memset(kpd, 0, sizeof kpd);
    for (uint32_t pa = 0; pa < lowmap_end; pa += MM_PAGE_SIZE)
        low_pts[pa >> 22][PTX(pa)] = pa | PTE_P | PTE_W;
    for (uint32_t i = 0; i * 0x400000u < lowmap_end; i++)
        kpd[PDX(KERNEL_VBASE) + i] = V2P(low_pts[i]) | PTE_P | PTE_W;
    kpd[PDX(WINDOW_BASE)] = V2P(window_pt) | PTE_P | PTE_W;
    write_cr3(V2P(kpd));
}

void *window_map(enum window_slot slot, uint32_t phys)
{
    uint32_t va = WINDOW_BASE + (uint32_t)slot * MM_PAGE_SIZE;
    window_pt[slot] = (phys & PTE_ADDR) | PTE_P | PTE_W;
    invlpg(va);
    return (void *)va;
}

void window_save(uint32_t saved[WIN_COUNT])
{
    for (uint32_t i = 0; i < WIN_COUNT; i++)
        saved[i] = window_pt[i];
}

void window_restore(const uint32_t saved[WIN_COUNT])
{
    for (uint32_t i = 0; i < WIN_COUNT; i++) {
        window_pt[i] = saved[i];
        invlpg(WINDOW_BASE + i * MM_PAGE_SIZE);
    }
}

uint32_t pt_alloc_frame(void)
{
    if (!pt_free_list) {
        chain_id_t id;
        if (mm_allocate_chain(CHAIN_FROZEN, 1, OWNER_PAGETABLE,
                              (uint32_t)__builtin_return_address(0), &id) != MM_OK)
            return 0;
        for (uint32_t p = 0; p < MM_PAGES_PER_BLOCK; p++)
            pt_free_frame((id << MM_BLOCK_SHIFT) + p * MM_PAGE_SIZE);
        pt_used += MM_PAGES_PER_BLOCK;   /* pt_free_frame counted them down */
    }
    uint32_t frame = pt_free_list;
    uint32_t *w = window_map(WIN_SCRATCH, frame);
    pt_free_list = w[0];
    memset(w, 0, MM_PAGE_SIZE);
    pt_used++;
    return frame;
}

void pt_free_frame(uint32_t phys)
{
    uint32_t *w = window_map(WIN_SCRATCH, phys);
    w[0] = pt_free_list;
    pt_free_list = phys;
    pt_used--;
}

uint32_t pt_frames_used(void)
{
    return pt_used;
}
