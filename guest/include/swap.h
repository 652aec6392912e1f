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
 * written a second time ("page clean"). (The implementation also drops the copy when a D bit
 * is cleared by MmCleanChain / mm_collect_dirty, or the block's physical address is handed
 * out, since the block may then change without D; and it may reuse a SWAP_CACHED slot for
 * another block when no slot is free.)
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

/* ---- added by the swap implementation (not part of the debugger contract) ---- */

extern uint32_t swap_clean_outs;       /* blocks swapped out without a write (clean copy) */
extern uint32_t swap_errors;           /* disk transfers that failed */
/* While nonzero, swap_reclaim frees nothing and swap_reclaimable is 0: for tests that model
 * the allocator exactly (blocks > free => NOMEM). Swap-ins still work. */
extern uint32_t swap_suspended;

/* The link after `link` in its chain: the table field of a block, or the `next` of the slot
 * a swapped link names. Every chain walker steps with this. CT_END past a bad slot. */
static inline uint32_t mm_next_link(uint32_t link)
{
    if (ct_is_swapped_link(link))
        return ct_swap_slot(link) < swap_slot_count ? swap_slots[ct_swap_slot(link)].next : CT_END;
    return ct_field(mm_block_table[link]);
}
/* Sets the link stored after `holder` (a block index or a swapped link) to `link`. */
void mm_set_next_link(uint32_t holder, uint32_t link);

/* Blocks swap_reclaim could free now: resident non-head blocks of swappable chains that are
 * neither frozen nor contiguous, at most the slots not holding swapped-out blocks. */
uint32_t swap_reclaimable(void);
/* Swaps out the `index`-th block (index >= 1) of chain `id`. MM_OK, MM_ERR_BAD_ID,
 * MM_ERR_RANGE (no such block, or it is out already), MM_ERR_FROZEN (chain not swappable,
 * frozen or contiguous), MM_ERR_NOMEM (no slot, swapping off, or a disk error). */
int swap_out_block(chain_id_t id, uint32_t index);
/* Brings the block swapped out to slot `slot` back; *block gets its new index. MM_OK,
 * MM_ERR_INVALID (slot not SWAP_OUT) or MM_ERR_NOMEM (no free block even after reclaim,
 * or a disk error: the block stays out). */
int swap_in_slot(uint32_t slot, uint32_t *block);
/* Swaps every block of the chain in (before freezing it or making it contiguous). MM_OK,
 * MM_ERR_BAD_ID or MM_ERR_NOMEM (some blocks may be in, the chain is intact). */
int swap_in_chain(chain_id_t id);
/* True when some block of the chain is swapped out. */
bool swap_chain_has_swapped(chain_id_t id);
/* Bookkeeping hooks the block table calls: a slot of a freed chain; a block that is freed or
 * whose physical address was handed out (its clean copy is dropped); a block moved by the
 * defragmenter (its clean copy follows); a head that moved (the chain's slots follow). */
void swap_slot_release(uint32_t slot);
void swap_block_forget(uint32_t block);
void swap_block_moved(uint32_t src, uint32_t dst);
void swap_chain_renamed(chain_id_t old_id, chain_id_t new_id);
/* The slot holding a clean copy of resident block `block` plus one, or 0 (for mm_check). */
uint32_t swap_cached_slot(uint32_t block);
#define SWAP_MAX_SLOTS 65535u          /* slots beyond this are not used */
#endif
