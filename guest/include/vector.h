/* vector.h: a growable array of fixed-size elements on the kernel heap. Used for the
 * process list, the handle tables and the mapping registry. Elements move when it grows,
 * so keep indices, not pointers, across pushes. Layout is part of the debugger contract
 * (mm_debug_info gives vector addresses): { data, length, capacity, elem_size }. */
#ifndef VECTOR_H
#define VECTOR_H
#include <stdint.h>

struct vector {
    void *data;
    uint32_t length;
    uint32_t capacity;
    uint32_t elem_size;
};

void vec_init(struct vector *v, uint32_t elem_size);
/* Appends a copy of *elem. Returns its index, or -1 if the heap is exhausted. */
int vec_push(struct vector *v, const void *elem);
/* Pointer to element i, or NULL if i is out of range. */
void *vec_at(const struct vector *v, uint32_t i);
/* Removes element i, moving later elements down. Returns 0, or -1 if out of range. */
int vec_remove(struct vector *v, uint32_t i);
/* Removes element i by moving the last element into its place (order not kept). */
int vec_swap_remove(struct vector *v, uint32_t i);
/* Ensures room for `capacity` elements. Returns 0 or -1. */
int vec_reserve(struct vector *v, uint32_t capacity);
void vec_clear(struct vector *v);
void vec_free(struct vector *v);
#endif
