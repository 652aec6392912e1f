/* buddy.c: mm test kernel "buddy" (PAE paging with NX, higher half at 0xC0000000, -O0). All of
 * RAM is mapped at 0xC0000000 + its physical address (code read-only, the rest not executable).
 *
 * Frame allocator: a buddy allocator, orders 0..MAX_ORDER (a block of order k is 2^k frames,
 * aligned to its size), one free list per order linked through the free blocks themselves:
 *   struct free_block { struct free_block *next; }   the first bytes of a free block's first
 *                                      frame; next is the kernel-virtual address of the next
 *                                      free block of that order, 0 at the end
 *   struct free_area free_area[MAX_ORDER + 1]   { struct free_block *head; uint32_t nr_free; }
 *   uint32_t buddy_first, buddy_frames  the frames it manages
 *   uint32_t buddy_free_pages           the kernel's own count of free frames
 *   paddr_t buddy_alloc(unsigned order) returns the physical address of a zeroed block of 2^order
 *                                       frames, 0 when none is free
 *   void buddy_free(paddr_t addr, unsigned order)  frees the block at addr, merging it with its buddies
 * Processes: an array struct process procs[NPROCS], a slot is free when state == P_UNUSED; pdpt
 * is the kernel-virtual address of the process's PDPT (a frame of its own).
 * Checkpoints: 1 and 2 clean in every variant; level-1 faults are planted before 3. */
#include "mmk.h"

#define MAX_ORDER 10
#define NPROCS 16
#define P2V(pa) ((void *)((uintptr_t)(pa) + KERNEL_VBASE))
#define V2P(va) ((paddr_t)((uintptr_t)(va) - KERNEL_VBASE))

enum pstate { P_UNUSED, P_EMBRYO, P_READY, P_RUNNING };
static const char *const pstate_names[] = {"P_UNUSED", "P_EMBRYO", "P_READY", "P_RUNNING"};

struct process {
  enum pstate state;
  int pid;
  char name[12];
  uint64_t *pdpt;          /* kernel-virtual */
  uint32_t pages;          /* order-0 pages mapped from USER_BASE on */
  paddr_t stack;           /* an order-2 block mapped at STACK_VA */
};

struct free_block {
  struct free_block *next;
};

struct free_area {
  struct free_block *head;
  uint32_t nr_free;
};

struct free_area free_area[MAX_ORDER + 1];
uint32_t buddy_first = 256, buddy_frames = RAM_FRAMES - 256;
uint32_t buddy_free_pages;
struct process procs[NPROCS];
struct process *curproc;
static int pid_counter = 1;

#define STACK_ORDER 2
#define STACK_VA (USER_BASE + 0x00800000u)

static void push(unsigned order, paddr_t pa) {
  struct free_block *b = P2V(pa);
  b->next = free_area[order].head;
  free_area[order].head = b;
  free_area[order].nr_free++;
}

/* Removes the free block at pa from the list of `order`; 0 when it is not there. */
static int take(unsigned order, paddr_t pa) {
  for (struct free_block **pp = &free_area[order].head; *pp; pp = &(*pp)->next) {
    if (V2P(*pp) == pa) {
      *pp = (*pp)->next;
      free_area[order].nr_free--;
      return 1;
    }
  }
  return 0;
}

static int managed(paddr_t pa, unsigned order) {
  uint32_t f = (uint32_t)(pa / PAGE_SIZE);
  return f >= buddy_first && f + (1u << order) <= buddy_first + buddy_frames;
}

/* Calls of the allocation and free functions since boot (the dump prints them). */
static uint32_t alloc_calls, free_calls;

__attribute__((noipa)) void buddy_free(paddr_t addr, unsigned order) {
  free_calls++;
  if (order > MAX_ORDER || !managed(addr, order) || (addr & ((PAGE_SIZE << order) - 1))) panic("buddy_free: 0x%llx order %u", (unsigned long long)addr, order);
  buddy_free_pages += 1u << order;
  while (order < MAX_ORDER) {
    paddr_t buddy = addr ^ ((paddr_t)PAGE_SIZE << order);
    if (!managed(buddy, order) || !take(order, buddy)) break;
    if (buddy < addr) addr = buddy;
    order++;
  }
  push(order, addr);
}

__attribute__((noipa)) paddr_t buddy_alloc(unsigned order) {
  alloc_calls++;
  unsigned o = order;
  while (o <= MAX_ORDER && !free_area[o].head) o++;
  if (o > MAX_ORDER) return 0;
  struct free_block *b = free_area[o].head;
  free_area[o].head = b->next;
  free_area[o].nr_free--;
  paddr_t pa = V2P(b);
  while (o > order) {
    o--;
    push(o, pa + ((paddr_t)PAGE_SIZE << o));
  }
  buddy_free_pages -= 1u << order;
  memset(b, 0, PAGE_SIZE << order);
  return pa;
}

static paddr_t buddy_table_alloc(void) {
  return buddy_alloc(0);
}

static void buddy_table_free(paddr_t pa) {
  buddy_free(pa, 0);
}

static uint8_t is_free[RAM_FRAMES];

static int frame_state(uint32_t f) {
  return is_free[f] ? 0 : 1;
}

static void add_page(struct process *p) {
  paddr_t pa = buddy_alloc(0);
  if (!pa || space_map(V2P(p->pdpt), USER_BASE + p->pages * PAGE_SIZE, pa, PTE_U | PTE_W | PTE_NX) != 0) panic("buddy: out of memory");
  p->pages++;
}

