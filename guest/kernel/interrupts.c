/* interrupts.c: the flat GDT, the IDT, the 8259 PICs, and interrupt_dispatch(), which
 * isr.S calls for every vector: exceptions print a FAULT line and stop the kernel, IRQs go
 * to their handler, and the timer and yield vectors may switch processes. */
#include "interrupts.h"
#include "console.h"
#include "proc.h"
#include "swap.h"
#include "x86.h"

struct gdt_entry { uint16_t limit_lo, base_lo; uint8_t base_mid, access, gran, base_hi; } __attribute__((packed));
struct idt_entry { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
struct table_ptr { uint16_t limit; uint32_t base; } __attribute__((packed));

static struct gdt_entry gdt[3];
static struct idt_entry idt[256];
static void (*irq_handlers[16])(struct int_frame *);
extern const uint32_t isr_table[49];

static void gdt_set(int i, uint8_t access)
{
    gdt[i] = (struct gdt_entry){0xFFFF, 0, 0, access, 0xCF, 0};
}

void gdt_init(void)
{
    gdt_set(1, 0x9A); /* kernel code */
    gdt_set(2, 0x92); /* kernel data */
    struct table_ptr p = {sizeof gdt - 1, (uint32_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: mov $0x10, %%ax\n"
                     "mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%fs\n mov %%ax, %%gs\n mov %%ax, %%ss\n"
                     : : "m"(p) : "eax", "memory");
}

static void idt_set(int v, uint32_t handler)
{
    idt[v] = (struct idt_entry){(uint16_t)handler, 0x08, 0, 0x8E, (uint16_t)(handler >> 16)};
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
    idt_set(VEC_YIELD, isr_table[48]);
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

static void fault(struct int_frame *f)
{
    const char *name = exception_names[f->vector] ? exception_names[f->vector] : "exception";
    kprintf("FAULT: %s (vector %u) eip=%p err=0x%x cr2=%p cr3=%p pid=%u\n", name, f->vector,
            (void *)f->eip, f->error, (void *)read_cr2(), (void *)read_cr3(), current ? current->pid : 0);
    qemu_exit(0);
}

uint32_t interrupt_dispatch(struct int_frame *f)
{
    if (f->vector == 14 && swap_fault(read_cr2(), f->error))
        return (uint32_t)f;      /* a swapped-out page came back: retry the access */
    if (f->vector < 32)
        fault(f);
    if (f->vector == VEC_YIELD)
        return sched_switch((uint32_t)f);
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
