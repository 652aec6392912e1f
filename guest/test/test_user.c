/* test_user.c: ring-3 processes (usermode.h). The CPU enforces the user/supervisor split
 * and the 256 MiB limit: programs of the user image (user/prog_test.c) that read, write or
 * execute the kernel half, write above 256 MiB, or run cli/hlt/in/out/int 0x81 are killed
 * (exit_code = PROC_EXIT_KILLED | vector) with everything they held freed, while the
 * kernel and the other processes go on; the system calls refuse what a process may not
 * name (another process's chain, addresses outside its user space, bad pointers). */
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "syscall.h"
#include "test.h"
#include "timer.h"
#include "user_image.h"
#include "user_programs.h"
#include "usermode.h"
#include "x86.h"

extern const uint8_t user_image_start[];   /* kernel/user_image.S */

struct urun {
    const char *program;
    uint32_t arg;
    struct pcb *p;
    uint32_t pid, exit_code;
};

/* Mappings other than the kernel heap's (which grows with the processes' kernel stacks). */
static uint32_t client_mappings(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < mm_mapping_count; i++)
        n += mm_owners[mm_mappings[i].chain].kind != OWNER_HEAP;
    return n;
}

/* Blocks, mappings and handle tables in use: all must come back after a process ends. */
struct usage { uint32_t blocks, mappings, uprocs; };
static struct usage usage_now(void)
{
    return (struct usage){mm_client_blocks(), client_mappings(), user_proc_count()};
}

/* True when the ended process's UPD is empty (its page tables were given back). */
static bool upd_empty(const struct pcb *p)
{
    for (uint32_t i = 0; i < UPD_ENTRIES; i++)
        if (p->upd[i])
            return false;
    return true;
}

static bool all_ended(struct urun *r, int n)
{
    for (int i = 0; i < n; i++)
        if (r[i].p->state != PROC_ZOMBIE)
            return false;
    return true;
}

/* Runs the scheduler (process 0 halts) until every process of r[] is a zombie or
 * `ms` passed. */
static void run_until_ended(struct urun *r, int n, uint32_t ms)
{
    sched_enable(1);
    uint32_t deadline = timer_ms() + ms;
    while (!all_ended(r, n) && (int32_t)(timer_ms() - deadline) < 0)
        hlt();
    sched_enable(0);
}

/* Starts r[0..n) as user processes, runs them to their end, records their exit codes and
 * reaps them. Returns NULL or a failure message. */
static const char *run_programs(struct urun *r, int n)
{
    for (int i = 0; i < n; i++) {
        r[i].p = proc_create_user(r[i].program, r[i].program, r[i].arg);
        if (!r[i].p)
            return test_fail(__FILE__, __LINE__, "cannot start user program %s", r[i].program);
        r[i].pid = r[i].p->pid;
        if (r[i].p->mode != PROC_MODE_USER)
            return test_fail(__FILE__, __LINE__, "%s: mode %u, want PROC_MODE_USER", r[i].program, r[i].p->mode);
    }
    run_until_ended(r, n, 5000);
    const char *err = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].p->state != PROC_ZOMBIE) {
            err = test_fail(__FILE__, __LINE__, "%s (pid %u) still running after 5 s", r[i].program, r[i].pid);
            user_proc_kill(r[i].p, PROC_EXIT_TERMINATED);   /* end it, so that the next tests run clean */
            run_until_ended(&r[i], 1, 11000);
            if (r[i].p->state != PROC_ZOMBIE)
                continue;
        }
        r[i].exit_code = r[i].p->exit_code;
        if (!upd_empty(r[i].p))
            err = test_fail(__FILE__, __LINE__, "%s (pid %u) ended with page tables in its UPD", r[i].program, r[i].pid);
        proc_reap(r[i].pid);
    }
    return err;
}

static const char *check_usage(struct usage before)
{
    struct usage now = usage_now();
    CHECK_EQ(now.blocks, before.blocks);
    CHECK_EQ(now.mappings, before.mappings);
    CHECK_EQ(now.uprocs, before.uprocs);
    return 0;
}

/* Runs `program` expecting it killed by exception `vector`, next to a process running the
 * positive path ("mmtest"), which must be unaffected. */
