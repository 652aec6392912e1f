/* test_xms.c: the XMS driver through its register-frame dispatcher: every function and
 * every error code, with block contents checked against the chains' physical pages. */
#include "console.h"
#include "dos.h"
#include "mm.h"
#include "string.h"
#include "test.h"
#include "x86.h"
#include "xms.h"

#define AX(r) REG_LO16((r).eax)
#define BX(r) REG_LO16((r).ebx)
#define DX(r) REG_LO16((r).edx)
#define BL(r) REG_LO8((r).ebx)
#define BH(r) REG_HI8((r).ebx)
#define FAR(seg, off) (((uint32_t)(seg) << 16) | (uint16_t)(off))

static struct rm_regs xcall(uint8_t ah, uint16_t bx, uint16_t dx)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = (uint32_t)ah << 8;
    r.ebx = bx;
    r.edx = dx;
    xms_dispatch(&r);
    return r;
}

/* Allocates kb KiB; returns the handle or 0. */
static uint16_t xalloc(uint16_t kb)
{
    struct rm_regs r = xcall(0x09, 0, kb);
    return AX(r) == 1 ? DX(r) : 0;
}

static struct xms_handle *entry(uint16_t handle)
{
    for (uint32_t i = 0; i < xms_handles.length; i++) {
        struct xms_handle *h = vec_at(&xms_handles, i);
        if (h->handle == handle)
            return h;
    }
    return 0;
}

/* Runs function 0Bh with a move structure placed in a fresh conventional block. */
static struct rm_regs xmove(uint32_t len, uint16_t sh, uint32_t so, uint16_t dh, uint32_t doff)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    uint16_t seg = 0;
    if (dos_alloc(1, 8, &seg, 0) != DOS_OK) {
        REG_SETLO8(r.ebx, 0xEE);      /* shows up as an unexpected error code */
        return r;
    }
    struct xms_move m = {len, sh, so, dh, doff};
    memcpy(P2V((uint32_t)seg << 4), &m, sizeof m);
    r.eax = 0x0B00;
    r.ds = seg;
    r.esi = 0;
    xms_dispatch(&r);
    dos_free(seg);
    return r;
}

/* Reads or writes bytes of a block straight through its chain's physical pages: the
 * oracle the dispatcher's moves are compared with. */
static void emb_io(uint16_t handle, uint32_t off, void *buf, uint32_t len, int write)
{
    chain_id_t id = entry(handle)->chain;
    uint8_t *p = buf;
    while (len) {
        uint32_t phys, n = MM_PAGE_SIZE - (off & (MM_PAGE_SIZE - 1));
        if (n > len)
            n = len;
        KASSERT(MmChainPagePhysical(id, off / MM_PAGE_SIZE, &phys) == MM_OK);
        phys += off & (MM_PAGE_SIZE - 1);
        if (write)
            mm_phys_write(phys, p, n);
        else
            mm_phys_read(phys, p, n);
        off += n;
        p += n;
        len -= n;
    }
}

static uint8_t pattern(uint32_t i, uint32_t seed)
{
    return (uint8_t)(i * 7u + seed + (i >> 9));
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = pattern(i, seed);
}

/* Index of the first byte that differs from the pattern, or len. */
static uint32_t mismatch(const uint8_t *p, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != pattern(i, seed))
            return i;
    return len;
}

static uint8_t big[48 * 1024];

/* Highest free block: a place far from everything to move a block to. */
static uint32_t highest_free_block(void)
{
    for (uint32_t b = mm_block_count - 1; b > 0; b--)
        if (ct_is_free(mm_block_table[b]))
            return b;
    return 0;
}

static bool is_run(chain_id_t id)
{
    uint32_t n = MmChainBlocks(id), b;
    for (uint32_t i = 0; i < n; i++)
        if (mm_chain_block(id, i, &b) != MM_OK || b != id + i)
            return false;
    return true;
}

TEST(xms, version)
{
    struct rm_regs r = xcall(0x00, 0xFFFF, 0xFFFF);
    CHECK_EQ(AX(r), 0x0300);
    CHECK_EQ(BX(r), XMS_DRIVER_REVISION);
    CHECK_EQ(DX(r), 0);                        /* no HMA */
    return 0;
}

TEST(xms, hma_not_present)
{
    struct rm_regs r = xcall(0x01, 0, 0xFFFF);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_HMA_MISSING);
    r = xcall(0x02, 0, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_HMA_MISSING);
    return 0;
}

