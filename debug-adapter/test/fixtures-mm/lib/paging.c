/* paging.c: page tables of one paging mode (MMK_PAGING 32: two levels of 1024 4-byte entries;
 * 3: PAE, a 4-entry PDPT then two levels of 512 8-byte entries; 4: four levels of 512), the
 * kernel's own mappings, and address spaces that share the kernel's top-level entries. Every
 * table page comes from table_alloc (a pool in .bss until the kernel's allocator is ready). */
#include "mmk.h"

#if MMK_PAGING == 32
#define LEVELS 2
#define ENTRIES 1024u
static const unsigned shifts[LEVELS] = {22, 12};
#elif MMK_PAGING == 3
#define LEVELS 3
#define ENTRIES 512u
static const unsigned shifts[LEVELS] = {30, 21, 12};
#elif MMK_PAGING == 4
#define LEVELS 4
#define ENTRIES 512u
static const unsigned shifts[LEVELS] = {39, 30, 21, 12};
#else
#error "unknown MMK_PAGING"
#endif

#define POOL_PAGES 48
static uint8_t pool[POOL_PAGES][PAGE_SIZE] __attribute__((aligned(4096)));
static unsigned pool_used;

paddr_t kernel_root;
uint32_t tables_live;

static paddr_t pool_alloc(void) {
  if (pool_used == POOL_PAGES) panic("paging: the boot table pool is exhausted");
  return (paddr_t)((uintptr_t)pool[pool_used++] - KERNEL_VBASE);
}

static void pool_free(paddr_t pa) {
  panic("paging: table 0x%llx freed before the allocator was ready", (unsigned long long)pa);
}

paddr_t (*table_alloc)(void) = pool_alloc;
void (*table_free)(paddr_t) = pool_free;

paddr_t kernel_end_phys(void) {
  return ((paddr_t)((uintptr_t)_kernel_end - KERNEL_VBASE) + PAGE_SIZE - 1) & ~(paddr_t)(PAGE_SIZE - 1);
}

int frame_is_code(uint64_t frame) {
  paddr_t pa = (paddr_t)frame * PAGE_SIZE;
  return pa >= 0x100000 && pa < (paddr_t)((uintptr_t)_data_start - KERNEL_VBASE);
}

__attribute__((unused)) static int in_image(paddr_t pa) {
  return pa >= 0x100000 && pa < kernel_end_phys();
}

#ifdef MMK_DIRECT_BASE
static int mmk_direct_ready;
#else
/* The window: four pages at WINDOW_VA whose entries the kernel points at any frame it needs. */
#define WINDOW_VA ((vaddr_t)KERNEL_VBASE + 0x3FC000u)
static pte_t *window_pte;
static int tables_loaded;
#endif

void *phys_page(paddr_t pa, int slot) {
#ifdef MMK_DIRECT_BASE
  (void)slot;
  if (!mmk_direct_ready) return (void *)((uintptr_t)pa + KERNEL_VBASE);
  return (void *)((uintptr_t)pa + (uintptr_t)MMK_DIRECT_BASE);
#else
  if (in_image(pa) || !tables_loaded) return (void *)((uintptr_t)pa + KERNEL_VBASE);
  vaddr_t va = WINDOW_VA + (vaddr_t)slot * PAGE_SIZE;
  pte_t e = (pte_t)pa | PTE_P | PTE_W | PTE_NX;
  if (window_pte[slot] != e) {
    window_pte[slot] = e;
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
  }
  return (void *)va;
#endif
}

void window_clear(void) {
#ifndef MMK_DIRECT_BASE
  if (!tables_loaded) return;
  for (int i = 0; i < 4; i++) {
    window_pte[i] = 0;
    __asm__ volatile("invlpg (%0)" : : "r"(WINDOW_VA + (vaddr_t)i * PAGE_SIZE) : "memory");
  }
#endif
}

paddr_t read_cr3(void) {
  uintptr_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return (paddr_t)v;
}

