/* dos_services.c: the services a DOS task reaches from V86 mode
 * (docs/guest-memory-services.md):
 *   INT 21h  02h/09h print, 30h version, 48h/49h/4Ah memory (MCB allocator, owner =
 *            v86_task.mcb_owner), 4Ch exit, 0FEh checkpoint, 0FFh pass/fail report
 *   INT 20h  exit
 *   INT 2Fh  4300h/4310h XMS installed / entry, 1687h DPMI host (the switch: dpmi_client.c)
 *   INT 15h  86h wait (sleeps the task)
 *   INT E0h  the XMS entry's trap: xms_dispatch on the task's registers
 * and the console output and reports that DPMI clients share (dpmi_client.c). */
#include "v86.h"
#include "console.h"
#include "dos.h"
#include "interrupts.h"
#include "proc.h"
#include "regs.h"
#include "string.h"
#include "timer.h"
#include "x86.h"
#include "xms.h"

#define DOS_ERR_FUNCTION 1
#define DOS_ERR_BLOCK 9
#define DOS_ERR_MEM 8

void v86_set_cf(struct int_frame *f, int on)
{
    if (on)
        f->eflags |= EFLAGS_CF;
    else
        f->eflags &= ~EFLAGS_CF;
}

/* ---- output and reports (shared by V86 and DPMI callers) ---- */

void dos_flush_output(void)
{
    struct v86_task *v = current->v86;
    if (!v->line_len)
        return;
    v->line[v->line_len] = 0;
    memcpy(v->out, v->line, sizeof v->out);
    v->line_len = 0;
    kprintf("dos[%u]: %s\n", current->pid, v->out);
}

void dos_putc(char c)
{
    struct v86_task *v = current->v86;
    if (c == '\n') {
        if (!v->line_len)
            v->out[0] = 0;
        dos_flush_output();
        return;
    }
    if (c == '\r' || c == 0)
        return;
    if (v->line_len >= V86_OUT_LEN - 1)
        dos_flush_output();
    v->line[v->line_len++] = c;
}

/* Prints the '$'-terminated string at linear `at` (at most 1024 characters). */
void dos_puts(uint32_t at)
{
    for (uint32_t i = 0; i < 1024; i++) {
        char c;
        if (v86_read(at + i, &c, 1) || c == '$')
            return;
        dos_putc(c);
    }
}

/* AH=0FFh: AL = 0 pass, else fail; DX = the number of the check that failed. */
void dos_report(uint32_t eax, uint32_t edx)
{
    struct v86_task *v = current->v86;
    v->reports++;
    if (REG_LO8(eax) == 0) {
        if (v->status == V86_RUNNING)
            v->status = V86_PASSED;
        kprintf("v86: task %u (%s) reports pass\n", current->pid, current->name);
    } else {
        v->status = V86_FAILED;        /* a failure is final */
        v->report_code = REG_LO16(edx);
        kprintf("v86: task %u (%s) reports failure at check %u\n", current->pid, current->name, REG_LO16(edx));
    }
}

/* ---- V86 mode ---- */

/* True when `seg` is a block of the arena whose MCB names this task as its owner. */
static int own_block(uint16_t seg)
{
    if (seg <= DOS_ARENA_START_SEG || seg >= DOS_ARENA_END_SEG)
        return 0;
    const struct mcb *m = P2V(((uint32_t)seg - 1u) << 4);
    return m->owner == current->v86->mcb_owner;
}

static uint32_t int21(struct int_frame *f)
{
    struct v86_task *v = current->v86;
    uint16_t seg = 0, largest = 0, es = (uint16_t)f->v86_es;
    int e = 0;
    switch (REG_HI8(f->eax)) {
    case 0x02:
        dos_putc((char)REG_LO8(f->edx));
        break;
    case 0x09:
        dos_puts(v86_linear(f->v86_ds, f->edx));
        break;
    case 0x30:                          /* version: 5.0 */
        REG_SET16(f->eax, 0x0005);
        break;
    case 0x48:
        e = dos_alloc(REG_LO16(f->ebx), v->mcb_owner, &seg, &largest);
        if (!e)
            REG_SET16(f->eax, seg);
        else if (e == DOS_ERR_MEM)
            REG_SET16(f->ebx, largest);
        break;
    case 0x49:
        e = own_block(es) ? dos_free(es) : DOS_ERR_BLOCK;
        break;
    case 0x4A:
        e = own_block(es) ? dos_resize(es, REG_LO16(f->ebx), &largest) : DOS_ERR_BLOCK;
        if (e == DOS_ERR_MEM)
            REG_SET16(f->ebx, largest);
        break;
    case 0x4C:
        return v86_end(f, V86_RUNNING, REG_LO8(f->eax));
    case 0xFE:
        current->v86->checkpoints |= 1u << (REG_LO8(f->eax) & 31u);
        break;
    case 0xFF:
        dos_report(f->eax, f->edx);
        break;
    default:
        e = DOS_ERR_FUNCTION;
        break;
    }
    if (e)
        REG_SET16(f->eax, (uint32_t)e);
    v86_set_cf(f, e != 0);
    return (uint32_t)f;
}

