/* test.h: the in-kernel test framework. TEST(group, name) registers a function in the
 * .tests section; `selftest` runs them all (or those whose "group.name" starts with
 * `only=PREFIX`), checks the memory manager's invariants after each, and prints
 *   test group.name ... ok            or     test group.name ... FAIL: reason
 * A test returns NULL on success or a message (from CHECK*) on failure. */
#ifndef TEST_H
#define TEST_H
#include <stdint.h>

typedef const char *(*test_fn)(void);
struct test_case {
    const char *name;
    test_fn fn;
};

#define TEST(group, name)                                                          \
    static const char *test_##group##_##name(void);                                \
    static const struct test_case tc_##group##_##name                              \
        __attribute__((section(".tests." #group), used, aligned(4))) = {           \
            #group "." #name, test_##group##_##name};                              \
    static const char *test_##group##_##name(void)

const char *test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CHECK(c) do { if (!(c)) return test_fail(__FILE__, __LINE__, "%s", #c); } while (0)
#define CHECK_EQ(a, b) do { uint32_t _a = (uint32_t)(a), _b = (uint32_t)(b); \
    if (_a != _b) return test_fail(__FILE__, __LINE__, "%s == %s: got 0x%x, want 0x%x", #a, #b, _a, _b); } while (0)
#define CHECK_OK(e) do { int _r = (e); \
    if (_r != 0) return test_fail(__FILE__, __LINE__, "%s returned %d", #e, _r); } while (0)
/* Checks the memory manager invariants right now (the runner also does after each test). */
#define CHECK_MM() do { const char *_w = 0; if (mm_check(&_w) != 0) return test_fail(__FILE__, __LINE__, "mm_check: %s", _w); } while (0)

void selftest_run(const char *only);
#endif
