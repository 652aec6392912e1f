/* work.c: code that is interesting to step through: inline and always_inline helpers, tail
 * calls, a loop on one line, recursion, arguments and locals of several types (integers,
 * pointers, a struct by value and by pointer, an array, a char *), function pointers, and a
 * call that switches threads (and CR3) in the middle. */
#include "corpus.h"

static inline __attribute__((always_inline)) int clamp(int v, int lo, int hi)
{
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

static inline uint32_t rotate(uint32_t v, unsigned by)
{
    return (v << by) | (v >> (32 - by));
}

uint32_t rng_next(struct rng *r)
{
    uint32_t x = r->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->state = x;
    return x;
}

int sum_weights(const int *weights, int n)
{
    int x = 0;
    for (int i = 0; i < n; i++) x += weights[i] * (i + 1);
    return x;
}

unsigned factorial(unsigned n)
{
    if (n <= 1) return 1;
    return n * factorial(n - 1);
}

int fib(int n)
{
    if (n < 2) return n;
    int a = fib(n - 1);
    int b = fib(n - 2);
    return a + b;
}

int point_dist(struct point a, const struct point *b)
{
    int dx = a.x - b->x;
    int dy = a.y - b->y;
    if (dx < 0) dx = -dx;
    if (dy < 0) dy = -dy;
    int d = clamp(dx + dy, 0, 1000);
    return a.tag == b->tag ? d : d + 1;
}

int checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum = rotate(sum, 3);
        sum ^= buf[i];
    }
    return (int)(sum & 0x7fffffff);
}

const char *label_for(int v)
{
    static const char *const labels[] = { "zero", "small", "medium", "large" };
    int index = clamp(v / 16, 0, 3);
    return labels[index];
}

size_t str_len(const char *s)
{
    const char *p = s;
    while (*p) p++;
    return (size_t)(p - s);
}

static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }

static const op_fn ops[] = { op_add, op_sub, op_mul };

int apply(op_fn f, int a, int b)
{
    int r = f(a, b);
    return clamp(r, -100000, 100000);
}

int pick_op(int which, int a, int b)
{
    op_fn f = ops[(unsigned)which % 3];
    return apply(f, a, b);
}

int tail_b(int n, int acc);

int tail_a(int n, int acc)
{
    if (n <= 0) return acc;
    return tail_b(n - 1, acc + n);
}

int tail_b(int n, int acc)
{
    if (n <= 0) return acc;
    return tail_a(n - 1, acc ^ (n << 1));
}

int histogram(const uint8_t *data, size_t len, int bucket)
{
    int counts[8] = { 0 };
    for (size_t i = 0; i < len; i++) counts[data[i] & 7]++;
    int best = 0;
    for (int k = 1; k < 8; k++)
        if (counts[k] > counts[best]) best = k;
    return counts[clamp(bucket, 0, 7)] * 8 + best;
}

int compute_with_yield(int n)
{
    int before = fib(n);
    yield();
    int after = (int)factorial((unsigned)n);
    return before + after;
}
