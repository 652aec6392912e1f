/* dpmi.c: the DPMI 0.9 memory services (INT 31h) over chains. A DPMI block is a chain
 * mapped page aligned into its process's user space at [DPMI_LINEAR_BASE, USER_SPACE_END),
 * placed first fit among that process's blocks; 32-bit handles name the blocks. */
#include "generation.h"
#include "dpmi.h"
#include "mm_event.h"
#include "console.h"
#include "dos.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "x86.h"

struct vector dpmi_blocks;
static uint32_t next_handle = 1;

#define LINEAR_SPAN (USER_SPACE_END - DPMI_LINEAR_BASE)

static struct dpmi_block *blk(uint32_t i)
{
    return vec_at(&dpmi_blocks, i);
}

static uint32_t page_round(uint32_t bytes)
{
    return (bytes + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
}

static uint32_t size_to_blocks(uint32_t size)
{
    return (size + MM_BLOCK_SIZE - 1) >> MM_BLOCK_SHIFT;
}

/* Index of the block with `handle` owned by `pid`, or -1. Handles are per process. */
static int find_block(uint32_t handle, uint32_t pid)
{
    if (handle == 0)
        return -1;
    for (uint32_t i = 0; i < dpmi_blocks.length; i++)
        if (blk(i)->handle == handle && blk(i)->owner_pid == pid)
            return (int)i;
    return -1;
}

/* Index of pid's block that contains linear address `a`, or -1. */
static int block_at(uint32_t pid, uint32_t a)
{
    for (uint32_t i = 0; i < dpmi_blocks.length; i++) {
        struct dpmi_block *b = blk(i);
        if (b->owner_pid == pid && a >= b->linear && a - b->linear < b->size)
            return (int)i;
    }
    return -1;
}

/* First of pid's blocks (other than index `skip`) that overlaps [lin, lin+size), or NULL. */
static struct dpmi_block *conflict(uint32_t pid, uint32_t lin, uint32_t size, int skip)
{
    for (uint32_t i = 0; i < dpmi_blocks.length; i++) {
        struct dpmi_block *b = blk(i);
        if ((int)i != skip && b->owner_pid == pid && b->linear < lin + size && lin < b->linear + b->size)
            return b;
    }
    return 0;
}

/* Lowest page-aligned address in [DPMI_LINEAR_BASE, USER_SPACE_END) where `size` bytes
 * overlap none of pid's blocks except `skip`. Returns 0 if there is no such place. */
static uint32_t find_linear(uint32_t pid, uint32_t size, int skip)
{
    uint32_t lin = DPMI_LINEAR_BASE;
    while (size <= USER_SPACE_END - lin) {
        struct dpmi_block *b = conflict(pid, lin, size, skip);
        if (!b)
            return lin;
        lin = b->linear + b->size;    /* strictly beyond lin: the walk ends */
    }
    return 0;
}

/* A handle number not in use (never 0). */
static uint32_t new_handle(void)
{
    for (;;) {
        uint32_t h = next_handle++;
        if (next_handle == 0)
            next_handle = 1;
        bool used = false;
        for (uint32_t i = 0; i < dpmi_blocks.length && !used; i++)
            used = blk(i)->handle == h;
        if (!used)
            return h;
    }
}

static void dpmi_relocated(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < dpmi_blocks.length; i++)
        if (blk(i)->chain == old_id)
            blk(i)->chain = new_id;
}

void dpmi_init(void)
{
    vec_init(&dpmi_blocks, sizeof(struct dpmi_block));
    if (vec_reserve(&dpmi_blocks, DPMI_MAX_BLOCKS) < 0)
        panic("dpmi: no memory for the block table");
    if (mm_add_relocation_listener(dpmi_relocated, 0) != MM_OK)
        panic("dpmi: no relocation listener slot");
}

/* Maps the first `pages` pages of chain `id` at `lin` in `upd` with the chain frozen, so a
 * defragmentation started by a page-table allocation inside the mapper cannot move the
 * chain under it. `frozen` says whether the chain is frozen already (then it stays so). */
static int map_frozen(chain_id_t id, bool frozen, uint32_t lin, uint32_t pages, uint32_t *upd)
{
    if (!frozen)
        MmFreezeChain(id);
    int r = mm_map_pages(MAP_UPD, id, lin, 0, pages, upd);
    if (!frozen)
        MmUnfreezeChain(id);
    return r;
}

/* The DPMI error for a failed mapping: 8012h if the linear range is taken, else 8013h. */
static uint16_t map_error(int r)
{
    return r == MM_ERR_BUSY || r == MM_ERR_RANGE ? DPMI_ERR_LINEAR_UNAVAILABLE : DPMI_ERR_PHYS_UNAVAILABLE;
}

