/* bitmap.c: mm test kernel "bitmap" (32-bit paging, identity style: linked and run at 1 MiB, -O0).
 * It maps only its own image (and a window of four pages through which it reaches other frames),
 * so a frame that nothing maps is unreachable.
 *
 * Frame allocator: a bitmap, one bit per 4 KiB frame, 1 = used:
 *   uint32_t frame_bitmap[]    bit i (word i / 32, bit i % 32) is frame bitmap_base + i
 *   uint32_t bitmap_base       first frame covered (256: RAM below 1 MiB is not managed)
 *   uint32_t bitmap_frames     frames covered
 *   uint32_t bitmap_free       the kernel's own count of free frames
 *   uint32_t alloc_frame(void)       returns a free frame's number (next fit), marked used and zeroed; 0 when none is free
 *   void free_frame(uint32_t frame)  marks the frame free; prints a warning and does nothing when it is not allocated
 * Processes: an array, struct proc proc[NPROC]; a slot is free when state == UNUSED; pgdir is the
 * physical address of the process's own page directory.
 * Checkpoints: 1 and 2 clean in every variant; level-1 faults are planted before 3, level-0 faults at boot. */
#include "mmk.h"

#define NPROC 8
#define FIRST_FRAME 256u

enum procstate { UNUSED, RUNNABLE, RUNNING, ZOMBIE };
static const char *const state_names[] = {"UNUSED", "RUNNABLE", "RUNNING", "ZOMBIE"};

struct proc {
  int pid;
  char name[16];
  enum procstate state;
  uint32_t pgdir;   /* physical */
  uint32_t npages;  /* user pages mapped from USER_BASE on */
};

struct proc proc[NPROC];
struct proc *current_proc;
static int next_pid = 1;

uint32_t frame_bitmap[(RAM_FRAMES - FIRST_FRAME + 31) / 32];
uint32_t bitmap_base = FIRST_FRAME;
uint32_t bitmap_frames = RAM_FRAMES - FIRST_FRAME;
uint32_t bitmap_free;

static int bit(uint32_t frame) {
  uint32_t i = frame - bitmap_base;
  return (frame_bitmap[i / 32] >> (i % 32)) & 1;
}

static void set_bit(uint32_t frame, int used) {
  uint32_t i = frame - bitmap_base;
  if (used)
    frame_bitmap[i / 32] |= 1u << (i % 32);
  else
    frame_bitmap[i / 32] &= ~(1u << (i % 32));
}

static void bitmap_init(void) {
  uint32_t first_free = (uint32_t)(kernel_end_phys() / PAGE_SIZE);
  for (uint32_t f = bitmap_base; f < bitmap_base + bitmap_frames; f++) {
    set_bit(f, f < first_free);
    if (f >= first_free) bitmap_free++;
  }
}

static uint32_t next_fit;  /* where the next search starts (next fit: freed frames wait their turn) */

/* Calls of the allocation and free functions since boot (the dump prints them). */
static uint32_t alloc_calls, free_calls;

__attribute__((noipa)) uint32_t alloc_frame(void) {
  alloc_calls++;
  for (uint32_t n = 0; n < bitmap_frames; n++) {
    uint32_t f = bitmap_base + (next_fit + n) % bitmap_frames;
    if (!bit(f)) {
      next_fit = f + 1 - bitmap_base;
      set_bit(f, 1);
      bitmap_free--;
      memset(phys_page((paddr_t)f * PAGE_SIZE, 3), 0, PAGE_SIZE);
      return f;
    }
  }
  return 0;
}

__attribute__((noipa)) void free_frame(uint32_t frame) {
  free_calls++;
  if (frame < bitmap_base || frame >= bitmap_base + bitmap_frames || !bit(frame)) {
    kprintf("bitmap: free_frame(%u): not allocated\n", frame);
    return;
  }
  set_bit(frame, 0);
  bitmap_free++;
}

static paddr_t bitmap_table_alloc(void) {
  return (paddr_t)alloc_frame() * PAGE_SIZE;
}

static void bitmap_table_free(paddr_t pa) {
  free_frame((uint32_t)(pa / PAGE_SIZE));
}

static int frame_state(uint32_t frame) {
  return bit(frame);
}

static struct proc *proc_create(const char *name, uint32_t pages) {
  struct proc *p = 0;
  for (int i = 0; i < NPROC; i++)
    if (proc[i].state == UNUSED) {
      p = &proc[i];
      break;
    }
  if (!p) panic("bitmap: no free process slot");
  paddr_t dir = space_create();
  if (!dir) panic("bitmap: no frame for a page directory");
  p->pid = next_pid++;
  strlcpy_(p->name, name, sizeof p->name);
  p->pgdir = (uint32_t)dir;
  p->npages = 0;
  for (uint32_t i = 0; i < pages; i++) {
    uint32_t f = alloc_frame();
    if (!f || space_map(dir, USER_BASE + i * PAGE_SIZE, (paddr_t)f * PAGE_SIZE, PTE_U | PTE_W) != 0) panic("bitmap: out of memory");
    p->npages++;
  }
  p->state = RUNNABLE;
  return p;
}

