/* test_vfb.c: the virtual framebuffer finds exactly the pages written since its last scan,
 * through the dirty bits, and agrees with MmChainDirty and MmCleanChain. Each test creates
 * and destroys its own device. */
#include "console.h"
#include "mm.h"
#include "paging.h"
#include "string.h"
#include "test.h"
#include "vfb.h"

static uint32_t bit(const uint32_t *bm, uint32_t page)
{
    return (bm[page / 32] >> (page % 32)) & 1;
}

static uint32_t popcount(const uint32_t *bm)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < VFB_PAGES; p++)
        n += bit(bm, p);
    return n;
}

/* Runs a test body between vfb_init and vfb_shutdown, whatever it returns. */
static const char *with_vfb(const char *(*body)(void))
{
    CHECK_OK(vfb_init());
    const char *err = body();
    vfb_shutdown();
    CHECK(vfb_chain() == 0);
    return err;
}

static const char *scan_finds_written_pages(void)
{
    static const uint32_t pages[] = {0, 7, 33, 74};
    uint32_t bm[VFB_BITMAP_WORDS];
    CHECK_EQ(vfb_scan(bm), 0);                       /* a new device is clean */
    for (uint32_t i = 0; i < 4; i++)
        vfb_pixels[pages[i] * MM_PAGE_SIZE + (pages[i] * 97) % MM_PAGE_SIZE] = (uint8_t)(i + 1);
    memset(bm, 0xFF, sizeof bm);
    CHECK_EQ(vfb_scan(bm), 4);
    for (uint32_t p = 0; p < VFB_PAGES; p++)
        CHECK_EQ(bit(bm, p), p == 0 || p == 7 || p == 33 || p == 74);
    CHECK_EQ(bm[VFB_BITMAP_WORDS - 1] >> (VFB_PAGES % 32), 0);   /* nothing past the last page */
    CHECK_EQ(vfb_scan(bm), 0);                       /* the scan cleaned them */
    CHECK_EQ(popcount(bm), 0);
    struct vfb_stats s = vfb_stats();
    CHECK_EQ(s.scans, 3);
    CHECK_EQ(s.flushed_pages, 4);
    /* The pixels really are there, in the chain's pages. */
    uint32_t phys;
    uint8_t got;
    CHECK_OK(MmChainPagePhysical(vfb_chain(), 33, &phys));
    mm_phys_read(phys + (33 * 97) % MM_PAGE_SIZE, &got, 1);
    CHECK_EQ(got, 3);
    return 0;
}

static const char *pixels_and_rows(void)
{
    uint32_t bm[VFB_BITMAP_WORDS];
    /* A pixel in the middle of the screen: row 240 starts at byte 153600, page 37. */
    vfb_put_pixel(320, 240, 0x2A);
    CHECK_EQ(vfb_scan(bm), 1);
    CHECK_EQ(bit(bm, (240 * VFB_PITCH + 320) / MM_PAGE_SIZE), 1);
    /* A horizontal line across a page boundary: row 6 spans bytes 3840..4479, pages 0 and 1. */
    for (uint32_t x = 0; x < VFB_WIDTH; x++)
        vfb_put_pixel(x, 6, 0x11);
    CHECK_EQ(vfb_scan(bm), 2);
    CHECK_EQ(bit(bm, 0) && bit(bm, 1), 1);
    /* The last pixel lies in the last page. */
    vfb_put_pixel(VFB_WIDTH - 1, VFB_HEIGHT - 1, 0x7F);
    CHECK_EQ(vfb_scan(bm), 1);
    CHECK_EQ(bit(bm, VFB_PAGES - 1), 1);
    /* Filling the whole screen dirties every page. */
    memset((void *)vfb_pixels, 0x33, VFB_BYTES);
    CHECK_EQ(vfb_scan(bm), VFB_PAGES);
    CHECK_EQ(vfb_stats().flushed_pages, 4 + VFB_PAGES);
    return 0;
}

static const char *reads_do_not_dirty(void)
{
    uint32_t bm[VFB_BITMAP_WORDS], sum = 0;
    for (uint32_t off = 0; off < VFB_BYTES; off += 512)
        sum += vfb_pixels[off];
    CHECK_EQ(sum, 0);                                /* vfb_init cleared the screen */
    CHECK_EQ(vfb_scan(bm), 0);
    bool dirty = true;
    CHECK_OK(MmChainDirty(vfb_chain(), &dirty));
    CHECK(!dirty);
    return 0;
}

