/* mm_event.h: the hook a debugger breaks on to stop after memory-manager calls. Every
 * public operation, once complete, fills mm_last_event and calls mm_event_hook(), an empty
 * function that is never inlined. The debugger sets a breakpoint there, reads mm_last_event
 * (located through mm_debug_info), checks the user's condition and either reports a stop
 * ("chain 0x1c0 allocated, 8 blocks, by ...") or continues silently. */
#ifndef MM_EVENT_H
#define MM_EVENT_H
#include <stdint.h>

enum mm_event_kind {
    MM_EV_NONE = 0,
    MM_EV_ALLOCATED = 1,   /* chain = new ID, blocks, flags */
    MM_EV_FREED = 2,       /* chain = freed ID, blocks it had */
    MM_EV_RESIZED = 3,     /* chain, blocks = new size, arg = old size */
    MM_EV_MAPPED = 4,      /* chain, arg = virtual address, blocks = pages, flags = MAP_* */
    MM_EV_UNMAPPED = 5,    /* chain, arg = virtual address */
    MM_EV_DEFRAG = 6,      /* blocks = blocks moved */
    MM_EV_XMS = 7,         /* arg = AX on entry (function in AH), status = BL error or 0 */
    MM_EV_DPMI = 8,        /* arg = AX on entry, status = DPMI error or 0 */
    MM_EV_DOS = 9,         /* arg = 1 alloc / 2 free / 3 resize, blocks = paragraphs, status */
    /* version 3: kinds that only the event ring records (never mm_last_event or the hook) */
    MM_EV_MOVED = 10,      /* defragmentation moved a block: chain, blocks = from block, arg = to block */
    MM_EV_RENAMED = 11,    /* a chain's ID changed (its head moved): chain = old ID, arg = new ID */
    MM_EV_FROZEN = 12,     /* chain */
    MM_EV_UNFROZEN = 13,   /* chain */
    MM_EV_CLEANED = 14,    /* dirty bits cleared: chain, blocks = pages cleaned */
    MM_EV_SWAPPED_OUT = 15,/* chain, blocks = the block freed, arg = slot */
    MM_EV_SWAPPED_IN = 16, /* chain, blocks = the block filled, arg = slot */
    MM_EV_SWITCH = 17,     /* context switch: pid = the process switched from, arg = the one switched to */
};

/* Layout is part of the debugger contract (docs/chain-table.md, "Events"). */
struct mm_event {
    uint32_t kind;         /* enum mm_event_kind */
    uint32_t chain;
    uint32_t blocks;
    uint32_t flags;
    uint32_t arg;
    uint32_t status;       /* 0 = success, else the operation's error code */
    uint32_t caller;       /* return address of the public call */
    uint32_t pid;          /* running process */
    uint32_t seq;          /* increments with every event */
};

extern volatile struct mm_event mm_last_event;

/* One record of the event ring (mm_debug_info.event_ring_*). Layout is part of the debugger
 * contract (docs/chain-table.md, "Event ring"). The writer fills every field, then seq, then
 * advances mm_event_head; a reader that finds seq != n + 1 at record n lost it (overwritten). */
struct mm_event_record {
    uint32_t seq;          /* n + 1 for record n, written last */
    uint32_t tsc_lo, tsc_hi;
    uint32_t kind;         /* enum mm_event_kind */
    uint32_t chain;
    uint32_t blocks;
    uint32_t flags;
    uint32_t arg;
    uint32_t status;
    uint32_t caller;
    uint32_t pid;
    uint32_t extra;        /* a kind's second argument, else 0 */
};

/* Records an event and calls the hook. */
void mm_event(uint32_t kind, uint32_t chain, uint32_t blocks, uint32_t flags, uint32_t arg, uint32_t status, uint32_t caller);
/* The breakpoint target: does nothing. */
void mm_event_hook(void);
#endif
