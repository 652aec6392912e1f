/* fill.c: the `fill` workload for the snapshot benchmark. Fills memory with chains and many
 * page tables (15 processes, each with all 64 UPD entries in use, every chain mapped),
 * prints "fill: ready", then idles with heartbeats so a debugger can time its snapshots. */
#include "console.h"
#include "modes.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "timer.h"
#include "x86.h"

#define FILL_PROCS 15

static void sleeper(void *arg)
{
    (void)arg;
    for (;;)
        proc_sleep(1000);
}

void fill_run(void)
{
    uint32_t tables0 = pt_frames_used();
    struct pcb *procs[FILL_PROCS];
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
    sched_enable(1);
    for (uint32_t beat = 1;; beat++) {
        proc_sleep(1000);
        kprintf("heartbeat %u t=%ums\n", beat, timer_ms());
    }
}
