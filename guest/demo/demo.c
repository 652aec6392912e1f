/* demo.c: the demo workload. Several processes allocate chains, map them into their own
 * user space, write and verify data, resize and free them, while process 0 prints a
 * heartbeat every second, checks every invariant, and defragments now and then. It runs
 * until QEMU is stopped; any broken invariant or lost data ends it with a FAULT line. */
#include "console.h"
#include "heap.h"
#include "inject.h"
#include "modes.h"
#include "mm.h"
#include "proc.h"
#include "string.h"
#include "timer.h"
#include "x86.h"

#define SLOTS 8
#define SLOT_VA(i) (0x00400000u + (uint32_t)(i) * 0x00100000u)   /* 1 MiB apart */
#define MAX_SLOT_BLOCKS 8

struct slot {
    chain_id_t chain;      /* 0 = empty */
    uint32_t seed;         /* pattern seed of its contents */
};

struct worker {
    const char *name;
    uint32_t rng;
    uint32_t ops;
    struct slot slots[SLOTS];
};

static struct worker workers[] = {
    {"editor", 0x1234567u, 0, {{0, 0}}},
    {"compiler", 0x89ABCDEu, 0, {{0, 0}}},
    {"player", 0x5A5A5A5u, 0, {{0, 0}}},
    {"shell", 0x0F0F0F1u, 0, {{0, 0}}},
};
#define NWORKERS (sizeof workers / sizeof workers[0])

static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    struct worker *w = ctx;
    for (int i = 0; i < SLOTS; i++)
        if (w->slots[i].chain == old_id)
            w->slots[i].chain = new_id;
}

/* Writes a pattern in the first word of every page of slot i through its mapping. */
static void fill(struct slot *s, uint32_t i, uint32_t pages)
{
    volatile uint32_t *va = (volatile uint32_t *)SLOT_VA(i);
    for (uint32_t p = 0; p < pages; p++)
        va[p * 1024] = s->seed + p;
}

static void verify(struct worker *w, struct slot *s, uint32_t i)
{
    uint32_t pages = MmChainBlocks(s->chain) * MM_PAGES_PER_BLOCK;
    volatile uint32_t *va = (volatile uint32_t *)SLOT_VA(i);
    if (!pages)
        panic("%s: slot %u holds dead chain %u", w->name, i, s->chain);
    for (uint32_t p = 0; p < pages; p++)
        if (va[p * 1024] != s->seed + p)
            panic("%s: data lost in chain %u page %u (0x%x != 0x%x)", w->name, s->chain, p,
                  va[p * 1024], s->seed + p);
}

/* One random operation on one slot, with interrupts off so that a defragmentation in
 * another process cannot rename the chain between our calls. */
static void step(struct worker *w)
{
    uint32_t i = rand32(&w->rng) % SLOTS, r = rand32(&w->rng) % 10;
    struct slot *s = &w->slots[i];
    uint32_t f = irq_save();
    if (!s->chain) {
        uint32_t blocks = 1 + rand32(&w->rng) % MAX_SLOT_BLOCKS;
        chain_id_t id = MmAllocateChain(CHAIN_USER | (r < 2 ? CHAIN_SWAPPABLE : 0), blocks);
        if (id && MmMapChainToVirtualAddress(MAP_UPD, id, (void *)SLOT_VA(i), 0, current->upd) == MM_OK) {
            s->chain = id;
            s->seed = rand32(&w->rng);
            fill(s, i, blocks * MM_PAGES_PER_BLOCK);
        } else if (id) {
            MmFreeChain(id);
        }
    } else {
        verify(w, s, i);
        if (r < 3) {
            MmFreeChain(s->chain);
            s->chain = 0;
        } else if (r < 5) {
            uint32_t blocks = 1 + rand32(&w->rng) % MAX_SLOT_BLOCKS;
            MmUnmapChain(MAP_UPD, s->chain, (void *)SLOT_VA(i), current->upd);
            if (MmResizeChain(s->chain, blocks) == MM_OK) {
                MmMapChainToVirtualAddress(MAP_UPD, s->chain, (void *)SLOT_VA(i), 0, current->upd);
                fill(s, i, blocks * MM_PAGES_PER_BLOCK);
            } else {
                MmFreeChain(s->chain);
                s->chain = 0;
            }
        } else if (r < 6) {
            MmCleanChain(s->chain);
        }
    }
    w->ops++;
    irq_restore(f);
}

static void worker_main(void *arg)
{
    struct worker *w = arg;
    if (mm_add_relocation_listener(follow, w) != MM_OK)
        panic("%s: no room for a relocation listener", w->name);
    for (;;) {
        step(w);
        proc_sleep(10 + rand32(&w->rng) % 40);
    }
}

