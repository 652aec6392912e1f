/* selftest.c: runs the registered tests (test.h) and exits QEMU with the verdict. After each
 * test it checks the memory manager's invariants and that the test freed what it took. */
#include "test.h"
#include "console.h"
#include "heap.h"
#include "mm.h"
#include "paging.h"
#include "string.h"
#include "x86.h"

extern const struct test_case __tests_start[], __tests_end[];
static char fail_buf[256];

const char *test_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = file;
    for (const char *p = file; *p; p++)
        if (*p == '/')
            base = p + 1;
    ksnprintf(fail_buf, sizeof fail_buf, "%s:%d: %s", base, line, msg);
    return fail_buf;
}

/* Mappings other than the kernel heap's own (the heap may grow during a test). */
static uint32_t client_mappings(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < mm_mapping_count; i++)
        n += mm_owners[mm_mappings[i].chain].kind != OWNER_HEAP;
    return n;
}

static int selected(const struct test_case *t, const char *only)
{
    return !only || !*only || !strncmp(t->name, only, strlen(only));
}

void selftest_run(const char *only)
{
    uint32_t plan = 0, passed = 0, failed = 0;
    for (const struct test_case *t = __tests_start; t < __tests_end; t++)
        plan += selected(t, only);
    kprintf("selftest: plan %u\n", plan);
    for (const struct test_case *t = __tests_start; t < __tests_end; t++) {
        if (!selected(t, only))
            continue;
        uint32_t blocks_before = mm_client_blocks();
        uint32_t maps_before = client_mappings();
        const char *err = t->fn();
        const char *why = 0;
        if (!err && mm_check(&why) != MM_OK)
            err = test_fail(__FILE__, __LINE__, "invariant broken after the test: %s", why);
        if (!err && (mm_write_depth() != 0 || (mm_generation & 1)))
            err = test_fail(__FILE__, __LINE__, "seqlock left open: depth %u, generation 0x%x",
                            mm_write_depth(), mm_generation);
        if (!err && mm_client_blocks() != blocks_before)
            err = test_fail(__FILE__, __LINE__, "leak: %u client blocks before, %u after",
                            blocks_before, mm_client_blocks());
        if (!err && client_mappings() != maps_before)
            err = test_fail(__FILE__, __LINE__, "leak: %u mappings before, %u after",
                            maps_before, client_mappings());
        if (err) {
            failed++;
            kprintf("test %s ... FAIL: %s\n", t->name, err);
        } else {
            passed++;
            kprintf("test %s ... ok\n", t->name);
        }
    }
    kprintf("selftest: %u passed, %u failed\n", passed, failed);
    qemu_exit(failed == 0);
}
