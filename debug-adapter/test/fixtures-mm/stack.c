/* stack.c: mm test kernel "stack" (32-bit paging, higher half at 0x80000000 with a low boot
 * section, -O2). The kernel maps only its image (at 0x80000000 + physical) and reaches other
 * frames through a window of four pages at 0x803FC000.
 *
 * Frame allocator: a stack of free frame numbers with a count:
 *   uint32_t free_stack[]        free frame numbers; entries 0 .. free_top-1 are free frames
 *   uint32_t free_top            how many entries the stack holds
 *   uint32_t nr_free_pages       the kernel's own count of free frames (kept apart from free_top)
 *   uint32_t pmm_first, pmm_frames   the frames it manages: pmm_first .. pmm_first+pmm_frames-1
 *   uint32_t pmm_alloc(void)     pops a frame and returns its physical address (zeroed), 0 when empty
 *   void pmm_free(uint32_t pa)   pushes the frame at physical address pa
 * Heap: struct heap_block { uint32_t size; uint32_t used; struct heap_block *next; } list from
 * heap_head (lib/heap.c): kmalloc(n) / kmfree(p); size counts the bytes after the header.
 * Processes: a linked list, struct task_struct *task_list, each (and its files table) allocated with kmalloc; pgd is
 * the physical address of the process's page directory.
 * Checkpoints: 1 and 2 clean in every variant; level-1 faults are planted before 3. */
#include "mmk.h"

enum task_state { TASK_UNUSED, TASK_RUNNABLE, TASK_RUNNING, TASK_STOPPED };
static const char *const state_names[] = {"TASK_UNUSED", "TASK_RUNNABLE", "TASK_RUNNING", "TASK_STOPPED"};

struct task_struct {
  int pid;
  enum task_state state;
  char comm[16];
  uint32_t pgd;                /* physical */
  uint32_t nr_pages;
  void *files;                 /* a table from kmalloc, sized by the task's first pages */
  struct task_struct *next;
};

uint32_t free_stack[RAM_FRAMES];
uint32_t free_top;
uint32_t nr_free_pages;
uint32_t pmm_first = 256, pmm_frames = RAM_FRAMES - 256;
struct task_struct *task_list;
struct task_struct *current;
static int last_pid;
static uint8_t heap_area[32768] __attribute__((aligned(16)));

/* Calls of the allocation and free functions since boot (the dump prints them). */
static uint32_t alloc_calls, free_calls;

__attribute__((noipa)) void pmm_free(uint32_t pa) {
  free_calls++;
  uint32_t f = pa / PAGE_SIZE;
  if ((pa & (PAGE_SIZE - 1)) || f < pmm_first || f >= pmm_first + pmm_frames) panic("pmm_free: 0x%x", pa);
  free_stack[free_top++] = f;
  nr_free_pages++;
}

__attribute__((noipa)) uint32_t pmm_alloc(void) {
  alloc_calls++;
  if (free_top == 0) return 0;
  uint32_t f = free_stack[--free_top];
  nr_free_pages--;
  memset(phys_page((paddr_t)f * PAGE_SIZE, 3), 0, PAGE_SIZE);
  return f * PAGE_SIZE;
}

static paddr_t stack_table_alloc(void) {
  return pmm_alloc();
}

static void stack_table_free(paddr_t pa) {
  pmm_free((uint32_t)pa);
}

static uint8_t is_free[RAM_FRAMES];

static int frame_state(uint32_t f) {
  return is_free[f] ? 0 : 1;
}

static void map_user(struct task_struct *t) {
  uint32_t pa = pmm_alloc();
  if (!pa || space_map(t->pgd, USER_BASE + t->nr_pages * PAGE_SIZE, pa, PTE_U | PTE_W) != 0) panic("stack: out of memory");
  t->nr_pages++;
}

static struct task_struct *task_create(const char *comm, uint32_t pages) {
  struct task_struct *t = kmalloc(sizeof *t);
  if (!t) panic("stack: heap exhausted");
  memset(t, 0, sizeof *t);
  t->pid = ++last_pid;
  strlcpy_(t->comm, comm, sizeof t->comm);
  t->pgd = (uint32_t)space_create();
  if (!t->pgd) panic("stack: no frame for a page directory");
  for (uint32_t i = 0; i < pages; i++) map_user(t);
  t->files = kmalloc(32 * pages);
  if (!t->files) panic("stack: heap exhausted");
  t->state = TASK_RUNNABLE;
  /* appended at the tail */
  struct task_struct **pp = &task_list;
  while (*pp) pp = &(*pp)->next;
  *pp = t;
  return t;
}

