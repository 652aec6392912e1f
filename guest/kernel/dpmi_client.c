/* dpmi_client.c: DOS tasks as DPMI 0.9 protected-mode clients (docs/guest-memory-services.md):
 * the raw switch from V86 mode (the DPMI entry's INT E1h), the task's LDT (16 descriptors in
 * v86_task.ldt, loaded by v86_switch_in), INT 31h (descriptors 0000h-0009h, DOS memory
 * 0100h-0102h with a selector per block, 0400h, and the memory functions of dpmi_dispatch),
 * and INT 21h from protected mode (the #GP of an int through the IDT's DPL 0 gate 21h). */
#include "v86.h"
#include "console.h"
#include "dos.h"
#include "dpmi.h"
#include "interrupts.h"
#include "proc.h"
#include "regs.h"
#include "string.h"

#define DOS_ERR_FUNCTION 1
#define DPMI_ERR_DESC_UNAVAILABLE 0x8011
#define DPMI_ERR_INVALID_SELECTOR 0x8022

/* ---- the LDT of a DPMI client ---- */

#define ACC_DATA 0xF2u                  /* present, DPL 3, data read/write */
#define ACC_CODE 0xFAu                  /* present, DPL 3, code execute/read */

static uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    if (limit > 0xFFFFFu) {
        limit >>= 12;
        flags |= 0x8;                   /* G */
    }
    return (uint64_t)(limit & 0xFFFFu) | ((uint64_t)(base & 0xFFFFFFu) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xF) << 48) | ((uint64_t)(flags & 0xF) << 52) | ((uint64_t)(base >> 24) << 56);
}

static uint32_t desc_base(uint64_t d)
{
    return (uint32_t)((d >> 16) & 0xFFFFFFu) | (uint32_t)((d >> 56) << 24);
}

static uint32_t desc_limit(uint64_t d)
{
    uint32_t l = (uint32_t)(d & 0xFFFFu) | (uint32_t)(((d >> 48) & 0xF) << 16);
    return (d >> 55) & 1 ? (l << 12) | 0xFFFu : l;
}

static uint16_t selector(uint32_t i)
{
    return (uint16_t)((i << 3) | 4u | 3u);
}

/* LDT index of an allocated selector of the running task, or -1. */
static int sel_index(uint32_t sel)
{
    uint32_t i = (sel & 0xFFFFu) >> 3;
    if ((sel & 7u) != 7u || i >= V86_LDT_ENTRIES || !(current->v86->ldt_used & (1u << i)))
        return -1;
    return (int)i;
}

int v86_selector_base(uint16_t sel, uint32_t *base)
{
    int i = sel_index(sel);
    if (i < 0)
        return -1;
    *base = desc_base(current->v86->ldt[i]);
    return 0;
}

/* Allocates `n` consecutive LDT entries as data descriptors (base, limit). Returns the
 * first index, or -1. */
static int ldt_alloc(uint32_t n, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    struct v86_task *v = current->v86;
    for (uint32_t i = 0; n && i + n <= V86_LDT_ENTRIES; i++) {
        uint32_t mask = ((1u << n) - 1u) << i;
        if (v->ldt_used & mask)
            continue;
        v->ldt_used = (uint16_t)(v->ldt_used | mask);
        for (uint32_t k = i; k < i + n; k++) {
            v->ldt[k] = descriptor(base, limit, access, flags);
            v->ldt_dos_seg[k] = 0;
        }
        return (int)i;
    }
    return -1;
}

/* Frees LDT entry i; a segment register of the frame holding it becomes 0 (as the spec
 * says), so the kernel's return path never loads a dead selector. */
static void ldt_free(struct int_frame *f, uint32_t i)
{
    struct v86_task *v = current->v86;
    v->ldt_used = (uint16_t)(v->ldt_used & ~(1u << i));
    v->ldt[i] = 0;
    v->ldt_dos_seg[i] = 0;
    uint32_t s = selector(i);
    if ((f->ds & 0xFFFFu) == s) f->ds = 0;
    if ((f->es & 0xFFFFu) == s) f->es = 0;
    if ((f->fs & 0xFFFFu) == s) f->fs = 0;
    if ((f->gs & 0xFFFFu) == s) f->gs = 0;
}

