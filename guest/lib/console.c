/* console.c: the kernel console. Every character goes to COM1 (115200 8N1) and to QEMU's
 * debug port 0xE9; panic() and qemu_exit() live here because they end with the console. */
#include "console.h"
#include "x86.h"

#define COM1 0x3F8

void console_init(void)
{
    outb(COM1 + 1, 0x00);   /* no interrupts */
    outb(COM1 + 3, 0x80);   /* DLAB */
    outb(COM1 + 0, 0x01);   /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1 */
    outb(COM1 + 2, 0xC7);   /* FIFO */
    outb(COM1 + 4, 0x03);
}

void console_putc(char c)
{
    if (c == '\n')
        console_putc('\r');
    for (int spin = 0; spin < 100000 && !(inb(COM1 + 5) & 0x20); spin++)
        ;
    outb(COM1, (uint8_t)c);
    outb(0xE9, (uint8_t)c);
}

void console_write(const char *s)
{
    while (*s)
        console_putc(*s++);
}

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    uint32_t f = irq_save();
    console_write(buf);
    irq_restore(f);
}

void qemu_exit(int ok)
{
    cli();
    outb(0xF4, ok ? 0x10 : 0x11);
    for (;;)
        hlt();
}

void panic(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    cli();
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    console_write("FAULT: panic: ");
    console_write(buf);
    console_write("\n");
    qemu_exit(0);
}
