/* ring_bench.c: the event ring's recording cost (cmdline `ringbench`). Runs each workload in
 * short windows that alternate the ring on and off within one boot (so the machine's load hits
 * both alike), times each window with the TSC, and prints per workload
 *   ringbench NAME_on CYCLES cycles/op      ringbench NAME_off CYCLES cycles/op   (medians)
 *   ringbench NAME_cost PERMILLE permille   (median over adjacent on/off window pairs of
 *                                            on / off - 1: a pair shares the machine's load)
 * then `ringbench: done`. Workloads: alloc_free (a 1-block chain allocated and freed: two
 * events, the worst case), mixed (allocate 2 blocks, map them, touch every page, resize to 3,
 * unmap, free: five events and the work a caller does with its memory) and opsbench (the
 * opsbench workload's own operation, kernel/opsbench.c: allocate 1-4 blocks, map them in a user
 * space, write and check every page, unmap, free). */
#include "console.h"
#include "event_ring.h"
#include "mm.h"
#include "opsbench.h"
#include "proc.h"
#include "ring_bench.h"

#define WINDOWS      202u    /* even: (on, off) pairs; the first pair is dropped (warm-up) */
#define PAIRS        2000u   /* alloc_free operations per window */
#define MIXED        300u    /* mixed rounds per window */
#define OPS          200u    /* opsbench operations per window */
#define MIXED_VA     0xEB000000u

static inline uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Median of n values (sorts them). */
static uint32_t median(uint32_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint32_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* Contract: returns cycles per operation of one window, or 0 when an operation failed. */
static uint32_t window_alloc_free(void)
{
    uint64_t t0 = tsc();
    for (uint32_t i = 0; i < PAIRS; i++) {
        chain_id_t id = MmAllocateChain(0, 1);
        if (!id || MmFreeChain(id) != MM_OK)
            return 0;
    }
    return (uint32_t)(tsc() - t0) / PAIRS;
}

static uint32_t window_mixed(void)
{
    uint64_t t0 = tsc();
    for (uint32_t i = 0; i < MIXED; i++) {
        chain_id_t id = MmAllocateChain(0, 2);
        if (!id || MmMapChainToVirtualAddress(MAP_KPD, id, (void *)MIXED_VA, 0, 0) != MM_OK)
            return 0;
        for (uint32_t p = 0; p < 2 * MM_PAGES_PER_BLOCK; p++)
            ((volatile uint32_t *)(MIXED_VA + p * MM_PAGE_SIZE))[p] = i;
        if (MmResizeChain(id, 3) != MM_OK || MmUnmapChain(MAP_KPD, id, (void *)MIXED_VA, 0) != MM_OK || MmFreeChain(id) != MM_OK)
            return 0;
    }
    return (uint32_t)(tsc() - t0) / MIXED;
}

static uint32_t window_opsbench(void)
{
    static struct opsbench_worker w = {0x01000000u, 0};
    uint64_t t0 = tsc();
    for (uint32_t i = 0; i < OPS; i++)
        if (opsbench_op(&w, current->upd) != MM_OK)
            return 0;
    return (uint32_t)(tsc() - t0) / OPS;
}

static void measure(const char *name, uint32_t (*window)(void))
{
    static uint32_t on[WINDOWS / 2], off[WINDOWS / 2];
    static int32_t cost[WINDOWS / 2];
    uint32_t pairs = 0;
    int was = mm_ring_on;
    for (uint32_t w = 0; w < WINDOWS; w += 2) {
        mm_ring_on = 1;
        uint32_t a = window();
        mm_ring_on = 0;
        uint32_t b = window();
        if (!a || !b) {
            mm_ring_on = was;
            kprintf("FAULT: ringbench %s: a memory-manager call failed\n", name);
            return;
        }
        if (w == 0)
            continue;   /* warm-up pair */
        on[pairs] = a;
        off[pairs] = b;
        cost[pairs] = ((int32_t)a - (int32_t)b) * 1000 / (int32_t)b;   /* cycles/op are far below 2^21 */
        pairs++;
    }
    mm_ring_on = was;
    /* median of the signed costs: sort them shifted into unsigned order */
    static uint32_t ucost[WINDOWS / 2];
    for (uint32_t i = 0; i < pairs; i++)
        ucost[i] = (uint32_t)cost[i] ^ 0x80000000u;
    int32_t permille = (int32_t)(median(ucost, pairs) ^ 0x80000000u);
    kprintf("ringbench %s_on %u cycles/op\n", name, median(on, pairs));
    kprintf("ringbench %s_off %u cycles/op\n", name, median(off, pairs));
    kprintf("ringbench %s_cost %d permille\n", name, permille);
}

void ring_bench_run(void)
{
    if (!mm_ring_on) {
        kprintf("FAULT: ringbench needs the ring (boot without ring=off)\n");
        return;
    }
    window_alloc_free();   /* warm-up: translated code, TLB */
    window_mixed();
    window_opsbench();
    measure("alloc_free", window_alloc_free);
    measure("mixed", window_mixed);
    measure("opsbench", window_opsbench);
    kprintf("ringbench: done\n");
}
