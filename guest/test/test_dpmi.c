/* test_dpmi.c: the DPMI memory services through the INT 31h register-frame dispatcher:
 * every function and error code, with mapped addresses checked against the chains'
 * physical pages. The blocks live in the running process's (the test runner's) UPD. */
#include "dos.h"
#include "dpmi.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "test.h"
#include "x86.h"

#define AX(r) REG_LO16((r).eax)
#define BX(r) REG_LO16((r).ebx)
#define DX(r) REG_LO16((r).edx)
#define CF(r) ((r).eflags & EFLAGS_CF)
#define HI_LO(hi, lo) (((uint32_t)REG_LO16(hi) << 16) | REG_LO16(lo))
#define BXCX(r) HI_LO((r).ebx, (r).ecx)
#define SIDI(r) HI_LO((r).esi, (r).edi)

static struct rm_regs dcall(uint16_t ax, uint32_t bxcx, uint32_t sidi)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = ax;
    r.ebx = bxcx >> 16;
    r.ecx = bxcx & 0xFFFFu;
    r.esi = sidi >> 16;
    r.edi = sidi & 0xFFFFu;
    r.eflags = EFLAGS_CF;         /* the dispatcher must clear it on success */
    dpmi_dispatch(&r);
    return r;
}

/* 0501h: returns the handle (0 on failure) and the linear address. */
static uint32_t dalloc(uint32_t bytes, uint32_t *lin)
{
    struct rm_regs r = dcall(0x0501, bytes, 0);
    if (CF(r))
        return 0;
    *lin = BXCX(r);
    return SIDI(r);
}

static int dfree(uint32_t handle)
{
    struct rm_regs r = dcall(0x0502, 0, handle);
    return CF(r) ? AX(r) : 0;
}

static struct dpmi_block *entry(uint32_t handle)
{
    for (uint32_t i = 0; i < dpmi_blocks.length; i++) {
        struct dpmi_block *b = vec_at(&dpmi_blocks, i);
        if (b->handle == handle)
            return b;
    }
    return 0;
}

static uint32_t word(uint32_t i, uint32_t seed)
{
    return i * 0x9E3779B1u + seed;
}

/* Checks that `pages` pages at `lin` are the block's chain pages, by writing through the
 * linear address and reading the physical page. Returns NULL or the failure. */
static const char *check_mapped(uint32_t handle, uint32_t lin, uint32_t pages, uint32_t seed)
{
    struct dpmi_block *b = entry(handle);
    CHECK(b);
    for (uint32_t p = 0; p < pages; p++) {
        volatile uint32_t *v = (volatile uint32_t *)(lin + p * MM_PAGE_SIZE);
        v[0] = word(p, seed);
        v[1023] = ~word(p, seed);
        uint32_t phys, got[2];
        CHECK_OK(MmChainPagePhysical(b->chain, p, &phys));
        CHECK_EQ(mm_lookup_pte(lin + p * MM_PAGE_SIZE, current->upd) & PTE_ADDR, phys);
        mm_phys_read(phys, &got[0], 4);
        mm_phys_read(phys + 4092, &got[1], 4);
        CHECK_EQ(got[0], word(p, seed));
        CHECK_EQ(got[1], ~word(p, seed));
    }
    return 0;
}

/* Number of this process's blocks: the tests expect to start from none. */
static uint32_t my_blocks(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < dpmi_blocks.length; i++)
        n += ((struct dpmi_block *)vec_at(&dpmi_blocks, i))->owner_pid == current->pid;
    return n;
}

static uint32_t highest_free_block(void)
{
    for (uint32_t b = mm_block_count - 1; b > 0; b--)
        if (ct_is_free(mm_block_table[b]))
            return b;
    return 0;
}

