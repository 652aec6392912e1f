/* printf.c: a small vsnprintf for the kernel console and test messages. */
#include "console.h"

struct out { char *buf; size_t size, len; };

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint32_t v, unsigned base, int neg, int width, char pad, int upper)
{
    char tmp[16];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    for (int i = n; i < width; i++)
        put(o, pad);
    while (n)
        put(o, tmp[--n]);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            fmt++;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int v = va_arg(ap, int);
            put_num(&o, v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v, 10, v < 0, width, pad, 0);
            break;
        }
        case 'u': put_num(&o, va_arg(ap, uint32_t), 10, 0, width, pad, 0); break;
        case 'x': put_num(&o, va_arg(ap, uint32_t), 16, 0, width, pad, 0); break;
        case 'X': put_num(&o, va_arg(ap, uint32_t), 16, 0, width, pad, 1); break;
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint32_t)va_arg(ap, void *), 16, 0, 8, '0', 0);
            break;
        case 'c': put(&o, (char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = 0;
            while (s[n])
                n++;
            for (int i = n; i < width; i++)
                put(&o, pad);
            while (*s)
                put(&o, *s++);
            break;
        }
        case '%': put(&o, '%'); break;
        case 0: fmt--; break;
        default:
            put(&o, '%');
            put(&o, *fmt);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
