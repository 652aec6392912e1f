/* xms.c: the XMS 3.0 driver over chains. Each extended-memory block (EMB) is a 16-bit
 * handle naming one chain (or none, for a zero-length block). Locking makes the chain
 * physically contiguous and frozen, so the 32-bit address the spec promises is physical. */
#include "generation.h"
#include "swap.h"
#include "xms.h"
#include "mm_event.h"
#include "console.h"
#include "dos.h"
#include "proc.h"
#include "paging.h"
#include "string.h"
#include "v86.h"
#include "x86.h"

struct vector xms_handles;
static uint16_t next_handle = 1;          /* handle numbers are handed out round robin */
static uint8_t bounce[MM_PAGE_SIZE];      /* moves copy through it (interrupts are off) */

#define KB_PER_BLOCK (MM_BLOCK_SIZE / 1024u)

static uint32_t kb_to_blocks(uint32_t kb)
{
    return (kb + KB_PER_BLOCK - 1) / KB_PER_BLOCK;
}

/* Index of handle `h` in xms_handles, or -1 if there is no such handle (0 never is one). */
static int find_index(uint16_t h)
{
    if (h == 0)
        return -1;
    for (uint32_t i = 0; i < xms_handles.length; i++)
        if (((struct xms_handle *)vec_at(&xms_handles, i))->handle == h)
            return (int)i;
    return -1;
}

static struct xms_handle *find_handle(uint16_t h)
{
    int i = find_index(h);
    return i < 0 ? 0 : vec_at(&xms_handles, (uint32_t)i);
}

/* A handle number not in use. The table never holds more than XMS_MAX_HANDLES, so one of
 * the next XMS_MAX_HANDLES + 1 candidates is free. */
static uint16_t new_handle_number(void)
{
    for (;;) {
        uint16_t h = next_handle++;
        if (next_handle == 0)
            next_handle = 1;
        if (find_index(h) < 0)
            return h;
    }
}

/* Rewrites the chain ID of every handle when the defragmenter moves a chain's head. */
static void xms_relocated(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < xms_handles.length; i++) {
        struct xms_handle *h = vec_at(&xms_handles, i);
        if (h->chain == old_id)
            h->chain = new_id;
    }
}

void xms_init(void)
{
    vec_init(&xms_handles, sizeof(struct xms_handle));
    if (vec_reserve(&xms_handles, XMS_MAX_HANDLES) < 0)
        panic("xms: no memory for the handle table");
    if (mm_add_relocation_listener(xms_relocated, 0) != MM_OK)
        panic("xms: no relocation listener slot");
}

/* Allocates a chain of `blocks` blocks for handle `handle`. The chain is allocated frozen
 * so that a defragmentation triggered by the allocation itself cannot move it before the
 * caller has stored its ID; the caller unfreezes it once the ID is in the table.
 * Returns the ID, or 0 if memory is short. */
static chain_id_t alloc_frozen(uint32_t blocks, uint16_t handle, uint32_t caller, uint32_t bytes)
{
    chain_id_t id;
    if (blocks > mm_free_blocks || mm_allocate_chain(CHAIN_FROZEN, blocks, OWNER_XMS, caller, &id) != MM_OK)
        return 0;
    mm_owner_set(id, OWNER_XMS, handle, caller, bytes);
    return id;
}

/* 09h: allocates a block of `kb` KiB (0 is legal: no chain). Returns 0 and *handle, or
 * A1h (table full) or A0h (no memory). */
static uint8_t xms_alloc(uint32_t kb, uint32_t caller, uint16_t *handle)
{
    if (xms_handles.length >= XMS_MAX_HANDLES)
        return XMS_ERR_OUT_OF_HANDLES;
    struct xms_handle h = {new_handle_number(), 0, 0, kb, current ? current->pid : 0};
    uint32_t blocks = kb_to_blocks(kb);
    if (blocks && !(h.chain = alloc_frozen(blocks, h.handle, caller, kb * 1024u)))
        return XMS_ERR_OUT_OF_MEMORY;
    if (vec_push(&xms_handles, &h) < 0) {     /* cannot happen: capacity reserved */
        if (h.chain)
            MmFreeChain(h.chain);
        return XMS_ERR_OUT_OF_MEMORY;
    }
    if (h.chain)
        MmUnfreezeChain(h.chain);
    *handle = h.handle;
    return 0;
}