TEST(dpmi, alloc_free_maps_chain)
{
    /* Page tables may be allocated by the mapping: count client blocks, not free ones. */
    uint32_t lin = 0, used0 = mm_client_blocks();
    uint32_t h = dalloc(10000, &lin);
    CHECK(h);
    CHECK(lin >= DPMI_LINEAR_BASE && lin < USER_SPACE_END);
    CHECK_EQ(lin & (MM_PAGE_SIZE - 1), 0);
    struct dpmi_block *b = entry(h);
    CHECK(b);
    CHECK_EQ(b->linear, lin);
    CHECK_EQ(b->size, 3 * MM_PAGE_SIZE);       /* page granular */
    CHECK_EQ(b->owner_pid, current->pid);
    CHECK_EQ(b->lock_count, 0);
    CHECK_EQ(MmChainBlocks(b->chain), 1);
    CHECK_EQ(mm_client_blocks(), used0 + 1);
    CHECK_EQ(mm_owners[b->chain].kind, OWNER_DPMI);
    CHECK_EQ(mm_owners[b->chain].handle, h & 0xFFFF);
    CHECK_EQ(mm_owners[b->chain].size_bytes, 10000);
    CHECK(mm_owners[b->chain].caller != 0);
    uint32_t flags;
    CHECK_OK(MmChainFlags(b->chain, &flags));
    CHECK_EQ(flags & CHAIN_FROZEN, 0);
    const char *e = check_mapped(h, lin, 3, 1);
    if (e)
        return e;
    CHECK_EQ(mm_lookup_pte(lin + 3 * MM_PAGE_SIZE, current->upd) & PTE_P, 0);   /* only 3 pages */
    chain_id_t id = b->chain;
    CHECK_EQ(dfree(h), 0);
    CHECK(!entry(h));
    CHECK(!mm_chain_valid(id));
    CHECK_EQ(mm_lookup_pte(lin, current->upd) & PTE_P, 0);
    CHECK_EQ(mm_client_blocks(), used0);
    return 0;
}

TEST(dpmi, alloc_zero_size)
{
    uint32_t n0 = dpmi_blocks.length;
    struct rm_regs r = dcall(0x0501, 0, 0);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_VALUE);
    CHECK_EQ(dpmi_blocks.length, n0);
    return 0;
}

TEST(dpmi, alloc_larger_than_linear_space)
{
    uint32_t free0 = mm_free_blocks, n0 = dpmi_blocks.length;
    struct rm_regs r = dcall(0x0501, 0xFFFFFFFFu, 0);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_LINEAR_UNAVAILABLE);
    r = dcall(0x0501, USER_SPACE_END - DPMI_LINEAR_BASE + 1, 0);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_LINEAR_UNAVAILABLE);
    CHECK_EQ(mm_free_blocks, free0);
    CHECK_EQ(dpmi_blocks.length, n0);
    return 0;
}

TEST(dpmi, alloc_out_of_physical_memory)
{
    uint32_t free0 = mm_free_blocks, n0 = dpmi_blocks.length, maps0 = mm_mapping_count;
    uint32_t bytes = (mm_free_blocks + 1) * MM_BLOCK_SIZE;
    struct rm_regs r = dcall(0x0501, bytes, 0);
    CHECK(CF(r));
    CHECK_EQ(AX(r), bytes > USER_SPACE_END - DPMI_LINEAR_BASE ? DPMI_ERR_LINEAR_UNAVAILABLE
                                                              : DPMI_ERR_PHYS_UNAVAILABLE);
    CHECK_EQ(mm_free_blocks, free0);
    CHECK_EQ(dpmi_blocks.length, n0);
    CHECK_EQ(mm_mapping_count, maps0);
    return 0;
}

TEST(dpmi, first_fit_reuses_hole)
{
    CHECK_EQ(my_blocks(), 0);
    uint32_t la, lb, lc, ld, le;
    uint32_t a = dalloc(4096, &la), b = dalloc(4096, &lb), c = dalloc(4096, &lc);
    CHECK(a && b && c);
    CHECK_EQ(la, DPMI_LINEAR_BASE);
    CHECK_EQ(lb, la + 4096);
    CHECK_EQ(lc, lb + 4096);
    CHECK_EQ(dfree(b), 0);
    uint32_t e = dalloc(8192, &le);            /* too big for the hole */
    CHECK(e);
    CHECK_EQ(le, lc + 4096);
    uint32_t d = dalloc(100, &ld);             /* fits the hole */
    CHECK(d);
    CHECK_EQ(ld, lb);
    CHECK(a != b && b != c && d != a && d != c && e != a);
    const char *err = check_mapped(d, ld, 1, 2);
    if (err)
        return err;
    CHECK_EQ(dfree(a), 0);
    CHECK_EQ(dfree(c), 0);
    CHECK_EQ(dfree(d), 0);
    CHECK_EQ(dfree(e), 0);
    return 0;
}