TEST(xms, a20_always_enabled)
{
    CHECK_EQ(AX(xcall(0x03, 0, 0)), 1);
    CHECK_EQ(AX(xcall(0x05, 0, 0)), 1);
    struct rm_regs r = xcall(0x04, 0, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_A20_STILL_ENABLED);
    r = xcall(0x06, 0, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_A20_STILL_ENABLED);
    r = xcall(0x07, 0xFF, 0);
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(BL(r), 0);
    return 0;
}

TEST(xms, query_free_tracks_allocations)
{
    uint32_t expect = mm_free_blocks * 16u;
    struct rm_regs q1 = xcall(0x08, 0, 0);
    CHECK_EQ(DX(q1), expect > 0xFFFF ? 0xFFFF : expect);
    CHECK_EQ(AX(q1), DX(q1));                  /* chains need not be contiguous */
    CHECK_EQ(BL(q1), 0);
    uint16_t h = xalloc(64);
    CHECK(h);
    struct rm_regs q2 = xcall(0x08, 0, 0);
    if (expect <= 0xFFFF)
        CHECK_EQ(DX(q1) - DX(q2), 64);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    struct rm_regs q3 = xcall(0x08, 0, 0);
    CHECK_EQ(DX(q3), DX(q1));
    return 0;
}

TEST(xms, alloc_free)
{
    uint32_t free0 = mm_free_blocks, n0 = xms_handles.length;
    uint16_t h = xalloc(100);
    CHECK(h);
    CHECK_EQ(xms_handles.length, n0 + 1);
    struct xms_handle *e = entry(h);
    CHECK(e);
    CHECK_EQ(e->size_kb, 100);
    CHECK_EQ(e->lock_count, 0);
    CHECK(mm_chain_valid(e->chain));
    CHECK_EQ(MmChainBlocks(e->chain), 7);      /* 100 KiB in 16 KiB blocks */
    CHECK_EQ(mm_free_blocks, free0 - 7);
    uint32_t flags;
    CHECK_OK(MmChainFlags(e->chain, &flags));
    CHECK_EQ(flags & CHAIN_FROZEN, 0);         /* movable while unlocked */
    CHECK_EQ(mm_owners[e->chain].kind, OWNER_XMS);
    CHECK_EQ(mm_owners[e->chain].handle, h);
    CHECK_EQ(mm_owners[e->chain].size_bytes, 100 * 1024);
    CHECK(mm_owners[e->chain].caller != 0);
    chain_id_t id = e->chain;
    struct rm_regs r = xcall(0x0A, 0, h);
    CHECK_EQ(AX(r), 1);
    CHECK(!mm_chain_valid(id));
    CHECK(!entry(h));
    CHECK_EQ(xms_handles.length, n0);
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}

TEST(xms, alloc_zero_kb)
{
    uint32_t free0 = mm_free_blocks;
    uint16_t h = xalloc(0);
    CHECK(h);
    CHECK_EQ(entry(h)->chain, 0);
    CHECK_EQ(mm_free_blocks, free0);
    struct rm_regs r = xcall(0x0E, 0, h);
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(DX(r), 0);
    r = xcall(0x0C, 0, h);                     /* locking nothing gives address 0 */
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(DX(r), 0);
    CHECK_EQ(BX(r), 0);
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, alloc_out_of_memory)
{
    /* Take 0xFFFF-KiB blocks until one fails: that one must fail with A0h and change nothing. */
    uint16_t hs[64];
    uint32_t n = 0;
    struct rm_regs r;
    for (;;) {
        uint32_t free0 = mm_free_blocks, len0 = xms_handles.length;
        r = xcall(0x09, 0, 0xFFFF);
        if (AX(r) != 1) {
            CHECK_EQ(mm_free_blocks, free0);
            CHECK_EQ(xms_handles.length, len0);
            break;
        }
        CHECK(n < 64);
        hs[n++] = DX(r);
    }
    CHECK_EQ(BL(r), XMS_ERR_OUT_OF_MEMORY);
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ(AX(xcall(0x0A, 0, hs[i])), 1);
    return 0;
}