/* 0Ah: frees a block. Returns 0, A2h (no such handle) or ABh (locked). */
static uint8_t xms_free(uint16_t handle)
{
    int i = find_index(handle);
    if (i < 0)
        return XMS_ERR_INVALID_HANDLE;
    struct xms_handle *h = vec_at(&xms_handles, (uint32_t)i);
    if (h->lock_count)
        return XMS_ERR_LOCKED;
    if (h->chain && MmFreeChain(h->chain) != MM_OK)
        panic("xms: handle %u names dead chain %u", h->handle, h->chain);
    vec_swap_remove(&xms_handles, (uint32_t)i);
    return 0;
}

/* One side of a move: a chain (chain != 0) or conventional memory (chain == 0, positions
 * are physical addresses). blk caches the block that holds block index idx. */
struct side {
    uint16_t handle;
    chain_id_t chain;
    uint32_t pos;       /* offset in the block, or linear address in conventional memory */
    uint32_t idx, blk;
    bool task;          /* conventional memory of the running DOS task: pos is linear in its space */
};

/* True when the caller is a DOS task: its conventional memory and the move structure are
 * addressed in its own first megabyte (v86.h), not physically. */
static bool caller_is_task(void)
{
    return current && current->v86 && (current->mode == PROC_MODE_V86 || current->mode == PROC_MODE_DPMI);
}

/* Physical address of linear `lin` in the running task's space, or 0 if the page is not
 * mapped writable for it. */
static uint32_t task_phys(uint32_t lin)
{
    uint32_t pte = mm_lookup_pte(lin & ~(MM_PAGE_SIZE - 1), current->upd);
    if ((pte & (PTE_P | PTE_U | PTE_W)) != (PTE_P | PTE_U | PTE_W))
        return 0;
    return (pte & PTE_ADDR) | (lin & (MM_PAGE_SIZE - 1));
}

/* Physical address of byte `pos` of the side. Positions were range checked. */
static uint32_t side_phys(struct side *s, uint32_t pos)
{
    if (!s->chain)
        return s->task ? task_phys(pos) : pos;
    uint32_t idx = pos >> MM_BLOCK_SHIFT;
    if (idx < s->idx || !s->blk) {
        s->idx = 0;
        s->blk = s->chain;
    }
    while (s->idx < idx) {
        s->blk = ct_field(mm_block_table[s->blk]);
        s->idx++;
        KASSERT(s->blk != CT_END);
    }
    swap_block_forget(s->blk);   /* written behind the dirty bits: no clean copy */
    return (s->blk << MM_BLOCK_SHIFT) + (pos & (MM_BLOCK_SIZE - 1));
}

/* Checks one side of a move of `len` bytes and fills *s. Returns 0, `bad_offset` when the
 * offset lies outside the block (or a conventional address outside the DOS arena), or
 * A7h when the range runs past its end. The handle was checked already. */
static uint8_t move_side(uint16_t handle, uint32_t offset, uint32_t len, uint8_t bad_offset, struct side *s)
{
    uint64_t start, limit;
    memset(s, 0, sizeof *s);
    s->handle = handle;
    if (handle == 0 && caller_is_task()) {
        /* The task's own first megabyte: every page of the range must be mapped for it. */
        start = (offset >> 16) * 16u + (offset & 0xFFFFu);
        limit = DOS_ARENA_END_SEG * 16u;
        if (start > limit)
            return bad_offset;
        if (start + len > limit)
            return XMS_ERR_INVALID_LENGTH;
        for (uint64_t p = start & ~(uint64_t)(MM_PAGE_SIZE - 1); p < start + len; p += MM_PAGE_SIZE)
            if (!task_phys((uint32_t)p))
                return bad_offset;
        s->task = true;
    } else if (handle == 0) {
        start = (offset >> 16) * 16u + (offset & 0xFFFFu);
        if (start < DOS_ARENA_START_SEG * 16u || start > DOS_ARENA_END_SEG * 16u)
            return bad_offset;
        limit = DOS_ARENA_END_SEG * 16u;
    } else {
        struct xms_handle *h = find_handle(handle);
        start = offset;
        limit = (uint64_t)h->size_kb * 1024u;
        if (start > limit)
            return bad_offset;
        s->chain = h->chain;
    }
    if (start + len > limit)
        return XMS_ERR_INVALID_LENGTH;
    s->pos = (uint32_t)start;
    return 0;
}

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Copies len bytes from src to dst a piece at a time, each piece within one page of both
 * sides. Overlapping ranges of the same block copy from the end, like memmove. */
