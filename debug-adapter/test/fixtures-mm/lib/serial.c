/* serial.c: the COM1 console of the mm test kernels (polled, 115200 8N1), a small printf, and the
 * few string functions gcc may call even in freestanding code. */
#include "mmk.h"

#define COM1 0x3F8

void outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

void serial_init(void) {
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x80);
  outb(COM1 + 0, 0x01);
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);
  outb(COM1 + 2, 0xC7);
}

static void putc_(char c) {
  while ((inb(COM1 + 5) & 0x20) == 0) {
  }
  outb(COM1, (uint8_t)c);
}

void kputs(const char *s) {
  while (*s) putc_(*s++);
}

/* v / base with the remainder in *rem, by shift and subtract (no libgcc on i386). */
static uint64_t divide(uint64_t v, unsigned base, unsigned *rem) {
  uint64_t q = 0, r = 0;
  for (int i = 63; i >= 0; i--) {
    r = (r << 1) | ((v >> i) & 1);
    if (r >= base) {
      r -= base;
      q |= 1ull << i;
    }
  }
  *rem = (unsigned)r;
  return q;
}

static void put_number(uint64_t v, unsigned base, int width, char pad) {
  char buf[24];
  int n = 0;
  do {
    unsigned d;
    v = divide(v, base, &d);
    buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
  } while (v && n < (int)sizeof buf);
  while (width-- > n) putc_(pad);
  while (n) putc_(buf[--n]);
}

void kvprintf(const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      putc_(*fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, longs = 0;
    if (*fmt == '0') pad = '0';
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l') {
      longs++;
      fmt++;
    }
    switch (*fmt) {
    case 's': {
      const char *s = va_arg(ap, const char *);
      kputs(s ? s : "(null)");
      break;
    }
    case 'c':
      putc_((char)va_arg(ap, int));
      break;
    case 'd': {
      int64_t v = longs >= 2 ? va_arg(ap, long long) : longs == 1 ? va_arg(ap, long) : va_arg(ap, int);
      if (v < 0) {
        putc_('-');
        v = -v;
      }
      put_number((uint64_t)v, 10, width, pad);
      break;
    }
    case 'u':
    case 'x': {
      uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long) : longs == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
      put_number(v, *fmt == 'u' ? 10 : 16, width, pad);
      break;
    }
    case 'p':
      kputs("0x");
      put_number((uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, ' ');
      break;
    case '%':
      putc_('%');
      break;
    default:
      putc_('?');
      break;
    }
  }
}

void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

void panic(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kputs("panic: ");
  kvprintf(fmt, ap);
  kputs("\n");
  va_end(ap);
  for (;;) __asm__ volatile("cli; hlt");
}

void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return (unsigned char)*a - (unsigned char)*b;
}

void strlcpy_(char *d, const char *s, size_t n) {
  size_t i = 0;
  for (; i + 1 < n && s[i]; i++) d[i] = s[i];
  if (n) d[i] = 0;
}
