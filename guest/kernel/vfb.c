/* vfb.c: the virtual framebuffer (vfb.h). The pixels are an ordinary movable chain mapped
 * at VFB_BASE; the CPU sets the dirty bit of each page it writes, and a scan collects and
 * clears those bits, which is how the device learns what changed without any hook on the
 * drawing code. A relocation listener keeps the chain ID right when the defragmenter moves
 * the pixels (the mapping, and so VFB_BASE, stays valid throughout). */
#include "vfb.h"
#include "console.h"
#include "string.h"

#define VFB_BLOCKS ((VFB_BYTES + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE)   /* 19 */

volatile uint8_t *vfb_pixels;
static chain_id_t chain;
static struct vfb_stats stats;

static void relocated(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    if (chain == old_id)
        chain = new_id;
}

int vfb_init(void)
{
    if (chain)
        return MM_ERR_BUSY;
    chain_id_t id;
    int r = mm_allocate_chain(0, VFB_BLOCKS, OWNER_VFB, (uint32_t)__builtin_return_address(0), &id);
    if (r != MM_OK)
        return r;
    mm_owner_set(id, OWNER_VFB, 0, 0, VFB_BYTES);
    r = mm_add_relocation_listener(relocated, 0);
    if (r != MM_OK) {
        MmFreeChain(id);
        return r;
    }
    chain = id;
    r = mm_map_pages(MAP_KPD, chain, VFB_BASE, 0, VFB_PAGES, 0);
    if (r != MM_OK) {
        mm_remove_relocation_listener(relocated, 0);
        MmFreeChain(chain);
        chain = 0;
        return r;
    }
    vfb_pixels = (volatile uint8_t *)VFB_BASE;
    memset((void *)VFB_BASE, 0, VFB_BYTES);
    MmCleanChain(chain);
    stats = (struct vfb_stats){0, 0};
    return MM_OK;
}

int vfb_scan(uint32_t *bitmap)
{
    if (!chain)
        return -1;
    if (mm_collect_dirty(MAP_KPD, VFB_BASE, VFB_PAGES, 0, bitmap) != MM_OK)
        panic("vfb: cannot read the dirty bits of its own mapping");
    int n = 0;
    for (uint32_t w = 0; w < VFB_BITMAP_WORDS; w++)
        for (uint32_t bits = bitmap[w]; bits; bits &= bits - 1)
            n++;
    stats.scans++;
    stats.flushed_pages += (uint32_t)n;
    return n;
}

void vfb_shutdown(void)
{
    if (!chain)
        return;
    vfb_pixels = 0;
    if (MmFreeChain(chain) != MM_OK)      /* also removes the mapping */
        panic("vfb: its chain %u is not live", chain);
    mm_remove_relocation_listener(relocated, 0);
    chain = 0;
}

chain_id_t vfb_chain(void)
{
    return chain;
}

struct vfb_stats vfb_stats(void)
{
    return stats;
}