TEST(dpmi, free_invalid_handle)
{
    uint32_t lin;
    uint32_t h = dalloc(4096, &lin);
    CHECK(h);
    CHECK_EQ(dfree(0), DPMI_ERR_INVALID_HANDLE);
    CHECK_EQ(dfree(h + 0x10000), DPMI_ERR_INVALID_HANDLE);
    CHECK(entry(h));
    /* Another process's handle is not valid here. */
    entry(h)->owner_pid = current->pid + 1000;
    CHECK_EQ(dfree(h), DPMI_ERR_INVALID_HANDLE);
    entry(h)->owner_pid = current->pid;
    CHECK_EQ(dfree(h), 0);
    return 0;
}

TEST(dpmi, double_free)
{
    uint32_t lin;
    uint32_t h = dalloc(4096, &lin);
    CHECK(h);
    CHECK_EQ(dfree(h), 0);
    uint32_t free0 = mm_free_blocks;
    CHECK_EQ(dfree(h), DPMI_ERR_INVALID_HANDLE);
    CHECK_EQ(mm_free_blocks, free0);
    return 0;
}

TEST(dpmi, resize_in_place)
{
    uint32_t lin;
    uint32_t h = dalloc(4096, &lin);
    CHECK(h);
    *(volatile uint32_t *)lin = 0xC0FFEE;
    struct rm_regs r = dcall(0x0503, 5 * 4096 - 100, h);   /* grows into a second block */
    CHECK(!CF(r));
    CHECK_EQ(BXCX(r), lin);
    CHECK_EQ(SIDI(r), h);
    CHECK_EQ(entry(h)->size, 5 * 4096);
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 2);
    CHECK_EQ(*(volatile uint32_t *)lin, 0xC0FFEE);
    const char *e = check_mapped(h, lin, 5, 3);
    if (e)
        return e;
    r = dcall(0x0503, 4096, h);                /* shrink */
    CHECK(!CF(r));
    CHECK_EQ(BXCX(r), lin);
    CHECK_EQ(MmChainBlocks(entry(h)->chain), 1);
    CHECK_EQ(mm_lookup_pte(lin + 4096, current->upd) & PTE_P, 0);
    CHECK_EQ(*(volatile uint32_t *)lin, word(0, 3));
    CHECK_EQ(dfree(h), 0);
    return 0;
}

TEST(dpmi, resize_moves_block)
{
    uint32_t la, lb;
    uint32_t a = dalloc(4096, &la), b = dalloc(4096, &lb);
    CHECK(a && b);
    CHECK_EQ(lb, la + 4096);
    *(volatile uint32_t *)la = 0xABCD1234;
    struct rm_regs r = dcall(0x0503, 8192, a); /* b is in the way */
    CHECK(!CF(r));
    uint32_t nl = BXCX(r);
    CHECK(nl != la);
    CHECK(nl + 8192 <= lb || nl >= lb + 4096);
    CHECK_EQ(entry(a)->linear, nl);
    CHECK_EQ(*(volatile uint32_t *)nl, 0xABCD1234);
    CHECK_EQ(mm_lookup_pte(la, current->upd) & PTE_P, 0);
    const char *e = check_mapped(a, nl, 2, 4);
    if (e)
        return e;
    CHECK_EQ(dfree(a), 0);
    CHECK_EQ(dfree(b), 0);
    return 0;
}

