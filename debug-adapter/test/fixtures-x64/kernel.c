/*
 * The x86-64 test kernel's C part (LP64, -mcmodel=kernel, higher half): a small page allocator
 * over a static pool, linked lists of structs, 64-bit hashing with values that do not fit 53
 * bits, recursion and a loop on one line; serial output on COM1. It ends in a hlt loop.
 */

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define POOL_PAGES 24
#define PAGE_SHIFT 12

struct page {
  u64 pfn;
  unsigned long flags;
  struct page *next;
  long refs;
};

struct region {
  const char *name;
  u64 base;
  u64 size;
  struct page *free;
  long count;
};

static struct page pool[POOL_PAGES];
static struct region regions[2];
volatile long ticks;
u64 last_hash;
unsigned long boot_magic;
void *boot_info;

static inline void outb(unsigned short port, u8 value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static void serial_putc(char c) {
  outb(0x3f8, (u8)c);
}

static void serial_puts(const char *s) {
  while (*s)
    serial_putc(*s++);
}

static void serial_hex(u64 v) {
  int shift;
  serial_puts("0x");
  for (shift = 60; shift >= 0; shift -= 4)
    serial_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

static u64 mix(u64 x, u64 y) {
  u64 h = x * 0x9e3779b97f4a7c15UL;
  h ^= y + (h << 6) + (h >> 2);
  return h;
}

static void region_init(struct region *r, const char *name, struct page *first, long count, u64 base) {
  long i;
  r->name = name;
  r->base = base;
  r->size = (u64)count << PAGE_SHIFT;
  r->free = 0;
  r->count = 0;
  for (i = count - 1; i >= 0; i--) {
    struct page *p = &first[i];
    p->pfn = (base >> PAGE_SHIFT) + (u64)i;
    p->flags = 0;
    p->refs = 0;
    p->next = r->free;
    r->free = p;
    r->count++;
  }
}

static struct page *page_alloc(struct region *r) {
  struct page *p = r->free;
  if (!p)
    return 0;
  r->free = p->next;
  p->next = 0;
  p->refs = 1;
  p->flags |= 1UL << 63;
  r->count--;
  return p;
}

static void page_free(struct region *r, struct page *p) {
  p->refs--;
  if (p->refs > 0)
    return;
  p->flags &= ~(1UL << 63);
  p->next = r->free;
  r->free = p;
  r->count++;
}

static u64 hash_region(const struct region *r) {
  u64 h = r->base;
  const struct page *p;
  for (p = r->free; p; p = p->next)
    h = mix(h, p->pfn);
  return h;
}

static __attribute__((noinline)) long depth(long n) {
  if (n <= 1)
    return 1;
  return n + depth(n - 1);
}

static void spin(long n) {
  long i;
  for (i = 0; i < n; i++) ticks++;
}

static u64 workload(int round) {
  struct page *held[4];
  struct region *r = &regions[round & 1];
  u64 h;
  int i;
  for (i = 0; i < 4; i++)
    held[i] = page_alloc(r);
  h = hash_region(r);
  for (i = 3; i >= 0; i--) {
    if (held[i])
      page_free(r, held[i]);
  }
  h = mix(h, (u64)depth((round & 7) + 3));
  spin((round & 7) + 2);
  return h;
}

void kmain(unsigned long magic, void *info) {
  int round;
  boot_magic = magic;
  boot_info = info;
  region_init(&regions[0], "low", &pool[0], POOL_PAGES / 2, 0x200000UL);
  region_init(&regions[1], "high", &pool[POOL_PAGES / 2], POOL_PAGES / 2, 0xffff800000400000UL);
  serial_puts("x64 kernel up\n");
  for (round = 0; round < 1000000; round++) {
    last_hash = workload(round);
    if (round < 4) {
      serial_hex(last_hash);
      serial_putc('\n');
    }
  }
  serial_puts("x64 kernel done\n");
  for (;;)
    __asm__ volatile("hlt");
}
