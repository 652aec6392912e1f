/* freelist.c: mm test kernel "freelist" (x86-64, 4-level paging, linked at 0xFFFFFFFF80100000,
 * -O2). All of RAM is mapped at PHYS_BASE (0xFFFF800000000000) + its physical address.
 *
 * Frame allocator: a free list linked through the free frames themselves (xv6's kalloc shape):
 *   struct run { struct run *next; }    the first 8 bytes of every free frame; next is the
 *                                       direct-map address of the next free frame, 0 at the end
 *   struct kmem kmem                    { struct run *freelist; uint64_t nfree; } nfree is the
 *                                       kernel's own count of free frames
 *   uint64_t mem_first, mem_frames      the frames kfree accepts: mem_first .. mem_first+mem_frames-1
 *   void *kalloc(void)                  returns the direct-map address of a zeroed free frame, 0 when none
 *   void kfree(void *v)                 puts the frame at direct-map address v back at the head
 * Processes: a linked list, struct task *tasks (newest first), each struct task in a frame of its
 * own from kalloc; pml4 is the direct-map (virtual) address of the task's PML4.
 * Checkpoints: 1 and 2 clean in every variant; level-1 faults are planted before 3. */
#include "mmk.h"

#define PHYS_BASE ((uintptr_t)MMK_DIRECT_BASE)
#define P2V(pa) ((void *)((uintptr_t)(pa) + PHYS_BASE))
#define V2P(va) ((paddr_t)((uintptr_t)(va) - PHYS_BASE))

enum task_state { TASK_UNUSED, TASK_READY, TASK_RUNNING, TASK_DEAD };
static const char *const task_state_names[] = {"TASK_UNUSED", "TASK_READY", "TASK_RUNNING", "TASK_DEAD"};

struct task {
  struct task *next;
  uint64_t *pml4;          /* virtual, in the direct map */
  enum task_state state;
  int pid;
  char name[16];
  uint64_t pages;          /* user pages from USER_BASE on */
};

struct run {
  struct run *next;
};

struct kmem {
  struct run *freelist;
  uint64_t nfree;
} kmem;

uint64_t mem_first = 256, mem_frames = RAM_FRAMES - 256;
struct task *tasks;
struct task *current_task;
static int next_pid = 100;

/* Calls of the allocation and free functions since boot (the dump prints them). */
static uint32_t alloc_calls, free_calls;

__attribute__((noipa)) void kfree(void *v) {
  free_calls++;
  paddr_t pa = V2P(v);
  if ((pa & (PAGE_SIZE - 1)) || pa / PAGE_SIZE < mem_first || pa / PAGE_SIZE >= mem_first + mem_frames) panic("kfree: %p", v);
  struct run *r = v;
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
}

__attribute__((noipa)) void *kalloc(void) {
  alloc_calls++;
  struct run *r = kmem.freelist;
  if (!r) return 0;
  kmem.freelist = r->next;
  kmem.nfree--;
  memset(r, 0, PAGE_SIZE);
  return r;
}

static paddr_t freelist_table_alloc(void) {
  void *p = kalloc();
  return p ? V2P(p) : 0;
}

static void freelist_table_free(paddr_t pa) {
  kfree(P2V(pa));
}

static uint8_t frame_free[RAM_FRAMES];

static int frame_state(uint32_t f) {
  return frame_free[f] ? 0 : 1;
}

static struct task *task_create(const char *name, uint64_t pages) {
  struct task *t = kalloc();
  if (!t) panic("freelist: no frame for a task");
  paddr_t root = space_create();
  if (!root) panic("freelist: no frame for a PML4");
  t->pml4 = P2V(root);
  t->pid = next_pid++;
  strlcpy_(t->name, name, sizeof t->name);
  for (uint64_t i = 0; i < pages; i++) {
    void *page = kalloc();
    if (!page || space_map(root, USER_BASE + i * PAGE_SIZE, V2P(page), PTE_U | PTE_W | PTE_NX) != 0) panic("freelist: out of memory");
    t->pages++;
  }
  t->state = TASK_READY;
  t->next = tasks;
  tasks = t;
  return t;
}

static void task_destroy(struct task *t) {
  struct task **pp = &tasks;
  while (*pp != t) pp = &(*pp)->next;
  *pp = t->next;
  paddr_t root = V2P(t->pml4);
  for (uint64_t i = 0; i < t->pages; i++) {
    paddr_t pa = space_unmap(root, USER_BASE + i * PAGE_SIZE);
    if (pa != (paddr_t)-1) kfree(P2V(pa));
  }
  space_destroy(root);
  t->state = TASK_DEAD;
  kfree(t);
}