TEST(dpmi, resize_errors)
{
    uint32_t lin;
    uint32_t h = dalloc(8192, &lin);
    CHECK(h);
    *(volatile uint32_t *)lin = 77;
    uint32_t free0 = mm_free_blocks;
    struct rm_regs r = dcall(0x0503, 0, h);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_VALUE);
    r = dcall(0x0503, 4096, h + 0x10000);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_HANDLE);
    r = dcall(0x0503, 0xFFFFFFFFu, h);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_LINEAR_UNAVAILABLE);
    uint32_t bytes = (mm_free_blocks + 2) * MM_BLOCK_SIZE;
    r = dcall(0x0503, bytes, h);
    CHECK(CF(r));
    CHECK_EQ(AX(r), bytes > USER_SPACE_END - DPMI_LINEAR_BASE ? DPMI_ERR_LINEAR_UNAVAILABLE
                                                              : DPMI_ERR_PHYS_UNAVAILABLE);
    /* The block is untouched. */
    CHECK_EQ(entry(h)->linear, lin);
    CHECK_EQ(entry(h)->size, 8192);
    CHECK_EQ(mm_free_blocks, free0);
    CHECK_EQ(*(volatile uint32_t *)lin, 77);
    CHECK_EQ(dfree(h), 0);
    return 0;
}

TEST(dpmi, resize_locked_does_not_move)
{
    uint32_t la, lb;
    uint32_t a = dalloc(4096, &la), b = dalloc(4096, &lb);
    CHECK(a && b);
    CHECK(!CF(dcall(0x0600, la, 4096)));
    struct rm_regs r = dcall(0x0503, 8192, a);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_LINEAR_UNAVAILABLE);
    CHECK_EQ(entry(a)->linear, la);
    CHECK_EQ(dfree(b), 0);                     /* now it can grow in place */
    r = dcall(0x0503, 8192, a);
    CHECK(!CF(r));
    CHECK_EQ(BXCX(r), la);
    uint32_t flags;
    CHECK_OK(MmChainFlags(entry(a)->chain, &flags));
    CHECK(flags & CHAIN_FROZEN);               /* still locked */
    CHECK(!CF(dcall(0x0601, la, 4096)));
    CHECK_EQ(dfree(a), 0);
    return 0;
}

TEST(dpmi, lock_unlock_region)
{
    uint32_t la, lb;
    uint32_t a = dalloc(8192, &la), b = dalloc(4096, &lb);
    CHECK(a && b);
    CHECK_EQ(lb, la + 8192);
    /* A range from the middle of a to the middle of b locks both. */
    struct rm_regs r = dcall(0x0600, la + 4096, 6000);
    CHECK(!CF(r));
    CHECK_EQ(entry(a)->lock_count, 1);
    CHECK_EQ(entry(b)->lock_count, 1);
    uint32_t flags;
    CHECK_OK(MmChainFlags(entry(a)->chain, &flags));
    CHECK(flags & CHAIN_FROZEN);
    CHECK_OK(MmChainFlags(entry(b)->chain, &flags));
    CHECK(flags & CHAIN_FROZEN);
    CHECK(!CF(dcall(0x0600, la, 1)));          /* only a, again */
    CHECK_EQ(entry(a)->lock_count, 2);
    CHECK(!CF(dcall(0x0601, la + 4096, 6000)));
    CHECK_EQ(entry(a)->lock_count, 1);
    CHECK_EQ(entry(b)->lock_count, 0);
    CHECK_OK(MmChainFlags(entry(b)->chain, &flags));
    CHECK_EQ(flags & CHAIN_FROZEN, 0);
    CHECK(!CF(dcall(0x0601, la, 1)));
    CHECK_OK(MmChainFlags(entry(a)->chain, &flags));
    CHECK_EQ(flags & CHAIN_FROZEN, 0);
    CHECK(!CF(dcall(0x0600, la, 0)));          /* an empty range is a no-op */
    CHECK_EQ(entry(a)->lock_count, 0);
    CHECK_EQ(dfree(a), 0);
    CHECK_EQ(dfree(b), 0);
    return 0;
}

TEST(dpmi, lock_unmapped_range)
{
    uint32_t la;
    uint32_t a = dalloc(4096, &la);
    CHECK(a);
    struct rm_regs r = dcall(0x0600, la + 0x100000, 4096);  /* nothing there */
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_LINEAR);
    r = dcall(0x0600, la, 8192);               /* runs past the block */
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_LINEAR);
    CHECK_EQ(entry(a)->lock_count, 0);         /* nothing was locked on the way */
    r = dcall(0x0600, 0x1000, 4096);           /* user space, but not DPMI */
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_LINEAR);
    r = dcall(0x0600, 0xFFFFF000u, 0x2000);    /* wraps around */
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_LINEAR);
    r = dcall(0x0601, la + 0x100000, 4096);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_LINEAR);
    CHECK_EQ(dfree(a), 0);
    return 0;
}

