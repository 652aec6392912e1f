/* handle_heap.h: a heap of small movable blocks reached through handles, the seed's
 * "Block Reshuffling". Blocks are allocated by size and named by a handle; a caller locks
 * a handle to get a pointer (the block is pinned while its lock count is non-zero) and
 * unlocks it when done. Because callers keep handles, not pointers, the heap may move
 * unlocked blocks to pack them into as few pages as possible and give the emptied pages
 * back to the memory manager.
 *
 * The heap lives in one chain (frozen, so the block defragmenter leaves it alone) mapped
 * with MAP_KPD at a kernel address chosen by the caller; it grows and shrinks with
 * MmResizeChain, a 16 KiB block (4 pages) at a time, from its end.
 *
 * Layout. The heap is a row of 4 KiB pages, each one of:
 *   free   nothing in it;
 *   small  tiled by segments [struct hh_seg | payload], each used (one block) or free; a
 *          small block (size <= HH_SMALL_MAX) never crosses a page boundary;
 *   large  a block of more than HH_SMALL_MAX bytes takes whole pages, page aligned.
 * Payloads are 32-bit aligned (the seed: "Alignment ... will probably be 32-bit").
 *
 * Moving. Locked blocks never move. Unlocked blocks move only here:
 *   - hh_compact packs the small ones into the lowest pages (the seed: "look to the smaller
 *     blocks (<4K) and attempt to nearly fill entire pages with them"; first fit, largest
 *     first, after sliding each page's blocks together), then moves each large one into the
 *     lowest free run of pages below it, then shrinks the chain past the last used page;
 *   - hh_alloc of a large block may clear a window of pages below the lowest free run by
 *     moving the small blocks in it elsewhere, if that leaves the heap shorter (the seed's
 *     ##|@@|!!|!!|!! example, docs/guest-memory-services.md);
 *   - hh_resize moves the block it resizes when it does not fit in place.
 * Every operation is safe with interrupts on (it disables them). Not for interrupt handlers. */
#ifndef HANDLE_HEAP_H
#define HANDLE_HEAP_H
#include <stdint.h>
#include "mm.h"

typedef uint32_t hh_handle_t;      /* 0 = no handle; (generation << 16) | (entry index + 1) */

#define HH_PAGE        4096u
#define HH_SEG_HDR     4u                          /* bytes of a segment header */
#define HH_ALIGN       4u                          /* payload alignment (32-bit) */
#define HH_SMALL_MAX   (HH_PAGE - HH_SEG_HDR)      /* 4092: the largest small block */
#define HH_MAX_ENTRIES 65535u                      /* handles per heap */
#define HH_MAX_LOCKS   0xFFFFu                     /* lock count limit per block */

/* Default place for a heap in the kernel half (0xE0000000.. is for MAP_KPD mappings). */
#define HH_DEFAULT_VA  0xEC000000u

enum hh_status {
    HH_OK              = 0,
    HH_ERR_INVALID     = -1,  /* bad argument (zero size, NULL out pointer, bad address) */
    HH_ERR_BAD_HANDLE  = -2,  /* not a live handle of this heap (0, freed, stale generation) */
    HH_ERR_NOMEM       = -3,  /* no room: the chain cannot grow, the address range is full,
                               * or the handle table is full */
    HH_ERR_LOCKED      = -4,  /* refused while the block is locked (free, resize that moves) */
    HH_ERR_NOT_LOCKED  = -5,  /* unlock of a block whose lock count is 0 */
    HH_ERR_LOCK_LIMIT  = -6,  /* lock count would pass HH_MAX_LOCKS */
};
const char *hh_strerror(int status);

/* Kind of each page (struct hh_heap.page_kind). */
enum hh_page_kind { HH_PG_FREE = 0, HH_PG_SMALL = 1, HH_PG_LARGE = 2, HH_PG_LARGE_BODY = 3 };

/* One handle-table entry. A free entry has size 0. */
struct hh_entry {
    uint32_t off;        /* payload's byte offset from the heap's base address */
    uint32_t size;       /* bytes asked for (0 = entry free) */
    uint16_t gen;        /* generation, part of the handle: a freed handle goes stale */
    uint16_t locks;      /* lock count; the block never moves while it is non-zero */
};

/* Header of a segment of a small page: `span` bytes (header included, a multiple of 4)
 * holding the block of entry `entry - 1`, or free space when entry is 0. */
struct hh_seg {
    uint16_t span;
    uint16_t entry;
};

