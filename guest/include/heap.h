/* heap.h: the kernel heap, a first-fit allocator over chains mapped at KHEAP_BASE. */
#ifndef HEAP_H
#define HEAP_H
#include <stddef.h>
#include <stdint.h>

#define KHEAP_BASE  0xD0000000u
#define KHEAP_LIMIT 0xE0000000u

void heap_init(void);
/* Returns 16-byte aligned memory, or NULL if no memory is left. */
void *kmalloc(size_t size);
void *kzalloc(size_t size);
/* Like realloc: NULL ptr allocates, size 0 frees. Returns NULL (old block kept) on failure. */
void *krealloc(void *ptr, size_t size);
void kfree(void *ptr);
/* Bytes currently allocated, for tests. */
size_t heap_used(void);
#endif