static const char *expect_killed(const char *program, uint32_t arg, uint32_t vector)
{
    struct usage before = usage_now();
    uint32_t kills = user_kills;
    struct urun r[2] = {{program, arg, 0, 0, 0}, {"mmtest", 0, 0, 0, 0}};
    const char *err = run_programs(r, 2);
    if (err)
        return err;
    uint32_t v;
    if (r[0].exit_code != (PROC_EXIT_KILLED | vector))
        return test_fail(__FILE__, __LINE__, "%s: exit_code 0x%x, want 0x%x (killed by vector %u)", program,
                         r[0].exit_code, PROC_EXIT_KILLED | vector, vector);
    CHECK(user_report_find(r[0].pid, UR_ALIVE, &v) != 0);   /* never got past the instruction */
    CHECK_EQ(user_kills, kills + 1);
    CHECK_EQ(r[1].exit_code, 0);                             /* the neighbour went on */
    return check_usage(before);
}

TEST(user, cpl_is_3)
{
    struct urun r = {"cpl", 0, 0, 0, 0};
    const char *err = run_programs(&r, 1);
    if (err)
        return err;
    uint32_t cs = 0, ss = 0, fl = 0;
    CHECK_OK(user_report_find(r.pid, UR_CS, &cs));
    CHECK_OK(user_report_find(r.pid, UR_SS, &ss));
    CHECK_OK(user_report_find(r.pid, UR_EFLAGS, &fl));
    CHECK_EQ(cs, SEL_UCODE);
    CHECK_EQ(cs & 3, 3);
    CHECK_EQ(ss, SEL_UDATA);
    CHECK_EQ(fl & EFLAGS_IOPL, 0);      /* IOPL 0: cli/in/out are not allowed */
    CHECK(fl & EFLAGS_IF);
    CHECK_EQ(r.exit_code, 3);           /* main returned CPL: the exit stub passed it on */
    return 0;
}

TEST(user, syscalls_positive_path)
{
    struct usage before = usage_now();
    uint32_t calls = user_syscalls;
    struct urun r = {"mmtest", 0, 0, 0, 0};
    const char *err = run_programs(&r, 1);
    if (err)
        return err;
    uint32_t step = 0;
    user_report_find(r.pid, UR_STEP, &step);
    if (r.exit_code != 0)
        return test_fail(__FILE__, __LINE__, "mmtest failed at step %u (exit_code 0x%x)", step + 1, r.exit_code);
    CHECK_EQ(step, 24);
    CHECK(user_syscalls - calls >= 40);
    return check_usage(before);
}

TEST(user, kernel_read_killed) { return expect_killed("kread", 0, 14); }
TEST(user, kernel_write_killed) { return expect_killed("kwrite", 1, 14); }
TEST(user, write_above_256m_killed) { return expect_killed("highwrite", 1, 14); }
TEST(user, null_read_killed) { return expect_killed("nullread", 0, 14); }
TEST(user, kernel_exec_killed) { return expect_killed("kexec", (uint32_t)proc_yield, 14); }
TEST(user, own_code_is_readonly) { return expect_killed("codewrite", 1, 14); }
TEST(user, cli_killed) { return expect_killed("cli", 0, 13); }
TEST(user, hlt_killed) { return expect_killed("hlt", 0, 13); }
TEST(user, in_killed) { return expect_killed("in", 0, 13); }
TEST(user, out_killed) { return expect_killed("out", 0, 13); }
TEST(user, kernel_gate_killed) { return expect_killed("int81", 0, 13); }
TEST(user, invalid_opcode_killed) { return expect_killed("ud2", 0, 6); }

TEST(user, map_refusals)
{
    struct urun r = {"maphigh", 0, 0, 0, 0};
    const char *err = run_programs(&r, 1);
    if (err)
        return err;
    CHECK_EQ(r.exit_code, 0);
    static const struct { uint32_t key; int32_t want; } want[] = {
        {UR_MAP_STACK, MM_ERR_BUSY}, {UR_MAP_LIMIT, MM_ERR_RANGE}, {UR_MAP_KERNEL, MM_ERR_RANGE},
        {UR_MAP_CROSS, MM_ERR_RANGE}, {UR_MAP_ZERO, MM_ERR_RANGE}, {UR_MAP_UNALIGNED, MM_ERR_ALIGN},
    };
    for (uint32_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t v = 0;
        CHECK_OK(user_report_find(r.pid, want[i].key, &v));
        if ((int32_t)v != want[i].want)
            return test_fail(__FILE__, __LINE__, "report %u: status %d, want %d", want[i].key, (int32_t)v, want[i].want);
    }
    return 0;
}

