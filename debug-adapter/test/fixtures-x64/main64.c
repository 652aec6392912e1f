/* main64.c: the entry of the x86-64 fixture kernel and its memory-manager-like data. */
#include "x64.h"

#define COM1 0x3f8

struct region regions[8];
struct list_node *free_list;
volatile uint64_t tick_count;
const char banner[] = "x64 fixture kernel\n";
static struct list_node nodes[16];
static long samples[12] = { 3, -7, 12, 40, -2, 9, 0, 81, -30, 5, 6, 1 };
static uint8_t scratch[64];

void serial_putc(char c)
{
    while ((port_in8(COM1 + 5) & 0x20) == 0) {
    }
    port_out8(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') serial_putc('\r');
        serial_putc(*s);
    }
}

void serial_hex(uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    serial_puts("0x");
    for (int shift = 60; shift >= 0; shift -= 4) serial_putc(digits[(v >> shift) & 0xf]);
}

static inline void region_init(struct region *r, uintptr_t start, size_t length, const char *name, struct region *parent)
{
    r->start = start;
    r->length = length;
    r->name = name;
    r->parent = parent;
    r->tag.raw = mix64(start ^ length);
    r->kind = (unsigned)(length >> 12) & 7u;
    r->shared = parent != NULL;
    for (int i = 0; i < 4; i++) r->counts[i] = (int)(start >> (i * 8)) & 0xff;
}

static void setup_regions(void)
{
    uintptr_t base = (uintptr_t)&regions[0];
    region_init(&regions[0], 0xffffffff80000000ul, 0x40000000ul, "kernel", NULL);
    region_init(&regions[1], 0xffff888000000000ul, 0x100000000ul, "direct map", NULL);
    for (int i = 2; i < 8; i++) {
        struct region *parent = &regions[i & 1];
        size_t len = (size_t)0x1000 << i;
        region_init(&regions[i], parent->start + (uintptr_t)i * 0x200000, len, "child", parent);
    }
    if (region_find(base) == NULL) serial_puts("regions: own table not found\n");
}

static void setup_free_list(void)
{
    free_list = NULL;
    for (int i = 0; i < 16; i++) {
        nodes[i].key = (long)i * 0x1000 - 0x8000;
        nodes[i].flags = (unsigned char)(i & 3);
        list_push(&free_list, &nodes[i]);
    }
}

void kmain(void)
{
    serial_puts(banner);
    setup_regions();
    setup_free_list();
    long total = reduce(samples, sizeof samples / sizeof samples[0], add_long, 0);
    long top = reduce(samples, sizeof samples / sizeof samples[0], max_long, samples[0]);
    serial_hex((uint64_t)total);
    serial_putc(' ');
    serial_hex((uint64_t)top);
    serial_putc('\n');
    for (size_t i = 0; i < sizeof scratch; i++) scratch[i] = (uint8_t)(i * 37u);
    uint64_t sum = checksum64(scratch, sizeof scratch);
    long deep = walk_tree(5, (long)sum);
    long spread = many_args(1, -2, 3, -4, 5, -6, 7, deep);
    tick_count += (uint64_t)spread + mm_selftest();
    serial_hex(list_length(free_list));
    serial_putc(classify(spread) > 0 ? '+' : '-');
    halt_forever();
}

void halt_forever(void)
{
    for (;;) __asm__ volatile("cli; hlt");
}