static const char *chain_dirty_agrees(void)
{
    uint32_t bm[VFB_BITMAP_WORDS];
    bool dirty = true;
    CHECK_OK(MmChainDirty(vfb_chain(), &dirty));
    CHECK(!dirty);
    vfb_put_pixel(10, 100, 1);
    CHECK_OK(MmChainDirty(vfb_chain(), &dirty));
    CHECK(dirty);
    CHECK_OK(MmCleanChain(vfb_chain()));             /* cleaning the chain hides the write */
    CHECK_OK(MmChainDirty(vfb_chain(), &dirty));
    CHECK(!dirty);
    CHECK_EQ(vfb_scan(bm), 0);
    vfb_put_pixel(10, 300, 1);
    CHECK_EQ(vfb_scan(bm), 1);                       /* and the scan cleans the chain */
    CHECK_OK(MmChainDirty(vfb_chain(), &dirty));
    CHECK(!dirty);
    /* Page by page, the PTEs agree with the scan. */
    vfb_put_pixel(0, 0, 9);
    CHECK(mm_lookup_pte(VFB_BASE, 0) & PTE_D);
    CHECK_EQ(mm_lookup_pte(VFB_BASE + MM_PAGE_SIZE, 0) & PTE_D, 0);
    CHECK_EQ(vfb_scan(bm), 1);
    CHECK_EQ(mm_lookup_pte(VFB_BASE, 0) & PTE_D, 0);
    return 0;
}

static const char *survives_defragmentation(void)
{
    /* The pixels' chain moves (new ID, new blocks); drawing and scanning go on at VFB_BASE. */
    uint32_t bm[VFB_BITMAP_WORDS];
    for (uint32_t y = 0; y < VFB_HEIGHT; y += 16)
        vfb_put_pixel(y % VFB_WIDTH, y, (uint8_t)y);
    CHECK_EQ(vfb_scan(bm), VFB_HEIGHT / 16);
    chain_id_t before = vfb_chain();
    uint32_t dst = mm_find_free_run(1, 0, 0);
    CHECK(dst);
    CHECK_OK(mm_move_block(before, dst));            /* move its head: the ID changes */
    CHECK_EQ(vfb_chain(), dst);
    CHECK(!mm_chain_valid(before));
    MmDefragment();
    CHECK(mm_chain_valid(vfb_chain()));
    CHECK_EQ(mm_owners[vfb_chain()].kind, OWNER_VFB);
    CHECK_MM();
    for (uint32_t y = 0; y < VFB_HEIGHT; y += 16)
        CHECK_EQ(vfb_pixels[y * VFB_PITCH + y % VFB_WIDTH], (uint8_t)y);
    CHECK_EQ(vfb_scan(bm), 0);                       /* a move is not a write */
    vfb_put_pixel(5, 479, 1);
    CHECK_EQ(vfb_scan(bm), 1);
    CHECK_EQ(bit(bm, VFB_PAGES - 1), 1);
    return 0;
}

TEST(vfb, scan_finds_written_pages) { return with_vfb(scan_finds_written_pages); }
TEST(vfb, pixels_and_rows) { return with_vfb(pixels_and_rows); }
TEST(vfb, reads_do_not_dirty) { return with_vfb(reads_do_not_dirty); }
TEST(vfb, chain_dirty_agrees) { return with_vfb(chain_dirty_agrees); }
TEST(vfb, survives_defragmentation) { return with_vfb(survives_defragmentation); }

TEST(vfb, lifecycle)
{
    uint32_t bm[VFB_BITMAP_WORDS];
    CHECK_EQ(vfb_scan(bm), -1);                      /* no device */
    vfb_shutdown();                                  /* harmless */
    uint32_t client0 = mm_client_blocks(), maps0 = mm_mapping_count;
    CHECK_OK(vfb_init());
    CHECK_EQ(vfb_init(), MM_ERR_BUSY);
    chain_id_t id = vfb_chain();
    CHECK(id);
    CHECK_EQ(MmChainBlocks(id), (VFB_BYTES + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE);
    CHECK_EQ(mm_owners[id].kind, OWNER_VFB);
    CHECK_EQ(mm_owners[id].size_bytes, VFB_BYTES);
    CHECK_EQ(mm_mapping_count, maps0 + 1);
    uint32_t phys;
    CHECK_OK(MmChainPagePhysical(id, VFB_PAGES - 1, &phys));
    CHECK_EQ(mm_lookup_pte(VFB_BASE + (VFB_PAGES - 1) * MM_PAGE_SIZE, 0) & PTE_ADDR, phys);
    CHECK_EQ(mm_lookup_pte(VFB_BASE + VFB_PAGES * MM_PAGE_SIZE, 0) & PTE_P, 0);   /* 75 pages, not 76 */
    vfb_shutdown();
    CHECK(!mm_chain_valid(id));
    CHECK_EQ(mm_lookup_pte(VFB_BASE, 0) & PTE_P, 0);
    CHECK_EQ(mm_mapping_count, maps0);
    CHECK_EQ(mm_client_blocks(), client0);
    CHECK_OK(vfb_init());                            /* it can be made again */
    vfb_shutdown();
    return 0;
}
