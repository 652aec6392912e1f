/* ulib.h: the user library of ring-3 programs (user/): system-call wrappers (syscall.h)
 * and a few helpers. User code is linked into the user image only (user/user.ld): it can
 * call what is here and nothing of the kernel. */
#ifndef ULIB_H
#define ULIB_H
#include <stddef.h>
#include <stdint.h>
#include "syscall.h"

/* Registers `fn` (int fn(uint32_t arg)) as the user program `pname`, which
 * proc_create_user(name, "pname", arg) starts. Its return value is the exit code. */
#define USER_PROGRAM(pname, fn)                                                          \
    static const char upn_##fn[] = pname;                                                \
    static const struct { const char *name; int (*entry)(uint32_t); } upe_##fn          \
        __attribute__((section(".user_programs"), used, aligned(4))) = {upn_##fn, fn}

static inline int32_t usys0(uint32_t n)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n) : "memory");
    return r;
}
static inline int32_t usys1(uint32_t n, uint32_t a)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory");
    return r;
}
static inline int32_t usys2(uint32_t n, uint32_t a, uint32_t b)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
    return r;
}
static inline int32_t usys4(uint32_t n, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
    return r;
}

/* Ends the process with `code` (0..255). */
void u_exit(int code) __attribute__((noreturn));
static inline int32_t u_getpid(void) { return usys0(SYS_GETPID); }
static inline int32_t u_yield(void) { return usys0(SYS_YIELD); }
static inline int32_t u_sleep(uint32_t ms) { return usys1(SYS_SLEEP, ms); }
static inline int32_t u_write(const void *p, uint32_t len) { return usys2(SYS_WRITE, (uint32_t)p, len); }
static inline int32_t u_report(uint32_t key, uint32_t value) { return usys2(SYS_REPORT, key, value); }
static inline int32_t u_alloc(uint32_t flags, uint32_t blocks) { return usys2(SYS_ALLOC, flags, blocks); }
static inline int32_t u_free(int32_t h) { return usys1(SYS_FREE, (uint32_t)h); }
static inline int32_t u_resize(int32_t h, uint32_t blocks) { return usys2(SYS_RESIZE, (uint32_t)h, blocks); }
static inline int32_t u_map(int32_t h, uint32_t va, uint32_t page_offset, uint32_t flags)
{
    return usys4(SYS_MAP, (uint32_t)h, va, page_offset, flags);
}
static inline int32_t u_unmap(int32_t h, uint32_t va) { return usys2(SYS_UNMAP, (uint32_t)h, va); }
static inline int32_t u_freeze(int32_t h) { return usys1(SYS_FREEZE, (uint32_t)h); }
static inline int32_t u_unfreeze(int32_t h) { return usys1(SYS_UNFREEZE, (uint32_t)h); }
static inline int32_t u_swappable(int32_t h, int on) { return usys2(SYS_SWAPPABLE, (uint32_t)h, (uint32_t)on); }
static inline int32_t u_clean(int32_t h) { return usys1(SYS_CLEAN, (uint32_t)h); }
static inline int32_t u_dirty(int32_t h) { return usys1(SYS_DIRTY, (uint32_t)h); }
static inline int32_t u_info(int32_t h, struct user_chain_info *out) { return usys2(SYS_INFO, (uint32_t)h, (uint32_t)out); }
static inline uint32_t u_ticks(void) { return (uint32_t)usys0(SYS_TICKS); }

/* Writes a NUL-terminated string to the console. */
void u_puts(const char *s);
/* Writes "<prefix><decimal value>\n". */
void u_put_num(const char *prefix, int32_t value);
/* xorshift32 step: the next pseudo-random number (state must not be 0). */
uint32_t u_rand(uint32_t *state);
uint32_t u_strlen(const char *s);
/* The compiler may emit calls to these; the user image has its own. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
#endif
