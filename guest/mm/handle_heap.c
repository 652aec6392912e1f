/* handle_heap.c: the handle heap of small movable blocks (layout and rules in
 * handle_heap.h): allocation into pages, locking, moving blocks to pack pages, and the
 * chain that grows and shrinks under it. */
#include "generation.h"
#include "handle_heap.h"
#include "heap.h"
#include "paging.h"
#include "string.h"
#include "x86.h"

#define HH_FREE_ENTRY_GEN_START 1u

const char *hh_strerror(int status)
{
    switch (status) {
    case HH_OK: return "ok";
    case HH_ERR_INVALID: return "invalid argument";
    case HH_ERR_BAD_HANDLE: return "not a live handle";
    case HH_ERR_NOMEM: return "out of memory";
    case HH_ERR_LOCKED: return "block is locked";
    case HH_ERR_NOT_LOCKED: return "block is not locked";
    case HH_ERR_LOCK_LIMIT: return "lock count limit";
    default: return "unknown error";
    }
}

/* ---- small helpers ---- */

/* Bytes a small block of `size` takes in its page: header plus payload rounded to 4. */
static inline uint32_t seg_need(uint32_t size)
{
    return HH_SEG_HDR + ((size + HH_ALIGN - 1) & ~(HH_ALIGN - 1));
}

static inline uint32_t pages_for(uint32_t size)
{
    return (size + HH_PAGE - 1) / HH_PAGE;
}

static inline bool is_small(uint32_t size)
{
    return size <= HH_SMALL_MAX;
}

static inline uint8_t *page_addr(struct hh_heap *h, uint32_t page)
{
    return (uint8_t *)(h->va + page * HH_PAGE);
}

static inline struct hh_seg *seg_at(struct hh_heap *h, uint32_t page, uint32_t off)
{
    return (struct hh_seg *)(page_addr(h, page) + off);
}

/* The entry a handle names, or NULL if the handle is not live. */
static struct hh_entry *entry_of(struct hh_heap *h, hh_handle_t handle)
{
    uint32_t idx = (handle & 0xFFFFu);
    if (!h || idx == 0 || idx > h->table_cap)
        return 0;
    struct hh_entry *e = &h->table[idx - 1];
    if (e->size == 0 || e->gen != (uint16_t)(handle >> 16))
        return 0;
    return e;
}

/* The generation after g (never 0, so that a handle is never 0 in its high half either). */
static inline uint16_t next_gen(uint16_t g)
{
    g = (uint16_t)(g + 1);
    return g ? g : HH_FREE_ENTRY_GEN_START;
}

static inline hh_handle_t handle_of(struct hh_heap *h, struct hh_entry *e)
{
    return ((uint32_t)e->gen << 16) | (uint32_t)(e - h->table + 1);
}

/* ---- the chain under the heap ---- */

/* Grows the chain by `blocks` 16 KiB blocks and maps the new pages after the old ones.
 * Returns HH_OK or HH_ERR_NOMEM (nothing changed). */
static int grow(struct hh_heap *h, uint32_t blocks)
{
    uint32_t new_pages = h->pages + blocks * MM_PAGES_PER_BLOCK;
    if (new_pages > h->max_pages)
        return HH_ERR_NOMEM;
    if (!h->chain) {
        chain_id_t id;
        if (mm_allocate_chain(CHAIN_FROZEN, blocks, OWNER_KERNEL, (uint32_t)__builtin_return_address(0), &id) != MM_OK)
            return HH_ERR_NOMEM;
        if (mm_map_pages(MAP_KPD, id, h->va, 0, 0, 0) != MM_OK) {
            MmFreeChain(id);
            return HH_ERR_NOMEM;
        }
        h->chain = id;
    } else {
        uint32_t have = MmChainBlocks(h->chain);
        if (MmResizeChain(h->chain, have + blocks) != MM_OK)
            return HH_ERR_NOMEM;
        if (mm_map_pages(MAP_KPD, h->chain, h->va + h->pages * HH_PAGE, h->pages, blocks * MM_PAGES_PER_BLOCK, 0) != MM_OK) {
            MmResizeChain(h->chain, have);
            return HH_ERR_NOMEM;
        }
    }
    for (uint32_t p = h->pages; p < new_pages; p++) {
        h->page_kind[p] = HH_PG_FREE;
        h->page_free[p] = 0;
        h->page_entry[p] = 0;
    }
    h->pages = new_pages;
    h->stats.grows++;
    return HH_OK;
}

