/* interrupts.c: the flat GDT (kernel and ring-3 segments, the TSS, a per-task LDT slot), the
 * IDT, the 8259 PICs, and interrupt_dispatch(), which isr.S calls for every vector: page faults
 * go to the swapper first, interrupts from V86 mode to the V86 monitor, installed handlers run,
 * a fault from ring 3 or V86 mode ends that process, a kernel fault prints a FAULT line and stops
 * the kernel; IRQs go to their handler, and the timer and yield vectors may switch processes. */
#include "interrupts.h"
#include "console.h"
#include "proc.h"
#include "swap.h"
#include "usermode.h"
#include "x86.h"

struct gdt_entry { uint16_t limit_lo, base_lo; uint8_t base_mid, access, gran, base_hi; } __attribute__((packed));
struct idt_entry { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
struct table_ptr { uint16_t limit; uint32_t base; } __attribute__((packed));

/* The 32-bit TSS: only ss0:esp0 (the kernel stack for interrupts from ring 3 / V86 mode) is
 * used; the I/O bitmap offset points past the limit, so every port access from ring 3 or V86
 * mode traps (#GP). */
struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} __attribute__((packed));

static struct gdt_entry gdt[GDT_ENTRIES];
static struct tss tss;
static struct idt_entry idt[256];
static void (*irq_handlers[16])(struct int_frame *);
static int_handler_fn handlers[256];
extern const uint32_t isr_table[48];
extern const uint32_t isr_extra[];

static void gdt_set_base(int i, uint32_t base, uint32_t limit, uint8_t access, uint8_t gran)
{
    gdt[i] = (struct gdt_entry){(uint16_t)limit, (uint16_t)base, (uint8_t)(base >> 16), access,
                                (uint8_t)(gran | ((limit >> 16) & 0x0F)), (uint8_t)(base >> 24)};
}

static void gdt_set(int i, uint8_t access)
{
    gdt_set_base(i, 0, 0xFFFFF, access, 0xC0);
}

void tss_set_kernel_stack(uint32_t esp0)
{
    tss.esp0 = esp0;
}

void gdt_set_ldt(uint32_t base, uint32_t limit)
{
    if (!base) {
        gdt[SEL_LDT >> 3] = (struct gdt_entry){0, 0, 0, 0, 0, 0};
        __asm__ volatile("lldt %w0" : : "r"(0) : "memory");
        return;
    }
    gdt_set_base(SEL_LDT >> 3, base, limit, 0x82, 0x00);   /* present, LDT, byte granular */
    __asm__ volatile("lldt %w0" : : "r"(SEL_LDT) : "memory");   /* after the descriptor is written */
}

void gdt_init(void)
{
    gdt_set(1, 0x9A); /* kernel code */
    gdt_set(2, 0x92); /* kernel data */
    gdt_set(3, 0xFA); /* ring-3 code */
    gdt_set(4, 0xF2); /* ring-3 data */
    tss.ss0 = SEL_KDATA;
    tss.iomap_base = sizeof tss;
    gdt_set_base(SEL_TSS >> 3, (uint32_t)&tss, sizeof tss - 1, 0x89, 0x00);   /* available 32-bit TSS */
    struct table_ptr p = {sizeof gdt - 1, (uint32_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: mov $0x10, %%ax\n"
                     "mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%fs\n mov %%ax, %%gs\n mov %%ax, %%ss\n"
                     : : "m"(p) : "eax", "memory");
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

static void idt_set_dpl(int v, uint32_t handler, int dpl)
{
    idt[v] = (struct idt_entry){(uint16_t)handler, SEL_KCODE, 0, (uint8_t)(0x8E | ((dpl & 3) << 5)), (uint16_t)(handler >> 16)};
}

static void idt_set(int v, uint32_t handler)
{
    idt_set_dpl(v, handler, 0);
}

int int_set_handler(uint8_t vector, int_handler_fn fn, int dpl)
{
    if (vector < 32) {
        handlers[vector] = fn;
        return 0;
    }
    for (const uint32_t *e = isr_extra; e[0]; e += 2)
        if (e[0] == vector) {
            handlers[vector] = fn;
            idt_set_dpl(vector, e[1], dpl);
            return 0;
        }
    return -1;
}

static void pic_init(void)
{
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, IRQ_BASE); outb(0xA1, IRQ_BASE + 8);
    outb(0x21, 4); outb(0xA1, 2);
    outb(0x21, 1); outb(0xA1, 1);
    outb(0x21, 0xFB); outb(0xA1, 0xFF);   /* all masked but the cascade */
}

void idt_init(void)
{
    for (int v = 0; v < 48; v++)
        idt_set(v, isr_table[v]);
    for (const uint32_t *e = isr_extra; e[0]; e += 2)
        if (e[0] == VEC_YIELD)
            idt_set(VEC_YIELD, e[1]);
    struct table_ptr p = {sizeof idt - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(p));
    pic_init();
}

void irq_set_handler(int irq, void (*handler)(struct int_frame *))
{
    irq_handlers[irq] = handler;
    if (irq < 8)
        outb(0x21, inb(0x21) & (uint8_t)~(1u << irq));
    else
        outb(0xA1, inb(0xA1) & (uint8_t)~(1u << (irq - 8)));
}

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection", "page fault", "reserved",
    "x87 error", "alignment check", "machine check", "SIMD error",
};

const char *exception_name(uint32_t vector)
{
    return vector < 32 && exception_names[vector] ? exception_names[vector] : "exception";
}

static void fault(struct int_frame *f)
{
    const char *name = exception_name(f->vector);
    kprintf("FAULT: %s (vector %u) eip=%p err=0x%x cr2=%p cr3=%p pid=%u\n", name, f->vector,
            (void *)f->eip, f->error, (void *)read_cr2(), (void *)read_cr3(), current ? current->pid : 0);
    qemu_exit(0);
}

uint32_t interrupt_dispatch(struct int_frame *f)
{
    if (f->vector < 32) {
        if (f->vector == 14 && swap_fault(read_cr2(), f->error))
            return (uint32_t)f;
        if ((f->eflags & EFLAGS_VM) != 0 || (current && current->mode == PROC_MODE_DPMI && frame_from_user(f))) {
            uint32_t r = v86_trap(f);   /* V86 tasks and DPMI clients: the monitor */
            if (r)
                return r;
        }
        if (handlers[f->vector]) {
            uint32_t r = handlers[f->vector](f);
            if (r)
                return r;
        }
        if (frame_from_user(f))
            return proc_user_fault(f);
        fault(f);
    }
    if ((f->eflags & EFLAGS_VM) != 0) {   /* an IRQ in V86 mode: the monitor may reflect it */
        uint32_t r = v86_trap(f);
        if (r)
            return r;
    }
    if (f->vector == VEC_YIELD)
        return sched_switch((uint32_t)f);
    if (f->vector >= 48 && handlers[f->vector])
        return handlers[f->vector](f);
    if (f->vector >= IRQ_BASE && f->vector < IRQ_BASE + 16) {
        int irq = (int)f->vector - IRQ_BASE;
        if (irq >= 8)
            outb(0xA0, 0x20);
        outb(0x20, 0x20);
        if (irq_handlers[irq])
            irq_handlers[irq](f);
        if (irq == 0)
            return sched_switch((uint32_t)f);
    }
    return (uint32_t)f;
}
