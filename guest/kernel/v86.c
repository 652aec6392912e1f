/* v86.c: DOS tasks (v86.h): creating one (its own first megabyte: a private frozen low chain
 * with the IVT, the monitor's stubs, the PSP and the .COM program, and the DOS arena
 * identity mapped), the monitor's entry (v86_trap, usermode.h), ending a task (exit or kill:
 * everything it held is freed by the task itself, in the kernel, on its own stack), and the
 * per-task LDT of DPMI clients. The instruction emulation is in v86_monitor.c, the services
 * (INT 21h, INT 2Fh, XMS, DPMI) in dos_services.c. */
#include "generation.h"
#include "v86.h"
#include "console.h"
#include "dos.h"
#include "heap.h"
#include "interrupts.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "timer.h"
#include "usermode.h"
#include "x86.h"
#include "xms.h"

uint32_t v86_emulate(struct int_frame *f);   /* v86_monitor.c */

extern const struct dos_program dos_programs[];   /* kernel/dos_programs.S, ended by a 0 name */

const struct dos_program *dos_program_find(const char *name)
{
    for (const struct dos_program *p = dos_programs; p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return 0;
}

void v86_init(void)
{
    if (int_set_handler(0x31, dpmi_int31, 3) != 0)
        panic("v86: no stub for the INT 31h gate");
}

/* ---- the task's memory ---- */

/* Checks that [lin, lin + n) is mapped user-accessible (and writable if `write`) in the
 * running task's space. */
static int user_range_ok(uint32_t lin, uint32_t n, int write)
{
    if (n == 0)
        return 0;
    if (lin >= USER_SPACE_END || n > USER_SPACE_END - lin || !current)
        return -1;
    uint32_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
    for (uint32_t p = lin & ~(MM_PAGE_SIZE - 1); p < lin + n; p += MM_PAGE_SIZE)
        if ((mm_lookup_pte(p, current->upd) & need) != need)
            return -1;
    return 0;
}

int v86_read(uint32_t lin, void *dst, uint32_t n)
{
    if (user_range_ok(lin, n, 0))
        return -1;
    memcpy(dst, (const void *)lin, n);
    return 0;
}

int v86_write(uint32_t lin, const void *src, uint32_t n)
{
    if (user_range_ok(lin, n, 1))
        return -1;
    memcpy((void *)lin, src, n);
    return 0;
}

/* Writes n bytes at linear address `lin` (< 64 KiB) of a low chain not mapped here. */
static void low_write(chain_id_t chain, uint32_t lin, const void *src, uint32_t n)
{
    const uint8_t *s = src;
    while (n) {
        uint32_t phys, off = lin & (MM_PAGE_SIZE - 1), k = MM_PAGE_SIZE - off;
        if (k > n)
            k = n;
        if (MmChainPagePhysical(chain, lin / MM_PAGE_SIZE, &phys) != MM_OK)
            panic("v86: low chain %u has no page for 0x%x", chain, lin);
        mm_phys_write(phys + off, s, k);
        s += k;
        lin += k;
        n -= k;
    }
}

static void low_write16(chain_id_t chain, uint32_t lin, uint16_t v)
{
    low_write(chain, lin, &v, 2);
}

/* Fills the low chain: IVT -> the iret stub, the stubs, the PSP, the program, the stack. */
static void low_setup(chain_id_t chain, const uint8_t *image, uint32_t size)
{
    uint32_t blocks = MmChainBlocks(chain);
    for (uint32_t i = 0; i < blocks; i++) {
        uint32_t b;
        mm_chain_block(chain, i, &b);
        mm_zero_block(b);
    }
    uint32_t ivt[256];
    for (int v = 0; v < 256; v++)
        ivt[v] = (uint32_t)V86_IVT_STUB_SEG << 16;          /* 0050:0000 */
    low_write(chain, 0, ivt, sizeof ivt);
    low_write16(chain, 0x413, 640);                        /* BIOS data: KiB of base memory */
    static const uint8_t iret_stub[] = {0xCF};                                       /* iret */
    static const uint8_t xms_stub[] = {0xEB, 0x03, 0x90, 0x90, 0x90, 0xCD, V86_VEC_XMS, 0xCB};  /* jmp short; int; retf */
    static const uint8_t dpmi_stub[] = {0xCD, V86_VEC_DPMI, 0xCB};                    /* int; retf */
    uint32_t stubs = V86_IVT_STUB_SEG * 16u;
    low_write(chain, stubs, iret_stub, sizeof iret_stub);
    low_write(chain, stubs + V86_XMS_ENTRY_OFF, xms_stub, sizeof xms_stub);
    low_write(chain, stubs + V86_DPMI_ENTRY_OFF, dpmi_stub, sizeof dpmi_stub);
    uint8_t psp[0x100];
    memset(psp, 0, sizeof psp);
    psp[0] = 0xCD;                                         /* INT 20h at PSP:0 */
    psp[1] = 0x20;
    uint16_t top = DOS_ARENA_START_SEG;                    /* first segment beyond the program */
    memcpy(&psp[2], &top, 2);
    psp[0x80] = 0;                                         /* empty command tail */
    psp[0x81] = 0x0D;
    uint32_t psp_lin = V86_PSP_SEG * 16u;
    low_write(chain, psp_lin, psp, sizeof psp);
    low_write(chain, psp_lin + 0x100, image, size);
    low_write16(chain, psp_lin + V86_STACK_TOP, 0);        /* RET from the program -> PSP:0 */
}

static void v86_never(void *arg)
{
    (void)arg;
    panic("v86: a DOS task ran its kernel entry");
}

struct pcb *v86_task_create(const char *name, const uint8_t *image, uint32_t size)
{
    if (!image || size == 0 || size > V86_MAX_PROGRAM)
        return 0;
    struct v86_task *v = kzalloc(sizeof *v);
    if (!v)
        return 0;
    uint32_t fl = mm_write_begin();          /* nobody may run it before it is complete */
    chain_id_t low = 0;
    struct pcb *p = 0;
    if (mm_allocate_chain(CHAIN_FROZEN | CHAIN_USER, V86_LOW_PAGES / MM_PAGES_PER_BLOCK, OWNER_PROCESS,
                          (uint32_t)__builtin_return_address(0), &low) != MM_OK)
        goto fail;
    p = proc_create(name, v86_never, 0);
    if (!p)
        goto fail;
    mm_owner_set(low, OWNER_PROCESS, (uint16_t)p->pid, (uint32_t)__builtin_return_address(0), V86_LOW_PAGES * MM_PAGE_SIZE);
    low_setup(low, image, size);
    if (mm_map_pages(MAP_UPD | MAP_PAGE_ZERO, low, 0, 0, V86_LOW_PAGES, p->upd) != MM_OK ||
        mm_map_reserved(DOS_ARENA_START_SEG * 16u, DOS_ARENA_START_SEG * 16u,
                        (DOS_ARENA_END_SEG - DOS_ARENA_START_SEG) * 16u / MM_PAGE_SIZE, p->upd) != MM_OK)
        goto fail;
    v->low_chain = low;
    v->low_pages = V86_LOW_PAGES;
    v->mcb_owner = (uint16_t)(p->pid + 1);
    v->psp_seg = V86_PSP_SEG;
    v->status = V86_RUNNING;
    v->vif = EFLAGS_IF;
    p->v86 = v;
    p->mode = PROC_MODE_V86;
    struct int_frame *f = (struct int_frame *)p->esp;
    memset(f, 0, sizeof *f);           /* ds..gs 0: the stub pops them in ring 0, then iret */
    f->eip = 0x100;
    f->cs = V86_PSP_SEG;
    f->eflags = EFLAGS_VM | EFLAGS_IF | 0x2;
    f->useresp = V86_STACK_TOP;
    f->ss = V86_PSP_SEG;
    f->v86_ds = f->v86_es = V86_PSP_SEG;
    mm_write_end(fl);
    return p;
fail:
    if (p) {                           /* never ran: take it out again */
        mm_release_upd(p->upd);
        p->state = PROC_ZOMBIE;
        proc_reap(p->pid);
    }
    if (low)
        MmFreeChain(low);
    kfree(v);
    mm_write_end(fl);
    return 0;
}

int v86_task_wait(struct pcb *p, uint32_t timeout_ms)
{
    uint32_t deadline = timer_ms() + timeout_ms;
    while (p->state != PROC_ZOMBIE) {
        if ((int32_t)(timer_ms() - deadline) >= 0)
            return -1;
        proc_sleep(2);
    }
    return 0;
}

/* ---- LDT ---- */

void v86_switch_in(struct pcb *p)
{
    static const void *loaded;
    const void *want = p->mode == PROC_MODE_DPMI && p->v86 ? p->v86->ldt : 0;
    if (want == loaded)
        return;
    loaded = want;
    gdt_set_ldt((uint32_t)want, want ? sizeof p->v86->ldt - 1 : 0);
}

/* ---- ending a task ---- */

void v86_release(struct pcb *p)
{
    struct v86_task *v = p->v86;
    if (!v)
        return;
    uint32_t fl = mm_write_begin();
    xms_release_process(p->pid);
    if (v->low_chain && MmFreeChain(v->low_chain) != MM_OK)
        panic("v86: task %u lost its low chain %u", p->pid, v->low_chain);
    v->low_chain = 0;
    v->low_pages = 0;
    mm_write_end(fl);
}

/* Runs in the kernel on the ending task's own stack (v86_end points its frame here):
 * proc_exit frees what it held (v86_release, then its DPMI and DOS blocks and its page
 * tables, the identity-mapped arena with them) and makes it a zombie. */
static void __attribute__((noreturn)) v86_task_finish(void)
{
    proc_exit();
}

/* Records how task p ends and points its user frame f at v86_task_finish. */
static void end_frame(struct pcb *p, struct int_frame *f, uint32_t status, uint32_t exit_code)
{
    struct v86_task *v = p->v86;
    if (status == V86_KILLED)
        v->status = V86_KILLED;
    else if (v->status == V86_RUNNING)
        v->status = V86_FAILED;        /* ended without a pass report */
    p->exit_code = exit_code;
    f->eip = (uint32_t)v86_task_finish;
    f->cs = SEL_KCODE;
    f->eflags = 0x2;
    f->ds = f->es = f->fs = f->gs = SEL_KDATA;
}

uint32_t v86_end(struct int_frame *f, uint32_t status, uint32_t exit_code)
{
    dos_flush_output();
    end_frame(current, f, status, exit_code);
    return (uint32_t)f;
}

int v86_task_kill(struct pcb *p)
{
    uint32_t fl = mm_write_begin();
    struct int_frame *f = (struct int_frame *)p->esp;
    if (!p->v86 || p == current || (p->state != PROC_READY && p->state != PROC_SLEEPING) || !frame_from_user(f)) {
        mm_write_end(fl);
        return -1;
    }
    kprintf("v86: task %u (%s) killed from outside\n", p->pid, p->name);
    end_frame(p, f, V86_KILLED, V86_EXIT_TERMINATED);
    p->state = PROC_READY;
    mm_write_end(fl);
    return 0;
}

static const char *const fault_names[32] = {
    [0] = "divide error", [1] = "debug", [3] = "breakpoint", [4] = "overflow", [5] = "bound range",
    [6] = "invalid opcode", [11] = "segment not present", [12] = "stack fault",
    [13] = "general protection", [14] = "page fault", [17] = "alignment check",
};

uint32_t v86_trap(struct int_frame *f)
{
    struct pcb *p = current;
    if (!p || !p->v86 || (p->mode != PROC_MODE_V86 && p->mode != PROC_MODE_DPMI) || f->vector >= 32)
        return 0;                      /* IRQs and other processes: the default handling */
    if (!frame_from_user(f))
        return 0;                      /* a kernel fault while a DOS task is current */
    uint32_t r = 0;
    if (f->vector == 13)
        r = (f->eflags & EFLAGS_VM) ? v86_emulate(f) : dos_pm_int21(f);
    if (r)
        return r;
    const char *name = fault_names[f->vector] ? fault_names[f->vector] : "exception";
    kprintf("v86: task %u (%s) killed: %s (vector %u, error 0x%x) at %x:%x cr2=%p\n", p->pid, p->name,
            name, f->vector, f->error, f->cs & 0xFFFFu, f->eip, (void *)read_cr2());
    p->v86->faults = 1;
    p->v86->fault_vector = f->vector;
    p->v86->fault_error = f->error;
    return v86_end(f, V86_KILLED, V86_EXIT_KILLED | f->vector);
}