/* 0501h: allocates and maps `bytes` (rounded up to pages). Returns 0 with *lin and
 * *handle, or 8021h (zero size), 8012h (no linear room), 8016h (table full), 8013h (no
 * physical memory). Nothing is left allocated on error. */
static uint16_t dpmi_alloc(uint32_t bytes, uint32_t caller, uint32_t *lin_out, uint32_t *handle_out)
{
    if (bytes == 0)
        return DPMI_ERR_INVALID_VALUE;
    if (bytes > LINEAR_SPAN)
        return DPMI_ERR_LINEAR_UNAVAILABLE;
    uint32_t size = page_round(bytes), pid = current->pid;
    if (dpmi_blocks.length >= DPMI_MAX_BLOCKS)
        return DPMI_ERR_HANDLE_UNAVAILABLE;
    uint32_t lin = find_linear(pid, size, -1);
    if (!lin)
        return DPMI_ERR_LINEAR_UNAVAILABLE;
    uint32_t blocks = size_to_blocks(size);
    chain_id_t id;
    if (blocks > mm_free_blocks ||
        mm_allocate_chain(CHAIN_FROZEN | CHAIN_USER, blocks, OWNER_DPMI, caller, &id) != MM_OK)
        return DPMI_ERR_PHYS_UNAVAILABLE;
    int r = map_frozen(id, true, lin, size / MM_PAGE_SIZE, current->upd);
    if (r != MM_OK) {
        MmFreeChain(id);
        return map_error(r);
    }
    struct dpmi_block b = {new_handle(), id, lin, size, pid, 0};
    if (vec_push(&dpmi_blocks, &b) < 0) {     /* cannot happen: capacity reserved */
        MmFreeChain(id);
        return DPMI_ERR_PHYS_UNAVAILABLE;
    }
    mm_owner_set(id, OWNER_DPMI, (uint16_t)b.handle, caller, bytes);
    MmUnfreezeChain(id);
    *lin_out = lin;
    *handle_out = b.handle;
    return 0;
}

/* 0502h: frees a block of the calling process (locked or not) and its mapping.
 * Returns 0 or 8023h. */
static uint16_t dpmi_free(uint32_t handle)
{
    int i = find_block(handle, current->pid);
    if (i < 0)
        return DPMI_ERR_INVALID_HANDLE;
    if (MmFreeChain(blk((uint32_t)i)->chain) != MM_OK)
        panic("dpmi: handle %u names dead chain %u", handle, blk((uint32_t)i)->chain);
    vec_swap_remove(&dpmi_blocks, (uint32_t)i);
    return 0;
}

/* 0503h: resizes a block to `bytes`, in place when the pages after it are free, else by
 * mapping it first fit elsewhere (contents kept; a locked block never moves). Returns 0
 * with *lin_out, or 8023h, 8021h (zero size), 8012h (no linear room), 8013h (no physical
 * memory). On error the block keeps its size, address and mapping. */
static uint16_t dpmi_resize(uint32_t handle, uint32_t bytes, uint32_t *lin_out)
{
    uint32_t pid = current->pid, *upd = current->upd;
    int i = find_block(handle, pid);
    if (i < 0)
        return DPMI_ERR_INVALID_HANDLE;
    if (bytes == 0)
        return DPMI_ERR_INVALID_VALUE;
    if (bytes > LINEAR_SPAN)
        return DPMI_ERR_LINEAR_UNAVAILABLE;
    struct dpmi_block *b = blk((uint32_t)i);   /* the table does not grow below */
    uint32_t size = page_round(bytes), lin = b->linear;
    if (size > USER_SPACE_END - lin || conflict(pid, lin, size, i)) {
        if (b->lock_count)
            return DPMI_ERR_LINEAR_UNAVAILABLE;
        if (!(lin = find_linear(pid, size, i)))
            return DPMI_ERR_LINEAR_UNAVAILABLE;
    }
    uint32_t old_blocks = MmChainBlocks(b->chain), new_blocks = size_to_blocks(size);
    if (new_blocks > old_blocks &&
        (new_blocks - old_blocks > mm_free_blocks || MmResizeChain(b->chain, new_blocks) != MM_OK))
        return DPMI_ERR_PHYS_UNAVAILABLE;
    /* b->chain is re-read after every call: a defragmentation may rename it. */
    MmUnmapChain(MAP_UPD, b->chain, (void *)b->linear, upd);
    int r = map_frozen(b->chain, b->lock_count > 0, lin, size / MM_PAGE_SIZE, upd);
    if (r != MM_OK) {
        if (map_frozen(b->chain, b->lock_count > 0, b->linear, b->size / MM_PAGE_SIZE, upd) != MM_OK)
            panic("dpmi: cannot restore the mapping of handle %u", handle);
        if (new_blocks > old_blocks)
            MmResizeChain(b->chain, old_blocks);
        return map_error(r);
    }
    if (new_blocks < old_blocks)
        MmResizeChain(b->chain, new_blocks);   /* the cut pages are not mapped any more */
    b->linear = lin;
    b->size = size;
    mm_owner_set(b->chain, OWNER_DPMI, (uint16_t)handle, 0, bytes);
    *lin_out = lin;
    return 0;
}

