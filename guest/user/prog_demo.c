/* prog_demo.c: the demo's ring-3 program "ualloc" (demo/user_demo.c starts it). It keeps
 * a few chains mapped in its user space, allocating, writing, verifying, resizing and
 * freeing them through system calls, and after a random number of steps does one
 * forbidden thing (reads the kernel, writes above 256 MiB, cli, a null pointer, writes its
 * own code) so that the kernel kills it. Returns 1 if it ever finds its data changed. */
#include "ulib.h"
#include "mm.h"

#define SLOTS 4
#define SLOT_VA(i) (0x02000000u + (uint32_t)(i) * 0x00100000u)
#define MAX_BLOCKS 4u

struct slot { int32_t h; uint32_t blocks, seed; };

static void fill(const struct slot *s, uint32_t i)
{
    volatile uint32_t *va = (volatile uint32_t *)SLOT_VA(i);
    for (uint32_t p = 0; p < s->blocks * 4; p++)
        va[p * 1024] = s->seed + p;
}

static int intact(const struct slot *s, uint32_t i)
{
    volatile uint32_t *va = (volatile uint32_t *)SLOT_VA(i);
    for (uint32_t p = 0; p < s->blocks * 4; p++)
        if (va[p * 1024] != s->seed + p)
            return 0;
    return 1;
}

static const char *const fault_names[] = {
    "a read of the kernel", "a write above 256 MiB", "cli", "a null pointer", "a write to its code",
};

static void do_fault(uint32_t kind)
{
    switch (kind) {
    case 0: (void)*(volatile uint32_t *)0xC0100000u; break;
    case 1: *(volatile uint32_t *)0x10000000u = 1; break;
    case 2: __asm__ volatile("cli"); break;
    case 3: (void)*(volatile uint32_t *)0; break;
    default: *(volatile uint32_t *)(USER_IMAGE_VA + 0x100) = 0; break;   /* its read-only text */
    }
}

static int ualloc(uint32_t arg)
{
    struct slot slots[SLOTS];
    memset(slots, 0, sizeof slots);
    int32_t pid = u_getpid();
    uint32_t rng = (arg * 2654435761u) ^ ((uint32_t)pid << 16) ^ 0x9E3779B9u;
    if (!rng)
        rng = 1;
    uint32_t steps = 20 + u_rand(&rng) % 60;
    for (uint32_t n = 0; n < steps; n++) {
        uint32_t i = u_rand(&rng) % SLOTS, r = u_rand(&rng) % 10;
        struct slot *s = &slots[i];
        if (!s->h) {
            uint32_t blocks = 1 + u_rand(&rng) % MAX_BLOCKS;
            int32_t h = u_alloc(r < 3 ? USER_CHAIN_SWAPPABLE : 0, blocks);
            if (h > 0 && u_map(h, SLOT_VA(i), 0, 0) == MM_OK) {
                *s = (struct slot){h, blocks, u_rand(&rng)};
                fill(s, i);
            } else if (h > 0) {
                u_free(h);
            }
        } else if (!intact(s, i)) {
            u_put_num("ualloc: data changed in handle ", s->h);
            return 1;
        } else if (r < 3) {
            u_free(s->h);
            s->h = 0;
        } else if (r < 5) {
            uint32_t blocks = 1 + u_rand(&rng) % MAX_BLOCKS;
            u_unmap(s->h, SLOT_VA(i));
            if (u_resize(s->h, blocks) == MM_OK && u_map(s->h, SLOT_VA(i), 0, 0) == MM_OK) {
                s->blocks = blocks;
                fill(s, i);
            } else {
                u_free(s->h);
                s->h = 0;
            }
        } else if (r < 6) {
            u_clean(s->h);
        } else if (r < 7) {
            u_freeze(s->h);
            u_unfreeze(s->h);
        }
        u_sleep(20 + u_rand(&rng) % 40);
    }
    uint32_t kind = u_rand(&rng) % (sizeof fault_names / sizeof fault_names[0]);
    u_put_num("ualloc: steps done, now trying a forbidden access, kind ", (int32_t)kind);
    do_fault(kind);
    return 2;   /* not reached: the kernel kills it */
}
USER_PROGRAM("ualloc", ualloc);