static uint32_t int2f(struct int_frame *f)
{
    switch (REG_LO16(f->eax)) {
    case 0x4300:                        /* XMS installed */
        REG_SETLO8(f->eax, 0x80);
        break;
    case 0x4310:                        /* XMS entry point */
        f->v86_es = V86_IVT_STUB_SEG;
        REG_SET16(f->ebx, V86_XMS_ENTRY_OFF);
        break;
    case 0x1687:                        /* DPMI host present */
        REG_SET16(f->eax, 0);
        REG_SET16(f->ebx, 1);              /* 32-bit programs supported */
        REG_SETLO8(f->ecx, 3);          /* 80386 */
        REG_SET16(f->edx, 0x005A);         /* version 0.90 */
        REG_SET16(f->esi, V86_HOST_PARAS);
        f->v86_es = V86_IVT_STUB_SEG;
        REG_SET16(f->edi, V86_DPMI_ENTRY_OFF);
        break;
    default:                            /* nothing else is installed: registers unchanged */
        break;
    }
    return (uint32_t)f;
}

void v86_frame_to_regs(const struct int_frame *f, struct rm_regs *r, int v86)
{
    *r = (struct rm_regs){f->eax, f->ebx, f->ecx, f->edx, f->esi, f->edi, f->ebp,
                          (uint16_t)(v86 ? f->v86_ds : f->ds), (uint16_t)(v86 ? f->v86_es : f->es),
                          (uint16_t)(v86 ? f->v86_fs : f->fs), (uint16_t)(v86 ? f->v86_gs : f->gs), f->eflags};
}

void v86_regs_to_frame(const struct rm_regs *r, struct int_frame *f)
{
    f->eax = r->eax; f->ebx = r->ebx; f->ecx = r->ecx; f->edx = r->edx;
    f->esi = r->esi; f->edi = r->edi; f->ebp = r->ebp;
    f->eflags = (f->eflags & ~EFLAGS_CF) | (r->eflags & EFLAGS_CF);
}

/* The XMS entry: the task's registers go to xms_dispatch and its results come back; the
 * stub's RETF then returns to the caller. */
static uint32_t xms_entry(struct int_frame *f)
{
    struct rm_regs r;
    v86_frame_to_regs(f, &r, 1);
    xms_dispatch(&r);
    v86_regs_to_frame(&r, f);
    return (uint32_t)f;
}

/* INT 15h AH=86h: waits CX:DX microseconds (at least 1 ms). The task sleeps in the kernel
 * like a kernel thread (proc_sleep with interrupts on, on its own kernel stack), so the CPU
 * runs others or halts meanwhile; then the V86 frame is resumed after the INT. */
static uint32_t bios_wait(struct int_frame *f, uint32_t len)
{
    uint32_t us = ((uint32_t)REG_LO16(f->ecx) << 16) | REG_LO16(f->edx), ms = us / 1000u;
    f->eip = (f->eip + len) & 0xFFFFu;
    v86_set_cf(f, 0);
    sti();
    proc_sleep(ms ? ms : 1u);
    cli();
    return (uint32_t)f;
}

uint32_t dos_v86_int(struct int_frame *f, uint8_t n, uint32_t len)
{
    uint32_t ip = (f->eip + len) & 0xFFFFu;
    switch (n) {
    case 0x20:
        return v86_end(f, V86_RUNNING, 0);
    case 0x21:
        f->eip = ip;
        return int21(f);
    case 0x2F:
        f->eip = ip;
        return int2f(f);
    case 0x15:
        if (REG_HI8(f->eax) != 0x86)
            return 0;
        return bios_wait(f, len);
    case V86_VEC_XMS:
        f->eip = ip;
        return xms_entry(f);
    case V86_VEC_DPMI:
        return dpmi_client_switch(f, len);
    default:
        return 0;
    }
}

