/* usermode.h: the kernel's entry points for code that runs outside ring 0.
 *   proc_create_user a ring-3 process running one program of the user image (user_image.h)
 *                    in its own user space; system calls through int 0x80 (syscall.h)
 *   proc_user_fault  a fault (exception) from ring 3 or V86 mode that nothing handled: ends the
 *                    process with a console message, frees its memory, switches to another
 *   v86_trap         any exception or interrupt taken in V86 mode: the V86 monitor emulates
 *                    the sensitive instruction / service and returns the frame to resume, or
 *                    0 to let the default (proc_user_fault for exceptions, the IRQ handler) run
 * proc_user_fault and v86_trap return the stack pointer to resume (interrupt_dispatch's
 * convention). */
#ifndef USERMODE_H
#define USERMODE_H
#include <stdint.h>
#include "interrupts.h"

struct pcb;

/* pcb.exit_code: 0..255 is the code the process gave (SYS_EXIT, or main's result);
 * PROC_EXIT_KILLED | vector means exception `vector` from ring 3 / V86 mode ended it. */
#define PROC_EXIT_KILLED 0x100u
#define PROC_EXIT_CODE_MASK 0xFFu
/* pcb.exit_code of a user process another one ended (user_proc_kill). */
#define PROC_EXIT_TERMINATED 0x200u

/* Creates a ready ring-3 process `name` (pcb.mode = PROC_MODE_USER) that runs the user
 * program `program` (USER_PROGRAM in user/ulib.h) as main(arg): a private copy of the user
 * image at USER_IMAGE_VA (text read-only, data writable) and a one-block stack below
 * USER_STACK_TOP, all in chains owned by the process (OWNER_PROCESS, handle = pid) mapped
 * into its UPD. Returns NULL when the program does not exist, memory is exhausted, or
 * USER_MAX_PROCS user processes are alive. Everything it holds is freed when it ends. */
struct pcb *proc_create_user(const char *name, const char *program, uint32_t arg);
#define USER_MAX_PROCS 32u

/* Ends the current process (never pid 0) with pcb.exit_code = code: frees everything it
 * holds (proc_exit) and switches to another process. */
void proc_kill(uint32_t code) __attribute__((noreturn));

/* Ends user process `p` (not the caller) with pcb.exit_code = code, through its own exit
 * path: preempted in ring 3, it is made to resume in the kernel at proc_kill; inside a
 * system call, it ends when the call returns (a SYS_SLEEP first sleeps out its time, at
 * most 10 s). Returns 0, or -1 if p is not a live user process other than the caller. */
int user_proc_kill(struct pcb *p, uint32_t code);

/* Called by proc_exit: frees every chain the process owns (OWNER_PROCESS with handle = its
 * pid: its image, its stack, what it allocated through system calls) and its handle table.
 * Does nothing for processes that are not user processes. */
void usermode_release(struct pcb *p);

/* Finds the last value the process `pid` reported for `key` (SYS_REPORT). Returns 0 and
 * sets *value, or -1 if it reported none (the log keeps the last USER_REPORT_LOG reports). */
int user_report_find(uint32_t pid, uint32_t key, uint32_t *value);
#define USER_REPORT_LOG 64u
/* Number of live user processes (handle tables in use). */
uint32_t user_proc_count(void);
/* Counters: system calls served, user processes killed by a fault. */
extern uint32_t user_syscalls, user_kills;

uint32_t proc_user_fault(struct int_frame *f);
uint32_t v86_trap(struct int_frame *f);
#endif