static void copy_sides(struct side *src, struct side *dst, uint32_t len)
{
    bool backward = src->handle == dst->handle && src->task == dst->task && src->pos < dst->pos && dst->pos < src->pos + len;
    for (uint32_t done = 0; done < len;) {
        uint32_t left = len - done, s, d, n;
        if (!backward) {
            s = src->pos + done;
            d = dst->pos + done;
            n = min3(left, MM_PAGE_SIZE - (s & (MM_PAGE_SIZE - 1)), MM_PAGE_SIZE - (d & (MM_PAGE_SIZE - 1)));
        } else {
            uint32_t se = src->pos + left, de = dst->pos + left;
            n = min3(left, ((se - 1) & (MM_PAGE_SIZE - 1)) + 1, ((de - 1) & (MM_PAGE_SIZE - 1)) + 1);
            s = se - n;
            d = de - n;
        }
        mm_phys_read(side_phys(src, s), bounce, n);
        mm_phys_write(side_phys(dst, d), bounce, n);
        done += n;
    }
}

/* 0Bh: copies memory as the move structure at real-mode address ds:si says. Returns 0,
 * A3h/A5h (bad source/destination handle), A7h (odd length, or a range past its block's
 * end), A4h/A6h (offset outside the source/destination), or A4h if the move structure
 * itself is not in the first MiB. Nothing is copied on error. */
static uint8_t xms_move(uint16_t ds, uint16_t si)
{
    uint32_t at = (uint32_t)ds * 16u + si;
    if (at + sizeof(struct xms_move) > 0x100000u)
        return XMS_ERR_INVALID_SRC_OFFSET;
    struct xms_move m;
    if (caller_is_task()) {
        if (v86_read(at, &m, sizeof m))
            return XMS_ERR_INVALID_SRC_OFFSET;
    } else {
        memcpy(&m, P2V(at), sizeof m);
    }
    if (m.src_handle && !find_handle(m.src_handle))
        return XMS_ERR_INVALID_SRC_HANDLE;
    if (m.dst_handle && !find_handle(m.dst_handle))
        return XMS_ERR_INVALID_DST_HANDLE;
    if (m.length & 1)
        return XMS_ERR_INVALID_LENGTH;
    struct side src, dst;
    uint8_t e = move_side(m.src_handle, m.src_offset, m.length, XMS_ERR_INVALID_SRC_OFFSET, &src);
    if (!e)
        e = move_side(m.dst_handle, m.dst_offset, m.length, XMS_ERR_INVALID_DST_OFFSET, &dst);
    if (e)
        return e;
    /* The move walks block links: swapped-out blocks of either side come back first. */
    if ((src.chain && swap_in_chain(src.chain) != MM_OK) || (dst.chain && swap_in_chain(dst.chain) != MM_OK))
        return XMS_ERR_PARITY;
    copy_sides(&src, &dst, m.length);
    return 0;
}

/* True when the n blocks of chain id are id, id+1, ..., id+n-1. */
static bool chain_is_run(chain_id_t id, uint32_t n)
{
    uint32_t b = id;
    for (uint32_t i = 1; i < n; i++) {
        b = ct_field(mm_block_table[b]);
        if (b != id + i)
            return false;
    }
    return true;
}

/* Makes the (movable) chain of h physically contiguous by moving its blocks, in order,
 * into a free run, which the defragmenter makes if there is none. h->chain follows the
 * head through the relocation listener. Returns MM_OK or MM_ERR_NOMEM (no run could be
 * made; the chain is then intact but possibly partly moved). */
