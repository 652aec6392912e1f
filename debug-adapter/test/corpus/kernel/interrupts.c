/* interrupts.c: our own GDT (the loader's lies in low memory that the higher-half styles
 * unmap), the IDT (CPU exceptions end the run with a message, IRQ0 counts timer ticks),
 * the 8259 PICs remapped to vectors 0x20-0x2F, and the PIT on channel 0. The x86-64 kernels
 * have 16-byte gates, a 64-bit code segment and their stubs in x86-64/isr.S. */
#include "corpus.h"

struct idt_entry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero; /* x86-64: the IST index (0) */
    uint8_t type_attr;
    uint16_t offset_high;
#if defined(__x86_64__)
    uint32_t offset_upper;
    uint32_t reserved;
#endif
} __attribute__((packed));

struct idt_pointer {
    uint16_t limit;
    uintptr_t base;
} __attribute__((packed));

/* isr.S */
extern void exception_stub_table(void);
extern void irq0_stub(void);
extern void irq_spurious_stub(void);

static struct idt_entry idt[256];
#if defined(__x86_64__)
static uint64_t gdt[3] = {
    0,
    0x00AF9A000000FFFFull, /* 0x08: 64-bit code */
    0x00CF92000000FFFFull, /* 0x10: flat data */
};
/* Far return to 0x08:1f (there is no far jump with an immediate in 64-bit mode). */
#define RELOAD_CS "pushq $0x08\n\tleaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n"
#else
static uint64_t gdt[3] = {
    0,
    0x00CF9A000000FFFFull, /* 0x08: flat 32-bit code */
    0x00CF92000000FFFFull, /* 0x10: flat 32-bit data */
};
#define RELOAD_CS "ljmp $0x08, $1f\n"
#endif

static void gdt_load(void)
{
    struct idt_pointer p = { sizeof gdt - 1, (uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     RELOAD_CS
                     "1:\n\t"
                     "mov $0x10, %%ax\n\t"
                     "mov %%ax, %%ds\n\t"
                     "mov %%ax, %%es\n\t"
                     "mov %%ax, %%ss\n\t"
                     "mov %%ax, %%fs\n\t"
                     "mov %%ax, %%gs"
                     :
                     : "m"(p)
                     : "eax", "memory");
}
volatile uint32_t timer_ticks;

static void set_gate(int vector, void (*handler)(void))
{
    uintptr_t address = (uintptr_t)handler;
    uint16_t cs = 0x08;
    idt[vector].offset_low = (uint16_t)address;
    idt[vector].selector = cs;
    idt[vector].zero = 0;
    idt[vector].type_attr = 0x8E; /* present, ring 0, interrupt gate (32- or 64-bit) */
    idt[vector].offset_high = (uint16_t)(address >> 16);
#if defined(__x86_64__)
    idt[vector].offset_upper = (uint32_t)(address >> 32);
    idt[vector].reserved = 0;
#endif
}

static void pic_remap(void)
{
    outb(0x20, 0x11);
    outb(0xA0, 0x11);
    outb(0x21, 0x20); /* master: vectors 0x20-0x27 */
    outb(0xA1, 0x28); /* slave: vectors 0x28-0x2F */
    outb(0x21, 0x04);
    outb(0xA1, 0x02);
    outb(0x21, 0x01);
    outb(0xA1, 0x01);
    outb(0x21, 0xFF); /* everything masked until timer_start */
    outb(0xA1, 0xFF);
}

void interrupts_init(void)
{
    gdt_load();
    /* Each exception stub is 16 bytes long (isr.S). */
    for (int v = 0; v < 32; v++) set_gate(v, (void (*)(void))((uintptr_t)exception_stub_table + 16u * (unsigned)v));
    for (int v = 32; v < 256; v++) set_gate(v, irq_spurious_stub);
    set_gate(0x20, irq0_stub);
    pic_remap();
    struct idt_pointer p = { sizeof idt - 1, (uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
}

void timer_start(uint32_t hz)
{
    uint32_t divisor = 1193182u / hz;
    outb(0x43, 0x36);
    outb(0x40, (uint8_t)divisor);
    outb(0x40, (uint8_t)(divisor >> 8));
    timer_mask(0);
    __asm__ volatile("sti");
}

void timer_mask(int masked)
{
    outb(0x21, masked ? 0xFF : 0xFE);
}

/* Called by irq0_stub. */
void timer_irq(void)
{
    timer_ticks++;
    outb(0x20, 0x20);
}

/* Called by the exception stubs: a CPU exception is a bug in the corpus; end the run. */
void exception_handler(uintptr_t vector, uintptr_t error, uintptr_t ip)
{
    kputs("\ncorpus: CPU exception ");
    kput_dec((uint32_t)vector);
    kputs(" error ");
    kput_hex(error);
    kputs(" at ");
    kput_hex(ip);
    kputc('\n');
    corpus_exit(3);
}
