/* v86_monitor.c: emulation of the sensitive instructions a V86 task executes with IOPL 0
 * (each raises #GP): PUSHF, POPF, IRET (16-bit, or 32-bit with an operand-size prefix),
 * CLI, STI, INT n, INT3 and INTO, after any prefixes. The task's interrupt flag is virtual
 * (v86_task.vif); the real IF stays set so the kernel's timer keeps running. INT n goes to
 * the services (dos_services.c) or is reflected through the task's own IVT like a real CPU
 * would (its vectors point at an IRET stub unless the program changed them). */
#include "v86.h"
#include "interrupts.h"
#include "proc.h"
#include "regs.h"

/* Flags a task may change with POPF / IRET: CF PF AF ZF SF TF DF OF. IF is virtual; IOPL,
 * VM, NT, RF stay as the kernel set them. */
#define FLAGS_TASK 0x0DD5u
#define FLAGS_TF   0x0100u

static int push16(struct int_frame *f, uint16_t v)
{
    uint32_t sp = (f->useresp - 2) & 0xFFFFu;
    if (v86_write(v86_linear(f->ss, sp), &v, 2))
        return -1;
    f->useresp = (f->useresp & 0xFFFF0000u) | sp;
    return 0;
}

static int push32(struct int_frame *f, uint32_t v)
{
    uint32_t sp = (f->useresp - 4) & 0xFFFFu;
    if (v86_write(v86_linear(f->ss, sp), &v, 4))
        return -1;
    f->useresp = (f->useresp & 0xFFFF0000u) | sp;
    return 0;
}

static int pop(struct int_frame *f, uint32_t *v, uint32_t bytes)
{
    uint32_t sp = f->useresp & 0xFFFFu;
    *v = 0;
    if (v86_read(v86_linear(f->ss, sp), v, bytes))
        return -1;
    f->useresp = (f->useresp & 0xFFFF0000u) | ((sp + bytes) & 0xFFFFu);
    return 0;
}

/* The flags the task sees: the real arithmetic flags, the virtual IF, IOPL 0. */
static uint32_t task_flags(struct int_frame *f)
{
    return (f->eflags & (FLAGS_TASK | 0x2u)) | current->v86->vif;
}

/* Loads the flags a POPF/IRET popped. */
static void set_task_flags(struct int_frame *f, uint32_t v)
{
    current->v86->vif = v & EFLAGS_IF;
    f->eflags = (f->eflags & ~FLAGS_TASK) | (v & FLAGS_TASK) | EFLAGS_IF | EFLAGS_VM;
}

/* Reflects INT n through the task's IVT: pushes FLAGS, CS, the IP after the instruction,
 * clears the virtual IF and TF, and jumps to the vector. Returns the frame or 0 (bad stack
 * or IVT: the task is killed). */
static uint32_t reflect(struct int_frame *f, uint8_t n, uint32_t len)
{
    uint32_t vec;
    if (v86_read(n * 4u, &vec, 4))
        return 0;
    if (push16(f, (uint16_t)task_flags(f)) || push16(f, (uint16_t)f->cs) || push16(f, (uint16_t)(f->eip + len)))
        return 0;
    current->v86->vif = 0;
    f->eflags &= ~FLAGS_TF;
    f->cs = vec >> 16;
    f->eip = vec & 0xFFFFu;
    return (uint32_t)f;
}

static uint32_t do_int(struct int_frame *f, uint8_t n, uint32_t len)
{
    uint32_t r = dos_v86_int(f, n, len);
    return r ? r : reflect(f, n, len);
}

uint32_t v86_emulate(struct int_frame *f)
{
    uint8_t op;
    uint32_t len = 0, v, ip, cs, fl;
    int opsize32 = 0;
    for (;;) {                              /* prefixes (at most 14, an instruction is <= 15) */
        if (len >= 14 || v86_read(v86_linear(f->cs, f->eip + len), &op, 1))
            return 0;
        if (op == 0x66)
            opsize32 = 1;
        else if (op != 0x67 && op != 0x26 && op != 0x2E && op != 0x36 && op != 0x3E && op != 0x64 &&
                 op != 0x65 && op != 0xF0 && op != 0xF2 && op != 0xF3)
            break;
        len++;
    }
    len++;                                  /* the opcode */
    switch (op) {
    case 0xFA:                              /* CLI */
        current->v86->vif = 0;
        break;
    case 0xFB:                              /* STI */
        current->v86->vif = EFLAGS_IF;
        break;
    case 0x9C:                              /* PUSHF / PUSHFD */
        if (opsize32 ? push32(f, task_flags(f)) : push16(f, (uint16_t)task_flags(f)))
            return 0;
        break;
    case 0x9D:                              /* POPF / POPFD */
        if (pop(f, &v, opsize32 ? 4 : 2))
            return 0;
        set_task_flags(f, v);
        break;
    case 0xCF:                              /* IRET / IRETD */
        if (pop(f, &ip, opsize32 ? 4 : 2) || pop(f, &cs, opsize32 ? 4 : 2) || pop(f, &fl, opsize32 ? 4 : 2))
            return 0;
        if (opsize32 && ip > 0xFFFFu)
            return 0;
        set_task_flags(f, fl);
        f->cs = cs & 0xFFFFu;
        f->eip = ip;
        return (uint32_t)f;
    case 0xCD: {                            /* INT n */
        uint8_t n;
        if (v86_read(v86_linear(f->cs, f->eip + len), &n, 1))
            return 0;
        return do_int(f, n, len + 1);
    }
    case 0xCC:                              /* INT3 */
        return do_int(f, 3, len);
    case 0xCE:                              /* INTO */
        if (f->eflags & 0x800u)
            return do_int(f, 4, len);
        break;
    default:                                /* HLT, I/O, anything else: not emulated */
        return 0;
    }
    f->eip = (f->eip + len) & 0xFFFFu;
    return (uint32_t)f;
}
