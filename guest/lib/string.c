/* string.c: freestanding memory and string functions, command-line parsing, and a PRNG. */
#include "string.h"

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    if (((uint32_t)d & 3) == 0 && (n & 3) == 0) {
        uint32_t w = (uint8_t)c * 0x01010101u;
        size_t words = n / 4;
        __asm__ volatile("cld; rep stosl" : "+D"(d), "+c"(words) : "a"(w) : "memory");
        return dst;
    }
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    const void *s = src;
    if ((((uint32_t)d | (uint32_t)s | n) & 3) == 0) {
        size_t words = n / 4;
        __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
    } else {
        __asm__ volatile("cld; rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (uint8_t)*a - (uint8_t)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (uint8_t)*a - (uint8_t)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strncpy_z(char *dst, const char *src, size_t size)
{
    size_t i = 0;
    if (!size)
        return dst;
    for (; i + 1 < size && src[i]; i++)
        dst[i] = src[i];
    dst[i] = 0;
    return dst;
}

/* Finds word `key` (terminated by '=', ' ' or end) in the command line. */
static const char *find_word(const char *cmdline, const char *key)
{
    size_t klen = strlen(key);
    const char *p = cmdline;
    while (p && *p) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, klen) && (p[klen] == 0 || p[klen] == ' ' || p[klen] == '='))
            return p + klen;
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

const char *cmdline_get(const char *cmdline, const char *key, char *buf, size_t size)
{
    const char *p = find_word(cmdline, key);
    if (!p)
        return 0;
    size_t n = 0;
    if (*p == '=')
        for (p++; *p && *p != ' ' && n + 1 < size; p++)
            buf[n++] = *p;
    if (size)
        buf[n] = 0;
    return buf;
}

int cmdline_has(const char *cmdline, const char *word)
{
    return find_word(cmdline, word) != 0;
}

uint32_t parse_uint(const char *s, int *ok)
{
    uint32_t v = 0, base = 10;
    *ok = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        uint32_t d;
        if (*s >= '0' && *s <= '9') d = (uint32_t)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = (uint32_t)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = (uint32_t)(*s - 'A' + 10);
        else return 0;
        v = v * base + d;
    }
    *ok = 1;
    return v;
}

uint32_t rand32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}
