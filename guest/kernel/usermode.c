/* usermode.c: ring-3 processes (usermode.h). Each runs a private copy of the user image
 * (user_image.h) in its own user space, reaches the memory manager through int 0x80
 * (syscall.h), and is ended by any exception it causes: a page fault on the supervisor-only
 * kernel half or above the 256 MiB user space, a #GP for cli/hlt/in/out or a DPL-0 gate,
 * and so on. The CPU enforces the limits; this file only turns the fault into an exit. */
#include "generation.h"
#include "usermode.h"
#include "console.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "string.h"
#include "syscall.h"
#include "timer.h"
#include "user_image.h"
#include "x86.h"

extern const uint8_t user_image_start[], user_image_end[];   /* kernel/user_image.S */

/* One live user process: its chains by handle (handle h = chains[h - 1]), and what
 * user_enter needs to drop to ring 3. */
struct user_proc {
    uint32_t pid;                         /* 0 = free slot */
    chain_id_t image, stack;              /* its copy of the user image, its stack */
    chain_id_t chains[USER_MAX_CHAINS];   /* allocated through SYS_ALLOC; 0 = free handle */
    uint32_t entry, esp;                  /* initial EIP and ESP in ring 3 */
    uint32_t kill_pending, kill_code;     /* user_proc_kill asked it to end with kill_code */
};

struct user_report { uint32_t pid, key, value; };

static struct user_proc uprocs[USER_MAX_PROCS];
static struct user_report reports[USER_REPORT_LOG];
static uint32_t report_next;
static int ready;
uint32_t user_syscalls, user_kills;

static const struct user_image_header *image_header(void)
{
    return (const struct user_image_header *)user_image_start;
}

static struct user_proc *uproc_of(uint32_t pid)
{
    for (uint32_t i = 0; i < USER_MAX_PROCS; i++)
        if (uprocs[i].pid == pid && pid)
            return &uprocs[i];
    return 0;
}

uint32_t user_proc_count(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < USER_MAX_PROCS; i++)
        n += uprocs[i].pid != 0;
    return n;
}

/* Relocation listener: the defragmenter moved a chain's head; rename it in every table. */
static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < USER_MAX_PROCS; i++) {
        struct user_proc *u = &uprocs[i];
        if (!u->pid)
            continue;
        if (u->image == old_id)
            u->image = new_id;
        if (u->stack == old_id)
            u->stack = new_id;
        for (uint32_t h = 0; h < USER_MAX_CHAINS; h++)
            if (u->chains[h] == old_id)
                u->chains[h] = new_id;
    }
}

static uint32_t syscall_entry(struct int_frame *f);

/* Installs the int 0x80 gate (DPL 3) and the relocation listener, once. Returns 0 or -1. */
static int usermode_setup(void)
{
    if (ready)
        return 0;
    if (image_header()->magic != USER_IMAGE_MAGIC)
        panic("user image: bad magic 0x%x", image_header()->magic);
    if (int_set_handler(VEC_SYSCALL, syscall_entry, 3) != 0 || mm_add_relocation_listener(follow, 0) != MM_OK)
        return -1;
    ready = 1;
    return 0;
}

/* The VA of program `name`'s entry in the user image, or 0 if there is none. */
static uint32_t program_entry(const char *name)
{
    const struct user_image_header *h = image_header();
    uint32_t size = (uint32_t)(user_image_end - user_image_start);
    for (uint32_t va = h->programs; va + sizeof(struct user_program) <= h->programs_end; va += sizeof(struct user_program)) {
        const struct user_program *p = (const void *)(user_image_start + (va - USER_IMAGE_VA));
        if (p->name >= USER_IMAGE_VA && p->name - USER_IMAGE_VA < size &&
            !strncmp((const char *)user_image_start + (p->name - USER_IMAGE_VA), name, PROC_NAME_LEN))
            return p->entry;
    }
    return 0;
}

/* Frees every chain owned by `pid` (OWNER_PROCESS): the one definition of "what a user
 * process holds", so nothing it got from the kernel can outlive it. */
static void free_owned_chains(uint32_t pid)
{
    uint32_t f = mm_write_begin();
    for (uint32_t b = 1; b < mm_block_count; b++)
        if (ct_is_head(mm_block_table[b]) && mm_owners[b].kind == OWNER_PROCESS && mm_owners[b].handle == (uint16_t)pid)
            MmFreeChain(b);
    mm_write_end(f);
}

