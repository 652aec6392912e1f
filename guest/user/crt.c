/* crt.c: the start of the user image (its header, user_image.h) and the user library's
 * out-of-line part (ulib.h). Runs in ring 3 only. */
#include "ulib.h"
#include "user_image.h"

extern const char __user_text_end[], __user_end[], __user_programs[], __user_programs_end[];
void user_exit_stub(void);

__attribute__((section(".user_header"), used)) static const struct user_image_header header = {
    USER_IMAGE_MAGIC, (uint32_t)__user_text_end, (uint32_t)__user_end, (uint32_t)user_exit_stub,
    (uint32_t)__user_programs, (uint32_t)__user_programs_end,
};

/* Where a program's main returns to: its result (EAX) becomes the exit code. */
__asm__(".text\n"
        ".global user_exit_stub\n"
        "user_exit_stub:\n"
        "    movl %eax, %ebx\n"
        "    movl $0, %eax\n"      /* SYS_EXIT */
        "    int $0x80\n"
        "    ud2\n");

void u_exit(int code)
{
    usys1(SYS_EXIT, (uint32_t)code);
    for (;;)
        ;
}

uint32_t u_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

void u_puts(const char *s)
{
    uint32_t n = u_strlen(s);
    while (n) {
        uint32_t k = n > USER_WRITE_MAX ? USER_WRITE_MAX : n;
        u_write(s, k);
        s += k;
        n -= k;
    }
}

void u_put_num(const char *prefix, int32_t value)
{
    char buf[80];
    uint32_t n = 0;
    while (*prefix && n < 60)
        buf[n++] = *prefix++;
    uint32_t v = value < 0 ? (uint32_t)-value : (uint32_t)value;
    if (value < 0)
        buf[n++] = '-';
    char digits[12];
    int d = 0;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (d)
        buf[n++] = digits[--d];
    buf[n++] = '\n';
    u_write(buf, n);
}

uint32_t u_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
