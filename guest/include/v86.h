/* v86.h: DOS tasks. A DOS task is a process in virtual-8086 mode with its own first
 * megabyte, mapped through its UPD:
 *   0x00000-0x0FFFF  a private frozen chain (`low_chain`): IVT, BIOS data, the PSP and the
 *                    .COM program (PSP at psp_seg:0, code at psp_seg:0100h), its stack
 *   0x10000-0x9BFFF  the DOS arena, identity mapped: INT 21h allocations (MCB allocator, dos.h)
 *                    are owned by `mcb_owner` (pid + 1) and are visible at their real segment
 *   0x9C000-0xFFFFF  not mapped
 * The kernel's monitor handles the sensitive instructions (INT n, IRET, PUSHF, POPF, CLI,
 * STI) and the services: INT 21h (48h/49h/4Ah, 4Ch exit), INT 2Fh (4300h, 4310h, 1687h),
 * the XMS far-call entry and the DPMI mode switch (docs/guest-memory-services.md).
 * Files: kernel/v86.c (tasks, trap entry, ending), v86_monitor.c (instructions),
 * dos_services.c (V86 services), dpmi_client.c (DPMI clients). */
#ifndef V86_H
#define V86_H
#include <stdint.h>
#include "mm.h"

#define V86_LDT_ENTRIES 16
#define V86_OUT_LEN 80

/* A DOS task's state. The first fields are part of the debugger contract (mm_debug_info.v86_*). */
struct v86_task {
    chain_id_t low_chain;   /* the private first 64 KiB */
    uint32_t low_pages;     /* pages of it mapped from linear 0 */
    uint16_t mcb_owner;     /* owner id of its MCB blocks (pid + 1) */
    uint16_t psp_seg;       /* segment of its PSP */
    uint32_t status;        /* 0 running, 1 passed, 2 failed (its own report), 3 killed */
    /* ---- monitor state (not part of the debugger contract) ---- */
    uint32_t vif;           /* the task's virtual interrupt flag (EFLAGS_IF or 0) */
    uint32_t reports;       /* pass/fail reports it made (INT 21h AH=0FFh) */
    uint32_t report_code;   /* the DX of its last failure report (which check failed) */
    uint32_t checkpoints;   /* bit n: it passed its group n of checks (INT 21h AH=0FEh AL=n) */
    uint32_t faults;        /* 1 when the monitor ended it for an unhandled fault */
    uint32_t fault_vector;  /* that fault's vector and error code */
    uint32_t fault_error;
    uint32_t dpmi_32bit;    /* after the DPMI switch: 1 for a 32-bit client */
    uint16_t dpmi_host_seg; /* the host data segment the client gave (ES at the switch) */
    uint16_t ldt_used;      /* bit i: LDT entry i is allocated */
    uint16_t ldt_dos_seg[V86_LDT_ENTRIES];   /* entry i describes DOS block at this segment (0100h) */
    uint64_t ldt[V86_LDT_ENTRIES];           /* the task's LDT (DPMI clients), loaded by v86_switch_in */
    char out[V86_OUT_LEN];  /* the last console line it printed (INT 21h 02h/09h), for tests */
    char line[V86_OUT_LEN]; /* the line being printed: the console gets whole lines only, */
    uint32_t line_len;      /* as "dos[PID]: text", so task output never splits kernel lines */
};

/* The task's first megabyte (linear addresses inside the task). */
#define V86_IVT_STUB_SEG   0x0050u   /* 0050:0000 iret: where every IVT vector points */
#define V86_XMS_ENTRY_OFF  0x0010u   /* 0050:0010 the XMS entry: int V86_VEC_XMS; retf */
#define V86_DPMI_ENTRY_OFF 0x0020u   /* 0050:0020 the DPMI mode switch: int V86_VEC_DPMI; retf */
#define V86_PSP_SEG        0x0100u   /* PSP at 0x1000, the program at 0100:0100 */
#define V86_STACK_TOP      0xEFFEu   /* SS:SP = PSP:EFFE (linear 0xFFFE), a 0 word there */
#define V86_MAX_PROGRAM    (V86_STACK_TOP - 0x0100u - 0x1000u)   /* keeps 4 KiB of stack */
#define V86_LOW_PAGES      16u       /* 64 KiB */
#define V86_VEC_XMS        0xE0u     /* monitor-reserved vectors (INT n in V86 mode traps) */
#define V86_VEC_DPMI       0xE1u
#define V86_HOST_PARAS     1u        /* paragraphs of DPMI host data (INT 2Fh 1687h SI) */

/* Task status (v86_task.status). */
#define V86_RUNNING 0u
#define V86_PASSED  1u
#define V86_FAILED  2u
#define V86_KILLED  3u

struct pcb;
struct int_frame;

/* The linear address of real-mode seg:off (both taken as 16-bit). */
static inline uint32_t v86_linear(uint32_t seg, uint32_t off)
{
    return ((seg & 0xFFFFu) << 4) + (off & 0xFFFFu);
}

