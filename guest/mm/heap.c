/* heap.c: the kernel heap. A first-fit free list sorted by address, with coalescing, over
 * frozen chains (OWNER_HEAP) mapped one after another from KHEAP_BASE with MAP_KPD. */
#include "generation.h"
#include "heap.h"
#include "console.h"
#include "mm.h"
#include "string.h"
#include "x86.h"

#define HDR_USED 0xA110C8EDu
#define HDR_FREE 0xF4EEF4EEu
#define GROW_MIN (64u * 1024u)

/* Every heap block starts with this 16-byte header; size includes the header. */
struct hdr {
    uint32_t size;
    uint32_t magic;
    struct hdr *next;   /* next free block by address (free blocks only) */
    uint32_t pad;
};

static struct hdr *free_list;
static uint32_t heap_end = KHEAP_BASE;
static size_t used_bytes;

void heap_init(void)
{
    free_list = 0;
    heap_end = KHEAP_BASE;
    used_bytes = 0;
}

/* Inserts a free block in address order and merges it with its neighbours. */
static void insert_free(struct hdr *h)
{
    h->magic = HDR_FREE;
    struct hdr **pp = &free_list;
    while (*pp && *pp < h)
        pp = &(*pp)->next;
    h->next = *pp;
    *pp = h;
    if (h->next && (uint8_t *)h + h->size == (uint8_t *)h->next) {
        h->size += h->next->size;
        h->next = h->next->next;
    }
    if (pp != &free_list) {
        struct hdr *prev = (struct hdr *)((uint8_t *)pp - __builtin_offsetof(struct hdr, next));
        if ((uint8_t *)prev + prev->size == (uint8_t *)h) {
            prev->size += h->size;
            prev->next = h->next;
        }
    }
}

/* Maps a new chain at the end of the heap. Returns 0 on success, -1 if out of memory. */
static int grow(uint32_t bytes)
{
    if (bytes < GROW_MIN)
        bytes = GROW_MIN;
    uint32_t blocks = (bytes + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE;
    if (heap_end + blocks * MM_BLOCK_SIZE > KHEAP_LIMIT)
        return -1;
    chain_id_t id;
    if (mm_allocate_chain(CHAIN_FROZEN, blocks, OWNER_HEAP, (uint32_t)__builtin_return_address(0), &id) != MM_OK)
        return -1;
    if (mm_map_pages(MAP_KPD, id, heap_end, 0, 0, 0) != MM_OK) {
        MmFreeChain(id);
        return -1;
    }
    struct hdr *h = (struct hdr *)heap_end;
    h->size = blocks * MM_BLOCK_SIZE;
    heap_end += h->size;
    insert_free(h);
    return 0;
}

void *kmalloc(size_t size)
{
    if (size == 0 || size > KHEAP_LIMIT - KHEAP_BASE)
        return 0;
    uint32_t need = (uint32_t)((size + sizeof(struct hdr) + 15) & ~15u);
    uint32_t f = mm_write_begin();
    for (int attempt = 0; attempt < 2; attempt++) {
        for (struct hdr **pp = &free_list; *pp; pp = &(*pp)->next) {
            struct hdr *h = *pp;
            if (h->size < need)
                continue;
            if (h->size - need >= 2 * sizeof(struct hdr)) {
                struct hdr *rest = (struct hdr *)((uint8_t *)h + need);
                rest->size = h->size - need;
                rest->magic = HDR_FREE;
                rest->next = h->next;
                h->size = need;
                *pp = rest;
            } else {
                *pp = h->next;
            }
            h->magic = HDR_USED;
            h->next = 0;
            used_bytes += h->size;
            mm_write_end(f);
            return h + 1;
        }
        if (grow(need) < 0)
            break;
    }
    mm_write_end(f);
    return 0;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *ptr)
{
    if (!ptr)
        return;
    struct hdr *h = (struct hdr *)ptr - 1;
    if (h->magic != HDR_USED)
        panic("kfree of %p: not an allocated heap block", ptr);
    uint32_t f = mm_write_begin();
    used_bytes -= h->size;
    insert_free(h);
    mm_write_end(f);
}

void *krealloc(void *ptr, size_t size)
{
    if (!ptr)
        return kmalloc(size);
    if (!size) {
        kfree(ptr);
        return 0;
    }
    struct hdr *h = (struct hdr *)ptr - 1;
    if (h->magic != HDR_USED)
        panic("krealloc of %p: not an allocated heap block", ptr);
    size_t have = h->size - sizeof(struct hdr);
    if (have >= size)
        return ptr;
    void *n = kmalloc(size);
    if (!n)
        return 0;
    memcpy(n, ptr, have);
    kfree(ptr);
    return n;
}

size_t heap_used(void)
{
    return used_bytes;
}
