/* x64.h: declarations shared by the x86-64 symbol fixtures (LP64: long and pointers are 8 bytes). */
#ifndef X64_H
#define X64_H

#include <stddef.h>
#include <stdint.h>

static inline void port_out8(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint8_t port_in8(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

struct list_node {
    struct list_node *next;
    struct list_node *prev;
    long key;
    unsigned char flags;
};

struct region {
    uintptr_t start;
    size_t length;
    const char *name;
    struct region *parent;
    union {
        uint64_t raw;
        struct { uint32_t lo, hi; } half;
    } tag;
    unsigned kind : 3;
    unsigned shared : 1;
    int counts[4];
};

typedef long (*reducer_fn)(long acc, long v);

extern struct region regions[8];
extern struct list_node *free_list;
extern volatile uint64_t tick_count;
extern const char banner[];

void serial_putc(char c);
void serial_puts(const char *s);
void serial_hex(uint64_t v);
long reduce(const long *values, size_t n, reducer_fn f, long init);
long add_long(long a, long b);
long max_long(long a, long b);
int region_contains(const struct region *r, uintptr_t address);
struct region *region_find(uintptr_t address);
size_t list_length(const struct list_node *head);
void list_push(struct list_node **head, struct list_node *node);
long many_args(long a, long b, long c, long d, long e, long f, long g, long h);
uint64_t mix64(uint64_t x);
long walk_tree(int depth, long seed);
int classify(long v);
uint64_t checksum64(const void *buf, size_t len);
__attribute__((noreturn)) void halt_forever(void);

/* mm64.c */
uint64_t mm_selftest(void);
long frame_alloc(void);
void frame_free(long frame);
void *slab_alloc(uint32_t size);
void slab_setup(void);

#endif