/* The raw switch (INT E1h in the DPMI entry stub, reached by a far call with AX bit 0 = 32-bit
 * client): the far call's return address is popped, the LDT gets the descriptors DPMI 0.9
 * gives after the initial switch (CS 16-bit code, DS, SS: bases = the real-mode segments
 * * 16, 64 KiB limits; ES: the PSP, 100h bytes), and the task resumes at the return address
 * in ring-3 protected mode (pcb.mode = PROC_MODE_DPMI) with CF clear. On failure (no host
 * data segment in ES, bad stack) it returns to the caller in V86 mode with CF set. */
uint32_t dpmi_client_switch(struct int_frame *f, uint32_t len)
{
    struct v86_task *v = current->v86;
    uint32_t sp = f->useresp & 0xFFFFu;
    uint16_t ret[2];
    if (current->mode != PROC_MODE_V86 || v86_read(v86_linear(f->ss, sp), ret, 4) ||
        (V86_HOST_PARAS && (uint16_t)f->v86_es < DOS_ARENA_START_SEG)) {
        f->eip = (f->eip + len) & 0xFFFFu;
        REG_SET16(f->eax, 0x8021);
        v86_set_cf(f, 1);
        return (uint32_t)f;
    }
    v->ldt_used = 0;
    int cs = ldt_alloc(1, (uint32_t)ret[1] << 4, 0xFFFF, ACC_CODE, 0);   /* the caller's CS */
    int ds = ldt_alloc(1, (f->v86_ds & 0xFFFFu) << 4, 0xFFFF, ACC_DATA, 0);
    int ss = ldt_alloc(1, (f->ss & 0xFFFFu) << 4, 0xFFFF, ACC_DATA, 0);
    int es = ldt_alloc(1, (uint32_t)v->psp_seg << 4, 0xFF, ACC_DATA, 0);
    v->dpmi_32bit = REG_LO16(f->eax) & 1u;
    v->dpmi_host_seg = (uint16_t)f->v86_es;
    f->cs = selector((uint32_t)cs);
    f->eip = ret[0];
    f->useresp = (sp + 4) & 0xFFFFu;   /* the high word of ESP is 0 */
    f->ss = selector((uint32_t)ss);
    f->ds = selector((uint32_t)ds);
    f->es = selector((uint32_t)es);
    f->fs = f->gs = 0;
    f->eflags = (f->eflags & ~(EFLAGS_VM | EFLAGS_IOPL | EFLAGS_CF)) | EFLAGS_IF;
    current->mode = PROC_MODE_DPMI;
    v86_switch_in(current);
    kprintf("v86: task %u (%s) switched to a %u-bit DPMI client\n", current->pid, current->name,
            v->dpmi_32bit ? 32u : 16u);
    return (uint32_t)f;
}

/* ---- protected mode (DPMI clients) ---- */

/* Linear address of sel:off for the running client, or -1 for a bad selector. */
static int pm_linear(uint32_t sel, uint32_t off, uint32_t *at)
{
    uint32_t base;
    if (v86_selector_base((uint16_t)sel, &base))
        return -1;
    *at = base + off;
    return 0;
}

uint32_t dos_pm_int21(struct int_frame *f)
{
    uint32_t at;
    uint8_t code[2];
    if (current->mode != PROC_MODE_DPMI || f->error != ((0x21u << 3) | 2u) ||
        pm_linear(f->cs, f->eip, &at) || v86_read(at, code, 2) || code[0] != 0xCD || code[1] != 0x21)
        return 0;
    f->eip += 2;
    v86_set_cf(f, 0);
    switch (REG_HI8(f->eax)) {
    case 0x4C:
        return v86_end(f, V86_RUNNING, REG_LO8(f->eax));
    case 0x02:
        dos_putc((char)REG_LO8(f->edx));
        break;
    case 0x09:
        if (!pm_linear(f->ds, current->v86->dpmi_32bit ? f->edx : REG_LO16(f->edx), &at))
            dos_puts(at);
        break;
    case 0xFE:
        current->v86->checkpoints |= 1u << (REG_LO8(f->eax) & 31u);
        break;
    case 0xFF:
        dos_report(f->eax, f->edx);
        break;
    default:
        REG_SET16(f->eax, DOS_ERR_FUNCTION);
        v86_set_cf(f, 1);
        break;
    }
    return (uint32_t)f;
}