/* 0600h (delta +1) / 0601h (delta -1): locks or unlocks every block of the calling
 * process that [lin, lin+size) touches; a block is frozen while its count is above 0
 * (blocks are the lock granularity). Returns 0, 8025h (some byte of the range is in no
 * block), 8002h (unlock of a block that is not locked) or 8017h (count overflow). Checks
 * the whole range before changing anything. A zero size succeeds and changes nothing. */
static uint16_t dpmi_lock(uint32_t lin, uint32_t size, int delta)
{
    uint32_t pid = current->pid;
    if (size == 0)
        return 0;
    if (lin >= USER_SPACE_END || size > USER_SPACE_END - lin)
        return DPMI_ERR_INVALID_LINEAR;
    uint32_t end = lin + size;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t a = lin; a < end;) {
            int i = block_at(pid, a);
            if (i < 0)
                return DPMI_ERR_INVALID_LINEAR;    /* only reachable in pass 0 */
            struct dpmi_block *b = blk((uint32_t)i);
            a = b->linear + b->size;
            if (pass == 0) {
                if (delta < 0 && b->lock_count == 0)
                    return DPMI_ERR_INVALID_STATE;
                if (delta > 0 && b->lock_count == 0xFFFFFFFFu)
                    return DPMI_ERR_LOCK_COUNT;
                continue;
            }
            if (delta > 0 && b->lock_count++ == 0)
                MmFreezeChain(b->chain);
            if (delta < 0 && --b->lock_count == 0)
                MmUnfreezeChain(b->chain);
        }
    }
    return 0;
}

/* True when `len` bytes at flat address va can be written: a mapped, writable kernel
 * address, or one in the current process's user space. */
static bool buffer_ok(uint32_t va, uint32_t len)
{
    if (va == 0 || len - 1 > 0xFFFFFFFFu - va)
        return false;
    bool user = va < USER_SPACE_END;
    if (!user && va < KERNEL_VBASE)
        return false;
    if (user && va + len > USER_SPACE_END)
        return false;
    uint32_t last = (va + len - 1) & ~(MM_PAGE_SIZE - 1);
    for (uint32_t p = va & ~(MM_PAGE_SIZE - 1);; p += MM_PAGE_SIZE) {
        uint32_t pte = mm_lookup_pte(p, user ? current->upd : 0);
        if ((pte & (PTE_P | PTE_W)) != (PTE_P | PTE_W))
            return false;
        if (p == last)
            break;
    }
    return true;
}

/* Largest run of linear space in [DPMI_LINEAR_BASE, USER_SPACE_END) free of pid's blocks,
 * in bytes, and (via *free_total) the whole free linear space. */
static uint32_t largest_linear_gap(uint32_t pid, uint32_t *free_total)
{
    uint32_t best = 0, used = 0;
    for (int k = -1; k < (int)dpmi_blocks.length; k++) {
        if (k >= 0 && blk((uint32_t)k)->owner_pid != pid)
            continue;
        if (k >= 0)
            used += blk((uint32_t)k)->size;
        uint32_t start = k < 0 ? DPMI_LINEAR_BASE : blk((uint32_t)k)->linear + blk((uint32_t)k)->size;
        if (start >= USER_SPACE_END || block_at(pid, start) >= 0)
            continue;
        uint32_t end = USER_SPACE_END;
        for (uint32_t i = 0; i < dpmi_blocks.length; i++)
            if (blk(i)->owner_pid == pid && blk(i)->linear >= start && blk(i)->linear < end)
                end = blk(i)->linear;
        if (end - start > best)
            best = end - start;
    }
    *free_total = LINEAR_SPAN - used;
    return best;
}

/* 0500h: fills the 48-byte free memory information at flat address va (see the doc for
 * what each field counts here). Returns 0 or 8021h (va not a writable buffer). */