void space_switch(paddr_t root) {
  uintptr_t v = (uintptr_t)root;
  __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static unsigned index_of(int level, vaddr_t va) {
  return (unsigned)(((uint64_t)va >> shifts[level]) & (ENTRIES - 1));
}

static pte_t table_flags(int level, pte_t leaf) {
#if MMK_PAGING == 3
  if (level == 0) return PTE_P; /* a PDPT entry has no W, U or NX bits */
#endif
  (void)level;
  return PTE_P | PTE_W | (leaf & PTE_U);
}

static paddr_t new_table(void) {
  paddr_t t = table_alloc();
  if (!t) return 0;
  memset(phys_page(t, LEVELS), 0, PAGE_SIZE);
  tables_live++;
  return t;
}

/* The leaf entry of va in root, creating tables when `create`; 0 when absent or out of memory. */
static pte_t *leaf_entry(paddr_t root, vaddr_t va, int create, pte_t leaf, paddr_t *table) {
  paddr_t t = root;
  for (int level = 0; level < LEVELS - 1; level++) {
    pte_t *e = (pte_t *)phys_page(t, level) + index_of(level, va);
    if (!(*e & PTE_P)) {
      if (!create) return 0;
      paddr_t n = new_table();
      if (!n) return 0;
      e = (pte_t *)phys_page(t, level) + index_of(level, va);
      *e = (pte_t)n | table_flags(level, leaf);
    } else if (create && (leaf & PTE_U) && (table_flags(level, leaf) & PTE_U)) {
      *e |= PTE_U;
    }
    t = (paddr_t)(*e & PTE_ADDR_MASK);
  }
  if (table) *table = t;
  return (pte_t *)phys_page(t, LEVELS - 1) + index_of(LEVELS - 1, va);
}

static void invalidate(paddr_t root, vaddr_t va) {
  if ((read_cr3() & ~(paddr_t)0xfff) == root) __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

int space_map_raw(paddr_t root, vaddr_t va, pte_t entry) {
  pte_t *e = leaf_entry(root, va, 1, entry, 0);
  if (!e) return -1;
  *e = entry;
  invalidate(root, va);
  return 0;
}

int space_map(paddr_t root, vaddr_t va, paddr_t pa, pte_t flags) {
  return space_map_raw(root, va, ((pte_t)pa & PTE_ADDR_MASK) | flags | PTE_P);
}

paddr_t space_unmap(paddr_t root, vaddr_t va) {
  pte_t *e = leaf_entry(root, va, 0, 0, 0);
  if (!e || !(*e & PTE_P)) return (paddr_t)-1;
  paddr_t pa = (paddr_t)(*e & PTE_ADDR_MASK);
  *e = 0;
  invalidate(root, va);
  return pa;
}

paddr_t space_lookup(paddr_t root, vaddr_t va) {
  pte_t *e = leaf_entry(root, va, 0, 0, 0);
  return e && (*e & PTE_P) ? (paddr_t)(*e & PTE_ADDR_MASK) : (paddr_t)-1;
}

paddr_t space_table_of(paddr_t root, vaddr_t va) {
  paddr_t t = 0;
  return leaf_entry(root, va, 0, 0, &t) ? t : 0;
}

paddr_t space_create(void) {
  paddr_t root = new_table();
  if (!root) return 0;
  pte_t *k = phys_page(kernel_root, 0);
  pte_t *r = phys_page(root, 1);
  for (unsigned i = 0; i < ENTRIES; i++) r[i] = k[i];
  return root;
}

static void free_subtree(paddr_t table, int level) {
  if (level < LEVELS - 1) {
    for (unsigned i = 0; i < ENTRIES; i++) {
      pte_t *e = (pte_t *)phys_page(table, level) + i;
      if (*e & PTE_P) free_subtree((paddr_t)(*e & PTE_ADDR_MASK), level + 1);
    }
  }
  table_free(table);
  tables_live--;
}

void space_destroy(paddr_t root) {
  for (unsigned i = 0; i < ENTRIES; i++) {
    pte_t e = ((pte_t *)phys_page(root, 0))[i];
    pte_t k = ((pte_t *)phys_page(kernel_root, 1))[i];
    if ((e & PTE_P) && e != k) free_subtree((paddr_t)(e & PTE_ADDR_MASK), 1);
  }
  table_free(root);
  tables_live--;
}

static void map_or_panic(vaddr_t va, paddr_t pa, pte_t flags) {
  if (space_map(kernel_root, va, pa, flags) != 0) panic("paging: no table for 0x%llx", (unsigned long long)va);
}

paddr_t kmap_init(void) {
  kernel_root = new_table();
  paddr_t end = kernel_end_phys();
#ifndef MMK_DIRECT_BASE
  if (end > 0x3FC000) panic("paging: the kernel image reaches the window");
#endif
#ifdef MMK_DIRECT_BASE
  /* every frame of RAM at MMK_DIRECT_BASE + its address: code read-only, the rest not executable */
  for (uint32_t f = 0; f < RAM_FRAMES; f++) {
    paddr_t pa = (paddr_t)f * PAGE_SIZE;
    map_or_panic((vaddr_t)MMK_DIRECT_BASE + (vaddr_t)pa, pa, frame_is_code(f) ? 0 : PTE_W | PTE_NX);
  }
  int image_mapped = (uintptr_t)MMK_DIRECT_BASE == (uintptr_t)KERNEL_VBASE;
#else
  int image_mapped = 0;
#endif
  if (!image_mapped) {
    for (paddr_t pa = 0x100000; pa < end; pa += PAGE_SIZE) map_or_panic((vaddr_t)KERNEL_VBASE + (vaddr_t)pa, pa, frame_is_code(pa / PAGE_SIZE) ? 0 : PTE_W | PTE_NX);
  }
#ifndef MMK_DIRECT_BASE
  window_pte = leaf_entry(kernel_root, WINDOW_VA, 1, 0, 0);
  for (int i = 0; i < 4; i++) window_pte[i] = 0;
#endif
  space_switch(kernel_root);
#ifdef MMK_DIRECT_BASE
  mmk_direct_ready = 1;
#else
  tables_loaded = 1;
#endif
  return kernel_root;
}
