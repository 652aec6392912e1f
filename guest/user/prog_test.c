/* prog_test.c: the ring-3 programs of the user.* guest tests (test/test_user.c). Each checks
 * its own results and reports them (SYS_REPORT, keys in user_programs.h); the faulting ones
 * do one forbidden thing and must never get past it (UR_ALIVE). */
#include "ulib.h"
#include "mm.h"
#include "user_programs.h"

#define PAGE_WORDS 1024u

static uint32_t pattern(uint32_t i) { return 0xA5000000u ^ (i * 2654435761u); }

static void fill_pages(uint32_t va, uint32_t first, uint32_t pages)
{
    volatile uint32_t *p = (volatile uint32_t *)va;
    for (uint32_t i = first * PAGE_WORDS; i < (first + pages) * PAGE_WORDS; i++)
        p[i] = pattern(i);
}

static int check_pages(uint32_t va, uint32_t first, uint32_t pages)
{
    volatile uint32_t *p = (volatile uint32_t *)va;
    for (uint32_t i = first * PAGE_WORDS; i < (first + pages) * PAGE_WORDS; i++)
        if (p[i] != pattern(i))
            return 0;
    return 1;
}

/* The positive path: allocate, map, write, read back, dirty bits, resize both ways, freeze,
 * swappable, a read-only second mapping, unmap, free; every status checked. Returns 0, or
 * the number of the step that failed (also reported as UR_STEP = last step passed). */
static int mmtest(uint32_t arg)
{
    (void)arg;
    struct user_chain_info info;
    int step = 0;
#define STEP(c) do { step++; if (!(c)) return step; u_report(UR_STEP, (uint32_t)step); } while (0)
    int32_t h = u_alloc(0, 2);
    STEP(h > 0);                                                        /* 1 */
    STEP(u_map(h, UT_DATA_VA, 0, 0) == MM_OK);
    fill_pages(UT_DATA_VA, 0, 8);
    STEP(check_pages(UT_DATA_VA, 0, 8));
    STEP(u_info(h, &info) == MM_OK && info.blocks == 2 && info.flags == 0);
    STEP(u_dirty(h) == 1);                                              /* 5 */
    STEP(u_clean(h) == MM_OK && u_dirty(h) == 0);
    *(volatile uint32_t *)(UT_DATA_VA + 4 * 4096) = pattern(4 * PAGE_WORDS);
    STEP(u_dirty(h) == 1);
    STEP(u_resize(h, 4) == MM_OK && u_info(h, &info) == MM_OK && info.blocks == 4);
    STEP(u_map(h, UT_DATA_VA + 8 * 4096, 8, 0) == MM_OK);               /* the grown part */
    fill_pages(UT_DATA_VA, 8, 8);
    STEP(check_pages(UT_DATA_VA, 0, 16));                               /* 10 */
    STEP(u_resize(h, 1) == MM_OK && u_info(h, &info) == MM_OK && info.blocks == 1);
    STEP(check_pages(UT_DATA_VA, 0, 4));
    STEP(u_freeze(h) == MM_OK && u_info(h, &info) == MM_OK && info.flags == USER_CHAIN_FROZEN);
    STEP(u_unfreeze(h) == MM_OK && u_info(h, &info) == MM_OK && info.flags == 0);
    STEP(u_swappable(h, 1) == MM_OK && u_info(h, &info) == MM_OK && info.flags == USER_CHAIN_SWAPPABLE);
    STEP(u_swappable(h, 0) == MM_OK);
    STEP(u_map(h, UT_DATA_VA + 0x100000, 0, USER_MAP_READONLY) == MM_OK);
    STEP(*(volatile uint32_t *)(UT_DATA_VA + 0x100000 + 3 * 4096) == pattern(3 * PAGE_WORDS));
    STEP(u_unmap(h, UT_DATA_VA + 0x100000) == MM_OK);
    STEP(u_unmap(h, UT_DATA_VA) == MM_OK);                              /* 20 */
    STEP(u_unmap(h, UT_DATA_VA) == MM_ERR_NOT_MAPPED);
    STEP(u_free(h) == MM_OK);
    STEP(u_free(h) == MM_ERR_BAD_ID);
    STEP(u_dirty(h) == MM_ERR_BAD_ID);                                  /* 24 */
#undef STEP
    return 0;
}
USER_PROGRAM("mmtest", mmtest);

/* Reports CS, SS and EFLAGS as ring 3 sees them. */
static int cpl(uint32_t arg)
{
    (void)arg;
    uint32_t cs, ss, fl;
    __asm__ volatile("mov %%cs, %0\n mov %%ss, %1\n pushf\n pop %2" : "=r"(cs), "=r"(ss), "=r"(fl));
    u_report(UR_CS, cs);
    u_report(UR_SS, ss);
    u_report(UR_EFLAGS, fl);
    return (int)(cs & 3);
}
USER_PROGRAM("cpl", cpl);

