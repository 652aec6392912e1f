/* paging.h: x86 32-bit paging structures, the global KPD, and the mapping windows.
 *
 * Kernel virtual layout:
 *   0x00000000-0x0FFFFFFF  user space of the current process: KPD[0..63] = its UPD copy
 *   0xC0000000-...         direct map of low physical memory (reserved blocks: DOS arena,
 *                          firmware, kernel image, block table, owner records)
 *   0xD0000000-0xDFFFFFFF  kernel heap (chains mapped with MAP_KPD)
 *   0xE0000000-0xFF7FFFFF  other kernel mappings (MAP_KPD)
 *   0xFF800000-0xFFBFFFFF  mapping windows: single pages whose PTE the kernel rewrites to
 *                          reach any physical page (page tables, blocks being copied).
 *                          This is the one mechanism used to edit page tables.
 */
#ifndef PAGING_H
#define PAGING_H
#include <stdint.h>

#define PTE_P    0x001u
#define PTE_W    0x002u
#define PTE_U    0x004u
#define PTE_PWT  0x008u
#define PTE_PCD  0x010u
#define PTE_A    0x020u
#define PTE_D    0x040u
#define PTE_PS   0x080u   /* in a PDE: 4 MiB page */
#define PTE_G    0x100u
#define PTE_ADDR 0xFFFFF000u

/* A not-present PTE of a swapped-out page (swap.h): slot in bits 12..31, page within the
 * block in bits 2..3, bit 1 marks it; PTE_P is clear. Every other not-present PTE is 0. */
#define PTE_SWAP_MARK       0x002u
#define PTE_SWAP_PAGE_SHIFT 2u
#define PTE_SWAP_SLOT_SHIFT 12u
static inline int pte_is_swapped(uint32_t pte) { return !(pte & PTE_P) && (pte & PTE_SWAP_MARK); }
static inline uint32_t pte_swap_slot(uint32_t pte) { return pte >> PTE_SWAP_SLOT_SHIFT; }
static inline uint32_t pte_swap_page(uint32_t pte) { return (pte >> PTE_SWAP_PAGE_SHIFT) & 3u; }
static inline uint32_t pte_swapped(uint32_t slot, uint32_t page) { return (slot << PTE_SWAP_SLOT_SHIFT) | (page << PTE_SWAP_PAGE_SHIFT) | PTE_SWAP_MARK; }

#define PDX(va) ((uint32_t)(va) >> 22)
#define PTX(va) (((uint32_t)(va) >> 12) & 0x3FFu)

#define WINDOW_BASE   0xFF800000u
enum window_slot { WIN_PT = 0, WIN_SRC = 1, WIN_DST = 2, WIN_SCRATCH = 3, WIN_PT2 = 4, WIN_COUNT = 8 };

extern uint32_t kpd[1024];            /* the one global kernel page directory */
extern uint32_t mm_lowmap_end;        /* physical end of the direct map */

/* Sets up the final KPD (direct map, windows) and switches CR3 to it. */
void paging_init(uint32_t lowmap_end);
/* Maps physical page `phys` at window `slot` and returns its virtual address. */
void *window_map(enum window_slot slot, uint32_t phys);
/* Saves / restores what every window maps (WIN_COUNT entries), for code that may run in the
 * middle of another window user: the page-fault path that swaps a page in. */
void window_save(uint32_t saved[WIN_COUNT]);
void window_restore(const uint32_t saved[WIN_COUNT]);
/* Allocates a zeroed 4 KiB frame for a page table. Returns 0 if memory is exhausted. */
uint32_t pt_alloc_frame(void);
void pt_free_frame(uint32_t phys);
/* Number of page-table frames in use, for tests. */
uint32_t pt_frames_used(void);
#endif
