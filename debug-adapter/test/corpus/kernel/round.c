/* round.c: one round of a worker thread. Arguments come from the thread's seeded generator,
 * so every run of a kernel follows the same path. corpus_round counts the rounds (worker A
 * increments it); the tests use it to name "the first hit in round K or later". */
#include "corpus.h"

volatile uint32_t corpus_round;

static const char *const names[] = { "alpha", "beta", "gamma-delta", "" };

int do_round(int id, struct rng *r)
{
    uint32_t draw = rng_next(r);
    int weights[6];
    for (int i = 0; i < 6; i++) weights[i] = (int)((draw >> (i * 4)) & 0xF) - 4;
    int total = sum_weights(weights, 6);

    unsigned f = factorial(draw % 8 + 1);
    int g = fib((int)(draw % 7) + 2);

    struct point here = { (int)(draw & 0xFF), (int)((draw >> 8) & 0xFF), (char)('A' + id) };
    struct point there = { 17 * id, (int)corpus_round, (char)('A' + (int)(draw & 1)) };
    int dist = point_dist(here, &there);

    uint8_t bytes[12];
    for (int i = 0; i < 12; i++) bytes[i] = (uint8_t)(rng_next(r) >> 24);
    int sum = checksum(bytes, sizeof bytes);
    int hist = histogram(bytes, sizeof bytes, (int)(draw % 9));

    const char *label = label_for(dist);
    size_t len = str_len(names[draw % 4]) + str_len(label);
    int op = pick_op((int)(draw >> 3), total, g);
    int tail = tail_a((int)(draw % 11), id);
    int y = compute_with_yield((int)(draw % 5) + 1);

    return total + (int)f + g + dist + sum + hist + (int)len + op + tail + y;
}
