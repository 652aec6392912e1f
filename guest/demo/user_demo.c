/* user_demo.c: the demo's ring-3 processes (usermode.h). A kernel thread keeps
 * USER_DEMO_PROCS processes of the user program "ualloc" (user/prog_demo.c) running; each
 * allocates through system calls and, after a while, does something forbidden and is
 * killed by the kernel (the console shows the "user: pid N (ualloc) killed: ..." line).
 * For every one that ends, the thread reaps it and starts a replacement, up to
 * USER_DEMO_MAX_STARTS starts in all. A user process that reports its data changed (exit
 * code 1) stops the demo with a FAULT line, like the kernel workers' check. */
#include "console.h"
#include "modes.h"
#include "proc.h"
#include "usermode.h"

#define USER_DEMO_PROCS 3
#define USER_DEMO_MAX_STARTS 1000u

static struct pcb *running[USER_DEMO_PROCS];
static uint32_t starts, kills;

static struct pcb *start_one(void)
{
    if (starts >= USER_DEMO_MAX_STARTS)
        return 0;
    struct pcb *p = proc_create_user("ualloc", "ualloc", starts);
    if (p)
        starts++;
    return p;
}

static void supervisor(void *arg)
{
    (void)arg;
    for (int i = 0; i < USER_DEMO_PROCS; i++)
        running[i] = start_one();
    for (;;) {
        proc_sleep(100);
        for (int i = 0; i < USER_DEMO_PROCS; i++) {
            struct pcb *p = running[i];
            if (p && p->state != PROC_ZOMBIE)
                continue;
            if (p) {
                uint32_t pid = p->pid, code = p->exit_code;
                if (!(code & PROC_EXIT_KILLED))
                    panic("user demo: pid %u (%s) ended with exit code %u (1: its data changed)", pid, p->name, code);
                kills++;
                proc_reap(pid);
                running[i] = start_one();
                kprintf("user demo: pid %u killed (exit_code 0x%x), %u killed so far; replacement pid %u\n",
                        pid, code, kills, running[i] ? running[i]->pid : 0);
            } else {
                running[i] = start_one();   /* a start that failed for want of memory */
            }
        }
    }
}

void user_demo_start(void)
{
    if (!proc_create("userdemo", supervisor, 0))
        panic("demo: cannot create the user demo supervisor");
}
