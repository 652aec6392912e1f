/* A small multiboot kernel written for the allocation-tracing tests (not our guest): a frame
   allocator (kalloc/kfree, a free list through the free frames) used from several call sites by
   two kernel threads with their own stacks and their own page directories. kalloc sometimes
   yields to the other thread before it returns, so two calls from the same site are in flight
   at once on two stacks; kalloc also calls itself when its accounting page fills up (a nested
   call). Every call is dumped on the serial port as the kernel sees it (its own oracle):
     A <frame> <return address> <thread>     kalloc returned <frame> to <return address>
     F <frame> <return address> <thread>     kfree(<frame>) called from <return address>
     pd <thread> <page directory>            at start
     L <frame>                               live frames at the end, then "done"
   -DDOUBLE_FREE frees one frame twice, -DFREE_UNKNOWN frees a frame never allocated, -DBENCH
   prints nothing per call and exits QEMU (isa-debug-exit) after BENCH_ROUNDS rounds per thread
   (each with BENCH_SPIN iterations of other work), between "bench start" and "bench end <calls>"
   (kalloc and kfree calls made), calling bench_done() last. */
typedef unsigned int u32;

#define MB_MAGIC 0x1BADB002u
__attribute__((section(".multiboot"), used, aligned(4))) static const u32 multiboot_header[3] = {
  MB_MAGIC, 0, (u32)-(int)MB_MAGIC,
};

#define FRAMES 192
#define TABLE 6
#ifndef ROUNDS
#define ROUNDS 24
#endif

static unsigned char stacks[2][8192] __attribute__((aligned(16)));
static u32 page_dirs[2][1024] __attribute__((aligned(4096)));
static unsigned char pool[FRAMES][4096] __attribute__((aligned(4096)));
static unsigned char never_allocated[4096] __attribute__((aligned(4096)));
static u32 saved_sp[2];
static int current;
static void *free_list;
static u32 *accounting;
static u32 accounted;
static u32 kalloc_calls;
static u32 traced_calls;
static void *table[2][TABLE];
static int finished[2];
volatile u32 sink;
volatile u32 operations;

void context_switch(u32 *save_sp, u32 next_sp, u32 next_cr3);
void kmain(void);

__asm__(
  ".text\n"
  ".globl _start\n"
  "_start:\n"
  "  mov $stacks + 8192, %esp\n"
  "  call kmain\n"
  "1: hlt\n"
  "  jmp 1b\n"
  ".globl context_switch\n"
  ".type context_switch, @function\n"
  "context_switch:\n"
  "  mov 4(%esp), %eax\n"
  "  mov 8(%esp), %edx\n"
  "  mov 12(%esp), %ecx\n"
  "  push %ebp\n"
  "  push %ebx\n"
  "  push %esi\n"
  "  push %edi\n"
  "  mov %esp, (%eax)\n"
  "  mov %ecx, %cr3\n"
  "  mov %edx, %esp\n"
  "  pop %edi\n"
  "  pop %esi\n"
  "  pop %ebx\n"
  "  pop %ebp\n"
  "  ret\n"
  ".size context_switch, . - context_switch\n");