/* Counters of what the heap did (all monotonic). */
struct hh_stats {
    uint32_t compactions;       /* hh_compact calls */
    uint32_t moves;             /* blocks moved (compaction, in-page sliding, room making) */
    uint32_t bytes_moved;       /* payload bytes copied by those moves */
    uint32_t room_made;         /* large allocations placed by moving small blocks away */
    uint32_t blocks_returned;   /* 16 KiB chain blocks given back by shrinking */
    uint32_t grows;             /* times the chain grew */
};

struct hh_heap {
    uint32_t va;                /* kernel address of page 0 (page aligned) */
    uint32_t max_pages;         /* address range reserved: [va, va + max_pages * 4 KiB) */
    chain_id_t chain;           /* the heap's chain; 0 while it holds no page */
    uint32_t pages;             /* pages mapped = chain blocks * 4 */
    uint8_t *page_kind;         /* max_pages entries, enum hh_page_kind */
    uint16_t *page_free;        /* small pages: free bytes (free segments' spans) */
    uint16_t *page_entry;       /* large pages: entry index + 1 of the block they hold */
    struct hh_entry *table;     /* table_cap entries */
    uint32_t table_cap;
    uint32_t live;              /* live handles */
    uint32_t live_bytes;        /* sum of their sizes */
    struct hh_stats stats;
};

/* Sets up an empty heap at kernel address `va` (page aligned, the range [va, va +
 * max_pages * 4 KiB) free for MAP_KPD mappings and not below 0xE0000000). No chain is
 * allocated until the first block. Returns HH_OK, HH_ERR_INVALID or HH_ERR_NOMEM (the
 * page arrays come from the kernel heap). */
int hh_init(struct hh_heap *h, uint32_t va, uint32_t max_pages);
/* Frees the chain (every block, locked or not) and the heap's own arrays. */
void hh_destroy(struct hh_heap *h);

/* Allocates `size` bytes (1 .. max_pages * 4 KiB) and returns a handle for them in *out.
 * Small blocks go first fit into the lowest page with room; large ones into the lowest run
 * of free pages, or a lower window cleared by moving small unlocked blocks when that keeps
 * the heap shorter (see above). The heap grows when needed. Contents are not cleared. */
int hh_alloc(struct hh_heap *h, uint32_t size, hh_handle_t *out);
/* Frees a block. HH_ERR_LOCKED while it is locked. Empty pages at the end of the heap are
 * given back at the next hh_compact (not here: freeing never moves or unmaps anything). */
int hh_free(struct hh_heap *h, hh_handle_t handle);
/* Pins the block and stores its address in *ptr; locks count (lock twice, unlock twice).
 * The pointer is valid until the matching hh_unlock. */
int hh_lock(struct hh_heap *h, hh_handle_t handle, void **ptr);
int hh_unlock(struct hh_heap *h, hh_handle_t handle);
/* Changes a block's size, keeping min(old, new) bytes. In place when its segment (or
 * pages) already hold the new size, else by moving it (HH_ERR_LOCKED if locked). */
int hh_resize(struct hh_heap *h, hh_handle_t handle, uint32_t size);
/* Size and lock count of a live block, and its current offset from h->va (for tests and
 * the debugger; the offset changes when the block moves). Any out pointer may be NULL. */
int hh_info(struct hh_heap *h, hh_handle_t handle, uint32_t *size, uint32_t *locks, uint32_t *offset);

/* Packs the small unlocked blocks into as few low pages as possible, moves the large
 * unlocked blocks down into free runs, and shrinks the chain past the last page in use.
 * Returns the number of blocks moved. */
uint32_t hh_compact(struct hh_heap *h);

/* Page usage, for fragmentation figures: pages holding something, and the end of the
 * last of them (pages [0, extent) are where the heap needs memory). */
struct hh_usage {
    uint32_t used_pages;        /* small or large pages */
    uint32_t extent;            /* 1 + index of the last used page, 0 if none */
    uint32_t chain_blocks;      /* 16 KiB blocks the chain holds */
    uint32_t live_bytes;        /* bytes asked for by the live blocks */
    uint32_t fill_percent;      /* live_bytes * 100 / (used_pages * 4 KiB), 0 if none */
};
void hh_usage(struct hh_heap *h, struct hh_usage *u);

/* Verifies the heap's invariants: segments tile each small page, free counts agree, every
 * live entry is referenced by exactly one segment or large run and no other segment
 * names an entry, large runs are whole, pages == chain blocks * 4 and every page past the
 * chain is free. Returns HH_OK or HH_ERR_INVALID with *why set to a static message. */
int hh_check(struct hh_heap *h, const char **why);

#endif