TEST(user, bad_pointers_and_arguments_refused)
{
    struct urun r = {"badptr", 0, 0, 0, 0};
    const char *err = run_programs(&r, 1);
    if (err)
        return err;
    CHECK_EQ(r.exit_code, 0);
    static const struct { uint32_t key; int32_t want; } want[] = {
        {UR_WRITE_KPTR, MM_ERR_RANGE}, {UR_INFO_RO, MM_ERR_RANGE}, {UR_INFO_UNMAPPED, MM_ERR_RANGE},
        {UR_WRITE_WRAP, MM_ERR_RANGE}, {UR_WRITE_LONG, MM_ERR_INVALID}, {UR_ALLOC_ZERO, MM_ERR_INVALID},
        {UR_ALLOC_FLAGS, MM_ERR_INVALID}, {UR_ALLOC_QUOTA, MM_ERR_NOMEM}, {UR_BAD_CALL, MM_ERR_INVALID},
    };
    for (uint32_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t v = 0;
        CHECK_OK(user_report_find(r.pid, want[i].key, &v));
        if ((int32_t)v != want[i].want)
            return test_fail(__FILE__, __LINE__, "report %u: status %d, want %d", want[i].key, (int32_t)v, want[i].want);
    }
    return 0;
}

/* The chain `pid` allocated through SYS_ALLOC (its owner record names a user-space caller),
 * or 0. */
static chain_id_t allocated_by(uint32_t pid)
{
    for (uint32_t b = 1; b < mm_block_count; b++)
        if (ct_is_head(mm_block_table[b]) && mm_owners[b].kind == OWNER_PROCESS &&
            mm_owners[b].handle == pid && mm_owners[b].caller < USER_SPACE_END)
            return b;
    return 0;
}

TEST(user, other_process_chain_refused)
{
    struct usage before = usage_now();
    struct urun r[2] = {{"holder", 400, 0, 0, 0}, {"thief", 0, 0, 0, 0}};
    r[0].p = proc_create_user("holder", "holder", 400);
    CHECK(r[0].p);
    r[0].pid = r[0].p->pid;
    uint32_t h = 0;
    sched_enable(1);
    uint32_t deadline = timer_ms() + 3000;
    while (user_report_find(r[0].pid, UR_HANDLE, &h) != 0 && r[0].p->state != PROC_ZOMBIE &&
           (int32_t)(timer_ms() - deadline) < 0)
        hlt();
    sched_enable(0);
    chain_id_t victim = allocated_by(r[0].pid);
    CHECK(victim != 0);
    CHECK_EQ(h, 1);
    r[1].arg = victim;
    r[1].p = proc_create_user("thief", "thief", victim);
    CHECK(r[1].p);
    r[1].pid = r[1].p->pid;
    run_until_ended(r, 2, 5000);
    CHECK(all_ended(r, 2));
    CHECK_EQ(r[0].p->exit_code, 0);        /* its chain and data survived the thief */
    CHECK_EQ(r[1].p->exit_code, 0);
    static const uint32_t keys[] = {UR_FREE_OTHER, UR_MAP_OTHER, UR_FREE_RAW, UR_RESIZE_OTHER};
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t v = 0;
        CHECK_OK(user_report_find(r[1].pid, keys[i], &v));
        CHECK_EQ(v, (uint32_t)MM_ERR_BAD_ID);
    }
    CHECK_OK(proc_reap(r[0].pid));
    CHECK_OK(proc_reap(r[1].pid));
    return check_usage(before);
}

TEST(user, exit_frees_everything)
{
    struct usage before = usage_now();
    struct urun r = {"leaker", 0, 0, 0, 0};
    r.p = proc_create_user("leaker", "leaker", 0);
    CHECK(r.p);
    r.pid = r.p->pid;
    /* While it is alive it holds its image and stack. */
    CHECK(mm_client_blocks() > before.blocks);
    CHECK(client_mappings() > before.mappings);
    run_until_ended(&r, 1, 5000);
    CHECK_EQ(r.p->state, PROC_ZOMBIE);
    CHECK_EQ(r.p->exit_code, 5);
    for (uint32_t b = 1; b < mm_block_count; b++)
        if (ct_is_head(mm_block_table[b]) && mm_owners[b].kind == OWNER_PROCESS)
            return test_fail(__FILE__, __LINE__, "chain %u still owned by pid %u", b, mm_owners[b].handle);
    CHECK(upd_empty(r.p));
    CHECK_OK(proc_reap(r.pid));
    return check_usage(before);
}

