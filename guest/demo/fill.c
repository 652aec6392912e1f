/* fill.c: the `fill` workload for the snapshot benchmark. Fills memory with chains and many
 * page tables (15 processes, each with all 64 UPD entries in use, every chain mapped),
 * prints "fill: ready", then idles with heartbeats so a debugger can time its snapshots.
 * `fill churn`: the same, and a kernel thread keeps allocating, mapping, unmapping and freeing
 * small chains on top of it (the snapshot after the guest ran, bench/snapshot.ts). */
#include "console.h"
#include "modes.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "timer.h"
#include "x86.h"

#define FILL_PROCS 15

static struct pcb *procs[FILL_PROCS];

/* Chains the churner holds at once: the oldest is unmapped and freed before the next one. */
#define CHURN_HELD 64
/* The free 64 KiB at the top of every 4 MiB of a filler's user space (fill's chains end below). */
#define CHURN_OFFSET 0x3f0000u

static uint32_t churn_ops;

/* Keeps CHURN_HELD chains of 1..4 blocks mapped at CHURN_OFFSET of successive directory entries
 * of the fillers, replacing the oldest each step (unmap, free, allocate, map): page tables,
 * the block table and the owner records change all the time while fill's ~960 tables stay.
 * Yields after each step. Panics on an error (a workload: its failure is the bench's). */
static void churner(void *arg)
{
    (void)arg;
    chain_id_t held[CHURN_HELD] = { 0 };
    uint32_t *upd_of[CHURN_HELD] = { 0 };
    uint32_t va_of[CHURN_HELD] = { 0 };
    for (uint32_t step = 0;; step++) {
        uint32_t slot = step % CHURN_HELD;
        if (held[slot]) {
            int st = MmUnmapChain(MAP_UPD, held[slot], (void *)va_of[slot], upd_of[slot]);
            if (st != MM_OK)
                panic("churn: unmap of chain %u: %s", held[slot], mm_strerror(st));
            st = MmFreeChain(held[slot]);
            if (st != MM_OK)
                panic("churn: free of chain %u: %s", held[slot], mm_strerror(st));
            held[slot] = 0;
        }
        /* The places of the last CHURN_HELD steps differ (CHURN_HELD < FILL_PROCS * UPD_ENTRIES). */
        uint32_t place = step % (FILL_PROCS * UPD_ENTRIES);
        uint32_t blocks = 1 + step % 4;
        chain_id_t id = MmAllocateChain(CHAIN_USER, blocks);
        if (!id) {
            proc_yield();
            continue;
        }
        uint32_t *upd = procs[place % FILL_PROCS]->upd;
        uint32_t va = (place / FILL_PROCS) * 0x400000u + CHURN_OFFSET;
        if (mm_map_pages(MAP_UPD, id, va, 0, 0, upd) != MM_OK)
            panic("churn: cannot map chain %u at 0x%x", id, va);
        held[slot] = id;
        upd_of[slot] = upd;
        va_of[slot] = va;
        churn_ops++;
        proc_yield();
    }
}

static void sleeper(void *arg)
{
    (void)arg;
    for (;;)
        proc_sleep(1000);
}

void fill_run(void)
{
    uint32_t tables0 = pt_frames_used();
    /* Every process maps one block of its own chain in each of its 64 directory entries. */
    for (uint32_t i = 0; i < FILL_PROCS; i++) {
        struct pcb *p = proc_create("filler", sleeper, 0);
        chain_id_t id = MmAllocateChain(CHAIN_USER, UPD_ENTRIES);
        if (!p || !id)
            panic("fill: out of memory creating process %u", i);
        procs[i] = p;
        for (uint32_t e = 0; e < UPD_ENTRIES; e++)
            if (mm_map_pages(MAP_UPD, id, e * 0x400000u + 0x1000u, e * MM_PAGES_PER_BLOCK, MM_PAGES_PER_BLOCK, p->upd) != MM_OK)
                panic("fill: cannot map entry %u of process %u", e, i);
    }
    /* Half of the remaining blocks in 8-block chains, each mapped in a process's user space
     * (31 chains of 128 KiB after the first 64 KiB of every 4 MiB), round robin. */
    uint32_t chains = 0, target = mm_free_blocks / 2;
    while (mm_free_blocks > target) {
        uint32_t slot = chains / FILL_PROCS, pde = slot / 31;
        if (pde >= UPD_ENTRIES)
            break;
        chain_id_t id = MmAllocateChain(CHAIN_USER, 8);
        if (!id)
            break;
        uint32_t va = pde * 0x400000u + 0x10000u + (slot % 31) * 8 * MM_BLOCK_SIZE;
        if (mm_map_pages(MAP_UPD, id, va, 0, 0, procs[chains % FILL_PROCS]->upd) != MM_OK)
            panic("fill: cannot map chain %u at 0x%x", chains, va);
        chains++;
    }
    kprintf("fill: ready, %u page tables, %u chains, %u of %u blocks free\n", pt_frames_used() - tables0, chains,
            mm_free_blocks, mm_block_count);
    int churn = cmdline_has(kernel_cmdline, "churn");
    if (churn && !proc_create("churner", churner, 0))
        panic("fill: cannot start the churner");
    sched_enable(1);
    for (uint32_t beat = 1;; beat++) {
        proc_sleep(1000);
        if (churn)
            kprintf("heartbeat %u t=%ums churn=%u\n", beat, timer_ms(), churn_ops);
        else
            kprintf("heartbeat %u t=%ums\n", beat, timer_ms());
    }
}