TEST(dpmi, unlock_not_locked)
{
    uint32_t la, lb;
    uint32_t a = dalloc(4096, &la), b = dalloc(4096, &lb);
    CHECK(a && b);
    struct rm_regs r = dcall(0x0601, la, 4096);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_STATE);
    CHECK(!CF(dcall(0x0600, la, 4096)));
    r = dcall(0x0601, la, 8192);               /* a is locked but b is not */
    CHECK(CF(r));
    CHECK_EQ(AX(r), DPMI_ERR_INVALID_STATE);
    CHECK_EQ(entry(a)->lock_count, 1);         /* the check came before any change */
    CHECK(!CF(dcall(0x0601, la, 4096)));
    CHECK_EQ(dfree(a), 0);
    CHECK_EQ(dfree(b), 0);
    return 0;
}

TEST(dpmi, free_memory_info)
{
    uint32_t info[12];
    memset(info, 0, sizeof info);
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0500;
    r.edi = (uint32_t)info;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    uint32_t free_pages = mm_free_blocks * 4;
    CHECK_EQ(info[5], free_pages);
    CHECK_EQ(info[6], mm_block_count * 4);
    CHECK_EQ(info[3], (USER_SPACE_END - DPMI_LINEAR_BASE) / 4096);
    CHECK_EQ(info[1], free_pages < info[3] ? free_pages : info[3]);
    CHECK_EQ(info[0], info[1] * 4096);
    CHECK_EQ(info[7], info[3]);                /* no blocks yet */
    CHECK_EQ(info[8], 0xFFFFFFFFu);            /* no paging file */
    CHECK_EQ(info[11], 0xFFFFFFFFu);
    /* After a 5-page allocation (two blocks): 5 pages less linear space. */
    uint32_t lin, h = dalloc(5 * 4096, &lin);
    CHECK(h);
    free_pages = mm_free_blocks * 4;
    uint32_t *uinfo = (uint32_t *)(lin + 4096 - 24);   /* a buffer across a page boundary */
    memset(&r, 0, sizeof r);
    r.eax = 0x0500;
    r.edi = (uint32_t)uinfo;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    CHECK_EQ(uinfo[5], free_pages);
    CHECK_EQ(uinfo[7], info[3] - 5);
    CHECK_EQ(uinfo[4], free_pages + 5);        /* unlocked: free plus our unlocked pages */
    CHECK(!CF(dcall(0x0600, lin, 1)));
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    CHECK_EQ(uinfo[4], free_pages);            /* locked pages are not counted */
    CHECK(!CF(dcall(0x0601, lin, 1)));
    CHECK_EQ(dfree(h), 0);
    return 0;
}

TEST(dpmi, free_memory_info_bad_pointer)
{
    static const uint32_t bad[] = {0, 0x00001000u, DPMI_LINEAR_BASE, USER_SPACE_END - 8, 0x40000000u, 0xFFFFFFF0u};
    for (uint32_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rm_regs r;
        memset(&r, 0, sizeof r);
        r.eax = 0x0500;
        r.edi = bad[i];
        dpmi_dispatch(&r);
        CHECK(CF(r));
        CHECK_EQ(AX(r), DPMI_ERR_INVALID_VALUE);
    }
    return 0;
}

TEST(dpmi, dos_alloc_free)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0100;
    r.ebx = 64;                                /* 1 KiB */
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    uint16_t seg = AX(r);
    CHECK_EQ(DX(r), seg);
    CHECK(seg > DOS_ARENA_START_SEG && seg < DOS_ARENA_END_SEG);
    struct mcb *m = (struct mcb *)P2V(((uint32_t)seg - 1) << 4);
    CHECK_EQ(m->owner, current->pid + 1);
    CHECK_EQ(m->size, 64);
    memset(P2V((uint32_t)seg << 4), 0x3C, 1024);
    memset(&r, 0, sizeof r);
    r.eax = 0x0101;
    r.edx = seg;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    CHECK_EQ(m->owner, 0);
    r.eax = 0x0101;                            /* twice */
    r.edx = seg;
    dpmi_dispatch(&r);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DOS_ERR_INVALID_BLOCK);
    r.eax = 0x0101;
    r.edx = 0x0123;
    dpmi_dispatch(&r);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DOS_ERR_INVALID_BLOCK);
    return 0;
}

