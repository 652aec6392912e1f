/* mm.h: the memory manager's public interface: chains of 16 KiB blocks, mapping them
 * into the KPD or a process's UPD, and the per-page operations (dirty bits, physical
 * addresses). Every operation is safe to call with interrupts on; it disables them. */
#ifndef MM_H
#define MM_H
#include <stdint.h>
#include <stdbool.h>
#include "chain_table.h"
#include "generation.h"   /* mm_write_begin/mm_write_end: the seqlock around changes */

typedef uint32_t chain_id_t;       /* index of the chain's head block; 0 = no chain */

/* Status codes. 0 is success; every error is negative and leaves the tables unchanged. */
enum mm_status {
    MM_OK           = 0,
    MM_ERR_INVALID  = -1,  /* bad argument (zero size, unknown flag, NULL pointer) */
    MM_ERR_BAD_ID   = -2,  /* not the ID of a live chain (stale, freed, body block, out of range) */
    MM_ERR_NOMEM    = -3,  /* not enough free blocks (or none below the ceiling) */
    MM_ERR_CONTIG   = -4,  /* refused for a contiguous chain, or chain is not contiguous */
    MM_ERR_RANGE    = -5,  /* address or page outside the allowed range */
    MM_ERR_ALIGN    = -6,  /* address not page aligned */
    MM_ERR_BUSY     = -7,  /* target page already maps another chain */
    MM_ERR_FROZEN   = -8,  /* operation needs a movable chain */
    MM_ERR_NOT_MAPPED = -9,/* no such mapping */
};
const char *mm_strerror(int status);

/* Chain flags accepted by MmAllocateChain (stored on the head entry). */
#define CHAIN_FROZEN     CT_FROZEN
#define CHAIN_CONTIG     CT_CONTIG
#define CHAIN_SWAPPABLE  CT_SWAPPABLE
#define CHAIN_USER       CT_USER

/* ---- the block table (mm/chain.c) ---- */

/* Called once at boot with the usable RAM ranges already marked; see mm_boot.c. */
extern uint32_t *mm_block_table;      /* kernel-virtual address of the table */
extern uint32_t mm_block_count;       /* entries in the table */
extern struct mm_owner *mm_owners;    /* one per block, meaningful at heads */
extern uint32_t mm_free_blocks;       /* number of CT_FREE entries */
extern uint32_t mm_alloc_seq;         /* last allocation sequence number */
extern uint32_t mm_free_count;        /* chains freed since boot */
extern volatile uint32_t mm_generation; /* seqlock: odd while the memory manager changes its structures */
extern int mm_last_error;             /* status of the last MmAllocateChain that returned 0 */

/* Allocates a chain of `blocks` blocks with `flags` (CHAIN_*). Returns its ID, or 0 if it
 * cannot be allocated (mm_last_error says why). CHAIN_CONTIG implies CHAIN_FROZEN. */
chain_id_t MmAllocateChain(uint32_t flags, uint32_t blocks);
/* Same, with a status code; the owner record gets `kind` and `caller`. */
int mm_allocate_chain(uint32_t flags, uint32_t blocks, uint16_t kind, uint32_t caller, chain_id_t *out);
/* Allocates `blocks` physically contiguous blocks entirely below `ceiling` (0 = no limit)
 * whose first block's address is a multiple of `align` bytes (0 or MM_BLOCK_SIZE = any).
 * The chain is CHAIN_CONTIG | CHAIN_FROZEN. When no such run is free, runs the
 * defragmenter once to make one. Returns MM_ERR_NOMEM if it still cannot. */
int MmAllocateContiguous(uint32_t blocks, uint32_t ceiling, uint32_t align, uint32_t extra_flags, chain_id_t *out);
/* Frees the chain and every mapping of it. MM_ERR_BAD_ID if `id` is not a live chain. */
int MmFreeChain(chain_id_t id);
/* Grows (new blocks appended at the end) or shrinks (tail blocks freed, their pages
 * unmapped) the chain. MM_ERR_CONTIG for contiguous chains. */