static struct process *spawn(const char *name, uint32_t pages) {
  struct process *p = 0;
  for (int i = 0; i < NPROCS && !p; i++)
    if (procs[i].state == P_UNUSED) p = &procs[i];
  if (!p) panic("buddy: no process slot");
  p->state = P_EMBRYO;
  p->pid = pid_counter++;
  strlcpy_(p->name, name, sizeof p->name);
  paddr_t root = space_create();
  if (!root) panic("buddy: no frame for a PDPT");
  p->pdpt = P2V(root);
  p->pages = 0;
  for (uint32_t i = 0; i < pages; i++) add_page(p);
  p->stack = buddy_alloc(STACK_ORDER);
  if (!p->stack) panic("buddy: no stack block");
  for (unsigned i = 0; i < (1u << STACK_ORDER); i++)
    if (space_map(root, STACK_VA + i * PAGE_SIZE, p->stack + i * PAGE_SIZE, PTE_U | PTE_W | PTE_NX) != 0) panic("buddy: out of memory");
  p->state = P_READY;
  return p;
}

static void reap(struct process *p) {
  paddr_t root = V2P(p->pdpt);
  for (uint32_t i = 0; i < p->pages; i++) {
    paddr_t pa = space_unmap(root, USER_BASE + i * PAGE_SIZE);
    if (pa != (paddr_t)-1) buddy_free(pa, 0);
  }
  for (unsigned i = 0; i < (1u << STACK_ORDER); i++) space_unmap(root, STACK_VA + i * PAGE_SIZE);
  buddy_free(p->stack, STACK_ORDER);
  space_destroy(root);
  memset(p, 0, sizeof *p);
}

static void run(struct process *p) {
  curproc = p;
  p->state = P_RUNNING;
  space_switch(V2P(p->pdpt));
  volatile uint32_t *counter = (volatile uint32_t *)USER_BASE;
  *counter += 1;
  volatile uint32_t *top = (volatile uint32_t *)(STACK_VA + (PAGE_SIZE << STACK_ORDER) - 4);
  *top = (uint32_t)p->pid;
}

static void scheduler(int growing) {
  for (int i = 0; i < NPROCS; i++) {
    if (procs[i].state != P_READY) continue;
    run(&procs[i]);
    if (growing) add_page(&procs[i]);
    procs[i].state = P_READY;
  }
}

static void checkpoint(unsigned seq) {
  dump_begin(seq, curproc ? curproc->pid : 0);
  for (int i = 0; i < NPROCS; i++)
    if (procs[i].state != P_UNUSED) dump_process(procs[i].pid, procs[i].name, pstate_names[procs[i].state], V2P(procs[i].pdpt), &procs[i]);
  dump_allocator("buddy", "buddy", buddy_first, buddy_frames);
  memset(is_free, 0, sizeof is_free);
  uint32_t per_order[MAX_ORDER + 1];
  for (unsigned o = 0; o <= MAX_ORDER; o++) {
    per_order[o] = 0;
    for (struct free_block *b = free_area[o].head; b; b = b->next) {
      uint32_t f = (uint32_t)(V2P(b) / PAGE_SIZE);
      for (uint32_t k = 0; k < (1u << o); k++) is_free[f + k] = 1;
      per_order[o]++;
    }
  }
  dump_frames("buddy", buddy_first, buddy_frames, frame_state);
  dump_counter("buddy", "buddy_free_pages", buddy_free_pages);
  dump_line("calls %s %s=%u %s=%u", "buddy", "buddy_alloc", alloc_calls, "buddy_free", free_calls);
  for (unsigned o = 0; o <= MAX_ORDER; o++) dump_line("order buddy %u %u", o, per_order[o]);
  dump_end(seq);
  mm_checkpoint(seq);
}

static void plant_level1(struct process *keep) {
  (void)keep;
#ifdef BREAK_USE_AFTER_FREE
  paddr_t pa = space_lookup(V2P(keep->pdpt), USER_BASE);
  buddy_free(pa, 0);
  planted("free-frame-mapped", "frame", pa / PAGE_SIZE, "va", USER_BASE);
#endif
#ifdef BREAK_COUNTER
  buddy_free_pages -= 5;
  planted("counter-mismatch", "counter", buddy_free_pages, "actual", buddy_free_pages + 5);
#endif
}

void kmain(uint32_t magic) {
  (void)magic;
  serial_init();
  kputs("buddy: booting\n");
  kmap_init();
  for (uint32_t f = (uint32_t)(kernel_end_phys() / PAGE_SIZE); f < buddy_first + buddy_frames; f++) buddy_free((paddr_t)f * PAGE_SIZE, 0);
  table_alloc = buddy_table_alloc;
  table_free = buddy_table_free;
  plant_level0();

  struct process *initp = spawn("init", 3);
  struct process *x = spawn("xserver", 5);
  struct process *term = spawn("term", 2);
  scheduler(1);
  run(x);
  checkpoint(1);
  x->state = P_READY;

  reap(term);
  struct process *mail = spawn("mail", 1);
  scheduler(1);
  run(mail);
  checkpoint(2);
  mail->state = P_READY;

  reap(x);
  struct process *game = spawn("game", 6);
  scheduler(0);
  run(game);
  plant_level1(initp);
  checkpoint(3);
  mm_done();
}
