/* SMP test kernel: the bootstrap CPU turns on paging (4 MiB identity pages), starts every
 * application processor with INIT-SIPI-SIPI through the local APIC, and then every CPU runs its
 * own loop over cpu_work() on its own stack; each AP runs with a page directory of its own (same
 * mappings, another physical page), so every CPU has a different CR3. Serial output on COM1. */

#include <stdint.h>

#define COM1 0x3f8
#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define MAX_CPUS 4
/* Virtual address of a 4 MiB window that every CPU maps to other physical memory. */
#define CPU_WINDOW 0x40000000u

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static volatile uint32_t serial_lock;

static void serial_putc(char c) {
  while ((inb(COM1 + 5) & 0x20) == 0) {
  }
  outb(COM1, (uint8_t)c);
}

/* Prints `s` on COM1 under a spin lock (any CPU). */
static void say(const char *s) {
  while (__atomic_exchange_n(&serial_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  for (; *s; s++) serial_putc(*s);
  __atomic_store_n(&serial_lock, 0, __ATOMIC_RELEASE);
}

static void say_number(const char *prefix, uint32_t n, const char *suffix) {
  char buf[48];
  int i = 0;
  for (const char *p = prefix; *p && i < 20; p++) buf[i++] = *p;
  char digits[12];
  int d = 0;
  do {
    digits[d++] = (char)('0' + n % 10);
    n /= 10;
  } while (n && d < 11);
  while (d) buf[i++] = digits[--d];
  for (const char *p = suffix; *p && i < 46; p++) buf[i++] = *p;
  buf[i] = 0;
  say(buf);
}

uint32_t page_dirs[MAX_CPUS][1024] __attribute__((aligned(4096)));
volatile uint32_t ap_next_slot;
volatile uint32_t cpus_up = 1;
volatile uint32_t counters[MAX_CPUS];
volatile uint32_t rounds[MAX_CPUS];
extern char trampoline_start[], trampoline_end[];
static uint32_t wanted_cpus = MAX_CPUS;

/* The part of the multiboot information this kernel reads. */
struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower, mem_upper, boot_device;
  uint32_t cmdline;
};

static inline uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(LAPIC + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(LAPIC + reg) = v; }

/* Returns this CPU's local APIC id. */
static uint32_t cpu_id(void) {
  return lapic_read(LAPIC_ID) >> 24;
}

/* One step of every CPU's work: a few lines to step through. */
__attribute__((noinline)) uint32_t cpu_work(uint32_t cpu, uint32_t n) {
  uint32_t acc = n + 1;
  acc = acc * 3 + cpu;
  acc ^= acc >> 5;
  return acc;
}

/* Only application processors call this. */
__attribute__((noinline)) void ap_round(uint32_t slot) {
  rounds[slot + 1]++;
}

/* The same virtual address holds each CPU's own id: reads there show whose CR3 they used. */
static void mark_window(void) {
  *(volatile uint32_t *)CPU_WINDOW = 0xc0de0000u | cpu_id();
}

static void cpu_loop(uint32_t cpu) {
  for (;;) {
    counters[cpu] = cpu_work(cpu, counters[cpu]);
    if (cpu != 0) ap_round(cpu - 1);
    else rounds[0]++;
  }
}

/* An application processor's C entry, on its own stack, paging on (trampoline in boot.S). */
void ap_main(uint32_t slot) {
  (void)slot;
  mark_window();
  __atomic_fetch_add(&cpus_up, 1, __ATOMIC_SEQ_CST);
  say_number("smp: ap ", cpu_id(), " up\n");
  cpu_loop(cpu_id());
}

/* Builds CPU `slot`'s page directory: 0-16 MiB identity, the local APIC, and a window of its own. */
static void build_page_dir(uint32_t *pd, uint32_t slot) {
  for (uint32_t i = 0; i < 4; i++) pd[i] = (i << 22) | 0x83;     /* 0-16 MiB, 4 MiB pages */
  pd[LAPIC >> 22] = (LAPIC & 0xffc00000u) | 0x9b;                 /* local APIC, uncached */
  pd[CPU_WINDOW >> 22] = ((16 + 4 * slot) << 20) | 0x83;          /* this CPU's 4 MiB at 16 + 4n MiB */
}

static void delay(uint32_t n) {
  for (volatile uint32_t i = 0; i < n; i++) {
  }
}

/* The number of CPUs to wait for: the kernel command line's "cpus=N" (1 to MAX_CPUS), else MAX_CPUS. */
static uint32_t expected_cpus(void) {
  return wanted_cpus;
}

/* Called once on the bootstrap CPU when every expected AP runs its loop (a place to stop at). */
__attribute__((noinline)) void smp_ready(uint32_t cpus) {
  say_number("smp: ", cpus, " cpus\n");
}

void kmain(const struct multiboot_info *mb) {
  if ((mb->flags & 4) && mb->cmdline) {
    for (const char *p = (const char *)mb->cmdline; *p; p++) {
      if (p[0] == 'c' && p[1] == 'p' && p[2] == 'u' && p[3] == 's' && p[4] == '=' && p[5] >= '1' && p[5] <= '0' + MAX_CPUS) wanted_cpus = (uint32_t)(p[5] - '0');
    }
  }
  outb(COM1 + 1, 0);
  outb(COM1 + 3, 0x80);
  outb(COM1, 1);
  outb(COM1 + 1, 0);
  outb(COM1 + 3, 0x03);
  say("smp: bsp up\n");
  for (uint32_t c = 0; c < MAX_CPUS; c++) build_page_dir(page_dirs[c], c);
  __asm__ volatile("mov %%cr4, %%eax; or $0x10, %%eax; mov %%eax, %%cr4" : : : "eax");
  __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)page_dirs[0]));
  __asm__ volatile("mov %%cr0, %%eax; or $0x80000000, %%eax; mov %%eax, %%cr0" : : : "eax");
  mark_window();
  uint8_t *dst = (uint8_t *)0x8000;
  for (char *p = trampoline_start; p < trampoline_end; p++) *dst++ = (uint8_t)*p;
  lapic_write(0xf0, lapic_read(0xf0) | 0x100);                    /* enable the local APIC */
  lapic_write(LAPIC_ICR_HI, 0);
  lapic_write(LAPIC_ICR_LO, 0x000c4500);                          /* INIT to all but self */
  delay(100000);
  for (int i = 0; i < 2; i++) {
    lapic_write(LAPIC_ICR_LO, 0x000c4608);                        /* SIPI, vector 0x08 = 0x8000 */
    delay(10000);
  }
  /* Every AP takes its stack and page directory by its slot (boot.S); wait until they have all come up. */
  for (uint32_t wait = 0; wait < 50000000 && cpus_up < expected_cpus(); wait++) {
  }
  smp_ready(cpus_up);
  cpu_loop(0);
}
