/* interrupts.h: GDT, IDT, PIC and the saved register frame of an interrupt. */
#ifndef INTERRUPTS_H
#define INTERRUPTS_H
#include <stdint.h>

/* Pushed by boot/isr.S: segment registers, pusha, vector, error code, then the CPU's frame.
 * useresp and ss are there only when the interrupt came from ring 3 or V86 mode (cs & 3, or
 * EFLAGS_VM); v86_es..v86_gs only when it came from V86 mode (the CPU then zeroes es..gs). */
struct int_frame {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t useresp, ss;
    uint32_t v86_es, v86_ds, v86_fs, v86_gs;
};

#define IRQ_BASE 32
#define VEC_SYSCALL 0x80   /* int 0x80: system calls from ring 3 (gate DPL 3) */
#define VEC_YIELD 0x81

/* Selectors of the flat GDT. SEL_LDT's descriptor is rewritten per task (gdt_set_ldt). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B     /* ring-3 flat code */
#define SEL_UDATA 0x23     /* ring-3 flat data */
#define SEL_TSS   0x28
#define SEL_LDT   0x30
#define GDT_ENTRIES 7

#define EFLAGS_IF 0x00000200u
#define EFLAGS_IOPL 0x00003000u
#define EFLAGS_VM 0x00020000u

/* True when the frame's interrupt came from ring 3 or from V86 mode. */
static inline int frame_from_user(const struct int_frame *f) { return (f->cs & 3u) != 0 || (f->eflags & EFLAGS_VM) != 0; }

void gdt_init(void);
void idt_init(void);
/* Sets the kernel stack the CPU switches to on an interrupt from ring 3 or V86 mode. */
void tss_set_kernel_stack(uint32_t esp0);
/* Points the GDT's LDT descriptor at `base` (limit bytes - 1) and loads it; base 0 = no LDT. */
void gdt_set_ldt(uint32_t base, uint32_t limit);
/* A handler for one vector: returns the stack pointer to resume (the frame's own address, or
 * another process's), or 0 when it does not handle this interrupt (the default then runs:
 * for exceptions, a fault from ring 3 / V86 ends the process, a kernel fault stops the kernel). */
typedef uint32_t (*int_handler_fn)(struct int_frame *f);
/* Installs `fn` for `vector` with a gate of privilege `dpl` (3: reachable by int n from ring 3).
 * Vectors 0-31 keep their exception stubs; only VEC_SYSCALL, VEC_YIELD and the vectors listed
 * in boot/isr.S have stubs. Returns 0, or -1 if the vector has no stub. */
int int_set_handler(uint8_t vector, int_handler_fn fn, int dpl);
/* The name of exception `vector` ("page fault", ...), or "exception" for others. */
const char *exception_name(uint32_t vector);
/* Installs a C handler for an IRQ line (0-15); unmasks it. */
void irq_set_handler(int irq, void (*handler)(struct int_frame *));
#endif
