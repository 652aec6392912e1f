/* work64.c: code for the symbol layer to read: inlined helpers, loops with lexical blocks, a
 * function pointer, recursion, more arguments than registers, 64-bit constants and pointers. */
#include "x64.h"

long add_long(long a, long b) { return a + b; }

long max_long(long a, long b) { return a > b ? a : b; }

long reduce(const long *values, size_t n, reducer_fn f, long init)
{
    long acc = init;
    for (size_t i = 0; i < n; i++) {
        long v = values[i];
        if (v == 0) continue;
        acc = f(acc, v);
    }
    return acc;
}

static inline int in_range(uintptr_t lo, size_t len, uintptr_t address)
{
    uintptr_t end = lo + len;
    return address >= lo && address < end;
}

int region_contains(const struct region *r, uintptr_t address)
{
    return in_range(r->start, r->length, address);
}

struct region *region_find(uintptr_t address)
{
    struct region *best = NULL;
    for (int i = 0; i < 8; i++) {
        struct region *r = &regions[i];
        if (region_contains(r, address)) {
            size_t len = r->length;
            if (best == NULL || len < best->length) best = r;
        }
    }
    return best;
}

size_t list_length(const struct list_node *head)
{
    size_t n = 0;
    const struct list_node *p;
    for (p = head; p != NULL; p = p->next) {
        if (p->flags & 1) {
            long k = p->key;
            n += k < 0 ? 2 : 1;
        } else {
            n++;
        }
    }
    return n;
}

void list_push(struct list_node **head, struct list_node *node)
{
    node->prev = NULL;
    node->next = *head;
    if (*head) (*head)->prev = node;
    *head = node;
}

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x = rotl64(x, 17);
    x ^= x >> 29;
    return x * 0xc4ceb9fe1a85ec53ull;
}

long many_args(long a, long b, long c, long d, long e, long f, long g, long h)
{
    long first = a * b + c;
    long second = d - e * f;
    {
        long third = g ^ h;
        first += third;
    }
    return first + second;
}

long walk_tree(int depth, long seed)
{
    if (depth <= 0) return seed & 0xff;
    long left = walk_tree(depth - 1, (long)mix64((uint64_t)seed));
    long right = walk_tree(depth - 2, seed >> 3);
    return left + right + depth;
}

int classify(long v)
{
    switch (v & 7) {
    case 0: return -1;
    case 1: return 3;
    case 2: return (int)(v >> 40);
    case 3: return 7;
    case 4: return -9;
    case 5: return (int)v;
    default: return 0;
    }
}

uint64_t checksum64(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t sum = 0xcbf29ce484222325ull;
    while (len--) {
        uint8_t byte = *p++;
        sum = (sum ^ byte) * 0x100000001b3ull;
    }
    return rotl64(sum, 7);
}
