/* main.c: kmain, the C entry point. Reads the Multiboot information, brings up the CPU
 * tables, the memory manager, the heap, processes and the services, then runs the mode the
 * command line selects: selftest, demo or bench. */
#include "console.h"
#include "debuginfo.h"
#include "dos.h"
#include "dpmi.h"
#include "heap.h"
#include "interrupts.h"
#include "mm.h"
#include "modes.h"
#include "multiboot.h"
#include "proc.h"
#include "string.h"
#include "swap.h"
#include "test.h"
#include "timer.h"
#include "v86.h"
#include "x86.h"
#include "xms.h"
#include "event_ring.h"
#include "ring_bench.h"

#define MAX_RANGES 32

extern uint8_t __kernel_end[];
char kernel_cmdline[256];
static struct mm_ram_range ranges[MAX_RANGES];

/* Copies what kmain needs out of the Multiboot structures before anything overwrites them.
 * Returns the number of RAM ranges found. */
static uint32_t read_multiboot(uint32_t mbi_phys)
{
    const struct multiboot_info *mbi = P2V(mbi_phys);
    uint32_t n = 0;
    if (mbi->flags & MB_INFO_CMDLINE)
        strncpy_z(kernel_cmdline, P2V(mbi->cmdline), sizeof kernel_cmdline);
    if (mbi->flags & MB_INFO_MMAP) {
        uint32_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
        while (p < end && n < MAX_RANGES) {
            const struct multiboot_mmap_entry *e = P2V(p);
            if (e->type == 1 && e->addr < 0x100000000ull) {
                uint64_t last = e->addr + e->len;
                if (last > 0x100000000ull)
                    last = 0x100000000ull;
                ranges[n].start = (uint32_t)e->addr;
                ranges[n].end = last == 0x100000000ull ? 0xFFFFF000u : (uint32_t)last;
                n++;
            }
            p += e->size + 4;
        }
    } else if (mbi->flags & MB_INFO_MEMORY) {
        ranges[n++] = (struct mm_ram_range){0, mbi->mem_lower * 1024};
        ranges[n++] = (struct mm_ram_range){0x100000, 0x100000 + mbi->mem_upper * 1024};
    }
    return n;
}

void kmain(uint32_t magic, uint32_t mbi_phys)
{
    console_init();
    gdt_init();
    idt_init();
    v86_init();   /* the INT 31h gate of DPMI clients (V86 tasks: kernel/v86.c) */
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        panic("not started by a Multiboot loader (magic 0x%x)", magic);
    uint32_t nranges = read_multiboot(mbi_phys);
    kprintf("mmscope guest kernel: cmdline \"%s\"\n", kernel_cmdline);
    for (uint32_t i = 0; i < nranges; i++)
        kprintf("ram: %p-%p\n", (void *)ranges[i].start, (void *)ranges[i].end);
    mm_init(ranges, nranges, V2P(__kernel_end));
    heap_init();
    proc_init();
    dos_init();
    xms_init();
    dpmi_init();
    swap_init();
    debuginfo_init();
    event_ring_init(!cmdline_has(kernel_cmdline, "ring=off"));
    timer_init();
    sti();
    event_ring_calibrate();

    char only[64];
    if (cmdline_has(kernel_cmdline, "selftest"))
        selftest_run(cmdline_get(kernel_cmdline, "only", only, sizeof only));
    else if (cmdline_has(kernel_cmdline, "ringbench"))
        ring_bench_run();
    else if (cmdline_has(kernel_cmdline, "bench"))
        bench_run();
    else if (cmdline_has(kernel_cmdline, "fill"))
        fill_run();
    else
        demo_run();
    qemu_exit(1);
}
