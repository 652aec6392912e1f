/* heap.c: a kernel heap of block headers in address order (size, used flag, next), first fit,
 * split on allocation, merged with free neighbours on release. */
#include "mmk.h"

struct heap_block *heap_head;

void heap_init(void *base, size_t bytes) {
  heap_head = base;
  heap_head->size = (uint32_t)(bytes - sizeof(struct heap_block));
  heap_head->used = 0;
  heap_head->next = 0;
}

void *kmalloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  for (struct heap_block *b = heap_head; b; b = b->next) {
    if (b->used || b->size < n) continue;
    if (b->size >= n + sizeof(struct heap_block) + 16) {
      struct heap_block *rest = (struct heap_block *)((char *)(b + 1) + n);
      rest->size = (uint32_t)(b->size - n - sizeof(struct heap_block));
      rest->used = 0;
      rest->next = b->next;
      b->next = rest;
      b->size = (uint32_t)n;
    }
    b->used = 1;
    return b + 1;
  }
  return 0;
}

void kmfree(void *p) {
  if (!p) return;
  struct heap_block *b = (struct heap_block *)p - 1;
  if (!b->used) panic("heap: kmfree(%p) of a free block", p);
  b->used = 0;
  for (struct heap_block *x = heap_head; x; x = x->next) {
    while (!x->used && x->next && !x->next->used) {
      x->size += (uint32_t)sizeof(struct heap_block) + x->next->size;
      x->next = x->next->next;
    }
  }
}

void dump_heap(const char *name) {
  for (struct heap_block *b = heap_head; b; b = b->next)
    dump_line("heap %s 0x%llx %u %s", name, (unsigned long long)(uintptr_t)b, b->size, b->used ? "used" : "free");
}