TEST(xms, alloc_out_of_handles)
{
    static uint16_t hs[XMS_MAX_HANDLES];
    uint32_t n = 0;
    struct rm_regs r;
    for (;;) {
        r = xcall(0x09, 0, 0);
        if (AX(r) != 1)
            break;
        CHECK(n < XMS_MAX_HANDLES);
        hs[n++] = DX(r);
    }
    CHECK_EQ(BL(r), XMS_ERR_OUT_OF_HANDLES);
    CHECK_EQ(xms_handles.length, XMS_MAX_HANDLES);
    CHECK_EQ(BL(xcall(0x0E, 0, hs[0])), 0);    /* no free handles left */
    /* Handles are distinct and never 0. */
    for (uint32_t i = 0; i < n; i++) {
        CHECK(hs[i] != 0);
        for (uint32_t j = 0; j < i; j++)
            CHECK(hs[i] != hs[j]);
    }
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ(AX(xcall(0x0A, 0, hs[i])), 1);
    return 0;
}

TEST(xms, invalid_handle)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    uint16_t bad = (uint16_t)(h + 1000);
    CHECK(!entry(bad));
    static const uint8_t fns[] = {0x0A, 0x0C, 0x0D, 0x0E, 0x0F};
    for (uint32_t i = 0; i < sizeof fns; i++) {
        struct rm_regs r = xcall(fns[i], 32, bad);
        CHECK_EQ(AX(r), 0);
        CHECK_EQ(BL(r), XMS_ERR_INVALID_HANDLE);
        r = xcall(fns[i], 32, 0);              /* 0 is never a handle */
        CHECK_EQ(AX(r), 0);
        CHECK_EQ(BL(r), XMS_ERR_INVALID_HANDLE);
    }
    CHECK_EQ(entry(h)->size_kb, 16);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, double_free)
{
    uint16_t h = xalloc(32);
    CHECK(h);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    uint32_t free0 = mm_free_blocks;
    struct rm_regs r = xcall(0x0A, 0, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_HANDLE);
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}

