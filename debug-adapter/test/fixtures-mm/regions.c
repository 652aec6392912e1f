/* regions.c: mm test kernel "regions" (32-bit paging, higher half at 0xC0000000, -O2). All of
 * RAM is mapped at 0xC0000000 + its physical address (code read-only).
 *
 * Frame allocator: a region table, like a boot-time memory map that allocation carves up:
 *   struct mem_region { uint32_t base; uint32_t length; uint32_t type; }   bytes, page aligned
 *   struct mem_region region_table[MAX_REGIONS]   sorted by base, covering all of RAM
 *   uint32_t region_count                         entries in use
 *   type: REGION_FREE (1), REGION_USED (2), REGION_RESERVED (3: below 1 MiB and the kernel image)
 *   uint32_t free_pages                           the kernel's own count of free frames
 *   uint32_t region_alloc(uint32_t pages)  carves `pages` frames from the start of the first free
 *                                          region large enough; returns their physical address
 *                                          (zeroed), 0 when none is large enough
 *   void region_free(uint32_t base)        frees the used region starting at base (merging it with
 *                                          free neighbours); panics when no used region starts there
 * Heap: lib/heap.c's block list from heap_head (kmalloc / kmfree).
 * Processes: a linked list, struct proc *proc_list, each allocated with kmalloc; pgdir is the
 * kernel-virtual address of the process's page directory.
 * Checkpoints: 1 and 2 clean in every variant; level-1 faults are planted before 3. */
#include "mmk.h"

#define MAX_REGIONS 64
#define P2V(pa) ((void *)((uintptr_t)(pa) + KERNEL_VBASE))
#define V2P(va) ((paddr_t)((uintptr_t)(va) - KERNEL_VBASE))

enum region_type { REGION_FREE = 1, REGION_USED = 2, REGION_RESERVED = 3 };

struct mem_region {
  uint32_t base;
  uint32_t length;
  uint32_t type;
};

enum proc_state { PROC_UNUSED, PROC_READY, PROC_RUNNING, PROC_SLEEPING };
static const char *const proc_state_names[] = {"PROC_UNUSED", "PROC_READY", "PROC_RUNNING", "PROC_SLEEPING"};

struct proc {
  struct proc *next;
  int pid;
  enum proc_state state;
  uint32_t *pgdir;         /* kernel-virtual */
  uint32_t image;          /* physical base of its pages (one region) */
  uint32_t image_pages;
  char name[16];
};

struct mem_region region_table[MAX_REGIONS];
uint32_t region_count;
uint32_t free_pages;
struct proc *proc_list;
struct proc *running;
static int pid_next = 1;
static uint8_t heap_area[16384] __attribute__((aligned(16)));

static void insert_at(uint32_t i, struct mem_region r) {
  if (region_count == MAX_REGIONS) panic("regions: the table is full");
  for (uint32_t j = region_count; j > i; j--) region_table[j] = region_table[j - 1];
  region_table[i] = r;
  region_count++;
}

static void remove_at(uint32_t i) {
  for (uint32_t j = i; j + 1 < region_count; j++) region_table[j] = region_table[j + 1];
  region_count--;
}

/* Calls of the allocation and free functions since boot (the dump prints them). */
static uint32_t alloc_calls, free_calls;

__attribute__((noipa)) uint32_t region_alloc(uint32_t pages) {
  alloc_calls++;
  uint32_t bytes = pages * PAGE_SIZE;
  for (uint32_t i = 0; i < region_count; i++) {
    struct mem_region *r = &region_table[i];
    if (r->type != REGION_FREE || r->length < bytes) continue;
    uint32_t base = r->base;
    if (r->length == bytes) {
      r->type = REGION_USED;
    } else {
      r->base += bytes;
      r->length -= bytes;
      insert_at(i, (struct mem_region){base, bytes, REGION_USED});
    }
    free_pages -= pages;
    memset(P2V(base), 0, bytes);
    return base;
  }
  return 0;
}

__attribute__((noipa)) void region_free(uint32_t base) {
  free_calls++;
  uint32_t i = 0;
  while (i < region_count && !(region_table[i].base == base && region_table[i].type == REGION_USED)) i++;
  if (i == region_count) panic("region_free: no used region at 0x%x", base);
  region_table[i].type = REGION_FREE;
  free_pages += region_table[i].length / PAGE_SIZE;
  if (i + 1 < region_count && region_table[i + 1].type == REGION_FREE) {
    region_table[i].length += region_table[i + 1].length;
    remove_at(i + 1);
  }
  if (i > 0 && region_table[i - 1].type == REGION_FREE) {
    region_table[i - 1].length += region_table[i].length;
    remove_at(i);
  }
}

