/* test_proc.c: processes switched by the timer, each with its own UPD copied into the KPD
 * on every switch: the same user address shows each process its own memory. */
#include "heap.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "test.h"
#include "timer.h"
#include "x86.h"

#define USER_VA 0x00400000u
#define WORKERS 3

struct worker {
    volatile uint32_t rounds;      /* times it found its own data in place */
    volatile uint32_t errors;      /* times it saw another process's data or a bad KPD slice */
    volatile uint32_t done;
    chain_id_t chain;
    uint32_t pid;
};

/* Maps a private chain at USER_VA, writes its pid there, then spins (never yielding) and
 * checks, across timer preemptions, that USER_VA still holds its own pid. */
static void worker_main(void *arg)
{
    struct worker *w = arg;
    w->pid = current->pid;
    w->chain = MmAllocateChain(CHAIN_USER, 1);
    if (!w->chain || MmMapChainToVirtualAddress(MAP_UPD, w->chain, (void *)USER_VA, 0, current->upd) != MM_OK) {
        w->errors++;
        w->done = 1;
        return;
    }
    volatile uint32_t *p = (volatile uint32_t *)USER_VA;
    p[0] = 0x50000000u | w->pid;
    uint32_t seen_switches = current->switches;
    uint32_t deadline = timer_ms() + 3000;
    while (w->rounds < 5 && (int32_t)(timer_ms() - deadline) < 0) {
        if (p[0] != (0x50000000u | w->pid))
            w->errors++;
        /* The live slice equals the PCB's UPD, except for the accessed bit the CPU sets
         * in the KPD copy as it walks it. */
        for (uint32_t i = 0; i < UPD_ENTRIES; i++)
            if ((kpd[i] & ~PTE_A) != current->upd[i])
                w->errors += 0x10000;
        if (current->switches != seen_switches) {   /* we were preempted and came back */
            seen_switches = current->switches;
            w->rounds++;
        }
    }
    MmUnmapChain(MAP_UPD, w->chain, (void *)USER_VA, current->upd);
    MmFreeChain(w->chain);
    w->done = 1;
}

TEST(proc, timer_switches_upds)
{
    static struct worker w[WORKERS];
    memset(w, 0, sizeof w);
    uint32_t frames = pt_frames_used();
    uint32_t switches = proc_context_switches;
    struct pcb *p[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        p[i] = proc_create("worker", worker_main, &w[i]);
        CHECK(p[i]);
    }
    sched_enable(1);
    uint32_t deadline = timer_ms() + 5000;
    for (;;) {
        int all = 1;
        for (int i = 0; i < WORKERS; i++)
            all &= w[i].done && p[i]->state == PROC_ZOMBIE;
        if (all || (int32_t)(timer_ms() - deadline) >= 0)
            break;
        hlt();
    }
    sched_enable(0);
    for (int i = 0; i < WORKERS; i++) {
        CHECK(w[i].done);
        CHECK_EQ(w[i].errors, 0);
        CHECK(w[i].rounds >= 5);                 /* preempted by the timer at least 5 times */
        CHECK_EQ(w[i].pid, p[i]->pid);
        CHECK_OK(proc_reap(p[i]->pid));
    }
    CHECK(proc_context_switches - switches >= WORKERS * 5);
    CHECK_EQ(pt_frames_used(), frames);           /* exit gave the page tables back */
    for (uint32_t i = 0; i < UPD_ENTRIES; i++)
        CHECK_EQ(kpd[i] & ~PTE_A, current->upd[i]);
    CHECK_EQ(current->pid, 0);
    return 0;
}

TEST(proc, list_and_lookup)
{
    struct pcb *a = proc_create("alpha", 0, 0);
    CHECK(a);
    CHECK(proc_find(a->pid) == a);
    CHECK(!strcmp(a->name, "alpha"));
    CHECK_EQ(a->state, PROC_READY);
    int in_list = 0;
    for (struct pcb *p = proc_list; p; p = p->next)
        in_list += p == a;
    CHECK_EQ(in_list, 1);
    CHECK_EQ(proc_reap(a->pid), -1);             /* not a zombie: refused */
    a->state = PROC_ZOMBIE;                       /* never ran: retire it directly */
    CHECK_OK(proc_reap(a->pid));
    CHECK(proc_find(a->pid) == 0);
    CHECK_EQ(proc_reap(0), -1);
    return 0;
}
