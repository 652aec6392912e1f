/* threads.c: two kernel threads with their own stacks and their own address spaces. The
 * second thread's root table (a page directory; with PAE a PDPT; in long mode a PML4) is a copy
 * of the boot one, so both map the kernel; each switch loads the other thread's CR3 (switch.S).
 * Switches happen only in yield(): the path through the corpus does not depend on timing. The
 * stacks are in .bss.stacks (the PAE styles put them in a 2 MiB page; the others in .bss). */
#include "corpus.h"

#if defined(__x86_64__)
#define ROOT_WORDS 1024 /* a PML4 */
#define ROOT_ALIGN 4096
#define SAVED_REGISTERS 6 /* rbp, rbx, r12-r15 (x86-64/switch.S) */
#elif defined(CORPUS_PAE)
#define ROOT_WORDS 8 /* a PDPT: 4 entries of 8 bytes */
#define ROOT_ALIGN 32
#else
#define ROOT_WORDS 1024 /* a page directory */
#define ROOT_ALIGN 4096
#endif
#ifndef SAVED_REGISTERS
#define SAVED_REGISTERS 4 /* ebp, ebx, esi, edi (switch.S) */
#endif

extern uint32_t boot_root[ROOT_WORDS]; /* the style's boot code */
void switch_to(uintptr_t *save_sp, uintptr_t new_sp, uintptr_t new_cr3);
void thread_start(void);

#define STACK_WORDS 2048

static uintptr_t stack_a[STACK_WORDS] __attribute__((aligned(16), section(".bss.stacks")));
static uintptr_t stack_b[STACK_WORDS] __attribute__((aligned(16), section(".bss.stacks")));
static uint32_t root_b[ROOT_WORDS] __attribute__((aligned(ROOT_ALIGN)));

static struct thread threads[2];
static uintptr_t boot_sp;
struct thread *current_thread;

__attribute__((noreturn)) static void worker_main(int id);

static uintptr_t read_cr3(void)
{
    uintptr_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

static void prepare(struct thread *t, uintptr_t *stack, int id, const char *name, uintptr_t cr3)
{
    uintptr_t *sp = stack + STACK_WORDS;
    *--sp = (uintptr_t)id;                         /* argument of worker_main */
    *--sp = (uintptr_t)worker_main;                /* popped by thread_start */
    *--sp = (uintptr_t)thread_start;               /* switch_to returns here */
    for (int i = 0; i < SAVED_REGISTERS; i++) *--sp = 0; /* popped by switch_to */
    t->sp = (uintptr_t)sp;
    t->cr3 = cr3;
    t->id = id;
    t->name = name;
}

void threads_init(void)
{
    for (int i = 0; i < ROOT_WORDS; i++) root_b[i] = boot_root[i];
    prepare(&threads[0], stack_a, 0, "worker-a", read_cr3());
    prepare(&threads[1], stack_b, 1, "worker-b", VIRT_TO_PHYS(root_b));
}

/* thread_start pops worker_main and calls it: the id above is then its argument. */
__attribute__((noreturn)) static void worker_main(int id)
{
    struct rng r = { 0x9E3779B9u ^ (uint32_t)(id * 7919 + 1) };
    for (;;) {
        if (id == 0) {
            corpus_round++;
            if (corpus_round > CORPUS_ROUNDS) corpus_exit(0);
        }
        do_round(id, &r);
        yield();
    }
}

void yield(void)
{
    struct thread *from = current_thread;
    struct thread *to = &threads[from->id ^ 1];
    current_thread = to;
    switch_to(&from->sp, to->sp, to->cr3);
}

void threads_run(void)
{
    current_thread = &threads[0];
    switch_to(&boot_sp, threads[0].sp, threads[0].cr3);
    for (;;) __asm__ volatile("cli; hlt");
}