/* Makes sure pages [0, pages) exist. */
static int ensure_pages(struct hh_heap *h, uint32_t pages)
{
    if (pages <= h->pages)
        return HH_OK;
    uint32_t blocks = (pages - h->pages + MM_PAGES_PER_BLOCK - 1) / MM_PAGES_PER_BLOCK;
    return grow(h, blocks);
}

/* 1 + the last page that is not free, 0 if none. */
static uint32_t extent_of(struct hh_heap *h)
{
    uint32_t e = h->pages;
    while (e > 0 && h->page_kind[e - 1] == HH_PG_FREE)
        e--;
    return e;
}

/* Gives back the chain's blocks past the last used page. Returns blocks returned. */
static uint32_t trim(struct hh_heap *h)
{
    if (!h->chain)
        return 0;
    uint32_t keep = (extent_of(h) + MM_PAGES_PER_BLOCK - 1) / MM_PAGES_PER_BLOCK;
    uint32_t have = h->pages / MM_PAGES_PER_BLOCK;
    if (keep >= have)
        return 0;
    if (keep == 0) {
        MmFreeChain(h->chain);
        h->chain = 0;
    } else if (MmResizeChain(h->chain, keep) != MM_OK) {
        return 0;
    }
    h->pages = keep * MM_PAGES_PER_BLOCK;
    h->stats.blocks_returned += have - keep;
    return have - keep;
}

/* ---- small pages ---- */

/* Turns a free page into a small page holding one free segment. */
static void open_small_page(struct hh_heap *h, uint32_t page)
{
    struct hh_seg *s = seg_at(h, page, 0);
    s->span = (uint16_t)HH_PAGE;   /* 4096 fits: uint16_t holds up to 65535 */
    s->entry = 0;
    h->page_kind[page] = HH_PG_SMALL;
    h->page_free[page] = (uint16_t)HH_PAGE;
}

/* Merges adjacent free segments of a small page; turns it into a free page if it is all
 * free. */
static void coalesce_page(struct hh_heap *h, uint32_t page)
{
    uint32_t off = 0;
    while (off < HH_PAGE) {
        struct hh_seg *s = seg_at(h, page, off);
        if (s->entry == 0) {
            while (off + s->span < HH_PAGE) {
                struct hh_seg *n = seg_at(h, page, off + s->span);
                if (n->entry != 0)
                    break;
                s->span = (uint16_t)(s->span + n->span);
            }
        }
        off += s->span;
    }
    if (h->page_free[page] == HH_PAGE)
        h->page_kind[page] = HH_PG_FREE;
}

/* Offset of the first free segment of a small page with span >= need, or HH_PAGE. */
static uint32_t find_gap(struct hh_heap *h, uint32_t page, uint32_t need)
{
    for (uint32_t off = 0; off < HH_PAGE;) {
        struct hh_seg *s = seg_at(h, page, off);
        if (s->entry == 0 && s->span >= need)
            return off;
        off += s->span;
    }
    return HH_PAGE;
}

/* Places entry `e` (its size set) in the free segment at (page, off), splitting it.
 * Sets e->off. */
static void take_gap(struct hh_heap *h, uint32_t page, uint32_t off, struct hh_entry *e)
{
    struct hh_seg *s = seg_at(h, page, off);
    uint32_t need = seg_need(e->size), span = s->span;
    if (span - need >= HH_SEG_HDR) {
        struct hh_seg *rest = seg_at(h, page, off + need);
        rest->span = (uint16_t)(span - need);
        rest->entry = 0;
        s->span = (uint16_t)need;
    }
    s->entry = (uint16_t)(e - h->table + 1);
    h->page_free[page] = (uint16_t)(h->page_free[page] - s->span);
    e->off = page * HH_PAGE + off + HH_SEG_HDR;
}

/* Frees the segment of small block `e` (does not touch the entry). */
static void release_small(struct hh_heap *h, struct hh_entry *e)
{
    uint32_t page = e->off / HH_PAGE, off = e->off % HH_PAGE - HH_SEG_HDR;
    struct hh_seg *s = seg_at(h, page, off);
    s->entry = 0;
    h->page_free[page] = (uint16_t)(h->page_free[page] + s->span);
    coalesce_page(h, page);
}

/* First fit for a small block of `size` among pages [0, limit) outside [skip_lo, skip_hi):
 * a small page with a big enough gap, or a free page. Returns the page and sets *off, or
 * returns HH_NONE. */