static int make_contiguous(struct xms_handle *h)
{
    if (swap_in_chain(h->chain) != MM_OK)   /* a contiguous chain never leaves memory */
        return MM_ERR_NOMEM;
    uint32_t n = MmChainBlocks(h->chain);
    if (chain_is_run(h->chain, n))
        return MM_OK;
    uint32_t start = mm_find_free_run(n, 0, 0);
    if (!start && mm_defrag_make_run(n, 0, 0) == MM_OK) {
        if (chain_is_run(h->chain, n))     /* the shuffle may have done it already */
            return MM_OK;
        start = mm_find_free_run(n, 0, 0);
    }
    if (!start)
        return MM_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b;
        if (mm_chain_block(h->chain, i, &b) != MM_OK)
            panic("xms: chain %u lost block %u", h->chain, i);
        if (b != start + i && mm_move_block(b, start + i) != MM_OK)
            return MM_ERR_NOMEM;
    }
    KASSERT(h->chain == start && chain_is_run(h->chain, n));
    return MM_OK;
}

/* 0Ch: locks a block. Returns 0 and *addr (the physical address of the now contiguous,
 * frozen chain; 0 for a zero-length block), or A2h, ACh (count at XMS_LOCK_MAX) or ADh
 * (the chain cannot be made contiguous). */
static uint8_t xms_lock(uint16_t handle, uint32_t *addr)
{
    struct xms_handle *h = find_handle(handle);
    if (!h)
        return XMS_ERR_INVALID_HANDLE;
    if (h->lock_count >= XMS_LOCK_MAX)
        return XMS_ERR_LOCK_OVERFLOW;
    if (h->lock_count == 0 && h->chain) {
        if (make_contiguous(h) != MM_OK)
            return XMS_ERR_LOCK_FAILED;
        MmFreezeChain(h->chain);
    }
    h->lock_count++;
    *addr = h->chain << MM_BLOCK_SHIFT;
    return 0;
}

/* 0Dh: unlocks a block; the last unlock lets the defragmenter move it again. Returns 0,
 * A2h or AAh (not locked). */
static uint8_t xms_unlock(uint16_t handle)
{
    struct xms_handle *h = find_handle(handle);
    if (!h)
        return XMS_ERR_INVALID_HANDLE;
    if (h->lock_count == 0)
        return XMS_ERR_NOT_LOCKED;
    if (--h->lock_count == 0 && h->chain)
        MmUnfreezeChain(h->chain);
    return 0;
}

/* 0Fh: resizes an unlocked block to `kb` KiB, keeping its contents up to the smaller
 * size. Returns 0, A2h, ABh (locked) or A0h (no memory; the block is unchanged). */
static uint8_t xms_realloc(uint16_t handle, uint32_t kb, uint32_t caller)
{
    struct xms_handle *h = find_handle(handle);
    if (!h)
        return XMS_ERR_INVALID_HANDLE;
    if (h->lock_count)
        return XMS_ERR_LOCKED;
    uint32_t want = kb_to_blocks(kb);
    if (want == 0 && h->chain) {
        MmFreeChain(h->chain);
        h->chain = 0;
    } else if (want && !h->chain) {
        chain_id_t id = alloc_frozen(want, h->handle, caller, kb * 1024u);
        if (!id)
            return XMS_ERR_OUT_OF_MEMORY;
        h->chain = id;
        MmUnfreezeChain(id);
    } else if (want && want != MmChainBlocks(h->chain)) {
        int r = MmResizeChain(h->chain, want);
        if (r == MM_ERR_NOMEM)
            return XMS_ERR_OUT_OF_MEMORY;
        if (r != MM_OK)
            panic("xms: resize of chain %u: %s", h->chain, mm_strerror(r));
    }
    h->size_kb = kb;
    if (h->chain)
        mm_owner_set(h->chain, OWNER_XMS, h->handle, 0, kb * 1024u);
    return 0;
}

/* 08h: AX = what one allocation can get (chains need not be contiguous, so all free
 * memory), DX = total free, both in KiB and capped at 0xFFFF. */