TEST(xms, free_locked)
{
    uint16_t h = xalloc(32);
    CHECK(h);
    CHECK_EQ(AX(xcall(0x0C, 0, h)), 1);
    struct rm_regs r = xcall(0x0A, 0, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_LOCKED);
    CHECK(entry(h) && mm_chain_valid(entry(h)->chain));
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, lock_unlock)
{
    uint16_t h = xalloc(64);
    CHECK(h);
    struct rm_regs r = xcall(0x0C, 0, h);
    CHECK_EQ(AX(r), 1);
    uint32_t addr = ((uint32_t)DX(r) << 16) | BX(r), flags;
    chain_id_t id = entry(h)->chain;
    CHECK_EQ(addr, id << MM_BLOCK_SHIFT);
    CHECK(is_run(id));
    CHECK_OK(MmChainFlags(id, &flags));
    CHECK(flags & CHAIN_FROZEN);
    CHECK_EQ(BH(xcall(0x0E, 0, h)), 1);
    r = xcall(0x0C, 0, h);                     /* nested lock: same address */
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(((uint32_t)DX(r) << 16) | BX(r), addr);
    CHECK_EQ(BH(xcall(0x0E, 0, h)), 2);
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_OK(MmChainFlags(entry(h)->chain, &flags));
    CHECK(flags & CHAIN_FROZEN);               /* still locked once */
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(BH(xcall(0x0E, 0, h)), 0);
    CHECK_OK(MmChainFlags(entry(h)->chain, &flags));
    CHECK_EQ(flags & CHAIN_FROZEN, 0);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, lock_makes_contiguous)
{
    uint16_t h = xalloc(48);
    CHECK(h);
    fill(big, sizeof big, 3);
    emb_io(h, 0, big, sizeof big, 1);
    /* Scatter it: move its middle block far away. */
    uint32_t mid, far = highest_free_block();
    CHECK_OK(mm_chain_block(entry(h)->chain, 1, &mid));
    CHECK_OK(mm_move_block(mid, far));
    CHECK(!is_run(entry(h)->chain));
    struct rm_regs r = xcall(0x0C, 0, h);
    CHECK_EQ(AX(r), 1);
    uint32_t addr = ((uint32_t)DX(r) << 16) | BX(r);
    chain_id_t id = entry(h)->chain;
    CHECK(is_run(id));
    CHECK_EQ(addr, id << MM_BLOCK_SHIFT);
    CHECK_MM();
    /* The 48 KiB are in order at the physical address the lock returned. */
    memset(big, 0, sizeof big);
    mm_phys_read(addr, big, sizeof big);
    CHECK_EQ(mismatch(big, sizeof big, 3), sizeof big);
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, lock_count_overflow)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    for (uint32_t i = 0; i < XMS_LOCK_MAX; i++)
        CHECK_EQ(AX(xcall(0x0C, 0, h)), 1);
    struct rm_regs r = xcall(0x0C, 0, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_LOCK_OVERFLOW);
    CHECK_EQ(BH(xcall(0x0E, 0, h)), XMS_LOCK_MAX);
    for (uint32_t i = 0; i < XMS_LOCK_MAX; i++)
        CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, unlock_not_locked)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    struct rm_regs r = xcall(0x0D, 0, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_NOT_LOCKED);
    CHECK_EQ(AX(xcall(0x0C, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    r = xcall(0x0D, 0, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_NOT_LOCKED);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, handle_info)
{
    uint16_t h = xalloc(40);
    CHECK(h);
    struct rm_regs r = xcall(0x0E, 0, h);
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(BH(r), 0);
    CHECK_EQ(BL(r), XMS_MAX_HANDLES - xms_handles.length);
    CHECK_EQ(DX(r), 40);
    uint16_t h2 = xalloc(1);
    CHECK(h2);
    CHECK_EQ(BL(xcall(0x0E, 0, h)), BL(r) - 1);
    CHECK_EQ(DX(xcall(0x0E, 0, h2)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h2)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, realloc_grow_shrink)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    fill(big, 16384, 9);
    emb_io(h, 0, big, 16384, 1);
    struct rm_regs r = xcall(0x0F, 100, h);
    CHECK_EQ(AX(r), 1);
    CHECK_EQ(DX(xcall(0x0E, 0, h)), 100);
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 7);
    CHECK_EQ(mm_owners[entry(h)->chain].size_bytes, 100 * 1024);
    memset(big, 0, sizeof big);
    emb_io(h, 0, big, 16384, 0);
    CHECK_EQ(mismatch(big, 16384, 9), 16384);
    CHECK_EQ(AX(xcall(0x0F, 8, h)), 1);        /* shrink: the first 8 KiB stay */
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 1);
    CHECK_EQ(DX(xcall(0x0E, 0, h)), 8);
    memset(big, 0, sizeof big);
    emb_io(h, 0, big, 8192, 0);
    CHECK_EQ(mismatch(big, 8192, 9), 8192);
    CHECK_EQ(AX(xcall(0x0F, 0, h)), 1);        /* to zero: the chain goes */
    CHECK_EQ(entry(h)->chain, 0);
    CHECK_EQ(AX(xcall(0x0F, 32, h)), 1);       /* and back */
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 2);
    CHECK_EQ(mm_owners[entry(h)->chain].kind, OWNER_XMS);
    CHECK_EQ(mm_owners[entry(h)->chain].handle, h);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, realloc_locked)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    CHECK_EQ(AX(xcall(0x0C, 0, h)), 1);
    struct rm_regs r = xcall(0x0F, 64, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_LOCKED);
    CHECK_EQ(DX(xcall(0x0E, 0, h)), 16);
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 1);
    CHECK_EQ(AX(xcall(0x0D, 0, h)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, realloc_out_of_memory)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    fill(big, 16384, 5);
    emb_io(h, 0, big, 16384, 1);
    /* Take all free memory with other handles. */
    uint16_t hs[64];
    uint32_t n = 0;
    while (mm_free_blocks && n < 64) {
        uint32_t kb = mm_free_blocks * 16u;
        uint16_t x = xalloc(kb > 0xFFFF ? 0xFFF0 : (uint16_t)kb);
        CHECK(x);
        hs[n++] = x;
    }
    CHECK_EQ(mm_free_blocks, 0);
    struct rm_regs r = xcall(0x0F, 32, h);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_OUT_OF_MEMORY);
    CHECK_EQ(DX(xcall(0x0E, 0, h)), 16);       /* unchanged, contents too */
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 1);
    memset(big, 0, 16384);
    emb_io(h, 0, big, 16384, 0);
    CHECK_EQ(mismatch(big, 16384, 5), 16384);
    r = xcall(0x09, 0, 16);                    /* and so is a new block */
    CHECK_EQ(BL(r), XMS_ERR_OUT_OF_MEMORY);
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ(AX(xcall(0x0A, 0, hs[i])), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_conv_to_ext)
{
    uint16_t h = xalloc(32), seg;
    CHECK(h);
    CHECK_OK(dos_alloc(0x200, 8, &seg, 0));   /* 8 KiB of conventional memory */
    uint8_t *conv = P2V((uint32_t)seg << 4);
    fill(conv, 8192, 1);
    /* To an offset that crosses the 16 KiB block boundary inside the block. */
    struct rm_regs r = xmove(8192, 0, FAR(seg, 0), h, 12288);
    CHECK_EQ(AX(r), 1);
    memset(big, 0, 8192);
    emb_io(h, 12288, big, 8192, 0);
    CHECK_EQ(mismatch(big, 8192, 1), 8192);
    /* seg:off with a nonzero offset: the source starts 16 bytes in. */
    r = xmove(16, 0, FAR(seg - 1, 32), h, 0);
    CHECK_EQ(AX(r), 1);
    emb_io(h, 0, big, 16, 0);
    for (uint32_t i = 0; i < 16; i++)
        CHECK_EQ(big[i], pattern(i + 16, 1));
    CHECK_OK(dos_free(seg));
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_ext_to_conv)
{
    uint16_t h = xalloc(32), seg;
    CHECK(h);
    CHECK_OK(dos_alloc(0x200, 8, &seg, 0));
    fill(big, 32768, 2);
    emb_io(h, 0, big, 32768, 1);
    uint8_t *conv = P2V((uint32_t)seg << 4);
    memset(conv, 0, 8192);
    struct rm_regs r = xmove(8192, h, 14000, 0, FAR(seg, 0));
    CHECK_EQ(AX(r), 1);
    for (uint32_t i = 0; i < 8192; i++)
        CHECK_EQ(conv[i], pattern(i + 14000, 2));
    CHECK_OK(dos_free(seg));
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_ext_to_ext)
{
    uint16_t a = xalloc(48), b = xalloc(20);
    CHECK(a && b);
    fill(big, sizeof big, 4);
    emb_io(a, 0, big, sizeof big, 1);
    struct rm_regs r = xmove(20 * 1024, a, 16384 - 10, b, 0);
    CHECK_EQ(AX(r), 1);
    static uint8_t out[20 * 1024];
    emb_io(b, 0, out, sizeof out, 0);
    for (uint32_t i = 0; i < sizeof out; i++)
        CHECK_EQ(out[i], pattern(i + 16384 - 10, 4));
    /* The whole of a into b is too long for b. */
    r = xmove(48 * 1024, a, 0, b, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    CHECK_EQ(AX(xcall(0x0A, 0, a)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, b)), 1);
    return 0;
}