/* Allocates a zeroed user chain of `blocks` owned by `pid`, for `bytes` (the owner record's
 * size; 0 = the whole chain). Returns a status. */
static int alloc_owned(uint32_t flags, uint32_t blocks, uint32_t bytes, uint32_t pid, uint32_t caller, chain_id_t *out)
{
    uint32_t f = mm_write_begin();
    int r = mm_allocate_chain(CHAIN_USER | flags, blocks, OWNER_PROCESS, caller, out);
    if (r == MM_OK) {
        mm_owner_set(*out, OWNER_PROCESS, (uint16_t)pid, 0, bytes);
        for (uint32_t i = 0; i < blocks; i++) {
            uint32_t b;
            mm_chain_block(*out, i, &b);
            mm_zero_block(b);
        }
    }
    mm_write_end(f);
    return r;
}

/* Builds the user space of `p`: the image (text read-only, data writable) and the stack
 * with main's argument and return address on it. Returns a status. */
static int build_space(struct user_proc *u, struct pcb *p, uint32_t arg)
{
    const struct user_image_header *h = image_header();
    uint32_t caller = (uint32_t)__builtin_return_address(0);
    uint32_t blob = (uint32_t)(user_image_end - user_image_start);
    uint32_t bytes = h->image_end - USER_IMAGE_VA;
    uint32_t text_pages = (h->text_end - USER_IMAGE_VA) / MM_PAGE_SIZE, pages = bytes / MM_PAGE_SIZE;
    int r = alloc_owned(0, (bytes + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE, bytes, p->pid, caller, &u->image);
    if (r != MM_OK)
        return r;
    for (uint32_t pg = 0; pg * MM_PAGE_SIZE < blob; pg++) {
        uint32_t phys, n = blob - pg * MM_PAGE_SIZE;
        MmChainPagePhysical(u->image, pg, &phys);
        mm_phys_write(phys, user_image_start + pg * MM_PAGE_SIZE, n < MM_PAGE_SIZE ? n : MM_PAGE_SIZE);
    }
    r = mm_map_pages(MAP_UPD | MAP_READONLY, u->image, USER_IMAGE_VA, 0, text_pages, p->upd);
    if (r == MM_OK && pages > text_pages)
        r = mm_map_pages(MAP_UPD, u->image, h->text_end, text_pages, pages - text_pages, p->upd);
    if (r == MM_OK)
        r = alloc_owned(0, USER_STACK_SIZE / MM_BLOCK_SIZE, USER_STACK_SIZE, p->pid, caller, &u->stack);
    if (r == MM_OK)
        r = mm_map_pages(MAP_UPD, u->stack, USER_STACK_TOP - USER_STACK_SIZE, 0, 0, p->upd);
    if (r != MM_OK)
        return r;
    /* main(arg) returns to the exit stub: [esp] = exit_stub, [esp + 4] = arg (16-aligned). */
    uint32_t words[2] = {h->exit_stub, arg}, phys;
    u->esp = USER_STACK_TOP - 16 - 4;
    MmChainPagePhysical(u->stack, USER_STACK_SIZE / MM_PAGE_SIZE - 1, &phys);
    mm_phys_write(phys + (u->esp & (MM_PAGE_SIZE - 1)), words, sizeof words);
    return MM_OK;
}

/* The first kernel code of a user process (its pcb.entry): drops to ring 3 at the program's
 * entry through the common interrupt return path, with every general register zero. */
static void user_enter(void *arg)
{
    struct user_proc *u = arg;
    cli();
    if (u->kill_pending)   /* user_proc_kill before it ever ran */
        proc_kill(u->kill_code);
    struct int_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.gs = fr.fs = fr.es = fr.ds = SEL_UDATA;
    fr.eip = u->entry;
    fr.cs = SEL_UCODE;
    fr.eflags = EFLAGS_IF | 0x2u;   /* IOPL 0: cli, hlt, in, out fault */
    fr.useresp = u->esp;
    fr.ss = SEL_UDATA;
    __asm__ volatile("movl %0, %%esp\n jmp interrupt_return" : : "r"(&fr) : "memory");
    __builtin_unreachable();
}

struct pcb *proc_create_user(const char *name, const char *program, uint32_t arg)
{
    if (usermode_setup() != 0)
        return 0;
    uint32_t entry = program_entry(program);
    if (!entry)
        return 0;
    uint32_t f = mm_write_begin();   /* the new process must not run before its space is built */
    struct user_proc *u = 0;
    for (uint32_t i = 0; i < USER_MAX_PROCS && !u; i++)
        if (!uprocs[i].pid)
            u = &uprocs[i];
    struct pcb *p = u ? proc_create(name, user_enter, u) : 0;
    if (!p) {
        mm_write_end(f);
        return 0;
    }
    memset(u, 0, sizeof *u);
    u->pid = p->pid;
    u->entry = entry;
    p->mode = PROC_MODE_USER;
    if (p->pid > 0xFFFFu || build_space(u, p, arg) != MM_OK) {   /* owner handles are 16-bit */
        usermode_release(p);
        mm_release_upd(p->upd);
        p->state = PROC_ZOMBIE;
        proc_reap(p->pid);
        mm_write_end(f);
        return 0;
    }
    mm_write_end(f);
    return p;
}

void usermode_release(struct pcb *p)
{
    if (p->mode != PROC_MODE_USER)
        return;
    uint32_t f = mm_write_begin();
    free_owned_chains(p->pid);
    struct user_proc *u = uproc_of(p->pid);
    if (u)
        memset(u, 0, sizeof *u);
    mm_write_end(f);
}

void proc_kill(uint32_t code)
{
    if (current->pid == 0)
        panic("proc_kill: process 0 cannot end (code 0x%x)", code);
    current->exit_code = code;
    proc_exit();
}

/* Where a process that user_proc_kill ended while it was preempted in ring 3 resumes: in
 * the kernel, on its own kernel stack, with interrupts off. */
static void killed_entry(void)
{
    struct user_proc *u = uproc_of(current->pid);
    proc_kill(u ? u->kill_code : PROC_EXIT_TERMINATED);
}

int user_proc_kill(struct pcb *p, uint32_t code)
{
    uint32_t fl = mm_write_begin();
    struct user_proc *u = p && p->mode == PROC_MODE_USER ? uproc_of(p->pid) : 0;
    if (!u || p == current || p->state == PROC_ZOMBIE) {
        mm_write_end(fl);
        return -1;
    }
    u->kill_pending = 1;
    u->kill_code = code;
    struct int_frame *f = (struct int_frame *)p->esp;
    if (p->state == PROC_READY && (f->cs & 3) == 3) {   /* preempted in ring 3: resume in the kernel */
        f->gs = f->fs = f->es = f->ds = SEL_KDATA;
        f->eip = (uint32_t)killed_entry;
        f->cs = SEL_KCODE;
        f->eflags = 0x2u;
    }
    mm_write_end(fl);
    return 0;
}

uint32_t proc_user_fault(struct int_frame *f)
{
    if (current->pid == 0)
        panic("fault (vector %u) from ring 3 / V86 at eip=%p in process 0", f->vector, (void *)f->eip);
    user_kills++;
    if (f->eflags & EFLAGS_VM)
        kprintf("user: pid %u (%s) killed: %s (vector %u) at cs:ip=%04x:%04x err=0x%x\n", current->pid,
                current->name, exception_name(f->vector), f->vector, f->cs & 0xFFFF, f->eip & 0xFFFF, f->error);
    else if (f->vector == 14)
        kprintf("user: pid %u (%s) killed: page fault at eip=%p cr2=%p err=0x%x\n", current->pid, current->name,
                (void *)f->eip, (void *)read_cr2(), f->error);
    else
        kprintf("user: pid %u (%s) killed: %s (vector %u) at eip=%p err=0x%x\n", current->pid, current->name,
                exception_name(f->vector), f->vector, (void *)f->eip, f->error);
    proc_kill(PROC_EXIT_KILLED | f->vector);
}

int user_report_find(uint32_t pid, uint32_t key, uint32_t *value)
{
    uint32_t f = mm_write_begin();
    int r = -1;
    for (uint32_t i = 0; i < USER_REPORT_LOG && r; i++) {
        const struct user_report *e = &reports[(report_next - 1 - i) % USER_REPORT_LOG];
        if (e->pid == pid && e->key == key && pid) {
            *value = e->value;
            r = 0;
        }
    }
    mm_write_end(f);
    return r;
}

/* ---- system calls ---- */

/* True when [va, va + len) lies in user space in pages of the current process that are
 * present (swapped-out pages are brought back first), user-accessible and, with `write`,
 * writable. Interrupts are off, so the answer holds while the call uses the memory. */
static bool user_range_ok(uint32_t va, uint32_t len, bool write)
{
    if (va >= USER_SPACE_END || len > USER_SPACE_END - va)
        return false;
    for (uint32_t pg = va & ~(MM_PAGE_SIZE - 1); len && pg < va + len; pg += MM_PAGE_SIZE) {
        uint32_t pte = mm_lookup_pte(pg, current->upd);
        if (pte_is_swapped(pte)) {
            (void)*(volatile uint8_t *)pg;   /* the swapper's fault handler brings it in */
            pte = mm_lookup_pte(pg, current->upd);
        }
        if (!(pte & PTE_P) || !(pte & PTE_U) || (write && !(pte & PTE_W)))
            return false;
    }
    return true;
}

/* Most blocks one process may hold through SYS_ALLOC: a quarter of memory (at least 16). */
static uint32_t user_quota(void)
{
    return mm_block_count / 4 > 16 ? mm_block_count / 4 : 16;
}

static uint32_t held_blocks(const struct user_proc *u)
{
    uint32_t n = 0;
    for (uint32_t h = 0; h < USER_MAX_CHAINS; h++)
        n += u->chains[h] ? MmChainBlocks(u->chains[h]) : 0;
    return n;
}

/* The chain behind handle `h` of `u`, checked to be a live chain the process owns. */
static int resolve(const struct user_proc *u, uint32_t h, chain_id_t *id)
{
    if (h < 1 || h > USER_MAX_CHAINS || !u->chains[h - 1])
        return MM_ERR_BAD_ID;
    chain_id_t c = u->chains[h - 1];
    if (!mm_chain_valid(c) || mm_owners[c].kind != OWNER_PROCESS || mm_owners[c].handle != (uint16_t)u->pid)
        return MM_ERR_BAD_ID;
    *id = c;
    return MM_OK;
}

static int32_t sys_alloc(struct user_proc *u, uint32_t flags, uint32_t blocks, uint32_t caller)
{
    if ((flags & ~(USER_CHAIN_FROZEN | USER_CHAIN_SWAPPABLE)) || blocks == 0)
        return MM_ERR_INVALID;
    uint32_t h = 0;
    while (h < USER_MAX_CHAINS && u->chains[h])
        h++;
    uint32_t held = held_blocks(u);
    if (h == USER_MAX_CHAINS || blocks > user_quota() || held + blocks > user_quota())
        return MM_ERR_NOMEM;
    uint32_t mflags = ((flags & USER_CHAIN_FROZEN) ? CHAIN_FROZEN : 0) | ((flags & USER_CHAIN_SWAPPABLE) ? CHAIN_SWAPPABLE : 0);
    chain_id_t id;
    int r = alloc_owned(mflags, blocks, 0, u->pid, caller, &id);
    if (r != MM_OK)
        return r;
    u->chains[h] = id;
    return (int32_t)(h + 1);
}

static int32_t sys_resize(struct user_proc *u, chain_id_t id, uint32_t blocks)
{
    uint32_t old = MmChainBlocks(id);
    if (blocks == 0)
        return MM_ERR_INVALID;
    if (blocks > old && held_blocks(u) + (blocks - old) > user_quota())
        return MM_ERR_NOMEM;
    int r = MmResizeChain(id, blocks);
    for (uint32_t i = old; r == MM_OK && i < blocks; i++) {   /* no stale data for the process */
        uint32_t b;
        mm_chain_block(id, i, &b);
        mm_zero_block(b);
    }
    return r;
}

static int32_t sys_write(uint32_t va, uint32_t len)
{
    if (len > USER_WRITE_MAX)
        return MM_ERR_INVALID;
    if (!user_range_ok(va, len, false))
        return MM_ERR_RANGE;
    const char *s = (const char *)va;
    for (uint32_t i = 0; i < len; i++)
        console_putc(s[i]);
    return (int32_t)len;
}

static int32_t sys_info(chain_id_t id, uint32_t out)
{
    if (!user_range_ok(out, sizeof(struct user_chain_info), true))
        return MM_ERR_RANGE;
    uint32_t flags;
    int r = MmChainFlags(id, &flags);
    if (r != MM_OK)
        return r;
    struct user_chain_info *info = (struct user_chain_info *)out;
    info->blocks = MmChainBlocks(id);
    info->flags = ((flags & CHAIN_FROZEN) ? USER_CHAIN_FROZEN : 0) | ((flags & CHAIN_SWAPPABLE) ? USER_CHAIN_SWAPPABLE : 0);
    return MM_OK;
}

/* The calls that take a handle, after it resolved to chain `id`. */
static int32_t chain_call(struct user_proc *u, struct int_frame *f, uint32_t h, chain_id_t id)
{
    bool dirty;
    int r;
    switch (f->eax) {
    case SYS_FREE:
        r = MmFreeChain(id);
        if (r == MM_OK)
            u->chains[h - 1] = 0;
        return r;
    case SYS_RESIZE:
        return sys_resize(u, id, f->ecx);
    case SYS_MAP:
        if (f->esi & ~USER_MAP_READONLY)
            return MM_ERR_INVALID;
        return mm_map_pages(MAP_UPD | ((f->esi & USER_MAP_READONLY) ? MAP_READONLY : 0), id, f->ecx, f->edx, 0, current->upd);
    case SYS_UNMAP:
        return MmUnmapChain(MAP_UPD, id, (void *)f->ecx, current->upd);
    case SYS_FREEZE:
        return MmFreezeChain(id);
    case SYS_UNFREEZE:
        return MmUnfreezeChain(id);
    case SYS_SWAPPABLE:
        return MmMarkSwappable(id, f->ecx != 0);
    case SYS_CLEAN:
        return MmCleanChain(id);
    case SYS_DIRTY:
        r = MmChainDirty(id, &dirty);
        return r == MM_OK ? (int32_t)dirty : r;
    case SYS_INFO:
        return sys_info(id, f->ecx);
    }
    return MM_ERR_INVALID;
}

static int32_t syscall_do(struct user_proc *u, struct int_frame *f)
{
    switch (f->eax) {
    case SYS_EXIT:
        proc_kill(f->ebx & PROC_EXIT_CODE_MASK);
    case SYS_GETPID:
        return (int32_t)current->pid;
    case SYS_YIELD:
        sti();
        proc_yield();
        cli();
        return MM_OK;
    case SYS_SLEEP:
        sti();
        proc_sleep(f->ebx > 10000 ? 10000 : f->ebx);
        cli();
        return MM_OK;
    case SYS_WRITE:
        return sys_write(f->ebx, f->ecx);
    case SYS_REPORT:
        reports[report_next++ % USER_REPORT_LOG] = (struct user_report){current->pid, f->ebx, f->ecx};
        return MM_OK;
    case SYS_ALLOC:
        return sys_alloc(u, f->ebx, f->ecx, f->eip);
    case SYS_TICKS:
        return (int32_t)timer_ms();
    case SYS_FREE: case SYS_RESIZE: case SYS_MAP: case SYS_UNMAP: case SYS_FREEZE: case SYS_UNFREEZE:
    case SYS_SWAPPABLE: case SYS_CLEAN: case SYS_DIRTY: case SYS_INFO: {
        chain_id_t id;
        int r = resolve(u, f->ebx, &id);
        return r == MM_OK ? chain_call(u, f, f->ebx, id) : r;
    }
    }
    return MM_ERR_INVALID;
}

/* int 0x80 from a user process: the call's result goes to EAX. Interrupts stay off except
 * while the call blocks (yield, sleep). From anything but a ring-3 user process (a DPMI
 * client, ring 0) the call is refused with MM_ERR_INVALID. */
static uint32_t syscall_entry(struct int_frame *f)
{
    struct user_proc *u = current->mode == PROC_MODE_USER && (f->cs & 3) == 3 ? uproc_of(current->pid) : 0;
    user_syscalls++;
    if (u && u->kill_pending)
        proc_kill(u->kill_code);
    f->eax = u ? (uint32_t)syscall_do(u, f) : (uint32_t)MM_ERR_INVALID;
    if (u && u->kill_pending)   /* user_proc_kill while the call blocked */
        proc_kill(u->kill_code);
    return (uint32_t)f;
}