#define HH_NONE 0xFFFFFFFFu
static uint32_t first_fit_small(struct hh_heap *h, uint32_t size, uint32_t limit,
                                uint32_t skip_lo, uint32_t skip_hi, uint32_t *off)
{
    uint32_t need = seg_need(size);
    for (uint32_t p = 0; p < limit; p++) {
        if (p >= skip_lo && p < skip_hi)
            continue;
        if (h->page_kind[p] == HH_PG_FREE) {
            *off = 0;
            return p;
        }
        if (h->page_kind[p] == HH_PG_SMALL && h->page_free[p] >= need) {
            uint32_t o = find_gap(h, p, need);
            if (o < HH_PAGE) {
                *off = o;
                return p;
            }
        }
    }
    return HH_NONE;
}

/* Puts small block `e` (size set, no place yet) at the first fit outside [skip_lo,
 * skip_hi), growing the heap if needed. Returns HH_OK or HH_ERR_NOMEM. */
static int place_small(struct hh_heap *h, struct hh_entry *e, uint32_t skip_lo, uint32_t skip_hi)
{
    uint32_t off = 0, p = first_fit_small(h, e->size, h->pages, skip_lo, skip_hi, &off);
    if (p == HH_NONE) {
        uint32_t at = h->pages > skip_hi ? h->pages : skip_hi;
        if (ensure_pages(h, at + 1) != HH_OK)
            return HH_ERR_NOMEM;
        p = at;
        off = 0;
    }
    if (h->page_kind[p] == HH_PG_FREE)
        open_small_page(h, p);
    take_gap(h, p, off, e);
    return HH_OK;
}

/* Moves small block `e` to the free segment at (page, off) (already found); copies the
 * payload and frees the old segment. */
static void move_small_to(struct hh_heap *h, struct hh_entry *e, uint32_t page, uint32_t off)
{
    uint32_t old = e->off;
    struct hh_entry tmp = *e;
    if (h->page_kind[page] == HH_PG_FREE)
        open_small_page(h, page);
    take_gap(h, page, off, e);
    memcpy((void *)(h->va + e->off), (void *)(h->va + old), e->size);
    tmp.off = old;
    release_small(h, &tmp);
    h->stats.moves++;
    h->stats.bytes_moved += e->size;
}

/* Slides the unlocked blocks of a small page towards its start so that its free space
 * gathers in one segment at the end (or just before each locked block). Returns moves. */
static uint32_t slide_page(struct hh_heap *h, uint32_t page)
{
    uint32_t moves = 0, w = 0, off = 0;
    uint8_t *base = page_addr(h, page);
    while (off < HH_PAGE) {
        struct hh_seg s = *seg_at(h, page, off);
        if (s.entry == 0) {
            off += s.span;
            continue;
        }
        struct hh_entry *e = &h->table[s.entry - 1];
        if (e->locks) {
            if (w < off) {               /* the gap before a pinned block stays free */
                struct hh_seg *g = seg_at(h, page, w);
                g->span = (uint16_t)(off - w);
                g->entry = 0;
            }
            w = off + s.span;
        } else {
            uint32_t span = seg_need(e->size);   /* give back any slack of the segment */
            if (w != off || span != s.span) {
                if (w != off) {
                    memmove(base + w, base + off, HH_SEG_HDR + e->size);
                    moves++;
                    h->stats.bytes_moved += e->size;
                }
                struct hh_seg *n = seg_at(h, page, w);
                n->span = (uint16_t)span;
                n->entry = s.entry;
                e->off = page * HH_PAGE + w + HH_SEG_HDR;
            }
            w += span;
        }
        off += s.span;
    }
    if (w < HH_PAGE) {
        struct hh_seg *g = seg_at(h, page, w);
        g->span = (uint16_t)(HH_PAGE - w);
        g->entry = 0;
    }
    /* Recount: slack given back above adds to the free bytes. */
    uint32_t freeb = 0;
    for (uint32_t o = 0; o < HH_PAGE;) {
        struct hh_seg *g = seg_at(h, page, o);
        if (g->entry == 0)
            freeb += g->span;
        o += g->span;
    }
    h->page_free[page] = (uint16_t)freeb;
    coalesce_page(h, page);
    h->stats.moves += moves;
    return moves;
}

/* ---- large blocks ---- */

/* Lowest run of `n` free pages among [0, limit) (pages past h->pages count as free).
 * Returns its first page. */