/* The forbidden things, one per program. None may return normally. */
static int alive(uint32_t v)
{
    u_report(UR_ALIVE, v);
    return 1;
}
static int kread(uint32_t arg) { (void)arg; return alive(*(volatile uint32_t *)UT_KERNEL_VA); }
USER_PROGRAM("kread", kread);
static int kwrite(uint32_t arg) { *(volatile uint32_t *)UT_KERNEL_VA = arg; return alive(0); }
USER_PROGRAM("kwrite", kwrite);
static int highwrite(uint32_t arg) { *(volatile uint32_t *)0x10000000u = arg; return alive(0); }
USER_PROGRAM("highwrite", highwrite);
static int nullread(uint32_t arg) { (void)arg; return alive(*(volatile uint32_t *)0); }
USER_PROGRAM("nullread", nullread);
/* arg: the address of a kernel function. */
static int kexec(uint32_t arg) { ((void (*)(void))arg)(); return alive(0); }
USER_PROGRAM("kexec", kexec);
static int ucli(uint32_t arg) { (void)arg; __asm__ volatile("cli"); return alive(0); }
USER_PROGRAM("cli", ucli);
static int uhlt(uint32_t arg) { (void)arg; __asm__ volatile("hlt"); return alive(0); }
USER_PROGRAM("hlt", uhlt);
static int uin(uint32_t arg)
{
    (void)arg;
    uint8_t v;
    __asm__ volatile("inb $0x64, %0" : "=a"(v));
    return alive(v);
}
USER_PROGRAM("in", uin);
static int uout(uint32_t arg) { (void)arg; __asm__ volatile("outb %%al, $0x80" : : "a"(0)); return alive(0); }
USER_PROGRAM("out", uout);
static int uint81(uint32_t arg) { (void)arg; __asm__ volatile("int $0x81"); return alive(0); }
USER_PROGRAM("int81", uint81);
/* Writes into its own (read-only) code. */
static int codewrite(uint32_t arg) { *(volatile uint32_t *)(uint32_t)codewrite = arg; return alive(0); }
USER_PROGRAM("codewrite", codewrite);
static int uud2(uint32_t arg) { (void)arg; __asm__ volatile("ud2"); return alive(0); }
USER_PROGRAM("ud2", uud2);

/* Mappings the kernel must refuse: over its own stack, at and above 256 MiB, into the
 * kernel half, across the limit, at page 0, unaligned. Reports each status. */
static int maphigh(uint32_t arg)
{
    (void)arg;
    int32_t h = u_alloc(0, 2), one = u_alloc(0, 1);
    if (h <= 0 || one <= 0)
        return 1;
    u_report(UR_MAP_STACK, (uint32_t)u_map(one, USER_STACK_TOP - USER_STACK_SIZE, 0, 0));
    u_report(UR_MAP_LIMIT, (uint32_t)u_map(h, 0x10000000u, 0, 0));
    u_report(UR_MAP_KERNEL, (uint32_t)u_map(h, 0xC0000000u, 0, 0));
    u_report(UR_MAP_CROSS, (uint32_t)u_map(h, 0x0FFFA000u, 0, 0));
    u_report(UR_MAP_ZERO, (uint32_t)u_map(h, 0, 0, 0));
    u_report(UR_MAP_UNALIGNED, (uint32_t)u_map(h, UT_DATA_VA + 4, 0, 0));
    return u_free(h) == MM_OK && u_free(one) == MM_OK ? 0 : 2;
}
USER_PROGRAM("maphigh", maphigh);

/* System calls with pointers it may not pass and arguments it may not give. */
static int badptr(uint32_t arg)
{
    (void)arg;
    struct user_chain_info info;
    int32_t h = u_alloc(0, 1);
    if (h <= 0)
        return 1;
    u_report(UR_WRITE_KPTR, (uint32_t)u_write((const void *)UT_KERNEL_VA, 4));
    u_report(UR_INFO_RO, (uint32_t)u_info(h, (struct user_chain_info *)(uint32_t)badptr));
    u_report(UR_INFO_UNMAPPED, (uint32_t)u_info(h, (struct user_chain_info *)0x02000000u));
    u_report(UR_WRITE_WRAP, (uint32_t)u_write((const void *)(USER_STACK_TOP - 0x10), 0x20));
    u_report(UR_WRITE_LONG, (uint32_t)u_write(&info, USER_WRITE_MAX + 1));
    u_report(UR_ALLOC_ZERO, (uint32_t)u_alloc(0, 0));
    u_report(UR_ALLOC_FLAGS, (uint32_t)u_alloc(0x80, 1));
    u_report(UR_ALLOC_QUOTA, (uint32_t)u_alloc(0, 1u << 20));
    u_report(UR_BAD_CALL, (uint32_t)usys0(99));
    if (u_info(h, &info) != MM_OK || info.blocks != 1)   /* the same call with a good pointer */
        return 2;
    return u_free(h) == MM_OK ? 0 : 3;
}
USER_PROGRAM("badptr", badptr);

