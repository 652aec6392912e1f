/* interrupts.c: our own GDT (the loader's lies in low memory that the higher-half styles
 * unmap), the IDT (CPU exceptions end the run with a message, IRQ0 counts timer ticks),
 * the 8259 PICs remapped to vectors 0x20-0x2F, and the PIT on channel 0. */
#include "corpus.h"

struct idt_entry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_high;
} __attribute__((packed));

struct idt_pointer {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

/* isr.S */
extern void exception_stub_table(void);
extern void irq0_stub(void);
extern void irq_spurious_stub(void);

static struct idt_entry idt[256];
static uint64_t gdt[3] = {
    0,
    0x00CF9A000000FFFFull, /* 0x08: flat 32-bit code */
    0x00CF92000000FFFFull, /* 0x10: flat 32-bit data */
};

static void gdt_load(void)
{
    struct idt_pointer p = { sizeof gdt - 1, (uint32_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
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
    uint32_t address = (uint32_t)(uintptr_t)handler;
    uint16_t cs = 0x08;
    idt[vector].offset_low = (uint16_t)address;
    idt[vector].selector = cs;
    idt[vector].zero = 0;
    idt[vector].type_attr = 0x8E; /* present, ring 0, 32-bit interrupt gate */
    idt[vector].offset_high = (uint16_t)(address >> 16);
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
    struct idt_pointer p = { sizeof idt - 1, (uint32_t)(uintptr_t)idt };
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
void exception_handler(uint32_t vector, uint32_t error, uint32_t eip)
{
    kputs("\ncorpus: CPU exception ");
    kput_dec(vector);
    kputs(" error ");
    kput_hex(error);
    kputs(" at ");
    kput_hex(eip);
    kputc('\n');
    corpus_exit(3);
}