static void run(struct task *t) {
  current_task = t;
  t->state = TASK_RUNNING;
  space_switch(V2P(t->pml4));
  volatile uint64_t *counter = (volatile uint64_t *)USER_BASE;
  *counter += 1;
}

static void grow(struct task *t) {
  void *page = kalloc();
  if (!page || space_map(V2P(t->pml4), USER_BASE + t->pages * PAGE_SIZE, V2P(page), PTE_U | PTE_W | PTE_NX) != 0) panic("freelist: out of memory");
  t->pages++;
}

static void round_robin(int growing) {
  for (struct task *t = tasks; t; t = t->next) {
    run(t);
    if (growing) grow(t);
    t->state = TASK_READY;
  }
}

static void checkpoint(unsigned seq) {
  dump_begin(seq, current_task ? current_task->pid : 0);
  for (struct task *t = tasks; t; t = t->next) dump_process(t->pid, t->name, task_state_names[t->state], V2P(t->pml4), t);
  dump_allocator("kmem", "free-list", (uint32_t)mem_first, (uint32_t)mem_frames);
  /* the list from its head, up to its end, a frame seen before (a planted cycle) or a pointer
   * outside the frames it manages (a planted pointer outside RAM) */
  memset(frame_free, 0, sizeof frame_free);
  for (struct run *r = kmem.freelist; r; r = r->next) {
    uint64_t f = V2P(r) / PAGE_SIZE;
    if (f < mem_first || f >= mem_first + mem_frames || frame_free[f]) break;
    frame_free[f] = 1;
  }
  dump_frames("kmem", (uint32_t)mem_first, (uint32_t)mem_frames, frame_state);
  dump_counter("kmem", "nfree", kmem.nfree);
  dump_line("calls %s %s=%u %s=%u", "kmem", "kalloc", alloc_calls, "kfree", free_calls);
  dump_end(seq);
  mm_checkpoint(seq);
}

static void plant_level1(struct task *keep) {
  (void)keep;
#if defined(BREAK_FREE_LIST_CYCLE) || defined(BREAK_FREE_LIST_OUTSIDE_RAM)
  struct run *tail = kmem.freelist;
  struct run *middle = kmem.freelist;
  for (uint64_t i = 1; i < kmem.nfree; i++) {
    tail = tail->next;
    if (i == kmem.nfree / 2) middle = tail;
  }
#endif
#ifdef BREAK_FREE_LIST_CYCLE
  tail->next = middle; /* the list's end points back into its middle */
  planted("free-list-cycle", "frame", V2P(tail) / PAGE_SIZE, "next", V2P(middle) / PAGE_SIZE);
#endif
#ifdef BREAK_FREE_LIST_OUTSIDE_RAM
  tail->next = P2V(0x20000000u); /* a frame where QEMU has no RAM */
  (void)middle;
  planted("pointer-outside-ram", "frame", V2P(tail) / PAGE_SIZE, "next", 0x20000000u);
#endif
#ifdef BREAK_USE_AFTER_FREE
  paddr_t pa = space_lookup(V2P(keep->pml4), USER_BASE);
  kfree(P2V(pa));
  planted("free-frame-mapped", "frame", pa / PAGE_SIZE, "va", USER_BASE);
#endif
#ifdef BREAK_COUNTER
  kmem.nfree -= 2;
  planted("counter-mismatch", "counter", kmem.nfree, "actual", kmem.nfree + 2);
#endif
}

void kmain(uint32_t magic) {
  (void)magic;
  serial_init();
  kputs("freelist: booting\n");
  kmap_init();
  /* free every frame above the image, highest first so that the list starts low */
  for (uint64_t f = mem_first + mem_frames; f-- > kernel_end_phys() / PAGE_SIZE;) kfree(P2V(f * PAGE_SIZE));
  table_alloc = freelist_table_alloc;
  table_free = freelist_table_free;
  plant_level0();

  struct task *init = task_create("init", 2);
  struct task *sh = task_create("sh", 3);
  struct task *cc = task_create("cc", 6);
  round_robin(1);
  run(sh);
  checkpoint(1);
  sh->state = TASK_READY;

  task_destroy(cc);
  struct task *ld = task_create("ld", 3);
  round_robin(1);
  run(ld);
  checkpoint(2);
  ld->state = TASK_READY;

  task_destroy(sh);
  struct task *vi = task_create("vi", 2);
  round_robin(0);
  run(vi);
  plant_level1(init);
  checkpoint(3);
  mm_done();
}
