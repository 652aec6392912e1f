/* vector.c: a growable array on the kernel heap (see vector.h). */
#include "vector.h"
#include "heap.h"
#include "string.h"

void vec_init(struct vector *v, uint32_t elem_size)
{
    v->data = 0;
    v->length = 0;
    v->capacity = 0;
    v->elem_size = elem_size;
}

int vec_reserve(struct vector *v, uint32_t capacity)
{
    if (capacity <= v->capacity)
        return 0;
    uint32_t cap = v->capacity ? v->capacity : 4;
    while (cap < capacity)
        cap *= 2;
    void *d = krealloc(v->data, (size_t)cap * v->elem_size);
    if (!d)
        return -1;
    v->data = d;
    v->capacity = cap;
    return 0;
}

int vec_push(struct vector *v, const void *elem)
{
    if (vec_reserve(v, v->length + 1) < 0)
        return -1;
    memcpy((uint8_t *)v->data + v->length * v->elem_size, elem, v->elem_size);
    return (int)v->length++;
}

void *vec_at(const struct vector *v, uint32_t i)
{
    if (i >= v->length)
        return 0;
    return (uint8_t *)v->data + i * v->elem_size;
}

int vec_remove(struct vector *v, uint32_t i)
{
    if (i >= v->length)
        return -1;
    uint8_t *p = (uint8_t *)v->data + i * v->elem_size;
    memmove(p, p + v->elem_size, (v->length - i - 1) * v->elem_size);
    v->length--;
    return 0;
}

int vec_swap_remove(struct vector *v, uint32_t i)
{
    if (i >= v->length)
        return -1;
    if (i != v->length - 1)
        memcpy((uint8_t *)v->data + i * v->elem_size,
               (uint8_t *)v->data + (v->length - 1) * v->elem_size, v->elem_size);
    v->length--;
    return 0;
}

void vec_clear(struct vector *v)
{
    v->length = 0;
}

void vec_free(struct vector *v)
{
    kfree(v->data);
    vec_init(v, v->elem_size);
}