static void regions_init(void) {
  uint32_t end = (uint32_t)kernel_end_phys();
  region_table[0] = (struct mem_region){0, 0x100000, REGION_RESERVED};
  region_table[1] = (struct mem_region){0x100000, end - 0x100000, REGION_RESERVED};
  region_table[2] = (struct mem_region){end, (uint32_t)RAM_BYTES - end, REGION_FREE};
  region_count = 3;
  free_pages = ((uint32_t)RAM_BYTES - end) / PAGE_SIZE;
}

static paddr_t regions_table_alloc(void) {
  return region_alloc(1);
}

static void regions_table_free(paddr_t pa) {
  region_free((uint32_t)pa);
}

static int frame_state(uint32_t f) {
  uint32_t pa = f * PAGE_SIZE;
  for (uint32_t i = 0; i < region_count; i++) {
    struct mem_region *r = &region_table[i];
    if (pa >= r->base && pa - r->base < r->length) return r->type == REGION_FREE ? 0 : r->type == REGION_USED ? 1 : 2;
  }
  return 2;
}

static struct proc *proc_new(const char *name, uint32_t pages) {
  struct proc *p = kmalloc(sizeof *p);
  if (!p) panic("regions: heap exhausted");
  memset(p, 0, sizeof *p);
  p->pid = pid_next++;
  strlcpy_(p->name, name, sizeof p->name);
  paddr_t dir = space_create();
  if (!dir) panic("regions: no frame for a page directory");
  p->pgdir = P2V(dir);
  p->image = region_alloc(pages);
  if (!p->image) panic("regions: no region of %u pages", pages);
  p->image_pages = pages;
  for (uint32_t i = 0; i < pages; i++)
    if (space_map(dir, USER_BASE + i * PAGE_SIZE, p->image + i * PAGE_SIZE, PTE_U | PTE_W) != 0) panic("regions: out of memory");
  p->state = PROC_READY;
  p->next = proc_list;
  proc_list = p;
  return p;
}

static void proc_free(struct proc *p) {
  struct proc **pp = &proc_list;
  while (*pp != p) pp = &(*pp)->next;
  *pp = p->next;
  for (uint32_t i = 0; i < p->image_pages; i++) space_unmap(V2P(p->pgdir), USER_BASE + i * PAGE_SIZE);
  region_free(p->image);
  space_destroy(V2P(p->pgdir));
  kmfree(p);
}

static void dispatch(struct proc *p) {
  running = p;
  p->state = PROC_RUNNING;
  space_switch(V2P(p->pgdir));
  volatile uint32_t *counter = (volatile uint32_t *)USER_BASE;
  *counter += 1;
}

static void tick(void) {
  for (struct proc *p = proc_list; p; p = p->next) {
    dispatch(p);
    p->state = PROC_READY;
  }
}

static void checkpoint(unsigned seq) {
  dump_begin(seq, running ? running->pid : 0);
  for (struct proc *p = proc_list; p; p = p->next) dump_process(p->pid, p->name, proc_state_names[p->state], V2P(p->pgdir), p);
  dump_allocator("regions", "region-table", 0, RAM_FRAMES);
  dump_frames("regions", 0, RAM_FRAMES, frame_state);
  dump_counter("regions", "free_pages", free_pages);
  dump_line("calls %s %s=%u %s=%u", "regions", "region_alloc", alloc_calls, "region_free", free_calls);
  dump_heap("kheap");
  dump_end(seq);
  mm_checkpoint(seq);
}

static void plant_level1(struct proc *keep) {
  (void)keep;
#ifdef BREAK_USE_AFTER_FREE
  /* keep's pages go back to the table but stay mapped */
  region_free(keep->image);
  planted("free-frame-mapped", "frame", keep->image / PAGE_SIZE, "va", USER_BASE);
#endif
#ifdef BREAK_COUNTER
  free_pages += 7;
  planted("counter-mismatch", "counter", free_pages, "actual", free_pages - 7);
#endif
}

void kmain(uint32_t magic) {
  (void)magic;
  serial_init();
  kputs("regions: booting\n");
  kmap_init();
  regions_init();
  heap_init(heap_area, sizeof heap_area);
  table_alloc = regions_table_alloc;
  table_free = regions_table_free;
  plant_level0();

  struct proc *initp = proc_new("init", 4);
  struct proc *db = proc_new("db", 16);
  struct proc *web = proc_new("web", 8);
  tick();
  dispatch(db);
  checkpoint(1);
  db->state = PROC_READY;

  proc_free(db);
  struct proc *backup = proc_new("backup", 3);
  tick();
  dispatch(web);
  checkpoint(2);
  web->state = PROC_READY;

  proc_free(web);
  struct proc *shell = proc_new("shell", 12);
  tick();
  dispatch(shell);
  (void)backup;
  plant_level1(initp);
  checkpoint(3);
  mm_done();
}