int MmResizeChain(chain_id_t id, uint32_t blocks);
/* Number of blocks in the chain, or 0 if `id` is not a live chain. */
uint32_t MmChainBlocks(chain_id_t id);
/* The chain's flags (CHAIN_*), or MM_ERR_BAD_ID. */
int MmChainFlags(chain_id_t id, uint32_t *flags);
int MmFreezeChain(chain_id_t id);
/* MM_ERR_CONTIG: contiguous chains stay frozen. */
int MmUnfreezeChain(chain_id_t id);
int MmMarkSwappable(chain_id_t id, bool swappable);
/* Physical address of a contiguous chain's first byte; MM_ERR_CONTIG if not contiguous. */
int MmContiguousPhysicalAddress(chain_id_t id, uint32_t *phys);
/* Physical address of 4 KiB page `page` of any chain; MM_ERR_RANGE past its end. */
int MmChainPagePhysical(chain_id_t id, uint32_t page, uint32_t *phys);
/* Block index of the chain's `index`-th block; MM_ERR_RANGE past its end. */
int mm_chain_block(chain_id_t id, uint32_t index, uint32_t *block);
/* True when `id` names a live chain head. */
bool mm_chain_valid(chain_id_t id);
/* Sets the owner record of a chain (front ends call it after allocating). */
void mm_owner_set(chain_id_t id, uint16_t kind, uint16_t handle, uint32_t caller, uint32_t size_bytes);

/* Relocation: when the defragmenter moves a chain's head its ID changes. Holders of chain
 * IDs register a listener that rewrites their references. At most MM_MAX_LISTENERS. */
typedef void (*mm_relocation_fn)(chain_id_t old_id, chain_id_t new_id, void *ctx);
#define MM_MAX_LISTENERS 8
int mm_add_relocation_listener(mm_relocation_fn fn, void *ctx);
void mm_remove_relocation_listener(mm_relocation_fn fn, void *ctx);
void mm_notify_relocation(chain_id_t old_id, chain_id_t new_id);

/* Boot-time setup from the Multiboot memory map: sizes and places the block table and
 * the owner records after the kernel image, marks free/reserved blocks, builds the KPD. */
struct mm_ram_range { uint32_t start, end; };  /* [start, end) of available RAM */
void mm_init(const struct mm_ram_range *ranges, uint32_t count, uint32_t kernel_end_phys);
/* Number of blocks in chains not owned by the kernel's own infrastructure (page tables,
 * heap): what tests compare before and after to find leaks. */
uint32_t mm_client_blocks(void);

/* Copies / zeroes physical memory through the kernel's mapping windows. */
void mm_copy_block(uint32_t dst_block, uint32_t src_block);
void mm_zero_block(uint32_t block);
void mm_phys_read(uint32_t phys, void *dst, uint32_t len);
void mm_phys_write(uint32_t phys, const void *src, uint32_t len);

/* ---- mapping (mm/map.c) ---- */

#define MAP_KPD       0x1u  /* map into the kernel page directory (kernel half only) */
#define MAP_UPD       0x2u  /* map into the UPD at if_upd_address (user space < 256 MiB) */
#define MAP_READONLY  0x4u  /* pages not writable */
#define MAP_PAGE_ZERO 0x8u  /* with MAP_UPD: linear page 0 may be mapped (a DOS task's IVT) */

#define USER_SPACE_END   0x10000000u   /* 256 MiB: 64 page-directory entries */
#define UPD_ENTRIES      64u

/* Maps the chain's 4 KiB pages from `page_offset` to its end, contiguously at `map_to`
 * (page aligned), into the KPD (MAP_KPD) or into the UPD at `if_upd_address` (MAP_UPD:
 * an array of UPD_ENTRIES page-directory entries, e.g. a PCB's upd). Page tables are
 * allocated as needed and edited through the page-table window (see paging.h).
 * Returns MM_OK, or MM_ERR_BAD_ID, MM_ERR_INVALID (flags), MM_ERR_ALIGN, MM_ERR_RANGE
 * (user mapping at or above 256 MiB, kernel mapping below 0xC0000000 or over the windows,
 * page_offset past the end), MM_ERR_BUSY (a target page maps another chain), MM_ERR_NOMEM. */
int MmMapChainToVirtualAddress(uint32_t flags, chain_id_t id, void *map_to, uint32_t page_offset, void *if_upd_address);
/* Same with an explicit page count (0 = to the end of the chain). */
int mm_map_pages(uint32_t flags, chain_id_t id, uint32_t va, uint32_t page_offset, uint32_t pages, uint32_t *upd);
/* Removes the mapping of chain `id` that starts at `map_to`. */
int MmUnmapChain(uint32_t flags, chain_id_t id, void *map_to, void *if_upd_address);
/* Clears the dirty bit of every page of the chain in every mapping. */
int MmCleanChain(chain_id_t id);
/* Sets *dirty to whether any page of the chain is dirty in any mapping. */
int MmChainDirty(chain_id_t id, bool *dirty);
/* Fills bitmap (one bit per page, `pages` bits) with the dirty pages of the chain's
 * mapping at `va`, then clears those dirty bits. Used by virtual devices. */