static uint8_t xms_query_free(struct rm_regs *r)
{
    uint32_t kb = mm_free_blocks * KB_PER_BLOCK;
    if (kb > 0xFFFFu)
        kb = 0xFFFFu;
    REG_SET16(r->eax, kb);
    REG_SET16(r->edx, kb);
    return kb ? 0 : XMS_ERR_OUT_OF_MEMORY;
}

/* Runs one function. Returns 0 on success (results already in r), else the error code. */
static uint8_t xms_call(struct rm_regs *r, uint32_t caller)
{
    uint16_t dx = REG_LO16(r->edx), handle;
    uint32_t addr;
    uint8_t e;
    switch (REG_HI8(r->eax)) {
    case 0x00:  /* get version */
        REG_SET16(r->eax, XMS_VERSION);
        REG_SET16(r->ebx, XMS_DRIVER_REVISION);
        REG_SET16(r->edx, 0);               /* no HMA */
        return 0;
    case 0x01: case 0x02:                   /* request / release HMA */
        return XMS_ERR_HMA_MISSING;
    case 0x03: case 0x05:                   /* enable A20: it always is */
        break;
    case 0x04: case 0x06:                   /* disable A20: it cannot be */
        return XMS_ERR_A20_STILL_ENABLED;
    case 0x07:                              /* query A20 */
        REG_SET16(r->eax, 1);
        REG_SETLO8(r->ebx, 0);
        return 0;
    case 0x08:
        e = xms_query_free(r);
        if (!e)
            REG_SETLO8(r->ebx, 0);
        return e;
    case 0x09:
        if ((e = xms_alloc(dx, caller, &handle)) != 0)
            return e;
        REG_SET16(r->edx, handle);
        break;
    case 0x0A:
        if ((e = xms_free(dx)) != 0)
            return e;
        break;
    case 0x0B:
        if ((e = xms_move(r->ds, REG_LO16(r->esi))) != 0)
            return e;
        break;
    case 0x0C:
        if ((e = xms_lock(dx, &addr)) != 0)
            return e;
        REG_SET16(r->edx, addr >> 16);
        REG_SET16(r->ebx, addr & 0xFFFFu);
        break;
    case 0x0D:
        if ((e = xms_unlock(dx)) != 0)
            return e;
        break;
    case 0x0E: {
        struct xms_handle *h = find_handle(dx);
        if (!h)
            return XMS_ERR_INVALID_HANDLE;
        uint32_t free_handles = XMS_MAX_HANDLES - xms_handles.length;
        REG_SETHI8(r->ebx, h->lock_count);
        REG_SETLO8(r->ebx, free_handles > 255 ? 255 : free_handles);
        REG_SET16(r->edx, h->size_kb);
        break;
    }
    case 0x0F:
        if ((e = xms_realloc(dx, REG_LO16(r->ebx), caller)) != 0)
            return e;
        break;
    case 0x10:                              /* request UMB: none, and no size either */
        REG_SET16(r->edx, 0);
        return XMS_ERR_NOT_IMPLEMENTED;
    default:                                /* 11h/12h UMB, anything unknown */
        return XMS_ERR_NOT_IMPLEMENTED;
    }
    REG_SET16(r->eax, 1);
    return 0;
}

void xms_dispatch(struct rm_regs *r)
{
    uint32_t caller = (uint32_t)__builtin_return_address(0);
    uint32_t f = mm_write_begin();
    uint32_t ax = REG_LO16(r->eax);
    uint8_t e = xms_call(r, caller);
    if (e) {
        REG_SET16(r->eax, 0);
        REG_SETLO8(r->ebx, e);
    }
    mm_event(MM_EV_XMS, 0, 0, 0, ax, e, caller);
    mm_write_end(f);
}

void xms_release_process(uint32_t pid)
{
    uint32_t f = mm_write_begin();
    for (uint32_t i = xms_handles.length; i-- > 0;) {
        struct xms_handle *h = vec_at(&xms_handles, i);
        if (h->owner_pid != pid)
            continue;
        if (h->chain && MmFreeChain(h->chain) != MM_OK)
            panic("xms: handle %u names dead chain %u", h->handle, h->chain);
        vec_swap_remove(&xms_handles, i);
    }
    mm_write_end(f);
}