/* Stopping point for debuggers right after a chain dump: the state equals the dump. */
__attribute__((noinline)) void mm_checkpoint(uint32_t seq)
{
    __asm__ volatile("" : : "r"(seq) : "memory");
}

/* Included here, not above, so that the allocation sites above keep their lines (the recorded
 * documents of extension/test/fixtures name them by line). */
#include "swap.h"

/* Prints the whole chain table in the checkpoint format of docs/chain-table.md:
 *   chaindump begin SEQ
 *   chain ID FLAGS FIRST+COUNT,FIRST+COUNT,...     (decimal ID and blocks, hex flags;
 *                                                   a swapped-out block is sSLOT)
 *   chaindump end SEQ CHAINS
 * then calls mm_checkpoint(SEQ). Interrupts are off throughout. */
static void chain_dump(uint32_t seq)
{
    uint32_t f = irq_save(), chains = 0;
    kprintf("chaindump begin %u\n", seq);
    for (uint32_t h = 1; h < mm_block_count; h++) {
        if (!ct_is_head(mm_block_table[h]))
            continue;
        chains++;
        kprintf("chain %u %x ", h, ct_flags(mm_block_table[h]));
        /* The head is resident and first; every later item (run or swapped block) gets a comma. */
        uint32_t first = h, count = 1, prev = h, steps = 0;
        const char *sep = "";
        for (uint32_t b = mm_next_link(h); b != CT_END && steps++ < mm_block_count + swap_slot_count; b = mm_next_link(b)) {
            if (!ct_is_swapped_link(b) && count && b == prev + 1) {
                count++;
            } else {
                if (count)
                    kprintf("%s%u+%u", sep, first, count);
                sep = ",";
                count = 0;
                if (ct_is_swapped_link(b)) {
                    kprintf(",s%u", ct_swap_slot(b));
                } else {
                    first = b;
                    count = 1;
                }
            }
            prev = b;
        }
        if (count)
            kprintf("%s%u+%u", sep, first, count);
        kprintf("\n");
    }
    kprintf("chaindump end %u %u\n", seq, chains);
    mm_checkpoint(seq);
    irq_restore(f);
}

/* After a fault injection the world stops: no more switching, no invariant checks (they
 * would fail by design), just heartbeats, so the debugger sees the broken state. */
static void idle_after_injection(const char *kind)
{
    sched_enable(0);
    for (uint32_t beat = 1;; beat++) {
        uint32_t until = timer_ms() + 1000;
        while ((int32_t)(timer_ms() - until) < 0)
            hlt();
        kprintf("heartbeat %u t=%ums injected=%s\n", beat, timer_ms(), kind);
    }
}

void swap_demo_start(void);   /* demo/swap_demo.c */

void demo_run(void)
{
    char inject[40];
    const char *kind = cmdline_get(kernel_cmdline, "inject", inject, sizeof inject);
    int dumps = cmdline_has(kernel_cmdline, "chaindump");
    kprintf("demo: starting %u processes\n", (uint32_t)NWORKERS);
    for (uint32_t i = 0; i < NWORKERS; i++)
        if (!proc_create(workers[i].name, worker_main, &workers[i]))
            panic("demo: cannot create process %s", workers[i].name);
    user_demo_start();
    swap_demo_start();
    sched_enable(1);
    dos_demo_start();   /* DOS tasks in V86 mode (demo/dos_demo.c), after the other processes */
    for (uint32_t beat = 1;; beat++) {
        proc_sleep(1000);
        const char *why = 0;
        uint32_t f = irq_save();
        if (mm_check(&why) != MM_OK)
            panic("invariant broken: %s", why);
        uint32_t chains = 0, ops = 0;
        for (uint32_t b = 1; b < mm_block_count; b++)
            chains += ct_is_head(mm_block_table[b]);
        for (uint32_t i = 0; i < NWORKERS; i++)
            ops += workers[i].ops;
        uint32_t frag = mm_fragmentation_percent();
        irq_restore(f);
        kprintf("heartbeat %u t=%ums procs=%u chains=%u free=%u/%u frag=%u%% ops=%u switches=%u defrag=%u/%u\n",
                beat, timer_ms(), proc_table.length, chains, mm_free_blocks, mm_block_count, frag, ops,
                proc_context_switches, mm_defrag_runs, mm_defrag_moved);
        if (beat % 10 == 0 && frag > 10)
            MmDefragment();
        if (dumps)
            chain_dump(beat);
        if (kind && beat == 2) {
            uint32_t fl = irq_save();
            sched_enable(0);
            int r = fault_inject(kind);
            irq_restore(fl);
            if (r != 0)
                panic("inject: unknown kind or setup failed: %s", kind);
            kprintf("inject: %s done\n", kind);
            idle_after_injection(kind);
        }
    }
}