TEST(xms, move_overlapping_same_block)
{
    uint16_t h = xalloc(48);
    CHECK(h);
    /* Forward overlap (source below destination) across page and block boundaries. */
    fill(big, sizeof big, 6);
    emb_io(h, 0, big, sizeof big, 1);
    CHECK_EQ(AX(xmove(20000, h, 1000, h, 1000 + 5002)), 1);
    static uint8_t out[48 * 1024];
    emb_io(h, 0, out, sizeof out, 0);
    for (uint32_t i = 0; i < 20000; i++)
        CHECK_EQ(out[1000 + 5002 + i], pattern(1000 + i, 6));
    CHECK_EQ(out[999], pattern(999, 6));
    /* Backward overlap. */
    emb_io(h, 0, big, sizeof big, 1);
    CHECK_EQ(AX(xmove(20000, h, 9000, h, 8000)), 1);
    emb_io(h, 0, out, sizeof out, 0);
    for (uint32_t i = 0; i < 20000; i++)
        CHECK_EQ(out[8000 + i], pattern(9000 + i, 6));
    CHECK_EQ(out[28000], pattern(28000, 6));
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_zero_length)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    fill(big, 16, 8);
    emb_io(h, 0, big, 16, 1);
    CHECK_EQ(AX(xmove(0, h, 0, h, 8)), 1);
    CHECK_EQ(AX(xmove(0, h, 16 * 1024, h, 0)), 1);   /* offset at the very end is fine */
    emb_io(h, 0, big, 16, 0);
    CHECK_EQ(mismatch(big, 16, 8), 16);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_odd_length)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    fill(big, 16, 8);
    emb_io(h, 0, big, 16, 1);
    struct rm_regs r = xmove(3, h, 0, h, 8);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    emb_io(h, 0, big, 16, 0);
    CHECK_EQ(mismatch(big, 16, 8), 16);        /* nothing was copied */
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, move_bad_handles)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    uint16_t bad = (uint16_t)(h + 1000);
    struct rm_regs r = xmove(16, bad, 0, h, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_SRC_HANDLE);
    r = xmove(16, h, 0, bad, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_DST_HANDLE);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    r = xmove(16, h, 0, 0, FAR(DOS_ARENA_START_SEG + 1, 0));   /* a freed handle */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_SRC_HANDLE);
    return 0;
}

