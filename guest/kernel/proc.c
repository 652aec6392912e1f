/* proc.c: processes and the round-robin scheduler. A PCB holds only its UPD; switching
 * to a process copies its 64 UPD entries into KPD[0..63] and reloads CR3 (TLB flush). */
#include "proc.h"
#include "event_ring.h"
#include "console.h"
#include "dpmi.h"
#include "heap.h"
#include "interrupts.h"
#include "paging.h"
#include "string.h"
#include "timer.h"
#include "usermode.h"
#include "x86.h"
#include "v86.h"   /* v86_switch_in */

struct pcb *proc_list;
struct pcb *current;
struct vector proc_table;
uint32_t proc_context_switches;
static struct pcb pcb0;
static uint32_t next_pid = 1;
static int sched_on;

void proc_load_upd(struct pcb *p)
{
    memcpy(kpd, p->upd, sizeof p->upd);
    write_cr3(V2P(kpd));
}

extern uint8_t boot_stack_top[];

void proc_set_kernel_stack(struct pcb *p)
{
    tss_set_kernel_stack(p->kstack ? (uint32_t)(p->kstack + PROC_STACK_SIZE) : (uint32_t)boot_stack_top);
}

void proc_init(void)
{
    memset(&pcb0, 0, sizeof pcb0);
    strncpy_z(pcb0.name, "kernel", PROC_NAME_LEN);
    pcb0.state = PROC_RUNNING;
    current = &pcb0;
    proc_list = &pcb0;
    vec_init(&proc_table, sizeof(struct pcb *));
    struct pcb *p = &pcb0;
    vec_push(&proc_table, &p);
    proc_load_upd(&pcb0);
    proc_set_kernel_stack(&pcb0);
}

/* First code a new process runs: enables interrupts and calls its entry. */
static void proc_trampoline(void)
{
    sti();
    current->entry(current->arg);
    proc_exit();
}

struct pcb *proc_create(const char *name, void (*entry)(void *), void *arg)
{
    struct pcb *p = kzalloc(sizeof *p);
    if (!p)
        return 0;
    p->kstack = kmalloc(PROC_STACK_SIZE);
    if (!p->kstack) {
        kfree(p);
        return 0;
    }
    strncpy_z(p->name, name, PROC_NAME_LEN);
    p->entry = entry;
    p->arg = arg;
    struct int_frame *f = (struct int_frame *)(p->kstack + PROC_STACK_SIZE - sizeof *f - 16);
    memset(f, 0, sizeof *f);
    f->ds = f->es = f->fs = f->gs = 0x10;
    f->eip = (uint32_t)proc_trampoline;
    f->cs = 0x08;
    f->eflags = 0x002;   /* interrupts off until the trampoline */
    p->esp = (uint32_t)f;
    uint32_t fl = irq_save();
    if (vec_push(&proc_table, &p) < 0) {
        irq_restore(fl);
        kfree(p->kstack);
        kfree(p);
        return 0;
    }
    p->pid = next_pid++;
    struct pcb *last = proc_list;
    while (last->next)
        last = last->next;
    last->next = p;
    p->state = PROC_READY;
    irq_restore(fl);
    return p;
}

struct pcb *proc_find(uint32_t pid)
{
    for (struct pcb *p = proc_list; p; p = p->next)
        if (p->pid == pid)
            return p;
    return 0;
}

void sched_enable(int on)
{
    sched_on = on;
}

uint32_t sched_switch(uint32_t esp)
{
    struct int_frame *f = (struct int_frame *)esp;
    if (f->vector != VEC_YIELD && !sched_on)
        return esp;
    uint32_t now = timer_ticks;
    struct pcb *next = 0;
    for (struct pcb *p = current->next ? current->next : proc_list; p != current;
         p = p->next ? p->next : proc_list) {
        if (p->state == PROC_SLEEPING && (int32_t)(now - p->wake_tick) >= 0)
            p->state = PROC_READY;
        if (p->state == PROC_READY) {
            next = p;
            break;
        }
    }
    if (!next)
        return esp;
    current->esp = esp;
    if (current->state == PROC_RUNNING)
        current->state = PROC_READY;
    next->state = PROC_RUNNING;
    next->switches++;
    proc_context_switches++;
    mm_ring_event_pid(MM_EV_SWITCH, 0, 0, 0, next->pid, MM_OK, 0, 0, current->pid);
    current = next;
    proc_load_upd(next);
    proc_set_kernel_stack(next);
    v86_switch_in(next);   /* a DPMI client's LDT */
    return next->esp;
}

void proc_yield(void)
{
    __asm__ volatile("int $0x81" ::: "memory");
}

void proc_sleep(uint32_t ms)
{
    uint32_t wake = timer_ticks + ms;
    while ((int32_t)(timer_ticks - wake) < 0) {
        uint32_t f = irq_save();
        current->wake_tick = wake;
        current->state = PROC_SLEEPING;
        irq_restore(f);
        proc_yield();
        if (current->state == PROC_SLEEPING && (int32_t)(timer_ticks - wake) < 0)
            hlt();
    }
    current->state = PROC_RUNNING;
}

void proc_exit(void)
{
    if (current == &pcb0)
        panic("process 0 cannot exit");
    v86_release(current);                 /* a DOS task's XMS handles and low chain */
    dpmi_release_process(current->pid);   /* its DPMI and DOS blocks */
    usermode_release(current);            /* a user process's chains (image, stack, its own) */
    mm_release_upd(current->upd);
    cli();
    current->state = PROC_ZOMBIE;
    for (;;) {
        proc_yield();
        sti();
        hlt();
        cli();
    }
}

int proc_reap(uint32_t pid)
{
    uint32_t f = irq_save();
    struct pcb *prev = 0, *p = proc_list;
    while (p && p->pid != pid) {
        prev = p;
        p = p->next;
    }
    if (!p || p->state != PROC_ZOMBIE || !prev) {
        irq_restore(f);
        return -1;
    }
    prev->next = p->next;
    for (uint32_t i = 0; i < proc_table.length; i++)
        if (*(struct pcb **)vec_at(&proc_table, i) == p) {
            vec_remove(&proc_table, i);
            break;
        }
    irq_restore(f);
    kfree(p->v86);
    kfree(p->kstack);
    kfree(p);
    return 0;
}
