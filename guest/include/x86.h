/* x86.h: inline wrappers for the i386 instructions the kernel uses (ports, control
 * registers, TLB, interrupt flag). No state; every function is a single instruction. */
#ifndef X86_H
#define X86_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void flush_tlb(void) { write_cr3(read_cr3()); }

static inline uint32_t read_eflags(void) { uint32_t f; __asm__ volatile("pushf; pop %0" : "=r"(f)); return f; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt"); }

/* irq_save disables interrupts and returns whether they were enabled; irq_restore undoes it.
 * The memory manager brackets every public operation with these (one CPU, so this is the lock). */
static inline uint32_t irq_save(void) { uint32_t f = read_eflags(); cli(); return f & 0x200; }
static inline void irq_restore(uint32_t was) { if (was) sti(); }

#define KERNEL_VBASE 0xC0000000u
#define P2V(pa) ((void *)((uint32_t)(pa) + KERNEL_VBASE))
#define V2P(va) ((uint32_t)(va) - KERNEL_VBASE)

#endif
