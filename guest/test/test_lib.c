/* test_lib.c: the kernel's Vector, heap and string helpers. */
#include "heap.h"
#include "proc.h"
#include "string.h"
#include "test.h"
#include "vector.h"

TEST(vector, push_at_remove)
{
    struct vector v;
    vec_init(&v, sizeof(uint32_t));
    CHECK(vec_at(&v, 0) == 0);
    for (uint32_t i = 0; i < 1000; i++)
        CHECK_EQ(vec_push(&v, &i), i);
    CHECK_EQ(v.length, 1000);
    CHECK(v.capacity >= 1000);
    for (uint32_t i = 0; i < 1000; i++)
        CHECK_EQ(*(uint32_t *)vec_at(&v, i), i);
    CHECK(vec_at(&v, 1000) == 0);
    CHECK_OK(vec_remove(&v, 0));
    CHECK_EQ(*(uint32_t *)vec_at(&v, 0), 1);
    CHECK_EQ(v.length, 999);
    CHECK_OK(vec_swap_remove(&v, 0));
    CHECK_EQ(*(uint32_t *)vec_at(&v, 0), 999);
    CHECK_EQ(vec_remove(&v, 5000), -1);
    CHECK_EQ(vec_swap_remove(&v, 5000), -1);
    vec_free(&v);
    CHECK_EQ(v.length, 0);
    CHECK(v.data == 0);
    return 0;
}

TEST(vector, process_table_is_a_vector)
{
    CHECK_EQ(proc_table.elem_size, sizeof(struct pcb *));
    CHECK(proc_table.length >= 1);
    CHECK(*(struct pcb **)vec_at(&proc_table, 0) == proc_list);
    return 0;
}

TEST(heap, alloc_free_coalesce)
{
    size_t used = heap_used();
    uint8_t *a = kmalloc(100), *b = kmalloc(5000), *c = kmalloc(1);
    CHECK(a && b && c);
    CHECK_EQ((uint32_t)a % 16, 0);
    CHECK((uint32_t)a >= KHEAP_BASE && (uint32_t)a < KHEAP_LIMIT);
    memset(a, 0xAA, 100);
    memset(b, 0xBB, 5000);
    CHECK_EQ(a[99], 0xAA);
    CHECK_EQ(b[4999], 0xBB);
    kfree(b);
    uint8_t *d = kmalloc(4000);                    /* reuses b's space, first fit */
    CHECK(d == b);
    kfree(a);
    kfree(c);
    kfree(d);
    CHECK_EQ(heap_used(), used);
    uint8_t *big = kmalloc(256 * 1024);           /* grows the heap by new chains */
    CHECK(big);
    big[256 * 1024 - 1] = 1;
    kfree(big);
    CHECK(kmalloc(0) == 0);
    CHECK(kmalloc(0x80000000u) == 0);
    CHECK_EQ(heap_used(), used);
    return 0;
}

TEST(heap, realloc_keeps_data)
{
    uint32_t *p = kmalloc(16);
    for (int i = 0; i < 4; i++)
        p[i] = 0x1000u + (uint32_t)i;
    p = krealloc(p, 64 * 1024);
    CHECK(p);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(p[i], 0x1000u + (uint32_t)i);
    CHECK(krealloc(p, 0) == 0);
    uint32_t *q = krealloc(0, 32);
    CHECK(q);
    kfree(q);
    return 0;
}

TEST(lib, cmdline_parsing)
{
    char buf[32];
    const char *cl = "kernel.elf selftest only=map. seed=0x2A";
    CHECK(cmdline_has(cl, "selftest"));
    CHECK(!cmdline_has(cl, "self"));
    CHECK(!strcmp(cmdline_get(cl, "only", buf, sizeof buf), "map."));
    CHECK(cmdline_get(cl, "missing", buf, sizeof buf) == 0);
    int ok;
    CHECK_EQ(parse_uint(cmdline_get(cl, "seed", buf, sizeof buf), &ok), 42);
    CHECK(ok);
    parse_uint("12z", &ok);
    CHECK(!ok);
    return 0;
}
