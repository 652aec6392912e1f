/* A small multiboot kernel written for the run-control tests (not our guest): identity-mapped
   4 MiB pages, two kernel threads with their own stacks and their own page directories that run
   the same code and switch with context_switch(), a recursive function, a loop on one line, a
   tail call and a noreturn call. Built at several optimisation levels by the tests. */
typedef unsigned int u32;

#define MB_MAGIC 0x1BADB002u
__attribute__((section(".multiboot"), used, aligned(4))) static const u32 multiboot_header[3] = {
  MB_MAGIC, 0, (u32)-(int)MB_MAGIC,
};

/* Thread A (boot) uses stacks[0], thread B stacks[1]: B's stack lies above A's. */
static unsigned char stacks[2][8192] __attribute__((aligned(16)));
static u32 page_dirs[2][1024] __attribute__((aligned(4096)));
static u32 saved_sp[2];
static int current;
volatile u32 sink;
volatile u32 ticks;

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
  "  ret\n");

__attribute__((noinline)) int fib(int n) {
  if (n < 2)
    return n;
  return fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) int square(int x) {
  int y = x * x;
  sink = y;
  return y;
}

__attribute__((noinline)) int accumulate(int n) {
  int s = 0;
  for (int i = 0; i < n; i++)
    s += square(i);
  return s;
}

__attribute__((noinline)) int spin(int n) {
  int k = 0;
  while (k < n) k++;
  return k;
}

__attribute__((noinline)) int scaled(int x) {
  sink = x;
  return square(x + 1);
}

__attribute__((noinline)) void yield(void) {
  int from = current;
  int to = 1 - from;
  current = to;
  context_switch(&saved_sp[from], saved_sp[to], (u32)page_dirs[to]);
}

__attribute__((noinline)) int shared_work(int who) {
  int before = who * 10;
  yield();
  int after = before + 1;
  sink = after;
  return after;
}

__attribute__((noreturn, noinline)) static void thread_b(void) {
  for (;;) {
    shared_work(2);
    sink = spin(3);
  }
}

__attribute__((noreturn, noinline)) void halt_forever(void) {
  for (;;)
    __asm__ volatile("hlt");
}

static void setup_paging(void) {
  for (int d = 0; d < 2; d++)
    for (u32 i = 0; i < 1024; i++)
      page_dirs[d][i] = i < 4 ? (i << 22) | 0x83u : 0;
  u32 cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x10u));
  __asm__ volatile("mov %0, %%cr3" : : "r"((u32)page_dirs[0]));
  u32 cr0;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u));
}

static void start_thread_b(void) {
  u32 *sp = (u32 *)(stacks[1] + sizeof stacks[1]);
  *--sp = 0;               /* thread_b never returns */
  *--sp = (u32)thread_b;   /* context_switch's ret */
  *--sp = 0;               /* ebp */
  *--sp = 0;               /* ebx */
  *--sp = 0;               /* esi */
  *--sp = 0;               /* edi */
  saved_sp[1] = (u32)sp;
}

void kmain(void) {
  setup_paging();
  start_thread_b();
  for (u32 round = 0;; round++) {
    int a = accumulate(4);
    int f = fib(5);
    int w = shared_work(1);
    int t = scaled(a);
    ticks = round + (u32)(a + f + w + t + spin(5));
    if (round == 0xffffffffu)
      halt_forever();
  }
}