static void task_exit(struct task_struct *t) {
  struct task_struct **pp = &task_list;
  while (*pp != t) pp = &(*pp)->next;
  *pp = t->next;
  for (uint32_t i = 0; i < t->nr_pages; i++) {
    paddr_t pa = space_unmap(t->pgd, USER_BASE + i * PAGE_SIZE);
    if (pa != (paddr_t)-1) pmm_free((uint32_t)pa);
  }
  space_destroy(t->pgd);
  kmfree(t->files);
  kmfree(t);
}

static void switch_to(struct task_struct *t) {
  current = t;
  t->state = TASK_RUNNING;
  space_switch(t->pgd);
  volatile uint32_t *counter = (volatile uint32_t *)USER_BASE;
  *counter += 1;
}

static void schedule_all(int growing) {
  for (struct task_struct *t = task_list; t; t = t->next) {
    switch_to(t);
    if (growing) map_user(t);
    t->state = TASK_RUNNABLE;
  }
}

static void checkpoint(unsigned seq) {
  dump_begin(seq, current ? current->pid : 0);
  for (struct task_struct *t = task_list; t; t = t->next) dump_process(t->pid, t->comm, state_names[t->state], t->pgd, t);
  dump_allocator("pmm", "free-stack", pmm_first, pmm_frames);
  memset(is_free, 0, sizeof is_free);
  for (uint32_t i = 0; i < free_top; i++) is_free[free_stack[i]] = 1;
  dump_frames("pmm", pmm_first, pmm_frames, frame_state);
  dump_counter("pmm", "nr_free_pages", nr_free_pages);
  dump_line("calls %s %s=%u %s=%u", "pmm", "pmm_alloc", alloc_calls, "pmm_free", free_calls);
  dump_heap("kheap");
  dump_end(seq);
  mm_checkpoint(seq);
}

static void plant_level1(struct task_struct *keep) {
  (void)keep;
#ifdef BREAK_USE_AFTER_FREE
  paddr_t pa = space_lookup(keep->pgd, USER_BASE + PAGE_SIZE);
  pmm_free((uint32_t)pa);
  planted("free-frame-mapped", "frame", pa / PAGE_SIZE, "va", USER_BASE + PAGE_SIZE);
#endif
#ifdef BREAK_LEAK
  uint32_t pa = pmm_alloc(); /* and dropped */
  planted("frame-leaked", "frame", pa / PAGE_SIZE, 0, 0);
#endif
#ifdef BREAK_COUNTER
  nr_free_pages += 1;
  planted("counter-mismatch", "counter", nr_free_pages, "actual", free_top);
#endif
}

void kmain(uint32_t magic) {
  (void)magic;
  serial_init();
  kputs("stack: booting\n");
  kmap_init();
  heap_init(heap_area, sizeof heap_area);
  for (uint32_t f = (uint32_t)(kernel_end_phys() / PAGE_SIZE); f < pmm_first + pmm_frames; f++) pmm_free(f * PAGE_SIZE);
  table_alloc = stack_table_alloc;
  table_free = stack_table_free;
  plant_level0();

  struct task_struct *init = task_create("init", 1);
  struct task_struct *httpd = task_create("httpd", 4);
  struct task_struct *cron = task_create("cron", 2);
  schedule_all(1);
  switch_to(cron);
  checkpoint(1);
  cron->state = TASK_RUNNABLE;

  task_exit(httpd);
  struct task_struct *sshd = task_create("sshd", 3);
  schedule_all(1);
  switch_to(init);
  checkpoint(2);
  init->state = TASK_RUNNABLE;

  task_exit(cron);
  struct task_struct *getty = task_create("getty", 2);
  schedule_all(0);
  switch_to(sshd);
  (void)getty;
  plant_level1(init);
  checkpoint(3);
  mm_done();
}