static uint32_t free_run(struct hh_heap *h, uint32_t n, uint32_t limit)
{
    uint32_t run = 0;
    for (uint32_t p = 0; p < limit; p++) {
        bool f = p >= h->pages || h->page_kind[p] == HH_PG_FREE;
        run = f ? run + 1 : 0;
        if (run == n)
            return p + 1 - n;
    }
    return HH_NONE;
}

static void mark_large(struct hh_heap *h, struct hh_entry *e, uint32_t first)
{
    uint32_t n = pages_for(e->size);
    for (uint32_t i = 0; i < n; i++) {
        h->page_kind[first + i] = i ? HH_PG_LARGE_BODY : HH_PG_LARGE;
        h->page_entry[first + i] = (uint16_t)(e - h->table + 1);
        h->page_free[first + i] = 0;
    }
    e->off = first * HH_PAGE;
}

static void release_large(struct hh_heap *h, struct hh_entry *e)
{
    uint32_t first = e->off / HH_PAGE, n = pages_for(e->size);
    for (uint32_t i = 0; i < n; i++) {
        h->page_kind[first + i] = HH_PG_FREE;
        h->page_entry[first + i] = 0;
    }
}

/* Moves large block `e` to the free run at page `to` (below it, not overlapping). */
static void move_large(struct hh_heap *h, struct hh_entry *e, uint32_t to)
{
    memcpy(page_addr(h, to), (void *)(h->va + e->off), e->size);
    release_large(h, e);
    mark_large(h, e, to);
    h->stats.moves++;
    h->stats.bytes_moved += e->size;
}

/* Bytes of small blocks in window [s, s + n) if every page of it is free or small with
 * only unlocked blocks, else HH_NONE. Pages past h->pages are free. */
static uint32_t window_cost(struct hh_heap *h, uint32_t s, uint32_t n)
{
    uint32_t bytes = 0;
    for (uint32_t p = s; p < s + n; p++) {
        if (p >= h->pages || h->page_kind[p] == HH_PG_FREE)
            continue;
        if (h->page_kind[p] != HH_PG_SMALL)
            return HH_NONE;
        for (uint32_t off = 0; off < HH_PAGE;) {
            struct hh_seg *g = seg_at(h, p, off);
            if (g->entry) {
                if (h->table[g->entry - 1].locks)
                    return HH_NONE;
                bytes += g->span;
            }
            off += g->span;
        }
    }
    return bytes;
}

/* The heap's extent if window [s, s + n) were cleared by moving its small blocks (in
 * address order) first fit into pages outside it, and a large block put there. A capacity estimate: each page's free bytes are taken as one gap. */
static uint32_t extent_if_cleared(struct hh_heap *h, uint32_t s, uint32_t n, uint16_t *room)
{
    uint32_t limit = h->max_pages;
    for (uint32_t p = 0; p < limit; p++) {
        uint8_t k = p < h->pages ? h->page_kind[p] : HH_PG_FREE;
        room[p] = k == HH_PG_FREE ? (uint16_t)HH_PAGE : k == HH_PG_SMALL ? h->page_free[p] : 0;
    }
    uint32_t ext = 0;
    for (uint32_t p = 0; p < h->pages; p++)
        if ((p < s || p >= s + n) && h->page_kind[p] != HH_PG_FREE)
            ext = p + 1;
    if (s + n > ext)
        ext = s + n;
    for (uint32_t p = s; p < s + n; p++) {
        if (p >= h->pages || h->page_kind[p] != HH_PG_SMALL)
            continue;
        for (uint32_t off = 0; off < HH_PAGE;) {
            struct hh_seg *g = seg_at(h, p, off);
            if (g->entry) {
                uint32_t need = g->span, q = 0;
                while (q < limit && ((q >= s && q < s + n) || room[q] < need))
                    q++;
                if (q == limit)
                    return HH_NONE;
                room[q] = (uint16_t)(room[q] - need);
                if (q + 1 > ext)
                    ext = q + 1;
            }
            off += g->span;
        }
    }
    return ext;
}

