/* paging.c: the paging mode the boot code left the CPU in, as its control registers say (CR0.PG,
 * CR4.PSE/PAE, EFER.LMA/NXE), for the boot line "corpus: paging ..." the tests check. */
#include "corpus.h"

static uintptr_t read_cr0(void)
{
    uintptr_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static uintptr_t read_cr4(void)
{
    uintptr_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* EFER, or 0 on a CPU without it (no extended CPUID leaf 0x80000001 with NX or long mode). */
static uint32_t read_efer(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u));
    if (a < 0x80000001u) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u));
    if (!(d & ((1u << 20) | (1u << 29)))) return 0;
    __asm__ volatile("rdmsr" : "=a"(a), "=d"(d) : "c"(0xC0000080u));
    return a;
}

const char *paging_mode(void)
{
    uintptr_t cr0 = read_cr0(), cr4 = read_cr4();
    uint32_t efer = read_efer();
    int nx = (efer & 0x800) != 0;
    if (!(cr0 & 0x80000000u)) return "off";
    if (efer & 0x400) return nx ? "4-level, NX" : "4-level";
    if (cr4 & 0x20) return nx ? "PAE, NX" : "PAE";
    return (cr4 & 0x10) ? "32-bit, PSE" : "32-bit";
}