/* A DOS program embedded in the kernel image (guest/dos/, kernel/dos_programs.S). */
struct dos_program {
    const char *name;
    const uint8_t *start;
    uint32_t size;
};
/* The embedded program called `name`, or NULL. */
const struct dos_program *dos_program_find(const char *name);

/* Installs the INT 31h gate (DPL 3) for DPMI clients. Call once at boot after idt_init. */
void v86_init(void);
/* Creates a ready DOS task running the .COM image (size bytes, at most V86_MAX_PROGRAM)
 * in V86 mode: a process with pcb.mode = PROC_MODE_V86 and its own first megabyte (see
 * above). Returns the PCB, or NULL (bad size, no memory). The task ends by INT 21h 4Ch
 * or INT 20h (pcb.exit_code = AL) or, on a fault the monitor does not handle, is killed
 * (status V86_KILLED, exit_code = V86_EXIT_KILLED | vector, below); either way everything it
 * held (low chain, page tables, DOS, XMS and DPMI memory) is freed when it ends. */
struct pcb *v86_task_create(const char *name, const uint8_t *image, uint32_t size);
/* pcb.exit_code of a DOS task: 0..255 its own code (INT 21h 4Ch AL, INT 20h = 0);
 * V86_EXIT_KILLED | vector: a fault the monitor does not handle ended it; V86_EXIT_TERMINATED:
 * v86_task_kill. Same values as the user processes' PROC_EXIT_KILLED / PROC_EXIT_TERMINATED
 * (usermode.h on the user branch), so every process kind reads alike. */
#define V86_EXIT_KILLED 0x100u
#define V86_EXIT_TERMINATED 0x200u
/* Ends task p (not the running one) the next time it runs, as if it had faulted: status
 * V86_KILLED, exit_code V86_EXIT_TERMINATED, its memory freed by itself.
 * For a task that does not end (a test's timeout). Returns 0, or -1 when p is not a DOS
 * task waiting to run in V86 or protected mode (running, a zombie, or in the kernel, e.g.
 * inside an INT 15h wait: try again later). */
int v86_task_kill(struct pcb *p);
/* Waits (sleeping, scheduler on) until task `p` is a zombie or `timeout_ms` passes.
 * Returns 0 when it ended, -1 on timeout. */
int v86_task_wait(struct pcb *p, uint32_t timeout_ms);
/* Frees what a DOS task holds besides its UPD, DPMI and DOS blocks: its XMS handles and
 * its low chain (low_chain becomes 0). proc_exit calls it for every process (nothing for
 * one that is not a DOS task), so every way a task ends frees them. */
void v86_release(struct pcb *p);
/* Called by the scheduler each time it switches to `p`: loads p's LDT (DPMI clients) or
 * none. */
void v86_switch_in(struct pcb *p);

/* ---- between the monitor's files (kernel/v86*.c, kernel/dos_services.c) ---- */
/* Reads / writes n bytes at linear address `lin` of the running task. Returns 0, or -1 if
 * a page is not mapped user-accessible (writable for writes). */
int v86_read(uint32_t lin, void *dst, uint32_t n);
int v86_write(uint32_t lin, const void *src, uint32_t n);
/* Makes the frame resume in the kernel, ending the task: status, exit code. Returns f. */
uint32_t v86_end(struct int_frame *f, uint32_t status, uint32_t exit_code);
/* Prints the task's unfinished output line, if any (at its end). */
void dos_flush_output(void);
/* INT n from V86 mode (the instruction is `len` bytes): the services of dos_services.c.
 * Returns the frame to resume, or 0 when `n` is not a service (reflect it). */
uint32_t dos_v86_int(struct int_frame *f, uint8_t n, uint32_t len);
/* Console output of the running task: one character (line buffered), or the '$'-ended
 * string at linear `at` (INT 21h 02h/09h, from V86 or protected mode). */
void dos_putc(char c);
void dos_puts(uint32_t at);
/* INT 21h AH=0FFh: AL = 0 pass, else fail with DX = the failed check (v86_task.status). */
void dos_report(uint32_t eax, uint32_t edx);
/* Sets or clears CF in the frame (the services' error flag). */
void v86_set_cf(struct int_frame *f, int on);
/* The task's registers as a dispatcher frame (segments from v86_es.. in V86 mode), and the
 * results back (general registers and CF). */
struct rm_regs;
void v86_frame_to_regs(const struct int_frame *f, struct rm_regs *r, int v86);
void v86_regs_to_frame(const struct rm_regs *r, struct int_frame *f);
/* The DPMI mode switch (dpmi_client.c), from the DPMI entry's INT E1h of `len` bytes. */
uint32_t dpmi_client_switch(struct int_frame *f, uint32_t len);
/* INT 21h from a DPMI client (the #GP of an int through a DPL 0 gate). Returns the frame
 * to resume, or 0 (not handled: the task is killed). */
uint32_t dos_pm_int21(struct int_frame *f);
/* The INT 31h handler (DPMI clients). */
uint32_t dpmi_int31(struct int_frame *f);
/* Base of LDT selector `sel` of the running DPMI task; -1 if not an allocated LDT selector. */
int v86_selector_base(uint16_t sel, uint32_t *base);
#endif