TEST(dpmi, dos_alloc_too_big)
{
    uint32_t freep, largest;
    dos_stats(&freep, &largest);
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0100;
    r.ebx = 0xFFFF;
    dpmi_dispatch(&r);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DOS_ERR_INSUFFICIENT_MEMORY);
    CHECK_EQ(BX(r), largest);
    uint32_t free1;
    dos_stats(&free1, &largest);
    CHECK_EQ(free1, freep);
    return 0;
}

TEST(dpmi, dos_resize)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0100;
    r.ebx = 16;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    uint16_t seg = AX(r);
    r.eax = 0x0102;
    r.ebx = 32;
    r.edx = seg;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    struct mcb *m = (struct mcb *)P2V(((uint32_t)seg - 1) << 4);
    CHECK_EQ(m->size, 32);
    r.eax = 0x0102;
    r.ebx = 0xFFFF;
    r.edx = seg;
    dpmi_dispatch(&r);
    CHECK(CF(r));
    CHECK_EQ(AX(r), DOS_ERR_INSUFFICIENT_MEMORY);
    CHECK(BX(r) >= 32);
    CHECK_EQ(m->size, 32);
    r.eax = 0x0101;
    r.edx = seg;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    return 0;
}

TEST(dpmi, unsupported_function)
{
    static const uint16_t fns[] = {0x0000, 0x0400, 0x0504, 0x0602, 0xFFFF};
    for (uint32_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        struct rm_regs r = dcall(fns[i], 0x1000, 0);
        CHECK(CF(r));
        CHECK_EQ(AX(r), DPMI_ERR_UNSUPPORTED);
    }
    return 0;
}

TEST(dpmi, follows_relocation)
{
    uint32_t lin;
    uint32_t h = dalloc(8 * 4096, &lin);       /* two blocks */
    CHECK(h);
    for (uint32_t i = 0; i < 8 * 1024; i++)
        ((volatile uint32_t *)lin)[i] = word(i, 5);
    chain_id_t old = entry(h)->chain;
    uint32_t far = highest_free_block();
    CHECK_OK(mm_move_block(old, far));
    CHECK_EQ(entry(h)->chain, far);
    CHECK_EQ(mm_owners[far].kind, OWNER_DPMI);
    for (uint32_t i = 0; i < 8 * 1024; i++)
        CHECK_EQ(((volatile uint32_t *)lin)[i], word(i, 5));
    uint32_t phys;
    CHECK_OK(MmChainPagePhysical(far, 0, &phys));
    CHECK_EQ(phys, far << MM_BLOCK_SHIFT);
    CHECK_EQ(mm_lookup_pte(lin, current->upd) & PTE_ADDR, phys);
    /* Locked blocks do not move. */
    CHECK(!CF(dcall(0x0600, lin, 4096)));
    CHECK_EQ(mm_move_block(far, highest_free_block()), MM_ERR_FROZEN);
    CHECK(!CF(dcall(0x0601, lin, 4096)));
    CHECK_EQ(dfree(h), 0);
    return 0;
}

TEST(dpmi, release_process)
{
    CHECK_EQ(my_blocks(), 0);
    uint32_t la, lb, used0 = mm_client_blocks(), dfree0, dl;
    dos_stats(&dfree0, &dl);
    CHECK(dalloc(4096, &la) && dalloc(40000, &lb));
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0100;
    r.ebx = 100;
    dpmi_dispatch(&r);
    CHECK(!CF(r));
    CHECK(!CF(dcall(0x0600, lb, 4096)));       /* locked blocks go too */
    dpmi_release_process(current->pid);
    CHECK_EQ(my_blocks(), 0);
    CHECK_EQ(mm_client_blocks(), used0);
    CHECK_EQ(mm_lookup_pte(la, current->upd) & PTE_P, 0);
    uint32_t dfree1;
    dos_stats(&dfree1, &dl);
    CHECK_EQ(dfree1, dfree0);
    return 0;
}