static inline void outb(unsigned short port, unsigned char v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void putc(char c) {
  outb(0x3f8, (unsigned char)c);
}

static void puts(const char *s) {
  while (*s) putc(*s++);
}

static void puthex(u32 v) {
  puts("0x");
  for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}

static void dump(char kind, void *frame, void *ret) {
#ifndef BENCH
  putc(kind);
  putc(' ');
  puthex((u32)frame);
  putc(' ');
  puthex((u32)ret);
  putc(' ');
  putc((char)('1' + current));
  putc('\n');
#else
  (void)kind; (void)frame; (void)ret;
#endif
}

__attribute__((noinline)) void yield(void) {
  int from = current;
  int to = 1 - from;
  if (finished[to]) return;
  current = to;
  context_switch(&saved_sp[from], saved_sp[to], (u32)page_dirs[to]);
}

void *kalloc(void);
void kfree(void *p);

static int accounting_busy;

/* Notes a frame handed out on the accounting page; a new accounting page (itself from kalloc:
   a nested call) when there is none or it is full, the full one given back. */
__attribute__((noinline)) static void account(void *frame) {
  if (accounting_busy) return;
  if (!accounting || accounted == 1024) {
    void *old = accounting;
    accounting_busy = 1;
    accounting = kalloc();
    if (old) kfree(old);
    accounting_busy = 0;
    accounted = 0;
  }
  if (accounting) accounting[accounted++] = (u32)frame;
}

/* Returns a free 4 KiB frame, or 0 if there is none. Every fifth call yields to the other thread first. */
__attribute__((noinline)) void *kalloc(void) {
  traced_calls++;
  if (++kalloc_calls % 5 == 0) yield();
  void *p = free_list;
  if (p) {
    free_list = *(void **)p;
    account(p);
  }
  dump('A', p, __builtin_return_address(0));
  return p;
}

/* Puts frame `p` back on the free list (no checks: a double free corrupts the list). */
__attribute__((noinline)) void kfree(void *p) {
  traced_calls++;
  dump('F', p, __builtin_return_address(0));
  if (!p) return;
  *(void **)p = free_list;
  free_list = p;
}

__attribute__((noinline)) static void keep_in_table(int slot) {
  void **t = table[current];
  if (t[slot]) kfree(t[slot]);
  t[slot] = kalloc();
}

__attribute__((noinline)) static void scratch_buffers(int n) {
  void *p[8];
  for (int i = 0; i < n; i++)
    p[i] = kalloc();                  /* @dap:scratch-alloc */
  for (int i = n - 1; i >= 0; i--)
    kfree(p[i]);
  operations += (u32)n;
}

__attribute__((noinline)) static int build_tree(int depth) {
  void *node = kalloc();
  int below = depth > 0 ? build_tree(depth - 1) : 0;
  sink = (u32)node;
  kfree(node);
  return below + 1;
}

__attribute__((noinline)) void report_done(void) {
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < TABLE; i++)
      if (table[t][i]) {
        puts("L ");
        puthex((u32)table[t][i]);
        putc('\n');
      }
  if (accounting) {
    puts("L ");
    puthex((u32)accounting);
    putc('\n');
  }
  puts("done\n");
}

static void work(int rounds) {
  for (int round = 0; round < rounds; round++) {
    keep_in_table(round % TABLE);
    scratch_buffers(1 + round % 4);
    sink = (u32)build_tree(round % 3);
#ifdef DOUBLE_FREE
    if (round == 3 && current == 0) {
      void *twice = kalloc();
      void *rest = free_list;
      kfree(twice);
      kfree(twice);                   /* @dap:double-free */
      *(void **)twice = rest;         /* repair the list the double free looped */
    }
#endif
#ifdef FREE_UNKNOWN
    if (round == 3 && current == 0) kfree(never_allocated);
#endif
#ifdef BENCH_SPIN
    for (volatile u32 k = 0; k < BENCH_SPIN; k++) {}
#endif
    yield();
  }
}

__attribute__((noreturn, noinline)) static void thread_b(void) {
  work(ROUNDS);
  finished[1] = 1;
  current = 0;
  context_switch(&saved_sp[1], saved_sp[0], (u32)page_dirs[0]);
  for (;;) __asm__ volatile("hlt");
}

static void setup(void) {
  for (int d = 0; d < 2; d++)
    for (u32 i = 0; i < 1024; i++)
      page_dirs[d][i] = i < 8 ? (i << 22) | 0x83u : 0;
  u32 cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x10u));
  __asm__ volatile("mov %0, %%cr3" : : "r"((u32)page_dirs[0]));
  u32 cr0;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u));
  for (int i = FRAMES - 1; i >= 0; i--) {
    *(void **)pool[i] = free_list;
    free_list = pool[i];
  }
  u32 *sp = (u32 *)(stacks[1] + sizeof stacks[1]);
  *--sp = 0;
  *--sp = (u32)thread_b;
  *--sp = 0;
  *--sp = 0;
  *--sp = 0;
  *--sp = 0;
  saved_sp[1] = (u32)sp;
  (void)never_allocated;
}

/* The bench's end, where the benchmark's client stops to read the adapter's own figures. */
__attribute__((noinline)) void bench_done(void) {
  sink = traced_calls;
}

void kmain(void) {
  setup();
#ifdef BENCH
  puts("bench start\n");
  work(BENCH_ROUNDS);
  while (!finished[1]) yield();
  puts("bench end ");
  puthex(traced_calls);
  putc('\n');
  bench_done();
  outb(0xf4, 0);
  for (;;) __asm__ volatile("hlt");
#else
  for (int d = 0; d < 2; d++) {
    puts("pd ");
    putc((char)('1' + d));
    putc(' ');
    puthex((u32)page_dirs[d]);
    putc('\n');
  }
  work(ROUNDS);
  while (!finished[1]) yield();
  report_done();
  for (;;) __asm__ volatile("cli; hlt");
#endif
}