static void kthread_returns(void *arg)
{
    *(volatile uint32_t *)arg = 1;
}

TEST(user, mode_and_exit_code)
{
    struct usage before = usage_now();
    static volatile uint32_t ran;
    ran = 0;
    struct pcb *k = proc_create("kthread", kthread_returns, (void *)&ran);
    CHECK(k);
    CHECK_EQ(k->mode, PROC_MODE_KERNEL);
    struct urun r[2] = {{"exit", 42, 0, 0, 0}, {"exit", 300, 0, 0, 0}};
    const char *err = run_programs(r, 2);
    if (err)
        return err;
    CHECK_EQ(r[0].exit_code, 42);
    CHECK_EQ(r[1].exit_code, 300 & PROC_EXIT_CODE_MASK);
    sched_enable(1);
    uint32_t deadline = timer_ms() + 2000;
    while (k->state != PROC_ZOMBIE && (int32_t)(timer_ms() - deadline) < 0)
        hlt();
    sched_enable(0);
    CHECK_EQ(ran, 1);
    CHECK_EQ(k->state, PROC_ZOMBIE);
    CHECK_EQ(k->mode, PROC_MODE_KERNEL);
    CHECK_EQ(k->exit_code, 0);
    CHECK_OK(proc_reap(k->pid));
    CHECK(proc_create_user("nosuch", "no-such-program", 0) == 0);
    return check_usage(before);
}

TEST(user, many_killed_kernel_goes_on)
{
    struct usage before = usage_now();
    uint32_t kills = user_kills;
    struct urun r[] = {
        {"kread", 0, 0, 0, 0}, {"highwrite", 0, 0, 0, 0}, {"cli", 0, 0, 0, 0}, {"out", 0, 0, 0, 0},
        {"mmtest", 0, 0, 0, 0}, {"nullread", 0, 0, 0, 0}, {"codewrite", 0, 0, 0, 0}, {"mmtest", 0, 0, 0, 0},
    };
    const int n = sizeof r / sizeof r[0];
    const char *err = run_programs(r, n);
    if (err)
        return err;
    for (int i = 0; i < n; i++) {
        bool good = !strcmp(r[i].program, "mmtest");
        if (good ? r[i].exit_code != 0 : !(r[i].exit_code & PROC_EXIT_KILLED))
            return test_fail(__FILE__, __LINE__, "%s: exit_code 0x%x", r[i].program, r[i].exit_code);
    }
    CHECK_EQ(user_kills - kills, 6);
    return check_usage(before);
}

/* A free block (searched from the top of memory), or 0. */
static uint32_t free_block(void)
{
    for (uint32_t b = mm_block_count; b-- > 1;)
        if (ct_is_free(mm_block_table[b]))
            return b;
    return 0;
}

TEST(user, chains_move_under_a_running_process)
{
    struct usage before = usage_now();
    struct urun r = {"holder", 600, 0, 0, 0};
    r.p = proc_create_user("holder", "holder", 600);
    CHECK(r.p);
    r.pid = r.p->pid;
    uint32_t h = 0;
    sched_enable(1);
    uint32_t deadline = timer_ms() + 3000;
    while (user_report_find(r.pid, UR_HANDLE, &h) != 0 && r.p->state != PROC_ZOMBIE && (int32_t)(timer_ms() - deadline) < 0)
        hlt();
    sched_enable(0);
    CHECK_EQ(h, 1);
    /* Move the head of each of its chains (image, stack, the one it allocated): their IDs
     * change; the process must go on running, find its data, and free by its handle. */
    chain_id_t ids[4];
    uint32_t n = 0;
    for (uint32_t b = 1; b < mm_block_count && n < 4; b++)
        if (ct_is_head(mm_block_table[b]) && mm_owners[b].kind == OWNER_PROCESS && mm_owners[b].handle == r.pid)
            ids[n++] = b;
    CHECK_EQ(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t dst = free_block();
        CHECK(dst != 0);
        CHECK_OK(mm_move_block(ids[i], dst));
        CHECK(ct_is_head(mm_block_table[dst]) && !ct_is_head(mm_block_table[ids[i]]));
        CHECK_EQ(mm_owners[dst].handle, r.pid);
    }
    run_until_ended(&r, 1, 5000);
    CHECK_EQ(r.p->state, PROC_ZOMBIE);
    CHECK_EQ(r.p->exit_code, 0);   /* 2: data lost; 3: its handle did not follow the move */
    CHECK_OK(proc_reap(r.pid));
    return check_usage(before);
}

