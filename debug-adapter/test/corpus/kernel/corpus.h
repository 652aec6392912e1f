/* corpus.h: shared declarations of the test-corpus kernels (debug-adapter/test/corpus).
 * Every style (higher half at 0xC0000000 or 0x80000000, identity-mapped) builds the same C
 * sources; KERNEL_VBASE (-D) is the virtual offset of the kernel's physical load address. */
#ifndef CORPUS_H
#define CORPUS_H

#include <stddef.h>
#include <stdint.h>

#ifndef KERNEL_VBASE
#error "KERNEL_VBASE must be defined (-DKERNEL_VBASE=0xC0000000, 0x80000000 or 0)"
#endif
#ifndef STYLE_NAME
#error "STYLE_NAME must be defined (-DSTYLE_NAME=\"...\")"
#endif

#define PHYS_TO_VIRT(p) ((uintptr_t)(p) + (uintptr_t)KERNEL_VBASE)
#define VIRT_TO_PHYS(v) ((uintptr_t)(v) - (uintptr_t)KERNEL_VBASE)
/* Where the kernel sees physical memory outside its image (the VGA buffer): a style with a direct
 * map (x86-64-direct-map) defines PHYS_MAP_BASE; otherwise the kernel's own mapping. */
#ifndef PHYS_MAP_BASE
#define PHYS_MAP_BASE KERNEL_VBASE
#endif
#define PHYS_MAP(p) ((uintptr_t)(p) + (uintptr_t)PHYS_MAP_BASE)

/* Rounds the two worker threads run before the kernel exits through isa-debug-exit. */
#define CORPUS_ROUNDS 400

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void outl(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }

/* console.c: VGA text console (cursor through the CRTC) and COM1. */
void console_init(void);
extern int vga_missing;
void kputc(char c);
void kputs(const char *s);
void kput_dec(uint32_t v);
void kput_hex(uintptr_t v);

/* interrupts.c */
void interrupts_init(void);
void timer_start(uint32_t hz);
void timer_mask(int masked);
extern volatile uint32_t timer_ticks;

/* threads.c */
struct thread {
    uintptr_t sp;
    uintptr_t cr3;
    int id;
    const char *name;
};
void threads_init(void);
__attribute__((noreturn)) void threads_run(void);
void yield(void);
extern struct thread *current_thread;

/* work.c: the code the tests step through. */
struct point {
    int x;
    int y;
    char tag;
};
struct rng {
    uint32_t state;
};
typedef int (*op_fn)(int, int);

uint32_t rng_next(struct rng *r);
int sum_weights(const int *weights, int n);
unsigned factorial(unsigned n);
int fib(int n);
int point_dist(struct point a, const struct point *b);
int checksum(const uint8_t *buf, size_t len);
const char *label_for(int v);
size_t str_len(const char *s);
int apply(op_fn f, int a, int b);
int pick_op(int which, int a, int b);
int tail_a(int n, int acc);
int tail_b(int n, int acc);
int histogram(const uint8_t *data, size_t len, int bucket);
int compute_with_yield(int n);

/* round.c: one round of work of a worker thread. */
extern volatile uint32_t corpus_round;
int do_round(int id, struct rng *r);

/* paging.c: "32-bit", "32-bit, PSE", "PAE, NX", "4-level, NX", ... from CR0/CR4/EFER. */
const char *paging_mode(void);

/* main.c */
__attribute__((noreturn)) void corpus_exit(uint32_t code);

#endif
