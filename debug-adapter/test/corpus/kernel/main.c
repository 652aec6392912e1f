/* main.c: the C entry of every corpus kernel. Prints the banner on the VGA console and COM1,
 * sets up the IDT, the PIC and the PIT and waits for a few timer ticks, then masks the timer
 * and runs the two worker threads for CORPUS_ROUNDS rounds; worker A ends the run by writing
 * to QEMU's isa-debug-exit port (0xf4). The timer is masked while the workers run so that no
 * interrupt frame lands on a worker stack at a moment that depends on the host's speed (the
 * tests compare uninitialised locals too). */
#include "corpus.h"

__attribute__((noreturn)) void corpus_exit(uint32_t code)
{
    kputs(code ? "corpus: failed\n" : "corpus: done\n");
    outl(0xf4, code);
    for (;;) __asm__ volatile("cli; hlt");
}

void kmain(uint32_t magic)
{
    console_init();
    kputs("corpus kernel " STYLE_NAME " up\n");
    if (vga_missing) {
        kputs("corpus: no VGA text console (the CRTC cursor reads 0xffff)\n");
        corpus_exit(2);
    }
    if (magic != 0x2BADB002) {
        kputs("corpus: not booted by a multiboot loader\n");
        corpus_exit(1);
    }
    kputs("corpus: paging ");
    kputs(paging_mode());
    kputc('\n');
    interrupts_init();
    timer_start(1000);
    while (timer_ticks < 3) __asm__ volatile("hlt");
    timer_mask(1);
    __asm__ volatile("cli");
    kputs("corpus: timer ok, ticks ");
    kput_dec(timer_ticks);
    kputc('\n');
    threads_init();
    kputs("corpus: workers start\n");
    threads_run();
}