/* Holds a chain with a pattern for `arg` ms, then checks the pattern and frees it. */
static int holder(uint32_t arg)
{
    int32_t h = u_alloc(0, 1);
    if (h <= 0 || u_map(h, UT_DATA_VA, 0, 0) != MM_OK)
        return 1;
    fill_pages(UT_DATA_VA, 0, 4);
    u_report(UR_HANDLE, (uint32_t)h);
    uint32_t until = u_ticks() + arg;
    while ((int32_t)(u_ticks() - until) < 0)
        u_sleep(10);
    if (!check_pages(UT_DATA_VA, 0, 4))
        return 2;
    return u_free(h) == MM_OK ? 0 : 3;
}
USER_PROGRAM("holder", holder);

/* Tries to use another process's chain: its handle 1 (the thief has none) and its raw
 * chain ID `arg`. Reports each status. */
static int thief(uint32_t arg)
{
    u_report(UR_FREE_OTHER, (uint32_t)u_free(1));
    u_report(UR_MAP_OTHER, (uint32_t)u_map(1, UT_DATA_VA, 0, 0));
    u_report(UR_FREE_RAW, (uint32_t)u_free((int32_t)arg));
    u_report(UR_RESIZE_OTHER, (uint32_t)u_resize((int32_t)arg, 1));
    return 0;
}
USER_PROGRAM("thief", thief);

/* Allocates and maps chains and ends without freeing them: exit must. Returns 5. */
static int leaker(uint32_t arg)
{
    (void)arg;
    for (uint32_t i = 0; i < 3; i++) {
        int32_t h = u_alloc(i == 1 ? USER_CHAIN_FROZEN : 0, 1 + i);
        if (h <= 0)
            return 1;
        if (i < 2 && u_map(h, UT_DATA_VA + i * 0x100000u, 0, 0) != MM_OK)
            return 2;
        if (i < 2)
            fill_pages(UT_DATA_VA + i * 0x100000u, 0, 4);
    }
    return 5;
}
USER_PROGRAM("leaker", leaker);

/* Ends through SYS_EXIT with code `arg`. */
static int exiter(uint32_t arg)
{
    u_exit((int)arg);
}
USER_PROGRAM("exit", exiter);

/* Fills its handle table: USER_MAX_CHAINS allocations succeed, the next is refused with
 * MM_ERR_NOMEM, and every handle frees. Reports how many it got (UR_HANDLE). */
static int handles(uint32_t arg)
{
    (void)arg;
    int32_t got[USER_MAX_CHAINS];
    uint32_t n = 0;
    while (n < USER_MAX_CHAINS) {
        int32_t h = u_alloc(0, 1);
        if (h <= 0)
            break;
        got[n++] = h;
    }
    u_report(UR_HANDLE, n);
    int32_t extra = u_alloc(0, 1);
    for (uint32_t i = 0; i < n; i++)
        if (u_free(got[i]) != MM_OK)
            return 2;
    return extra == MM_ERR_NOMEM ? 0 : 1;
}
USER_PROGRAM("handles", handles);

/* Initialized data and bss: each process has its own copy of the image's writable part. */
static volatile uint32_t counter = 7;
static volatile uint32_t zeroed[2048];   /* two pages of bss */

/* Checks its data and bss start as linked, writes `arg` into them, lets the other processes
 * run, and checks they still hold its own values. */
static int globals(uint32_t arg)
{
    if (counter != 7)
        return 1;
    for (uint32_t i = 0; i < 2048; i++)
        if (zeroed[i])
            return 2;
    counter = arg;
    zeroed[2047] = arg;
    for (int i = 0; i < 5; i++)
        u_sleep(10);
    return counter == arg && zeroed[2047] == arg ? 0 : 3;
}
USER_PROGRAM("globals", globals);

/* Runs forever in ring 3 without a system call: only the timer takes the CPU from it. */
static int spin(uint32_t arg)
{
    volatile uint32_t n = arg, stop = 0;
    while (!stop)
        n++;
    return 1;
}
USER_PROGRAM("spin", spin);

/* Sleeps forever, 20 ms at a time: mostly inside SYS_SLEEP. */
static int sleeper(uint32_t arg)
{
    volatile uint32_t stop = arg;
    while (!stop)
        u_sleep(20);
    return 1;
}
USER_PROGRAM("sleeper", sleeper);
