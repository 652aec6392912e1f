/* console.c: the VGA text console at physical 0xB8000 (seen at PHYS_MAP_BASE + 0xB8000) with the
 * hardware cursor read from and written to the CRTC (ports 0x3D4/0x3D5), as tutorial kernels do,
 * and the serial port COM1 (0x3F8). */
#include "corpus.h"

#define VGA_COLS 80
#define VGA_ROWS 25
#define COM1 0x3F8

static volatile uint16_t *const vga = (volatile uint16_t *)PHYS_MAP(0xB8000);
static uint16_t cursor;
int vga_missing;

static uint16_t crtc_cursor(void)
{
    outb(0x3D4, 0x0E);
    uint16_t pos = (uint16_t)(inb(0x3D5) << 8);
    outb(0x3D4, 0x0F);
    pos |= inb(0x3D5);
    return pos;
}

static void crtc_set_cursor(uint16_t pos)
{
    outb(0x3D4, 0x0E);
    outb(0x3D5, (uint8_t)(pos >> 8));
    outb(0x3D4, 0x0F);
    outb(0x3D5, (uint8_t)pos);
}

void console_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xC7); /* FIFO */
    cursor = crtc_cursor();
    if (cursor == 0xFFFF) {
        /* No VGA adapter answers on the CRTC ports (QEMU -nodefaults without -vga). */
        vga_missing = 1;
        cursor = 0;
    }
    if (cursor >= VGA_COLS * VGA_ROWS) cursor = 0;
}

static void vga_putc(char c)
{
    if (c == '\n') {
        cursor = (uint16_t)((cursor / VGA_COLS + 1) * VGA_COLS);
    } else {
        vga[cursor++] = (uint16_t)(0x0700 | (uint8_t)c);
    }
    if (cursor >= VGA_COLS * VGA_ROWS) {
        for (int i = 0; i < VGA_COLS * (VGA_ROWS - 1); i++) vga[i] = vga[i + VGA_COLS];
        for (int i = 0; i < VGA_COLS; i++) vga[VGA_COLS * (VGA_ROWS - 1) + i] = 0x0720;
        cursor = VGA_COLS * (VGA_ROWS - 1);
    }
    crtc_set_cursor(cursor);
}

static void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20)) {
    }
    outb(COM1, (uint8_t)c);
}

void kputc(char c)
{
    vga_putc(c);
    serial_putc(c);
}

void kputs(const char *s)
{
    while (*s) kputc(*s++);
}

void kput_dec(uint32_t v)
{
    char buf[11];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) kputc(buf[--n]);
}

void kput_hex(uintptr_t v)
{
    kputs("0x");
    for (int shift = (int)sizeof v * 8 - 4; shift >= 0; shift -= 4) kputc("0123456789abcdef"[(v >> shift) & 0xF]);
}