/* Moves every small block out of window [s, s + n) (all unlocked, see window_cost). */
static int clear_window(struct hh_heap *h, uint32_t s, uint32_t n)
{
    for (uint32_t p = s; p < s + n && p < h->pages; p++) {
        while (h->page_kind[p] == HH_PG_SMALL) {
            uint32_t off = 0;
            struct hh_seg *g = seg_at(h, p, 0);
            while (g->entry == 0) {
                off += g->span;
                g = seg_at(h, p, off);
            }
            struct hh_entry *e = &h->table[g->entry - 1];
            uint32_t doff = 0, q = first_fit_small(h, e->size, h->pages, s, s + n, &doff);
            if (q == HH_NONE) {
                uint32_t at = h->pages > s + n ? h->pages : s + n;
                if (ensure_pages(h, at + 1) != HH_OK)
                    return HH_ERR_NOMEM;
                q = at;
                doff = 0;
            }
            move_small_to(h, e, q, doff);
        }
    }
    return HH_OK;
}

/* Places large block `e` (size set): the lowest free run, unless clearing a lower window
 * of small blocks gives a shorter heap. */
static int place_large(struct hh_heap *h, struct hh_entry *e)
{
    uint32_t n = pages_for(e->size);
    if (n > h->max_pages)
        return HH_ERR_NOMEM;
    uint32_t run = free_run(h, n, h->max_pages);
    uint32_t run_ext = HH_NONE;
    if (run != HH_NONE) {
        run_ext = extent_of(h);
        if (run + n > run_ext)
            run_ext = run + n;
    }
    /* Windows below the free run that hold only movable small blocks: the cheapest few are
     * evaluated, and one is used only if it makes the heap shorter. */
    uint32_t limit = run == HH_NONE ? h->pages : run;
    uint32_t best = HH_NONE, best_ext = run_ext, best_cost = HH_NONE;
    uint16_t *room = 0;
    for (uint32_t s = 0; s + n <= limit; s++) {
        uint32_t cost = window_cost(h, s, n);
        if (cost == HH_NONE || cost == 0)
            continue;
        if (!room && !(room = kmalloc(h->max_pages * sizeof(uint16_t))))
            break;
        uint32_t ext = extent_if_cleared(h, s, n, room);
        if (ext == HH_NONE)
            continue;
        if (ext < best_ext || (ext == best_ext && best != HH_NONE && cost < best_cost)) {
            best = s;
            best_ext = ext;
            best_cost = cost;
        }
    }
    kfree(room);
    uint32_t at = run;
    if (best != HH_NONE) {
        if (clear_window(h, best, n) != HH_OK)
            return HH_ERR_NOMEM;   /* blocks moved so far stay moved: still a valid heap */
        at = best;
        h->stats.room_made++;
    }
    if (at == HH_NONE)
        return HH_ERR_NOMEM;
    if (ensure_pages(h, at + n) != HH_OK)
        return HH_ERR_NOMEM;
    mark_large(h, e, at);
    return HH_OK;
}

/* ---- the public operations ---- */

int hh_init(struct hh_heap *h, uint32_t va, uint32_t max_pages)
{
    if (!h || (va & (HH_PAGE - 1)) || va < 0xE0000000u || max_pages == 0 ||
        max_pages > (WINDOW_BASE - va) / HH_PAGE)
        return HH_ERR_INVALID;
    uint32_t f = mm_write_begin();
    memset(h, 0, sizeof *h);
    h->va = va;
    h->max_pages = max_pages;
    h->page_kind = kzalloc(max_pages);
    h->page_free = kzalloc(max_pages * sizeof(uint16_t));
    h->page_entry = kzalloc(max_pages * sizeof(uint16_t));
    int r = HH_OK;
    if (!h->page_kind || !h->page_free || !h->page_entry) {
        hh_destroy(h);
        r = HH_ERR_NOMEM;
    }
    mm_write_end(f);
    return r;
}

void hh_destroy(struct hh_heap *h)
{
    if (!h)
        return;
    uint32_t f = mm_write_begin();
    if (h->chain)
        MmFreeChain(h->chain);
    kfree(h->page_kind);
    kfree(h->page_free);
    kfree(h->page_entry);
    kfree(h->table);
    memset(h, 0, sizeof *h);
    mm_write_end(f);
}

/* A free table entry (growing the table if needed), or NULL. */
static struct hh_entry *new_entry(struct hh_heap *h)
{
    for (uint32_t i = 0; i < h->table_cap; i++)
        if (h->table[i].size == 0)
            return &h->table[i];
    if (h->table_cap >= HH_MAX_ENTRIES)
        return 0;
    uint32_t cap = h->table_cap ? h->table_cap * 2 : 64;
    if (cap > HH_MAX_ENTRIES)
        cap = HH_MAX_ENTRIES;
    struct hh_entry *t = krealloc(h->table, cap * sizeof *t);
    if (!t)
        return 0;
    for (uint32_t i = h->table_cap; i < cap; i++)
        t[i] = (struct hh_entry){0, 0, HH_FREE_ENTRY_GEN_START, 0};
    struct hh_entry *e = &t[h->table_cap];
    h->table = t;
    h->table_cap = cap;
    return e;
}

