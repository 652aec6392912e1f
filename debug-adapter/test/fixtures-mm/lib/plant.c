/* plant.c: the level-0 faults a broken variant plants in the kernel's own tables (so that every
 * address space shares them), one per BREAK_* define; each is recorded for the dump. */
#include "mmk.h"

#if MMK_PAGING == 32
#define PLANT_KERNEL_VA ((vaddr_t)KERNEL_VBASE + 0x08000000u)
#define PLANT_USER_VA ((vaddr_t)0x7F000000u)
#elif MMK_PAGING == 3
#define PLANT_KERNEL_VA ((vaddr_t)KERNEL_VBASE + 0x08000000u)
#define PLANT_USER_VA ((vaddr_t)0x3F000000u)
#else
#define PLANT_KERNEL_VA ((vaddr_t)KERNEL_VBASE + 0x40000000u)
#define PLANT_USER_VA ((vaddr_t)0x0000008000000000ull)
#endif
/* A physical address where QEMU's pc machine with MMK_RAM_MIB of RAM has neither RAM nor a device. */
#define OUTSIDE_RAM_PA ((paddr_t)0x20000000u)

/* A kernel-only data page (in .bss). */
static uint8_t plant_page[PAGE_SIZE] __attribute__((aligned(4096)));

static paddr_t image_pa(const void *p) {
  return ((paddr_t)((uintptr_t)p - KERNEL_VBASE)) & ~(paddr_t)(PAGE_SIZE - 1);
}

__attribute__((unused)) static void must(int r) {
  if (r != 0) panic("plant: out of memory");
}

void plant_level0(void) {
  paddr_t data = image_pa(plant_page);
  (void)data;
#ifdef BREAK_WX
#if MMK_PAGING == 32
#error "BREAK_WX needs NX (PAE or 4-level)"
#endif
  paddr_t f = table_alloc();
  must(space_map(kernel_root, PLANT_KERNEL_VA, f, PTE_W));
  planted("writable-executable", "va", PLANT_KERNEL_VA, "pa", f);
#endif
#ifdef BREAK_USER_KERNEL_ALIAS
  /* the page is the kernel's read-only data at its own address, and user-writable at another */
  must(space_map(kernel_root, (vaddr_t)plant_page, data, PTE_NX));
  must(space_map(kernel_root, PLANT_USER_VA, data, PTE_U | PTE_W | PTE_NX));
  planted("user-writable-kernel", "va", PLANT_USER_VA, "pa", data);
#endif
#ifdef BREAK_CODE_ALIAS
#if MMK_PAGING == 32
#error "BREAK_CODE_ALIAS needs NX: without it code cannot be told from read-only data"
#endif
  paddr_t code = image_pa((const void *)(uintptr_t)mm_checkpoint);
  must(space_map(kernel_root, PLANT_KERNEL_VA, code, PTE_W | PTE_NX));
  planted("writable-code-alias", "va", PLANT_KERNEL_VA, "pa", code);
#endif
#ifdef BREAK_USER_PAGE_TABLE
  must(space_map(kernel_root, PLANT_USER_VA, data, PTE_NX));
  paddr_t table = space_table_of(kernel_root, PLANT_USER_VA);
  must(space_map(kernel_root, PLANT_USER_VA, table, PTE_U | PTE_NX));
  planted("user-maps-page-table", "va", PLANT_USER_VA, "pa", table);
#endif
#ifdef BREAK_OUTSIDE_RAM
  must(space_map(kernel_root, PLANT_KERNEL_VA, OUTSIDE_RAM_PA, PTE_NX));
  planted("mapping-outside-ram", "va", PLANT_KERNEL_VA, "pa", OUTSIDE_RAM_PA);
#endif
#ifdef BREAK_NULL_PAGE
  must(space_map(kernel_root, 0, data, PTE_NX));
  planted("null-page-mapped", "va", 0, "pa", data);
#endif
#ifdef BREAK_RESERVED_BIT
#if MMK_PAGING == 32
#error "BREAK_RESERVED_BIT needs PAE or 4-level entries"
#endif
  /* bit 51: above MAXPHYADDR (40 on QEMU's CPU models), reserved in every entry */
  must(space_map_raw(kernel_root, PLANT_KERNEL_VA, (pte_t)data | PTE_P | PTE_NX | (1ull << 51)));
  planted("reserved-bits", "va", PLANT_KERNEL_VA, "pa", data);
#endif
}
