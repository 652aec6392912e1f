/* swap_demo.c: the demo's swap-pressure worker. A process ("swapper") keeps a few swappable
 * chains mapped in its user space and touches and checks their pages, and every round asks
 * the pager for a few blocks (swap_reclaim), as memory pressure would: blocks of every
 * swappable chain in the demo go out to the disk and come back on the next touch (a page
 * fault). Bounded: SWAP_DEMO_CHAINS x SWAP_DEMO_BLOCKS blocks of its own and at most
 * SWAP_DEMO_RECLAIM blocks per round of SWAP_DEMO_PERIOD_MS. Without a disk it only touches.
 * Chain 0 is mapped in the kernel half (KPD), the others in the swapper's user space (UPD),
 * so both kinds of mapping fault pages back in. */
#include "console.h"
#include "mm.h"
#include "proc.h"
#include "string.h"
#include "swap.h"
#include "x86.h"

void swap_demo_start(void);

#define SWAP_DEMO_CHAINS    3
#define SWAP_DEMO_BLOCKS    6
#define SWAP_DEMO_RECLAIM   4
#define SWAP_DEMO_PERIOD_MS 250
#define SWAP_DEMO_KVA       0xE6000000u   /* chain 0, in the KPD */
#define SWAP_DEMO_VA(i)     ((i) == 0 ? SWAP_DEMO_KVA : 0x01000000u + (uint32_t)(i) * 0x00100000u)
#define PAGES               (SWAP_DEMO_BLOCKS * MM_PAGES_PER_BLOCK)

static struct {
    chain_id_t chain;
    uint32_t seed;
} held[SWAP_DEMO_CHAINS];
static uint32_t rng = 0x5EA50u;

static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < SWAP_DEMO_CHAINS; i++)
        if (held[i].chain == old_id)
            held[i].chain = new_id;
}

/* Allocates, maps and fills chain i; leaves it empty when memory is short. */
static void take(uint32_t i)
{
    uint32_t f = irq_save();
    chain_id_t id = MmAllocateChain((i ? CHAIN_USER : 0) | CHAIN_SWAPPABLE, SWAP_DEMO_BLOCKS);
    if (id && MmMapChainToVirtualAddress(i ? MAP_UPD : MAP_KPD, id, (void *)SWAP_DEMO_VA(i), 0, i ? current->upd : 0) != MM_OK) {
        MmFreeChain(id);
        id = 0;
    }
    held[i].chain = id;
    held[i].seed = rand32(&rng);
    irq_restore(f);
    volatile uint32_t *va = (volatile uint32_t *)SWAP_DEMO_VA(i);
    for (uint32_t p = 0; id && p < PAGES; p++)
        va[p * 1024] = held[i].seed + p;
}

/* Reads (and sometimes rewrites) a few random pages of chain i; a swapped-out one faults in. */
static void touch(uint32_t i)
{
    volatile uint32_t *va = (volatile uint32_t *)SWAP_DEMO_VA(i);
    for (int k = 0; held[i].chain && k < 4; k++) {
        uint32_t p = rand32(&rng) % PAGES;
        if (va[p * 1024] != held[i].seed + p)
            panic("swapper: chain %u page %u lost its data (0x%x != 0x%x)", held[i].chain, p, va[p * 1024], held[i].seed + p);
        if (rand32(&rng) % 3 == 0)
            va[p * 1024 + 1 + rand32(&rng) % 1023] = rand32(&rng);   /* dirties the block */
    }
}

static void swapper_main(void *arg)
{
    (void)arg;
    if (mm_add_relocation_listener(follow, 0) != MM_OK)
        panic("swapper: no room for a relocation listener");
    for (uint32_t i = 0; i < SWAP_DEMO_CHAINS; i++)
        take(i);
    for (;;) {
        for (uint32_t i = 0; i < SWAP_DEMO_CHAINS; i++) {
            if (!held[i].chain)
                take(i);
            touch(i);
        }
        if (swap_slot_count)
            swap_reclaim(1 + rand32(&rng) % SWAP_DEMO_RECLAIM);
        proc_sleep(SWAP_DEMO_PERIOD_MS);
    }
}

/* Starts the swapper process (demo_run calls it once). */
void swap_demo_start(void)
{
    if (!proc_create("swapper", swapper_main, 0))
        panic("demo: cannot create process swapper");
}
