/* opsbench.h: the CPU-bound memory-manager workload (cmdline `opsbench`) that the host's
 * live-refresh benchmark and soak test run: processes that allocate, map, write, unmap and
 * free chains in a loop without sleeping, counting completed operations in opsbench_ops. */
#ifndef OPSBENCH_H
#define OPSBENCH_H
#include <stdint.h>

/* Operations completed since boot, by every opsbench process (wraps at 2^32). The host reads
 * it by its ELF symbol through the guest RAM file. */
extern volatile uint32_t opsbench_ops;

/* One operation's worth of state: which virtual address it maps at and which operation is next. */
struct opsbench_worker {
    uint32_t va;      /* user-space address (page aligned, below 256 MiB) of its mapping */
    uint32_t n;       /* operations done; selects the chain's size (1 + n % 4 blocks) */
};

/* One operation: allocates a chain of 1 + n % 4 blocks, maps it at w->va in the UPD `upd`,
 * writes a word into every page and checks them, unmaps and frees it; then counts it in
 * opsbench_ops. Returns MM_OK, or the memory manager's error (nothing is left allocated or
 * mapped then; -1 when a written word did not read back). */
int opsbench_op(struct opsbench_worker *w, uint32_t *upd);

/* Runs the workload forever: OPSBENCH_PROCS processes doing opsbench_op back to back, and a
 * heartbeat line every second from process 0. */
void opsbench_run(void) __attribute__((noreturn));
#endif