TEST(user, handle_table_limit)
{
    struct urun r = {"handles", 0, 0, 0, 0};
    const char *err = run_programs(&r, 1);
    if (err)
        return err;
    uint32_t n = 0;
    CHECK_OK(user_report_find(r.pid, UR_HANDLE, &n));
    CHECK_EQ(n, USER_MAX_CHAINS);
    CHECK_EQ(r.exit_code, 0);   /* 1: a chain past the table was given; 2: a handle did not free */
    return 0;
}

TEST(user, syscall_from_ring0_refused)
{
    /* The gate is installed with the first user process (before it, int 0x80 has no IDT
     * entry at all); run one so that it is there. */
    struct pcb *p = proc_create_user("exit", "exit", 0);
    CHECK(p);
    struct urun u = {"exit", 0, p, p->pid, 0};
    run_until_ended(&u, 1, 3000);
    CHECK_EQ(p->state, PROC_ZOMBIE);
    CHECK_OK(proc_reap(p->pid));
    int32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(SYS_GETPID) : "memory");
    CHECK_EQ(r, (uint32_t)MM_ERR_INVALID);   /* only ring-3 user processes make system calls */
    return 0;
}

TEST(user, data_and_bss_private_per_process)
{
    const struct user_image_header *h = (const struct user_image_header *)user_image_start;
    CHECK(h->image_end >= h->text_end + 2 * MM_PAGE_SIZE);   /* the image has data and bss pages */
    struct urun r[3] = {{"globals", 100, 0, 0, 0}, {"globals", 200, 0, 0, 0}, {"globals", 300, 0, 0, 0}};
    const char *err = run_programs(r, 3);
    if (err)
        return err;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(r[i].exit_code, 0);   /* 1, 2: data or bss not as linked; 3: another process's write seen */
    return 0;
}

TEST(user, killed_from_outside)
{
    struct usage before = usage_now();
    struct urun r[3] = {{"spin", 0, 0, 0, 0}, {"sleeper", 0, 0, 0, 0}, {"mmtest", 0, 0, 0, 0}};
    for (int i = 0; i < 3; i++) {
        r[i].p = proc_create_user(r[i].program, r[i].program, 0);
        CHECK(r[i].p);
        r[i].pid = r[i].p->pid;
    }
    /* Let them run: the spinner never gives up the CPU, the timer takes it. */
    uint32_t switches = r[0].p->switches;
    sched_enable(1);
    uint32_t until = timer_ms() + 200;
    while ((int32_t)(timer_ms() - until) < 0)
        hlt();
    sched_enable(0);
    CHECK(r[0].p->switches - switches >= 2);      /* preempted in ring 3 and switched in again */
    CHECK(r[0].p->state != PROC_ZOMBIE && r[1].p->state != PROC_ZOMBIE);
    CHECK_EQ(user_proc_kill(current, 1), -1);     /* not a user process (and the caller) */
    CHECK_OK(user_proc_kill(r[0].p, PROC_EXIT_TERMINATED));
    CHECK_OK(user_proc_kill(r[1].p, PROC_EXIT_TERMINATED | 1));
    run_until_ended(r, 3, 5000);
    CHECK(all_ended(r, 3));
    CHECK_EQ(r[0].p->exit_code, PROC_EXIT_TERMINATED);
    CHECK_EQ(r[1].p->exit_code, PROC_EXIT_TERMINATED | 1);
    CHECK_EQ(r[2].p->exit_code, 0);
    CHECK_EQ(user_proc_kill(r[0].p, 1), -1);      /* already ended */
    /* One killed before it ever ran. */
    struct urun never = {"spin", 0, proc_create_user("spin", "spin", 0), 0, 0};
    CHECK(never.p);
    CHECK_OK(user_proc_kill(never.p, PROC_EXIT_TERMINATED | 2));
    run_until_ended(&never, 1, 3000);
    CHECK_EQ(never.p->state, PROC_ZOMBIE);
    CHECK_EQ(never.p->exit_code, PROC_EXIT_TERMINATED | 2);
    CHECK_OK(proc_reap(never.p->pid));
    for (int i = 0; i < 3; i++) {
        CHECK(upd_empty(r[i].p));
        CHECK_OK(proc_reap(r[i].pid));
    }
    return check_usage(before);
}
