/* interrupts.h: GDT, IDT, PIC and the saved register frame of an interrupt. */
#ifndef INTERRUPTS_H
#define INTERRUPTS_H
#include <stdint.h>

/* Pushed by boot/isr.S: segment registers, pusha, vector, error code, then the CPU's frame. */
struct int_frame {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

#define IRQ_BASE 32
#define VEC_YIELD 0x81

void gdt_init(void);
void idt_init(void);
/* Installs a C handler for an IRQ line (0-15); unmasks it. */
void irq_set_handler(int irq, void (*handler)(struct int_frame *));
#endif