/* True when LDT entry i is the caller's CS or SS: the kernel's IRET back to the client
 * loads them, so they must stay valid code / writable data (a broken one would fault in
 * ring 0, not in the client). */
static int holds_cs_ss(const struct int_frame *f, int i)
{
    uint32_t s = selector((uint32_t)i);
    return (f->cs & 0xFFFFu) == s || (f->ss & 0xFFFFu) == s;
}

/* True when LDT entry i is in any segment register of the frame. */
static int loaded(const struct int_frame *f, int i)
{
    uint32_t s = selector((uint32_t)i);
    return holds_cs_ss(f, i) || (f->ds & 0xFFFFu) == s || (f->es & 0xFFFFu) == s ||
           (f->fs & 0xFFFFu) == s || (f->gs & 0xFFFFu) == s;
}

/* DPMI 0.9 descriptor functions. Returns 0 or a DPMI error code. */
static uint16_t descriptors(struct int_frame *f)
{
    struct v86_task *v = current->v86;
    int i;
    switch (REG_LO16(f->eax)) {
    case 0x0000:                        /* allocate CX descriptors: AX = first selector */
        i = ldt_alloc(REG_LO16(f->ecx), 0, 0, ACC_DATA, v->dpmi_32bit ? 0x4 : 0);
        if (i < 0)
            return DPMI_ERR_DESC_UNAVAILABLE;
        REG_SET16(f->eax, selector((uint32_t)i));
        return 0;
    case 0x0001:                        /* free descriptor BX */
        i = sel_index(f->ebx);
        if (i < 0 || v->ldt_dos_seg[i] || holds_cs_ss(f, i))
            return DPMI_ERR_INVALID_SELECTOR;
        ldt_free(f, (uint32_t)i);
        return 0;
    case 0x0003:                        /* selector increment */
        REG_SET16(f->eax, 8);
        return 0;
    case 0x0006:                        /* get base of BX: CX:DX */
        if ((i = sel_index(f->ebx)) < 0)
            return DPMI_ERR_INVALID_SELECTOR;
        REG_SET16(f->ecx, desc_base(v->ldt[i]) >> 16);
        REG_SET16(f->edx, desc_base(v->ldt[i]));
        return 0;
    case 0x0007: {                      /* set base of BX to CX:DX */
        if ((i = sel_index(f->ebx)) < 0)
            return DPMI_ERR_INVALID_SELECTOR;
        uint64_t d = v->ldt[i];
        uint32_t base = ((uint32_t)REG_LO16(f->ecx) << 16) | REG_LO16(f->edx);
        v->ldt[i] = descriptor(base, desc_limit(d), (uint8_t)(d >> 40), (uint8_t)((d >> 52) & 0x7));
        return 0;
    }
    case 0x0008: {                      /* set limit of BX to CX:DX (> 1 MiB: low 12 bits set) */
        if ((i = sel_index(f->ebx)) < 0)
            return DPMI_ERR_INVALID_SELECTOR;
        uint32_t limit = ((uint32_t)REG_LO16(f->ecx) << 16) | REG_LO16(f->edx);
        if (limit > 0xFFFFFu && (limit & 0xFFFu) != 0xFFFu)
            return DPMI_ERR_INVALID_VALUE;
        if (holds_cs_ss(f, i) && limit < ((f->cs & 0xFFFFu) == selector((uint32_t)i) ? f->eip : 0))
            return DPMI_ERR_INVALID_VALUE;   /* the IRET back would fault on EIP */
        uint64_t d = v->ldt[i];
        v->ldt[i] = descriptor(desc_base(d), limit, (uint8_t)(d >> 40), (uint8_t)((d >> 52) & 0x7));
        return 0;
    }
    case 0x0009: {                      /* set access rights of BX: CL access, CH bit 6 = D/B */
        if ((i = sel_index(f->ebx)) < 0 || loaded(f, i))
            return DPMI_ERR_INVALID_SELECTOR;
        uint8_t acc = REG_LO8(f->ecx);
        if ((acc & 0xF0u) != 0xF0u || !(acc & 0x10u) || (acc & 0x0Cu) == 0x04u)  /* present, DPL 3, code/data, no expand-down */
            return DPMI_ERR_INVALID_VALUE;
        uint64_t d = v->ldt[i];
        v->ldt[i] = descriptor(desc_base(d), desc_limit(d), acc, (uint8_t)((REG_HI8(f->ecx) >> 4) & 0x4));
        return 0;
    }
    default:
        return DPMI_ERR_UNSUPPORTED;
    }
}