int hh_alloc(struct hh_heap *h, uint32_t size, hh_handle_t *out)
{
    if (!h || !out || size == 0 || size > h->max_pages * HH_PAGE || !h->page_kind)
        return HH_ERR_INVALID;
    uint32_t f = mm_write_begin();
    struct hh_entry *e = new_entry(h);   /* the table may grow: kmalloc nests irq_save */
    if (!e) {
        mm_write_end(f);
        return HH_ERR_NOMEM;
    }
    e->size = size;
    e->locks = 0;
    int r = is_small(size) ? place_small(h, e, 0, 0) : place_large(h, e);
    if (r != HH_OK) {
        e->size = 0;
        mm_write_end(f);
        return r;
    }
    h->live++;
    h->live_bytes += size;
    *out = handle_of(h, e);
    mm_write_end(f);
    return HH_OK;
}

int hh_free(struct hh_heap *h, hh_handle_t handle)
{
    uint32_t f = mm_write_begin();
    struct hh_entry *e = entry_of(h, handle);
    int r = HH_OK;
    if (!e)
        r = HH_ERR_BAD_HANDLE;
    else if (e->locks)
        r = HH_ERR_LOCKED;
    else {
        if (is_small(e->size))
            release_small(h, e);
        else
            release_large(h, e);
        h->live--;
        h->live_bytes -= e->size;
        e->size = 0;
        e->gen = next_gen(e->gen);
    }
    mm_write_end(f);
    return r;
}

int hh_lock(struct hh_heap *h, hh_handle_t handle, void **ptr)
{
    if (!ptr)
        return HH_ERR_INVALID;
    uint32_t f = mm_write_begin();
    struct hh_entry *e = entry_of(h, handle);
    int r = HH_OK;
    if (!e)
        r = HH_ERR_BAD_HANDLE;
    else if (e->locks >= HH_MAX_LOCKS)
        r = HH_ERR_LOCK_LIMIT;
    else {
        e->locks++;
        *ptr = (void *)(h->va + e->off);
    }
    mm_write_end(f);
    return r;
}

int hh_unlock(struct hh_heap *h, hh_handle_t handle)
{
    uint32_t f = mm_write_begin();
    struct hh_entry *e = entry_of(h, handle);
    int r = HH_OK;
    if (!e)
        r = HH_ERR_BAD_HANDLE;
    else if (!e->locks)
        r = HH_ERR_NOT_LOCKED;
    else
        e->locks--;
    mm_write_end(f);
    return r;
}

int hh_info(struct hh_heap *h, hh_handle_t handle, uint32_t *size, uint32_t *locks, uint32_t *offset)
{
    uint32_t f = mm_write_begin();
    struct hh_entry *e = entry_of(h, handle);
    if (e) {
        if (size)
            *size = e->size;
        if (locks)
            *locks = e->locks;
        if (offset)
            *offset = e->off;
    }
    mm_write_end(f);
    return e ? HH_OK : HH_ERR_BAD_HANDLE;
}

