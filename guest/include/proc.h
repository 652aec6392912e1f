/* proc.h: processes. A PCB keeps only its UPD (the 64 page-directory entries of its
 * 256 MiB user space); every context switch copies them into KPD[0..63] and reloads CR3.
 * A process is a kernel thread (ring 0), a ring-3 user process, or a DOS task (V86 mode,
 * possibly switched into a DPMI protected-mode client); each has its own kernel stack, whose
 * top the TSS's esp0 holds while it runs. */
#ifndef PROC_H
#define PROC_H
#include <stdint.h>
#include "mm.h"
#include "vector.h"

enum proc_state { PROC_UNUSED = 0, PROC_READY = 1, PROC_RUNNING = 2, PROC_SLEEPING = 3, PROC_ZOMBIE = 4 };
/* How a process runs. Part of the debugger contract (mm_debug_info.pcb_off_mode). */
enum proc_mode {
    PROC_MODE_KERNEL = 0,   /* kernel thread: ring 0 */
    PROC_MODE_USER   = 1,   /* ring-3 user process: system calls through int 0x80 */
    PROC_MODE_V86    = 2,   /* DOS task in virtual-8086 mode (pcb.v86 describes it) */
    PROC_MODE_DPMI   = 3,   /* DOS task that switched into a 32-bit DPMI protected-mode client */
};
struct v86_task;

#define PROC_NAME_LEN 16
#define PROC_STACK_SIZE 16384u

struct pcb {
    uint32_t pid;
    char name[PROC_NAME_LEN];
    uint32_t state;              /* enum proc_state */
    uint32_t upd[UPD_ENTRIES];   /* the process's user page directory (UPD) */
    uint32_t esp;                /* saved kernel stack pointer while not running */
    uint8_t *kstack;             /* kernel stack (heap), PROC_STACK_SIZE bytes */
    struct pcb *next;            /* next PCB in the process list (proc_list) */
    uint32_t switches;           /* times it was switched in */
    uint32_t wake_tick;          /* for PROC_SLEEPING */
    void (*entry)(void *);
    void *arg;
    uint32_t mode;               /* enum proc_mode */
    struct v86_task *v86;        /* DOS tasks (PROC_MODE_V86/DPMI): their state (v86.h); else 0 */
    uint32_t exit_code;          /* why it ended (0 = returned normally; see proc_kill) */
};

extern struct pcb *proc_list;        /* head of the PCB list (pid 0 first) */
extern struct pcb *current;          /* the running process */
extern struct vector proc_table;     /* of struct pcb *, indexed by creation order */
extern uint32_t proc_context_switches;

/* Makes the boot context process 0 ("kernel"). */
void proc_init(void);
/* Creates a ready process running entry(arg). Returns NULL if memory is exhausted. */
struct pcb *proc_create(const char *name, void (*entry)(void *), void *arg);
/* Finds a process by pid, or NULL. */
struct pcb *proc_find(uint32_t pid);
/* Lets the timer switch processes (round robin) from now on. */
void sched_enable(int on);
/* Gives up the CPU to the next ready process. */
void proc_yield(void);
/* Sleeps for at least `ms` milliseconds. */
void proc_sleep(uint32_t ms);
/* Ends the calling process (never pid 0): frees its user space and stack. */
void proc_exit(void) __attribute__((noreturn));
/* Removes a zombie's PCB and frees its memory. Returns 0, or -1 if pid is not a zombie. */
int proc_reap(uint32_t pid);
/* Copies the current process's UPD into KPD[0..63] and flushes the TLB. */
void proc_load_upd(struct pcb *p);

/* Points the TSS's esp0 at the top of p's kernel stack (the boot stack for pid 0). */
void proc_set_kernel_stack(struct pcb *p);

/* Called by the interrupt stub with the saved stack pointer; returns the one to resume. */
uint32_t sched_switch(uint32_t esp);
#endif
