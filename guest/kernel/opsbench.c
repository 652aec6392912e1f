/* opsbench.c: the `opsbench` workload. Kernel processes allocate, map, write, unmap and free
 * chains back to back, never sleeping, so the memory manager is always busy (a live snapshot
 * contends with it) and the work per operation is the same from one second to the next; the
 * host measures the guest's speed by reading opsbench_ops. */
#include "console.h"
#include "mm.h"
#include "opsbench.h"
#include "proc.h"
#include "timer.h"

#define OPSBENCH_PROCS 4
#define OPSBENCH_VA(i) (0x01000000u + (uint32_t)(i) * 0x00100000u)   /* 1 MiB apart */

volatile uint32_t opsbench_ops;
static struct opsbench_worker workers[OPSBENCH_PROCS];

int opsbench_op(struct opsbench_worker *w, uint32_t *upd)
{
    uint32_t blocks = 1 + w->n % 4, pages = blocks * MM_PAGES_PER_BLOCK;
    chain_id_t id = MmAllocateChain(CHAIN_USER, blocks);
    if (!id)
        return mm_last_error;
    int r = MmMapChainToVirtualAddress(MAP_UPD, id, (void *)w->va, 0, upd);
    if (r != MM_OK) {
        MmFreeChain(id);
        return r;
    }
    volatile uint32_t *p = (volatile uint32_t *)w->va;
    for (uint32_t i = 0; i < pages; i++)
        p[i * 1024] = w->n ^ i;
    for (uint32_t i = 0; i < pages && r == MM_OK; i++)
        if (p[i * 1024] != (w->n ^ i))
            r = -1;
    int u = MmUnmapChain(MAP_UPD, id, (void *)w->va, upd);
    int f = MmFreeChain(id);
    if (r == MM_OK)
        r = u != MM_OK ? u : f;
    if (r != MM_OK)
        return r;
    w->n++;
    __atomic_add_fetch(&opsbench_ops, 1, __ATOMIC_RELAXED);
    return MM_OK;
}

/* A worker process: opsbench_op forever in its own user space; any failure is a bug. */
static void worker(void *arg)
{
    struct opsbench_worker *w = arg;
    for (;;) {
        int r = opsbench_op(w, current->upd);
        if (r != MM_OK)
            panic("opsbench: operation %u of the worker at 0x%x failed: %d", w->n, w->va, r);
    }
}

void opsbench_run(void)
{
    for (uint32_t i = 0; i < OPSBENCH_PROCS; i++) {
        workers[i] = (struct opsbench_worker){OPSBENCH_VA(i), 0};
        if (!proc_create("opsbench", worker, &workers[i]))
            panic("opsbench: out of memory creating process %u", i);
    }
    kprintf("opsbench: ready, %u processes\n", OPSBENCH_PROCS);
    sched_enable(1);
    for (uint32_t beat = 1;; beat++) {
        proc_sleep(1000);
        kprintf("heartbeat %u t=%ums ops=%u\n", beat, timer_ms(), opsbench_ops);
    }
}
