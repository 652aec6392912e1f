/* vfb.h: a virtual framebuffer that finds what was drawn through the dirty bit. Its pixels
 * are a chain (owner OWNER_VFB) mapped in the KPD at VFB_BASE; drawing is plain memory
 * writes, and vfb_scan() asks the page tables which pages were written since the last scan
 * (mm_collect_dirty, which also cleans them) - the pages a real device would send out. */
#ifndef VFB_H
#define VFB_H
#include <stdint.h>
#include "mm.h"

#define VFB_BASE    0xE8000000u   /* fixed kernel address of the pixels (MAP_KPD) */
#define VFB_WIDTH   640u
#define VFB_HEIGHT  480u
#define VFB_BPP     8u            /* one byte per pixel (a palette index) */
#define VFB_PITCH   (VFB_WIDTH * VFB_BPP / 8u)                          /* bytes per row */
#define VFB_BYTES   (VFB_PITCH * VFB_HEIGHT)                            /* 307200 */
#define VFB_PAGES   ((VFB_BYTES + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE)      /* 75 */
#define VFB_BITMAP_WORDS ((VFB_PAGES + 31) / 32)                        /* 3 */

struct vfb_stats {
    uint32_t scans;           /* vfb_scan calls since vfb_init */
    uint32_t flushed_pages;   /* dirty pages found by them, in total */
};

/* The pixels while the device exists (NULL otherwise): VFB_HEIGHT rows of VFB_PITCH bytes. */
extern volatile uint8_t *vfb_pixels;

/* Creates the device: allocates the chain, maps it at VFB_BASE, clears it and cleans its
 * dirty bits. Returns MM_OK, MM_ERR_BUSY if it exists already, or the allocation's or
 * mapping's error (then nothing is left allocated). */
int vfb_init(void);
/* Fills bitmap[0..VFB_BITMAP_WORDS) with one bit per page written since the last scan (or
 * vfb_init), cleans those pages, and returns how many there were; -1 if there is no device. */
int vfb_scan(uint32_t *bitmap);
/* Unmaps and frees the pixels. Harmless without a device. */
void vfb_shutdown(void);
/* The device's chain (it follows defragmentation), or 0 without a device. */
chain_id_t vfb_chain(void);
struct vfb_stats vfb_stats(void);

static inline void vfb_put_pixel(uint32_t x, uint32_t y, uint8_t color)
{
    vfb_pixels[y * VFB_PITCH + x] = color;
}
#endif