/* 0100h-0102h: DOS memory through dpmi_dispatch, with a selector for each block. */
static uint16_t dos_memory(struct int_frame *f, struct rm_regs *r)
{
    struct v86_task *v = current->v86;
    uint16_t fn = REG_LO16(f->eax);
    int i = -1;
    if (fn != 0x0100) {
        if ((i = sel_index(f->edx)) < 0 || !v->ldt_dos_seg[i])
            return DPMI_ERR_INVALID_SELECTOR;
        REG_SET16(r->edx, v->ldt_dos_seg[i]);
    } else if ((i = ldt_alloc(1, 0, 0, ACC_DATA, 0)) < 0) {
        return DPMI_ERR_DESC_UNAVAILABLE;
    }
    dpmi_dispatch(r);
    if (r->eflags & EFLAGS_CF) {
        if (fn == 0x0100)
            ldt_free(f, (uint32_t)i);
        v86_regs_to_frame(r, f);
        return 0;
    }
    uint32_t paras = REG_LO16(f->ebx);
    switch (fn) {
    case 0x0100:
        v->ldt[i] = descriptor(REG_LO16(r->eax) << 4, paras ? paras * 16u - 1u : 0, ACC_DATA, 0);
        v->ldt_dos_seg[i] = REG_LO16(r->eax);
        REG_SET16(r->edx, selector((uint32_t)i));
        break;
    case 0x0101:
        ldt_free(f, (uint32_t)i);
        REG_SET16(r->edx, selector((uint32_t)i));
        break;
    case 0x0102:
        v->ldt[i] = descriptor(desc_base(v->ldt[i]), paras ? paras * 16u - 1u : 0, ACC_DATA, 0);
        REG_SET16(r->edx, selector((uint32_t)i));
        break;
    }
    v86_regs_to_frame(r, f);
    return 0;
}

uint32_t dpmi_int31(struct int_frame *f)
{
    if (!current || current->mode != PROC_MODE_DPMI || !current->v86 || (f->cs & 3u) != 3u) {
        REG_SET16(f->eax, DPMI_ERR_UNSUPPORTED);
        v86_set_cf(f, 1);
        return (uint32_t)f;
    }
    struct v86_task *v = current->v86;
    uint16_t fn = REG_LO16(f->eax), e = 0;
    struct rm_regs r;
    v86_frame_to_regs(f, &r, 0);
    if (fn < 0x0100) {
        e = descriptors(f);
    } else if (fn <= 0x0102) {
        e = dos_memory(f, &r);
        if (!e)
            return (uint32_t)f;        /* dispatcher's CF / AX already in the frame */
    } else if (fn == 0x0400) {          /* version 0.90, flags (bit 0: 32-bit), 386, PIC bases */
        REG_SET16(f->eax, 0x005A);
        REG_SET16(f->ebx, v->dpmi_32bit ? 0x0001 : 0x0000);
        REG_SETLO8(f->ecx, 3);
        REG_SET16(f->edx, ((uint32_t)IRQ_BASE << 8) | (IRQ_BASE + 8));
    } else if (fn >= 0x0500 && fn <= 0x0601 && fn != 0x0504) {
        if (fn == 0x0500) {             /* ES:(E)DI -> flat */
            uint32_t off = v->dpmi_32bit ? f->edi : REG_LO16(f->edi);
            if (pm_linear(f->es, off, &r.edi))
                e = DPMI_ERR_INVALID_VALUE;
        }
        if (!e) {
            dpmi_dispatch(&r);
            uint32_t edi = f->edi;
            v86_regs_to_frame(&r, f);
            if (fn == 0x0500)
                f->edi = edi;
            return (uint32_t)f;
        }
    } else {
        e = DPMI_ERR_UNSUPPORTED;
    }
    if (e)
        REG_SET16(f->eax, e);
    v86_set_cf(f, e != 0);
    return (uint32_t)f;
}
