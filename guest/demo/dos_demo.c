/* dos_demo.c: the demo's DOS tasks. A kernel thread ("dosmgr") starts the DOS programs one
 * after another, forever: dosdemo (DOS memory and XMS with data checked, 20 rounds of 100 ms)
 * and dpmitest (a DPMI client); it waits for each to end, reaps it, and prints one line with
 * its verdict. A task that fails or is killed ends the demo with a FAULT line. */
#include "console.h"
#include "modes.h"
#include "proc.h"
#include "v86.h"

static const char *const programs[] = {"dosdemo", "dpmitest"};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

static void dos_manager(void *arg)
{
    (void)arg;
    for (uint32_t run = 0;; run++) {
        const char *name = programs[run % NPROGRAMS];
        const struct dos_program *prog = dos_program_find(name);
        if (!prog)
            panic("dos demo: program %s is not embedded", name);
        struct pcb *p = v86_task_create(name, prog->start, prog->size);
        if (!p) {                      /* memory is short right now: try again later */
            proc_sleep(1000);
            continue;
        }
        while (v86_task_wait(p, 60000) != 0)   /* hung: end it (it is then reported as killed) */
            v86_task_kill(p);
        uint32_t pid = p->pid, status = p->v86->status, code = p->exit_code, check = p->v86->report_code;
        if (proc_reap(pid) != 0)
            panic("dos demo: cannot reap task %u", pid);
        if (status != V86_PASSED)
            panic("dos demo: %s (task %u) ended with status %u, exit code 0x%x, check %u", name, pid, status, code, check);
        kprintf("dos demo: %s (task %u) passed, run %u\n", name, pid, run + 1);
        proc_sleep(500);
    }
}

void dos_demo_start(void)
{
    if (!proc_create("dosmgr", dos_manager, 0))
        panic("dos demo: cannot create its manager");
}