TEST(xms, move_bad_offsets)
{
    uint16_t a = xalloc(16), b = xalloc(16);
    CHECK(a && b);
    struct rm_regs r = xmove(16, a, 16 * 1024 + 2, b, 0);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_SRC_OFFSET);
    r = xmove(16, a, 0, b, 0x80000000u);
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_DST_OFFSET);
    r = xmove(16, a, 16 * 1024 - 8, b, 0);     /* runs past the source's end */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    r = xmove(16, a, 0, b, 16 * 1024 - 8);     /* past the destination's end */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    r = xmove(0xFFFFFFFEu, a, 2, b, 0);        /* lengths do not wrap around */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    CHECK_EQ(AX(xcall(0x0A, 0, a)), 1);
    CHECK_EQ(AX(xcall(0x0A, 0, b)), 1);
    return 0;
}

TEST(xms, move_conventional_outside_arena)
{
    uint16_t h = xalloc(16);
    CHECK(h);
    struct rm_regs r = xmove(16, h, 0, 0, FAR(0x0000, 0x0400));   /* the BIOS data area */
    CHECK_EQ(AX(r), 0);
    CHECK_EQ(BL(r), XMS_ERR_INVALID_DST_OFFSET);
    r = xmove(16, 0, FAR(0xF000, 0), h, 0);                        /* the BIOS ROM */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_SRC_OFFSET);
    r = xmove(32, h, 0, 0, FAR(DOS_ARENA_END_SEG - 1, 0));         /* runs past the arena */
    CHECK_EQ(BL(r), XMS_ERR_INVALID_LENGTH);
    /* A move structure above 1 MiB cannot be addressed from real mode. */
    struct rm_regs m;
    memset(&m, 0, sizeof m);
    m.eax = 0x0B00;
    m.ds = 0xFFFF;
    m.esi = 0xFFF8;
    xms_dispatch(&m);
    CHECK_EQ(AX(m), 0);
    CHECK_EQ(BL(m), XMS_ERR_INVALID_SRC_OFFSET);
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    return 0;
}

TEST(xms, umb_not_implemented)
{
    for (uint8_t fn = 0x10; fn <= 0x12; fn++) {
        struct rm_regs r = xcall(fn, 0, 0x100);
        CHECK_EQ(AX(r), 0);
        CHECK_EQ(BL(r), XMS_ERR_NOT_IMPLEMENTED);
    }
    return 0;
}

TEST(xms, unknown_function)
{
    static const uint8_t fns[] = {0x13, 0x20, 0x88, 0xFF};
    for (uint32_t i = 0; i < sizeof fns; i++) {
        struct rm_regs r = xcall(fns[i], 0, 0);
        CHECK_EQ(AX(r), 0);
        CHECK_EQ(BL(r), XMS_ERR_NOT_IMPLEMENTED);
    }
    return 0;
}

TEST(xms, follows_relocation)
{
    uint16_t h = xalloc(32), seg;
    CHECK(h);
    fill(big, 32768, 7);
    emb_io(h, 0, big, 32768, 1);
    chain_id_t old = entry(h)->chain;
    uint32_t far = highest_free_block();
    CHECK_OK(mm_move_block(old, far));        /* the head moves: the chain's ID changes */
    CHECK_EQ(entry(h)->chain, far);
    CHECK_EQ(mm_owners[far].kind, OWNER_XMS);
    CHECK_EQ(mm_owners[far].handle, h);
    CHECK_OK(dos_alloc(0x800, 8, &seg, 0));   /* 32 KiB */
    CHECK_EQ(AX(xmove(32768, h, 0, 0, FAR(seg, 0))), 1);
    CHECK_EQ(mismatch(P2V((uint32_t)seg << 4), 32768, 7), 32768);
    CHECK_OK(dos_free(seg));
    CHECK_EQ(AX(xcall(0x0A, 0, h)), 1);
    CHECK(!mm_chain_valid(far));
    return 0;
}
