/* console.h: kernel console on COM1 and QEMU's port 0xE9, with a small printf. */
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void console_init(void);
void console_putc(char c);
void console_write(const char *s);
/* printf subset: %d %i %u %x %X %p %s %c %% with optional 0-padding, width and 'l'. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Stops the kernel with a message: prints "FAULT: panic: ..." and exits QEMU with failure. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Exits QEMU through isa-debug-exit (status 33 when ok, 35 otherwise); halts if absent. */
void qemu_exit(int ok) __attribute__((noreturn));

#define KASSERT(c) do { if (!(c)) panic("assertion failed: %s at %s:%d", #c, __FILE__, __LINE__); } while (0)
#endif