int hh_resize(struct hh_heap *h, hh_handle_t handle, uint32_t size)
{
    if (!h || size == 0 || size > h->max_pages * HH_PAGE)
        return HH_ERR_INVALID;
    uint32_t f = mm_write_begin();
    int r = HH_OK;
    struct hh_entry *n = 0, *e = entry_of(h, handle);
    if (!e) {
        r = HH_ERR_BAD_HANDLE;
        goto out;
    }
    if (is_small(e->size) && is_small(size)) {
        /* In place when the segment already holds it (shrinking gives nothing back until
         * the page is slid by hh_compact). */
        struct hh_seg *s = (struct hh_seg *)(h->va + e->off - HH_SEG_HDR);
        if (seg_need(size) <= s->span) {
            h->live_bytes = h->live_bytes - e->size + size;
            e->size = size;
            goto out;
        }
    } else if (!is_small(e->size) && !is_small(size) && pages_for(size) == pages_for(e->size)) {
        h->live_bytes = h->live_bytes - e->size + size;
        e->size = size;
        goto out;
    }
    if (e->locks) {
        r = HH_ERR_LOCKED;
        goto out;
    }
    uint32_t ei = (uint32_t)(e - h->table);
    if (!(n = new_entry(h))) {            /* a spare entry; the table may move */
        r = HH_ERR_NOMEM;
        goto out;
    }
    e = &h->table[ei];
    /* Move: place a new block (in the spare entry), copy, free the old, and give the old
     * entry (the caller's handle) the new place. */
    n->size = size;
    n->locks = 0;
    r = is_small(size) ? place_small(h, n, 0, 0) : place_large(h, n);
    if (r != HH_OK) {
        n->size = 0;
        goto out;
    }
    e = &h->table[ei];                   /* place_large may have moved its block (unlocked) */
    memcpy((void *)(h->va + n->off), (void *)(h->va + e->off), e->size < size ? e->size : size);
    if (is_small(e->size))
        release_small(h, e);
    else
        release_large(h, e);
    if (is_small(size))
        ((struct hh_seg *)(h->va + n->off - HH_SEG_HDR))->entry = (uint16_t)(e - h->table + 1);
    else
        for (uint32_t i = 0; i < pages_for(size); i++)
            h->page_entry[n->off / HH_PAGE + i] = (uint16_t)(e - h->table + 1);
    h->live_bytes = h->live_bytes - e->size + size;
    e->off = n->off;
    e->size = size;
    n->size = 0;
    n->gen = next_gen(n->gen);
    h->stats.moves++;
out:
    mm_write_end(f);
    return r;
}

/* Movable small blocks (entry indices), largest first (ties: higher offset first). */
static void sort_movable(struct hh_heap *h, uint16_t *idx, uint32_t n)
{
    for (uint32_t gap = n / 2; gap > 0; gap /= 2)
        for (uint32_t i = gap; i < n; i++) {
            uint16_t v = idx[i];
            struct hh_entry *ev = &h->table[v];
            uint32_t j = i;
            for (; j >= gap; j -= gap) {
                struct hh_entry *ej = &h->table[idx[j - gap]];
                bool before = seg_need(ev->size) > seg_need(ej->size) ||
                              (seg_need(ev->size) == seg_need(ej->size) && ev->off > ej->off);
                if (!before)
                    break;
                idx[j] = idx[j - gap];
            }
            idx[j] = v;
        }
}

uint32_t hh_compact(struct hh_heap *h)
{
    if (!h || !h->page_kind)
        return 0;
    uint16_t *idx = h->live ? kmalloc(h->live * sizeof(uint16_t)) : 0;
    uint32_t f = mm_write_begin();
    uint32_t moves0 = h->stats.moves;
    h->stats.compactions++;
    /* 1. Each small page's blocks slide together, so its free space is one gap. */
    for (uint32_t p = 0; p < h->pages; p++)
        if (h->page_kind[p] == HH_PG_SMALL)
            slide_page(h, p);
    /* 2. Largest first, each movable small block goes to the lowest page below its own
     *    with a gap for it (first fit decreasing), emptying the heap's upper pages. */
    if (idx) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < h->table_cap && n < h->live; i++)
            if (h->table[i].size && is_small(h->table[i].size) && !h->table[i].locks)
                idx[n++] = (uint16_t)i;
        sort_movable(h, idx, n);
        for (uint32_t k = 0; k < n; k++) {
            struct hh_entry *e = &h->table[idx[k]];
            uint32_t page = e->off / HH_PAGE, off = 0;
            uint32_t q = first_fit_small(h, e->size, page, HH_NONE, HH_NONE, &off);
            if (q != HH_NONE)
                move_small_to(h, e, q, off);
        }
    }
    /* 3. Large unlocked blocks, the highest first, move to the lowest free run of their
     *    size below them: a whole-page copy, so after the small blocks. */
    for (uint32_t p = h->pages; p-- > 0;) {
        if (h->page_kind[p] != HH_PG_LARGE)
            continue;
        struct hh_entry *e = &h->table[h->page_entry[p] - 1];
        uint32_t run = e->locks ? HH_NONE : free_run(h, pages_for(e->size), p);
        if (run != HH_NONE)
            move_large(h, e, run);
    }
    /* 4. The chain's blocks past the last used page go back. */
    trim(h);
    uint32_t moved = h->stats.moves - moves0;
    mm_write_end(f);
    kfree(idx);
    return moved;
}