static uint16_t dpmi_free_info(uint32_t va)
{
    if (!buffer_ok(va, 48))
        return DPMI_ERR_INVALID_VALUE;
    uint32_t pid = current->pid, linear_free;
    uint32_t gap_pages = largest_linear_gap(pid, &linear_free) / MM_PAGE_SIZE;
    uint32_t free_pages = mm_free_blocks * MM_PAGES_PER_BLOCK, unlocked = free_pages;
    for (uint32_t i = 0; i < dpmi_blocks.length; i++)
        if (blk(i)->owner_pid == pid && blk(i)->lock_count == 0)
            unlocked += blk(i)->size / MM_PAGE_SIZE;
    uint32_t max_pages = free_pages < gap_pages ? free_pages : gap_pages;
    uint32_t info[12];
    memset(info, 0xFF, sizeof info);            /* unavailable fields are -1 */
    info[0] = max_pages * MM_PAGE_SIZE;          /* largest available block, bytes */
    info[1] = max_pages;                         /* maximum unlocked page allocation */
    info[2] = max_pages;                         /* maximum locked page allocation */
    info[3] = LINEAR_SPAN / MM_PAGE_SIZE;        /* linear address space size, pages */
    info[4] = unlocked;                          /* total unlocked pages */
    info[5] = free_pages;                        /* total free pages */
    info[6] = mm_block_count * MM_PAGES_PER_BLOCK; /* total physical pages */
    info[7] = linear_free / MM_PAGE_SIZE;        /* free linear address space, pages */
    /* info[8] paging file size and info[9..11] reserved stay -1: DPMI blocks are never swapped. */
    memcpy((void *)va, info, sizeof info);
    return 0;
}

static uint32_t pair(uint32_t hi, uint32_t lo)
{
    return ((uint32_t)REG_LO16(hi) << 16) | REG_LO16(lo);
}

static void set_pair(uint32_t *hi, uint32_t *lo, uint32_t v)
{
    REG_SET16(*hi, v >> 16);
    REG_SET16(*lo, v & 0xFFFFu);
}

/* Runs one function. Returns 0 on success (results already in r) or the error code. */
static uint16_t dpmi_call(struct rm_regs *r, uint32_t caller)
{
    uint32_t lin, handle;
    uint16_t e, seg, largest = 0;
    int d;
    if (!current)
        return DPMI_ERR_UNSUPPORTED;
    switch (REG_LO16(r->eax)) {
    case 0x0100:
        d = dos_alloc(REG_LO16(r->ebx), (uint16_t)(current->pid + 1), &seg, &largest);
        if (d) {
            if (d == DOS_ERR_INSUFFICIENT_MEMORY)
                REG_SET16(r->ebx, largest);
            return (uint16_t)d;
        }
        REG_SET16(r->eax, seg);
        REG_SET16(r->edx, seg);     /* the selector is the segment (flat model) */
        return 0;
    case 0x0101:
        return (uint16_t)dos_free(REG_LO16(r->edx));
    case 0x0102:
        d = dos_resize(REG_LO16(r->edx), REG_LO16(r->ebx), &largest);
        if (d == DOS_ERR_INSUFFICIENT_MEMORY)
            REG_SET16(r->ebx, largest);
        return (uint16_t)d;
    case 0x0500:
        return dpmi_free_info(r->edi);
    case 0x0501:
        if ((e = dpmi_alloc(pair(r->ebx, r->ecx), caller, &lin, &handle)) != 0)
            return e;
        set_pair(&r->ebx, &r->ecx, lin);
        set_pair(&r->esi, &r->edi, handle);
        return 0;
    case 0x0502:
        return dpmi_free(pair(r->esi, r->edi));
    case 0x0503:
        if ((e = dpmi_resize(pair(r->esi, r->edi), pair(r->ebx, r->ecx), &lin)) != 0)
            return e;
        set_pair(&r->ebx, &r->ecx, lin);    /* SI:DI keeps the (unchanged) handle */
        return 0;
    case 0x0600:
        return dpmi_lock(pair(r->ebx, r->ecx), pair(r->esi, r->edi), +1);
    case 0x0601:
        return dpmi_lock(pair(r->ebx, r->ecx), pair(r->esi, r->edi), -1);
    default:
        return DPMI_ERR_UNSUPPORTED;
    }
}

void dpmi_dispatch(struct rm_regs *r)
{
    uint32_t caller = (uint32_t)__builtin_return_address(0);
    uint32_t f = mm_write_begin();
    uint32_t ax = REG_LO16(r->eax);
    uint16_t e = dpmi_call(r, caller);
    if (e) {
        REG_SET16(r->eax, e);
        r->eflags |= EFLAGS_CF;
    } else {
        r->eflags &= ~EFLAGS_CF;
    }
    mm_event(MM_EV_DPMI, 0, 0, 0, ax, e, caller);
    mm_write_end(f);
}

void dpmi_release_process(uint32_t pid)
{
    uint32_t f = mm_write_begin();
    for (uint32_t i = dpmi_blocks.length; i-- > 0;) {
        if (blk(i)->owner_pid != pid)
            continue;
        MmFreeChain(blk(i)->chain);
        vec_swap_remove(&dpmi_blocks, i);
    }
    dos_release_owner((uint16_t)(pid + 1));
    mm_write_end(f);
}
