// A tiny multiboot kernel for the Screen tests, in the style of hobby kernels: it writes known
// text to the VGA text buffer at 0xB8000, then polls the PS/2 keyboard controller (ports 0x64 and
// 0x60) and echoes every scancode on COM1 ("key 1e") and on the screen's fourth row.
// Variants by -D: MB2 (a multiboot2 header instead), NO_HEADER (none), BAD_CHECKSUM.

#define MB1_MAGIC 0x1BADB002u
#define MB1_FLAGS 0x00000003u
#define MB2_MAGIC 0xE85250D6u

#if defined(MB2)
__attribute__((section(".multiboot"), used, aligned(8))) static const unsigned int header[6] = {
  MB2_MAGIC, 0, 24, (unsigned int)-(MB2_MAGIC + 0 + 24),
  0, 8, /* the end tag: type 0, flags 0, size 8 */
};
#elif !defined(NO_HEADER)
#if defined(BAD_CHECKSUM)
#define MB1_CHECKSUM ((unsigned int)-(MB1_MAGIC + MB1_FLAGS) + 1u)
#else
#define MB1_CHECKSUM ((unsigned int)-(MB1_MAGIC + MB1_FLAGS))
#endif
__attribute__((section(".multiboot"), used, aligned(4))) static const unsigned int header[3] = {
  MB1_MAGIC, MB1_FLAGS, MB1_CHECKSUM,
};
#endif

__attribute__((used, aligned(16))) static unsigned char stack[8192];
void kmain(void);

__asm__(".text\n.global _start\n_start:\n mov $stack + 8192, %esp\n call kmain\n1: hlt\n jmp 1b\n");

static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port) { unsigned char v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static volatile unsigned short *const vga = (volatile unsigned short *)0xB8000;
static const char hex[] = "0123456789abcdef";

static void serial_putc(char c) {
  while (!(inb(0x3F8 + 5) & 0x20)) {
  }
  outb(0x3F8, (unsigned char)c);
}

static void serial_puts(const char *s) {
  while (*s) serial_putc(*s++);
}

static void vga_puts(int row, int col, const char *s, unsigned char attr) {
  while (*s && col < 80) vga[row * 80 + col++] = (unsigned short)((unsigned char)*s++ | (attr << 8));
}

void kmain(void) {
  for (int i = 0; i < 80 * 25; i++) vga[i] = 0x0720;
  vga_puts(0, 0, "MMSCOPE SCREEN TEST", 0x1F);
  vga_puts(1, 0, "line two: 0123456789 <>&", 0x07);
  vga_puts(24, 60, "bottom right corner", 0x4E);
  outb(0x3F8 + 1, 0x00);
  outb(0x3F8 + 3, 0x80);
  outb(0x3F8 + 0, 0x01);
  outb(0x3F8 + 1, 0x00);
  outb(0x3F8 + 3, 0x03);
  serial_puts("screen kernel ready\n");
  int keys = 0;
  for (;;) {
    if (inb(0x64) & 1) {
      unsigned char sc = inb(0x60);
      char line[8] = { 'k', 'e', 'y', ' ', hex[sc >> 4], hex[sc & 15], '\n', 0 };
      serial_puts(line);
      line[6] = 0;
      if (keys < 13) vga_puts(3, keys * 6, line, 0x0A);
      keys++;
    }
  }
}
