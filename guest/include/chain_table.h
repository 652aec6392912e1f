/* chain_table.h: the exact bit layout of the block (chain) table. This header and
 * docs/chain-table.md are the single definition that the guest and the debugger follow.
 *
 * Physical memory is divided into 16 KiB blocks numbered from address zero. The table
 * holds one 32-bit entry per block:
 *
 *   bit 31      CT_USER       chain flag: meant for user mappings        (head only)
 *   bit 30      CT_SWAPPABLE  chain flag: may be swapped out             (head only)
 *   bit 29      CT_CONTIG     chain flag: physically contiguous, never resized (head only)
 *   bit 28      CT_FROZEN     chain flag: blocks never move (defrag skips it) (head only)
 *   bit 27      CT_HEAD       set on the first block of a chain, and only there
 *   bits 26..0  field         next block index, or one of the special values below
 *
 * Field values 0x4000000..0x7FFFFFF are never block indices (4 GiB / 16 KiB = 2^18 blocks):
 *   0x4000000 + s CT_SWAPPED  link to a block that is swapped out to slot s (swap.h); the
 *                             link after it is swap_slots[s].next

 *   0x7FFFFFF CT_END          last block of its chain (a link to "nothing")
 *   0x7FFFFFE CT_FREE         free block; the whole entry is exactly 0x07FFFFFE
 *   0x7FFFFF0 + k             reserved block of kind k (enum ct_reserved_kind); no flag bits
 *
 * So an entry is exactly one of:
 *   free       == 0x07FFFFFE
 *   reserved   == 0x07FFFFF0 + kind
 *   chain head: CT_HEAD set, chain flags in bits 28..31, field = next index or CT_END
 *   chain body: bits 27..31 clear, field = next index (< block count) or CT_END
 * A chain ID is the index of its head block (27 bits). Block 0 is always reserved, so the
 * ID 0 never names a chain and is used as "no chain".
 */
#ifndef CHAIN_TABLE_H
#define CHAIN_TABLE_H
#include <stdint.h>

#define MM_BLOCK_SHIFT      14u
#define MM_BLOCK_SIZE       (1u << MM_BLOCK_SHIFT)      /* 16 KiB */
#define MM_PAGE_SIZE        4096u
#define MM_PAGES_PER_BLOCK  (MM_BLOCK_SIZE / MM_PAGE_SIZE) /* 4 */

#define CT_FIELD_MASK   0x07FFFFFFu
#define CT_HEAD         (1u << 27)
#define CT_FROZEN       (1u << 28)
#define CT_CONTIG       (1u << 29)
#define CT_SWAPPABLE    (1u << 30)
#define CT_USER         (1u << 31)
#define CT_CHAIN_FLAGS  (CT_FROZEN | CT_CONTIG | CT_SWAPPABLE | CT_USER)
#define CT_FLAG_BITS    0xF8000000u

#define CT_END          0x07FFFFFFu
#define CT_FREE         0x07FFFFFEu
#define CT_RESERVED_BASE 0x07FFFFF0u
#define CT_SWAPPED_BASE 0x04000000u   /* + slot: the next block is swapped out (swap.h) */
#define CT_SWAPPED_MAX  0x03FFFFF0u   /* slots are below this */

/* Why a block is reserved (the entry is CT_RESERVED_BASE + kind). */
enum ct_reserved_kind {
    CT_RSV_HOLE     = 0, /* not RAM in the Multiboot memory map (or only partly RAM) */
    CT_RSV_FIRMWARE = 1, /* BIOS data, VGA window, option ROMs: 640 KiB .. 1 MiB */
    CT_RSV_KERNEL   = 2, /* kernel image, block table, owner records, boot structures */
    CT_RSV_DOS      = 3, /* conventional memory managed by the DOS (MCB) allocator */
};
#define CT_RSV_KINDS 4u

static inline int ct_is_free(uint32_t e) { return e == CT_FREE; }
static inline int ct_is_reserved(uint32_t e) { return e >= CT_RESERVED_BASE && e < CT_RESERVED_BASE + CT_RSV_KINDS; }
static inline int ct_is_head(uint32_t e) { return (e & CT_HEAD) != 0; }
static inline uint32_t ct_field(uint32_t e) { return e & CT_FIELD_MASK; }
static inline uint32_t ct_flags(uint32_t e) { return e & CT_CHAIN_FLAGS; }
/* True when a link field names a swapped-out block; ct_swap_slot gives its slot. */
static inline int ct_is_swapped_link(uint32_t field) { return field >= CT_SWAPPED_BASE && field < CT_SWAPPED_BASE + CT_SWAPPED_MAX; }
static inline uint32_t ct_swap_slot(uint32_t field) { return field - CT_SWAPPED_BASE; }

/* Who asked for a chain: one record per block index, meaningful at chain heads. */
enum mm_owner_kind {
    OWNER_NONE = 0, OWNER_KERNEL = 1, OWNER_PAGETABLE = 2, OWNER_HEAP = 3, OWNER_STACK = 4,
    OWNER_XMS = 5, OWNER_DPMI = 6, OWNER_DMA = 7, OWNER_VFB = 8, OWNER_PROCESS = 9, OWNER_TEST = 10,
};

struct mm_owner {
    uint32_t caller;     /* return address of the allocating call (resolved by the debugger) */
    uint32_t seq;        /* allocation sequence number, 1, 2, 3, ... (0 = never allocated) */
    uint32_t size_bytes; /* size the caller asked for, in bytes */
    uint16_t kind;       /* enum mm_owner_kind */
    uint16_t handle;     /* XMS handle, DPMI handle (low 16 bits) or pid; 0 if none */
};

#endif