void hh_usage(struct hh_heap *h, struct hh_usage *u)
{
    memset(u, 0, sizeof *u);
    if (!h || !h->page_kind)
        return;
    uint32_t f = mm_write_begin();
    for (uint32_t p = 0; p < h->pages; p++)
        if (h->page_kind[p] != HH_PG_FREE)
            u->used_pages++;
    u->extent = extent_of(h);
    u->chain_blocks = h->chain ? MmChainBlocks(h->chain) : 0;
    u->live_bytes = h->live_bytes;
    /* live_bytes <= used_pages * 4 KiB <= 4 GiB: divide both by 16 to stay in 32 bits */
    u->fill_percent = u->used_pages ? (h->live_bytes / 16u) * 100u / (u->used_pages * (HH_PAGE / 16u)) : 0;
    mm_write_end(f);
}

int hh_check(struct hh_heap *h, const char **why)
{
    static const char *msg;
    int r = HH_ERR_INVALID;
    if (!h || !h->page_kind || !why)
        return HH_ERR_INVALID;
    uint8_t *seen = h->table_cap ? kzalloc(h->table_cap) : 0;
    uint32_t f = mm_write_begin();
    uint32_t live = 0, bytes = 0;
#define BAD(m) do { msg = (m); goto out; } while (0)
    if (h->table_cap && !seen)
        BAD("no memory for the check");
    if (h->chain ? MmChainBlocks(h->chain) * MM_PAGES_PER_BLOCK != h->pages : h->pages != 0)
        BAD("pages != chain blocks * 4");
    for (uint32_t p = h->pages; p < h->max_pages; p++)
        if (h->page_kind[p] != HH_PG_FREE)
            BAD("a page past the chain is in use");
    for (uint32_t p = 0; p < h->pages; p++) {
        uint8_t k = h->page_kind[p];
        if (k == HH_PG_SMALL) {
            uint32_t off = 0, freeb = 0;
            bool prev_free = false, any_used = false;
            while (off < HH_PAGE) {
                struct hh_seg *g = seg_at(h, p, off);
                if (g->span < HH_SEG_HDR || g->span % HH_ALIGN || off + g->span > HH_PAGE)
                    BAD("a segment does not tile its page");
                if (g->entry == 0) {
                    if (prev_free)
                        BAD("two free segments in a row");
                    freeb += g->span;
                    prev_free = true;
                } else {
                    if (g->entry > h->table_cap)
                        BAD("a segment names an entry past the table");
                    struct hh_entry *e = &h->table[g->entry - 1];
                    if (e->size == 0 || !is_small(e->size))
                        BAD("a segment names a free or large entry");
                    if (e->off != p * HH_PAGE + off + HH_SEG_HDR)
                        BAD("an entry's offset is not its segment's");
                    if (seg_need(e->size) > g->span)
                        BAD("a block is larger than its segment");
                    if (seen[g->entry - 1]++)
                        BAD("an entry is in two places");
                    prev_free = false;
                    any_used = true;
                }
                off += g->span;
            }
            if (freeb != h->page_free[p])
                BAD("a small page's free count is wrong");
            if (!any_used)
                BAD("a small page holds no block");
        } else if (k == HH_PG_LARGE) {
            uint32_t ei = h->page_entry[p];
            if (!ei || ei > h->table_cap)
                BAD("a large page names no entry");
            struct hh_entry *e = &h->table[ei - 1];
            if (e->size == 0 || is_small(e->size) || e->off != p * HH_PAGE)
                BAD("a large page's entry does not start there");
            uint32_t n = pages_for(e->size);
            if (p + n > h->pages)
                BAD("a large block runs past the heap");
            for (uint32_t i = 1; i < n; i++)
                if (h->page_kind[p + i] != HH_PG_LARGE_BODY || h->page_entry[p + i] != ei)
                    BAD("a large block's pages are not whole");
            if (seen[ei - 1]++)
                BAD("an entry is in two places");
            p += n - 1;
        } else if (k == HH_PG_LARGE_BODY) {
            BAD("a large block's page without its first page");
        } else if (k != HH_PG_FREE) {
            BAD("unknown page kind");
        }
    }
    for (uint32_t i = 0; i < h->table_cap; i++) {
        if (!h->table[i].size)
            continue;
        live++;
        bytes += h->table[i].size;
        if (!seen[i])
            BAD("a live entry is in no page");
    }
    if (live != h->live || bytes != h->live_bytes)
        BAD("live counts are wrong");
    r = HH_OK;
    msg = 0;
out:
#undef BAD
    mm_write_end(f);
    kfree(seen);
    *why = msg;
    return r;
}