int mm_collect_dirty(uint32_t flags, uint32_t va, uint32_t pages, uint32_t *upd, uint32_t *bitmap);

/* One registered mapping: pages [page_offset, page_offset+pages) of `chain` at `va` in
 * the KPD (upd == 0) or in the UPD at `upd`. The registry is the kernel's reverse map. */
struct mm_mapping {
    chain_id_t chain;
    uint32_t va;
    uint32_t page_offset;
    uint32_t pages;
    uint32_t flags;       /* MAP_* */
    uint32_t *upd;        /* 0 for the KPD */
};
#define MM_MAX_MAPPINGS 16384u
/* The registry is a fixed array (not a vector) because growing the kernel heap itself
 * adds a mapping; entries [0, mm_mapping_count) are live, unordered. */
extern struct mm_mapping mm_mappings[MM_MAX_MAPPINGS];
extern uint32_t mm_mapping_count;

/* Maps `pages` pages of reserved (non-chain) physical memory from `phys` at `va` in the UPD
 * `upd`, user-accessible and writable, outside the registry (DOS tasks' identity-mapped
 * arena, v86.h); mm_release_upd removes them with the page tables. Returns MM_OK, or
 * MM_ERR_INVALID (no UPD, unaligned), MM_ERR_RANGE (past 256 MiB, or a page that is not
 * reserved memory), MM_ERR_BUSY (a target page is mapped), MM_ERR_NOMEM. */
int mm_map_reserved(uint32_t va, uint32_t phys, uint32_t pages, uint32_t *upd);
/* Removes every mapping in the given UPD (process teardown) and frees its page tables. */
void mm_release_upd(uint32_t *upd);

/* Removes the pages from `from_page` on of every mapping of chain `id` (0 = all mappings). */
void mm_unmap_all(chain_id_t id, uint32_t from_page);
/* Rewrites every PTE that maps page `page` of chain `id` to `new_phys` (after a block move). */
void mm_remap_page(chain_id_t id, uint32_t page, uint32_t new_phys);
/* Gives the registry entries of chain `old_id` the ID `new_id` (after its head moved). */
void mm_rename_mappings(chain_id_t old_id, chain_id_t new_id);
/* Reads the PTE that maps `va` in the KPD (upd == 0) or the UPD; 0 if none. */
uint32_t mm_lookup_pte(uint32_t va, uint32_t *upd);
/* First block of a free run (see MmAllocateContiguous), or 0 if none. */
uint32_t mm_find_free_run(uint32_t blocks, uint32_t ceiling, uint32_t align);

/* ---- checking (mm/check.c) ---- */

/* Verifies every invariant of the block table and the mapping registry: each block in at
 * most one chain, links in range, no cycle, body blocks reachable from a head, flags only
 * on heads, free count right, contiguous chains contiguous and frozen, every mapped page
 * pointing at its chain's page. Returns MM_OK or a negative code with *why set to a
 * static message. Bounded: O(blocks + mapped pages). */
int mm_check(const char **why);

/* ---- defragmentation (mm/defrag.c) ---- */

/* Moves blocks of movable chains (neither frozen nor contiguous) so that free space is
 * coalesced: within each stretch of memory between immovable blocks, movable blocks slide
 * down and free blocks gather in one run at the top, so no free run ever shrinks. Every
 * mapping is updated so virtual addresses and contents stay the same. Returns the number
 * of blocks moved (0 also when the kernel heap has no room for its bookkeeping). */
uint32_t MmDefragment(void);
/* Makes a free run of `blocks` blocks below `ceiling` aligned to `align` by moving
 * movable blocks out of the best window. Returns MM_OK or MM_ERR_NOMEM. */
int mm_defrag_make_run(uint32_t blocks, uint32_t ceiling, uint32_t align);
/* Moves one block of a chain to `dst_block` (free), updating links, mappings and IDs. */
int mm_move_block(uint32_t src_block, uint32_t dst_block);
/* Policy hook called by MmAllocateChain before each allocation with its size: every 64
 * allocations, defragments when requests vary widely in size (largest >= 8x smallest) and
 * fragmentation is above 50%. */
void mm_defrag_policy_note(uint32_t blocks);
uint32_t mm_largest_free_run(void);
uint32_t mm_fragmentation_percent(void);
extern uint32_t mm_defrag_runs;      /* how many times the defragmenter ran */
extern uint32_t mm_defrag_moved;     /* blocks moved in total */

#endif
