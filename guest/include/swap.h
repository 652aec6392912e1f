/* swap.h: swapping blocks of swappable chains to the IDE disk (the debugger contract part).
 *
 * The swap device is the ATA disk on the primary IDE channel (QEMU `-drive if=ide`). It is
 * divided into slots of one block (16 KiB = 32 sectors); slot s starts at sector 32*s.
 * A block of a chain that is CHAIN_SWAPPABLE and neither frozen nor contiguous may be swapped
 * out, except its head block (the chain ID is the head's index and must stay valid):
 *
 *   - its contents go to a free slot s (swap_slots[s].state = SWAP_OUT, .chain = the chain),
 *   - the link that pointed at the block (in the previous block's entry) becomes
 *     CT_SWAPPED_BASE + s, and swap_slots[s].next holds the link the block's own entry had
 *     (a block index, CT_END, or another CT_SWAPPED_BASE + s'): the chain stays one list,
 *   - the block itself becomes CT_FREE,
 *   - every PTE that mapped one of its 4 pages becomes not present and holds the slot:
 *       PTE = (s << PTE_SWAP_SLOT_SHIFT) | (page_in_block << PTE_SWAP_PAGE_SHIFT) | PTE_SWAP_MARK
 *     with PTE_P clear (paging.h; docs/chain-table.md "Swapped-out blocks").
 *
 * Swapping a block back in (page fault on such a PTE, or the kernel needing the block)
 * takes a free block, reads the slot, relinks the chain and makes every PTE present again.
 * The slot is kept as a clean copy (SWAP_CACHED, .block = the resident block) until the block
 * is dirtied (any PTE of it has D set) or freed; a clean block swapped out again is not
 * written a second time ("page clean").
 */
#ifndef SWAP_H
#define SWAP_H
#include <stdint.h>
#include <stdbool.h>
#include "mm.h"

#define SWAP_SLOT_SECTORS (MM_BLOCK_SIZE / 512u)

enum swap_slot_state {
    SWAP_FREE   = 0,   /* unused */
    SWAP_OUT    = 1,   /* holds a swapped-out block of `chain`; `next` is its link */
    SWAP_CACHED = 2,   /* holds a clean copy of resident block `block` of `chain` */
};

/* One slot. Layout is part of the debugger contract (mm_debug_info.swap_*). */
struct swap_slot {
    uint32_t state;    /* enum swap_slot_state */
    chain_id_t chain;  /* the chain the block belongs to (0 when free) */
    uint32_t next;     /* SWAP_OUT: the chain-table field the swapped block's entry had */
    uint32_t block;    /* SWAP_CACHED: the resident block this slot is a copy of */
};

extern struct swap_slot *swap_slots;   /* swap_slot_count entries, 0 when there is no disk */
extern uint32_t swap_slot_count;       /* slots on the swap device (0 = swapping off) */
extern uint32_t swap_slots_used;       /* slots not SWAP_FREE */
extern uint32_t swap_outs, swap_ins;   /* blocks written out / read back since boot */

/* Finds the disk and sets up the slot table. Swapping stays off without a disk. */
void swap_init(void);
/* Page-fault hook: if the not-present PTE for `va` holds a swap slot, brings the block in
 * and returns true (the faulting instruction is retried); false otherwise. */
bool swap_fault(uint32_t va, uint32_t error_code);
/* Frees at least `blocks` blocks by swapping out swappable blocks (accessed bits decide
 * which). Returns the number of blocks freed. Called by the allocator under pressure. */
uint32_t swap_reclaim(uint32_t blocks);
#endif