static void proc_grow(struct proc *p) {
  uint32_t f = alloc_frame();
  if (!f || space_map(p->pgdir, USER_BASE + p->npages * PAGE_SIZE, (paddr_t)f * PAGE_SIZE, PTE_U | PTE_W) != 0) panic("bitmap: out of memory");
  p->npages++;
}

static void proc_destroy(struct proc *p) {
  for (uint32_t i = 0; i < p->npages; i++) {
    paddr_t pa = space_unmap(p->pgdir, USER_BASE + i * PAGE_SIZE);
    if (pa != (paddr_t)-1) free_frame((uint32_t)(pa / PAGE_SIZE));
  }
  space_destroy(p->pgdir);
  memset(p, 0, sizeof *p);
  p->state = UNUSED;
}

/* Runs p for a moment in its own address space: it counts in its first page. */
static void run(struct proc *p) {
  current_proc = p;
  p->state = RUNNING;
  space_switch(p->pgdir);
  volatile uint32_t *counter = (volatile uint32_t *)USER_BASE;
  *counter += 1;
}

static void checkpoint(unsigned seq) {
  dump_begin(seq, current_proc ? current_proc->pid : 0);
  for (int i = 0; i < NPROC; i++)
    if (proc[i].state != UNUSED) dump_process(proc[i].pid, proc[i].name, state_names[proc[i].state], proc[i].pgdir, &proc[i]);
  dump_allocator("frames", "bitmap", bitmap_base, bitmap_frames);
  dump_frames("frames", bitmap_base, bitmap_frames, frame_state);
  dump_counter("frames", "bitmap_free", bitmap_free);
  dump_line("calls %s %s=%u %s=%u", "frames", "alloc_frame", alloc_calls, "free_frame", free_calls);
  dump_end(seq);
  mm_checkpoint(seq);
}

static void round_robin(int grow) {
  for (int i = 0; i < NPROC; i++) {
    if (proc[i].state != RUNNABLE) continue;
    run(&proc[i]);
    if (grow) proc_grow(&proc[i]);
    proc[i].state = RUNNABLE;
  }
}

/* The level-1 fault of the variant, planted after the last allocation before checkpoint 3. */
static void plant_level1(struct proc *init) {
  (void)init;
#ifdef BREAK_USE_AFTER_FREE
  /* init's first page goes back to the allocator but stays mapped */
  uint32_t f = (uint32_t)(space_lookup(init->pgdir, USER_BASE) / PAGE_SIZE);
  free_frame(f);
  planted("free-frame-mapped", "frame", f, "va", USER_BASE);
#endif
#ifdef BREAK_LEAK
  uint32_t f = alloc_frame(); /* and the number is dropped */
  planted("frame-leaked", "frame", f, 0, 0);
#endif
#ifdef BREAK_COUNTER
  bitmap_free += 3;
  planted("counter-mismatch", "counter", bitmap_free, "actual", bitmap_free - 3);
#endif
#ifdef BREAK_DOUBLE_FREE
  uint32_t f = alloc_frame();
  free_frame(f);
  free_frame(f);
  planted("double-free", "frame", f, 0, 0);
#endif
#ifdef BREAK_FREE_NEVER_ALLOCATED
  uint32_t f = bitmap_base + bitmap_frames - 1;
  free_frame(f);
  planted("free-never-allocated", "frame", f, 0, 0);
#endif
}

void kmain(uint32_t magic) {
  (void)magic;
  serial_init();
  kputs("bitmap: booting\n");
  kmap_init();
  bitmap_init();
  table_alloc = bitmap_table_alloc;
  table_free = bitmap_table_free;
  plant_level0();

  struct proc *init = proc_create("init", 2);
  struct proc *shell = proc_create("shell", 3);
  struct proc *worker = proc_create("worker", 4);
  round_robin(1);
  run(shell);
  checkpoint(1);
  shell->state = RUNNABLE;

  proc_destroy(worker);
  struct proc *editor = proc_create("editor", 2);
  round_robin(1);
  run(editor);
  checkpoint(2);
  editor->state = RUNNABLE;

  proc_destroy(shell);
  struct proc *daemon = proc_create("daemon", 5);
  round_robin(0);
  run(daemon);
  plant_level1(init);
  checkpoint(3);
  mm_done();
}
