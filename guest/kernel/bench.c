/* bench.c: the guest-side benchmarks (cmdline `bench`). Prints one line per figure,
 *   bench NAME VALUE UNIT
 * then `bench: done`, and exits QEMU with success. Figures: chain allocations and frees
 * per second (1- and 8-block chains), map+unmap pairs per second, and how long the
 * defragmenter takes to compact 64 MiB of scattered movable chains (checked for
 * correctness before its figures are printed), and swapping: blocks written out to the IDE
 * disk, read back by page faults, and swapped out again clean (no write), per second. Durations come from the TSC, calibrated
 * against the 1 kHz timer, because the defragmenter runs with interrupts off and the timer
 * does not advance while it does. */
#include "console.h"
#include "handle_heap.h"
#include "heap.h"
#include "modes.h"
#include "mm.h"
#include "string.h"
#include "swap.h"
#include "timer.h"
#include "x86.h"

#define MIN_PHASE_MS   300u          /* each rate is measured over at least this long */
#define BATCH          1024u         /* chains allocated before they are freed again */
#define MAP_VA         0xE9000000u   /* where the map/unmap benchmark maps its chain */
#define SWAP_VA        0xEA000000u   /* where the swap benchmark maps its chain */
#define SWAP_BLOCKS    64u           /* blocks swapped out and in per round (+ the head) */
#define DEFRAG_MIB     64u
#define DEFRAG_BLOCKS  (DEFRAG_MIB * 1024u * 1024u / MM_BLOCK_SIZE)   /* 4096 */

static uint32_t tsc_per_us;          /* TSC ticks per microsecond */
static chain_id_t batch_ids[BATCH];

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* n / d without libgcc (shift and subtract). */
static uint64_t div64(uint64_t n, uint64_t d)
{
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ull << i;
        }
    }
    return q;
}

static uint64_t ticks_to_us(uint64_t ticks)
{
    return div64(ticks, tsc_per_us);
}

/* Measures the TSC against the timer over ~250 ms (interrupts on). */
static void calibrate(void)
{
    uint32_t start = timer_ms();
    while (timer_ms() == start)
        hlt();
    uint32_t t0 = timer_ms();
    uint64_t c0 = rdtsc();
    while (timer_ms() - t0 < 250)
        hlt();
    uint64_t c1 = rdtsc();
    uint32_t ms = timer_ms() - t0;
    tsc_per_us = (uint32_t)div64(c1 - c0, (uint64_t)ms * 1000u);
    if (tsc_per_us == 0)
        tsc_per_us = 1;
    kprintf("bench: TSC runs at %u MHz against the timer\n", tsc_per_us);
}

/* Operations per second, from a count and a duration in TSC ticks. */
static uint32_t per_second(uint32_t ops, uint64_t ticks)
{
    uint64_t us = ticks_to_us(ticks);
    return us ? (uint32_t)div64((uint64_t)ops * 1000000u, us) : 0;
}

/* Allocates and frees batches of `blocks`-block chains until both phases have run for
 * MIN_PHASE_MS; prints both rates. */
static void bench_alloc_free(uint32_t blocks)
{
    uint64_t alloc_ticks = 0, free_ticks = 0, min_ticks = (uint64_t)MIN_PHASE_MS * 1000u * tsc_per_us;
    uint32_t allocs = 0, frees = 0, batch = BATCH;
    if (batch * blocks > mm_free_blocks / 2)
        batch = mm_free_blocks / 2 / blocks;
    while (alloc_ticks < min_ticks || free_ticks < min_ticks) {
        uint64_t t0 = rdtsc();
        for (uint32_t i = 0; i < batch; i++)
            batch_ids[i] = MmAllocateChain(0, blocks);
        uint64_t t1 = rdtsc();
        for (uint32_t i = 0; i < batch; i++)
            if (MmFreeChain(batch_ids[i]) != MM_OK)
                panic("bench: chain %u of a batch could not be freed", batch_ids[i]);
        uint64_t t2 = rdtsc();
        for (uint32_t i = 0; i < batch; i++)
            if (!batch_ids[i])
                panic("bench: allocation of %u blocks failed: %s", blocks, mm_strerror(mm_last_error));
        alloc_ticks += t1 - t0;
        free_ticks += t2 - t1;
        allocs += batch;
        frees += batch;
    }
    kprintf("bench alloc_%ublock %u ops/s\n", blocks, per_second(allocs, alloc_ticks));
    kprintf("bench free_%ublock %u ops/s\n", blocks, per_second(frees, free_ticks));
}

/* Maps and unmaps a 1-block chain (4 pages) in the KPD for MIN_PHASE_MS. */
static void bench_map_unmap(void)
{
    chain_id_t id = MmAllocateChain(0, 1);
    if (!id)
        panic("bench: no memory for the map benchmark");
    uint64_t min_ticks = (uint64_t)MIN_PHASE_MS * 1000u * tsc_per_us, t0 = rdtsc(), t;
    uint32_t pairs = 0;
    do {
        for (int i = 0; i < 64; i++) {
            if (MmMapChainToVirtualAddress(MAP_KPD, id, (void *)MAP_VA, 0, 0) != MM_OK ||
                MmUnmapChain(MAP_KPD, id, (void *)MAP_VA, 0) != MM_OK)
                panic("bench: map/unmap of chain %u failed", id);
        }
        pairs += 64;
        t = rdtsc();
    } while (t - t0 < min_ticks);
    MmFreeChain(id);
    kprintf("bench map_unmap_1block %u ops/s\n", per_second(pairs, t - t0));
}

static uint32_t page_word(uint32_t stamp, uint32_t page, uint32_t which);

/* Swaps the 64 body blocks of a mapped swappable chain out (dirty: written), back in by a
 * page fault on each, and out again clean (not written), in rounds until the first two phases
 * have run for MIN_PHASE_MS; every page's first word is checked after each swap-in. Needs a disk. */
static void bench_swap(void)
{
    if (!swap_slot_count) {
        kprintf("bench: swap figures need a swap disk (-drive if=ide); none found\n");
        return;
    }
    chain_id_t id = MmAllocateChain(CHAIN_SWAPPABLE, SWAP_BLOCKS + 1);
    if (!id || MmMapChainToVirtualAddress(MAP_KPD, id, (void *)SWAP_VA, 0, 0) != MM_OK)
        panic("bench: no memory for the swap benchmark");
    volatile uint32_t *w = (volatile uint32_t *)SWAP_VA;
    uint64_t min_ticks = (uint64_t)MIN_PHASE_MS * 1000u * tsc_per_us, out_t = 0, in_t = 0, clean_t = 0;
    uint32_t outs = 0, ins = 0, cleans = 0, round = 0, writes0 = swap_outs, clean0 = swap_clean_outs;
    while (out_t < min_ticks || in_t < min_ticks) {   /* the clean phase is timed in the same rounds */
        round++;
        for (uint32_t p = 0; p < (SWAP_BLOCKS + 1) * MM_PAGES_PER_BLOCK; p++)
            w[p * 1024] = page_word(round, p, 0);            /* every block dirty */
        uint64_t t0 = rdtsc();
        for (uint32_t b = 1; b <= SWAP_BLOCKS; b++)
            if (swap_out_block(id, b) != MM_OK)
                panic("bench: swap-out of block %u failed", b);
        uint64_t t1 = rdtsc();
        uint32_t bad = 0;
        for (uint32_t b = 1; b <= SWAP_BLOCKS; b++)          /* one fault per block */
            bad += w[b * MM_PAGES_PER_BLOCK * 1024] != page_word(round, b * MM_PAGES_PER_BLOCK, 0);
        uint64_t t2 = rdtsc();
        for (uint32_t b = 1; b <= SWAP_BLOCKS; b++)
            if (swap_out_block(id, b) != MM_OK)
                panic("bench: clean swap-out of block %u failed", b);
        uint64_t t3 = rdtsc();
        for (uint32_t p = 0; p < (SWAP_BLOCKS + 1) * MM_PAGES_PER_BLOCK; p++)
            bad += w[p * 1024] != page_word(round, p, 0);
        if (bad)
            panic("bench: %u pages differ after swapping", bad);
        out_t += t1 - t0;
        in_t += t2 - t1;
        clean_t += t3 - t2;
        outs += SWAP_BLOCKS;
        ins += SWAP_BLOCKS;
        cleans += SWAP_BLOCKS;
    }
    if (swap_outs - writes0 != outs || swap_clean_outs - clean0 != cleans)
        panic("bench: %u writes and %u clean swap-outs, expected %u and %u", swap_outs - writes0, swap_clean_outs - clean0, outs, cleans);
    MmFreeChain(id);
    kprintf("bench swap_out %u blocks/s\n", per_second(outs, out_t));
    kprintf("bench swap_in %u blocks/s\n", per_second(ins, in_t));
    kprintf("bench swap_out_clean %u blocks/s\n", per_second(cleans, clean_t));
}

/* ---- defragmentation of 64 MiB of movable chains ---- */

struct kept {
    uint32_t seq;        /* owner sequence number: survives moves, finds the chain after */
    uint32_t blocks;
    uint32_t stamp;
};

static uint32_t page_word(uint32_t stamp, uint32_t page, uint32_t which)
{
    uint32_t x = stamp * 0x9E3779B1u + page * 0x85EBCA77u + which;
    x ^= x >> 13;
    return x * 0xC2B2AE35u;
}

/* Writes the chain's first and last word of every page; returns their checksum. */
static uint32_t fill_chain(chain_id_t id, uint32_t blocks, uint32_t stamp)
{
    uint32_t sum = 0;
    for (uint32_t p = 0; p < blocks * MM_PAGES_PER_BLOCK; p++) {
        uint32_t phys, a = page_word(stamp, p, 0), b = page_word(stamp, p, 1);
        MmChainPagePhysical(id, p, &phys);
        mm_phys_write(phys, &a, 4);
        mm_phys_write(phys + MM_PAGE_SIZE - 4, &b, 4);
        sum += a ^ (b * 3u);
    }
    return sum;
}

/* Reads them back; returns their checksum, counting words that differ in *bad. */
static uint32_t read_chain(chain_id_t id, uint32_t blocks, uint32_t stamp, uint32_t *bad)
{
    uint32_t sum = 0;
    for (uint32_t p = 0; p < blocks * MM_PAGES_PER_BLOCK; p++) {
        uint32_t phys, a, b;
        MmChainPagePhysical(id, p, &phys);
        mm_phys_read(phys, &a, 4);
        mm_phys_read(phys + MM_PAGE_SIZE - 4, &b, 4);
        *bad += (a != page_word(stamp, p, 0)) + (b != page_word(stamp, p, 1));
        sum += a ^ (b * 3u);
    }
    return sum;
}

static void bench_defrag(void)
{
    /* Kept chains (64 MiB in all), gap chains between them (freed to make holes), and now
     * and then a frozen chain that the defragmenter must leave where it is. */
    uint32_t max_chains = DEFRAG_BLOCKS;
    uint32_t need = DEFRAG_BLOCKS * 2 + DEFRAG_BLOCKS / 8 + 64;
    if (mm_free_blocks < need) {
        kprintf("bench: defrag_64mib needs %u free blocks but %u are free (boot with -m 256)\n", need, mm_free_blocks);
        return;
    }
    struct kept *kept = kzalloc(max_chains * sizeof *kept);
    chain_id_t *gaps = kzalloc(max_chains * sizeof *gaps);
    chain_id_t *frozen = kzalloc((max_chains / 32 + 1) * sizeof *frozen);
    uint32_t *by_seq = kzalloc(max_chains * 8 * sizeof *by_seq);
    if (!kept || !gaps || !frozen || !by_seq)
        panic("bench: no heap for the defragmentation benchmark");
    uint32_t rng = 0xBE4C4u, nkept = 0, ngaps = 0, nfrozen = 0, total = 0, sum_before = 0;
    uint32_t seq_base = mm_alloc_seq + 1;
    while (total < DEFRAG_BLOCKS) {
        uint32_t blocks = 1 + rand32(&rng) % 4;
        if (blocks > DEFRAG_BLOCKS - total)
            blocks = DEFRAG_BLOCKS - total;
        chain_id_t id, gap;
        if (mm_allocate_chain(0, blocks, OWNER_TEST, 0, &id) != MM_OK ||
            mm_allocate_chain(0, 1 + rand32(&rng) % 4, OWNER_TEST, 0, &gap) != MM_OK)
            panic("bench: out of memory while fragmenting");
        kept[nkept] = (struct kept){mm_owners[id].seq, blocks, rand32(&rng) | 1};
        sum_before += fill_chain(id, blocks, kept[nkept].stamp);
        nkept++;
        gaps[ngaps++] = gap;
        total += blocks;
        if (nkept % 32 == 0 &&
            mm_allocate_chain(CHAIN_FROZEN, 1 + rand32(&rng) % 2, OWNER_TEST, 0, &frozen[nfrozen++]) != MM_OK)
            panic("bench: out of memory while fragmenting");
    }
    for (uint32_t i = 0; i < ngaps; i++)
        MmFreeChain(gaps[i]);
    uint32_t frag = mm_fragmentation_percent(), run = mm_largest_free_run();
    uint32_t frozen_at[2] = {frozen[0], frozen[nfrozen - 1]};

    uint64_t t0 = rdtsc();
    uint32_t moved = MmDefragment();
    uint64_t t1 = rdtsc();
    uint64_t us = ticks_to_us(t1 - t0);

    /* Check the result before printing any figure: invariants, every kept chain found by
     * its sequence number with its size and contents, frozen chains in place. */
    const char *why = 0;
    if (mm_check(&why) != MM_OK)
        panic("bench: invariant broken by the defragmentation: %s", why);
    if (moved == 0 || moved > DEFRAG_BLOCKS)
        panic("bench: the defragmenter moved %u blocks", moved);
    for (uint32_t b = 1; b < mm_block_count; b++) {
        uint32_t e = mm_block_table[b];
        if (ct_is_head(e) && mm_owners[b].seq >= seq_base && mm_owners[b].seq - seq_base < max_chains * 8)
            by_seq[mm_owners[b].seq - seq_base] = b;
    }
    uint32_t sum_after = 0, bad = 0;
    for (uint32_t i = 0; i < nkept; i++) {
        chain_id_t id = by_seq[kept[i].seq - seq_base];
        if (!id || MmChainBlocks(id) != kept[i].blocks)
            panic("bench: kept chain #%u (seq %u) is lost after the defragmentation", i, kept[i].seq);
        sum_after += read_chain(id, kept[i].blocks, kept[i].stamp, &bad);
    }
    if (bad || sum_after != sum_before)
        panic("bench: %u words differ after the defragmentation (checksum 0x%x, was 0x%x)", bad, sum_after, sum_before);
    if (!mm_chain_valid(frozen_at[0]) || !mm_chain_valid(frozen_at[1]))
        panic("bench: a frozen chain moved");

    kprintf("bench: fragmented %u chains (%u MiB) around %u frozen chains: fragmentation %u%%, largest free run %u blocks;"
            " after: %u%%, %u blocks\n", nkept, DEFRAG_MIB, nfrozen, frag, run,
            mm_fragmentation_percent(), mm_largest_free_run());
    kprintf("bench defrag_64mib_time %u.%03u ms\n", (uint32_t)div64(us, 1000), (uint32_t)(us - div64(us, 1000) * 1000));
    kprintf("bench defrag_64mib_moved %u blocks\n", moved);
    uint32_t kib_per_s = us ? (uint32_t)div64((uint64_t)moved * (MM_BLOCK_SIZE / 1024u) * 1000000u, us) : 0;
    kprintf("bench defrag_64mib_copy %u.%u MiB/s\n", kib_per_s / 1024u, (kib_per_s % 1024u) * 10u / 1024u);

    for (uint32_t i = 0; i < nkept; i++)
        MmFreeChain(by_seq[kept[i].seq - seq_base]);
    for (uint32_t i = 0; i < nfrozen; i++)
        MmFreeChain(frozen[i]);
    kfree(by_seq);
    kfree(frozen);
    kfree(gaps);
    kfree(kept);
    if (mm_check(&why) != MM_OK)
        panic("bench: invariant broken after freeing: %s", why);
}

/* The handle heap's compaction: 8192 small blocks (16..1024 bytes, about 4 MiB) in a
 * heap of at most 16 MiB, 60% of them freed at random, some of the rest locked; then one
 * hh_compact, checked (heap invariants, every block's contents, locked blocks in place)
 * before its figures are printed. */
#define HH_BENCH_BLOCKS 8192u
#define HH_BENCH_PAGES  4096u
static hh_handle_t hh_bench_handles[HH_BENCH_BLOCKS];
static uint16_t hh_bench_sizes[HH_BENCH_BLOCKS];

static uint8_t hh_bench_byte(uint32_t i, uint32_t k)
{
    return (uint8_t)(i * 31u + k * 7u + (k >> 8));
}

static void bench_hheap_compact(void)
{
    static struct hh_heap h;
    if (hh_init(&h, HH_DEFAULT_VA, HH_BENCH_PAGES) != HH_OK)
        panic("bench: hh_init failed");
    uint32_t rng = 0x44EA9u, locked = 0;
    for (uint32_t i = 0; i < HH_BENCH_BLOCKS; i++) {
        uint32_t size = 16 + rand32(&rng) % 1009;
        void *p;
        if (hh_alloc(&h, size, &hh_bench_handles[i]) != HH_OK || hh_lock(&h, hh_bench_handles[i], &p) != HH_OK)
            panic("bench: hh_alloc of block %u failed", i);
        for (uint32_t k = 0; k < size; k++)
            ((uint8_t *)p)[k] = hh_bench_byte(i, k);
        hh_unlock(&h, hh_bench_handles[i]);
        hh_bench_sizes[i] = (uint16_t)size;
    }
    for (uint32_t i = 0; i < HH_BENCH_BLOCKS; i++) {
        uint32_t r = rand32(&rng) % 100;
        void *p;
        if (r < 60) {
            hh_free(&h, hh_bench_handles[i]);
            hh_bench_handles[i] = 0;
        } else if (r < 62 && i < HH_BENCH_BLOCKS / 4 && hh_lock(&h, hh_bench_handles[i], &p) == HH_OK) {
            hh_bench_sizes[i] |= 0x8000u;   /* locked: must stay at p */
            locked++;
        }
    }
    struct hh_usage before, after;
    hh_usage(&h, &before);
    uint32_t offsets[64], nloff = 0;
    for (uint32_t i = 0; i < HH_BENCH_BLOCKS && nloff < 64; i++)
        if (hh_bench_handles[i] && (hh_bench_sizes[i] & 0x8000u))
            hh_info(&h, hh_bench_handles[i], 0, 0, &offsets[nloff++]);
    uint32_t returned0 = h.stats.blocks_returned;
    uint64_t t0 = rdtsc();
    uint32_t moved = hh_compact(&h);
    uint64_t t1 = rdtsc();
    uint64_t us = ticks_to_us(t1 - t0);
    hh_usage(&h, &after);
    uint32_t returned = h.stats.blocks_returned - returned0;

    const char *why = 0;
    if (hh_check(&h, &why) != HH_OK)
        panic("bench: handle heap broken by compaction: %s", why);
    for (uint32_t i = 0, n = 0; i < HH_BENCH_BLOCKS; i++) {
        if (!hh_bench_handles[i])
            continue;
        uint32_t size = hh_bench_sizes[i] & 0x7FFFu, off = 0;
        void *p;
        if (hh_bench_sizes[i] & 0x8000u) {
            hh_info(&h, hh_bench_handles[i], 0, 0, &off);
            if (n < nloff && off != offsets[n++])
                panic("bench: a locked block moved");
        }
        if (hh_lock(&h, hh_bench_handles[i], &p) != HH_OK)
            panic("bench: handle %u lost", i);
        for (uint32_t k = 0; k < size; k++)
            if (((uint8_t *)p)[k] != hh_bench_byte(i, k))
                panic("bench: block %u byte %u changed by compaction", i, k);
        hh_unlock(&h, hh_bench_handles[i]);
    }
    if (moved == 0 || returned == 0)
        panic("bench: compaction moved %u blocks and returned %u chain blocks", moved, returned);
    kprintf("bench: handle heap of %u blocks (%u locked): %u pages used, %u%% full, %u chain blocks;"
            " after compaction: %u pages used, %u%% full, %u chain blocks\n", h.live, locked,
            before.used_pages, before.fill_percent, before.chain_blocks,
            after.used_pages, after.fill_percent, after.chain_blocks);
    kprintf("bench hheap_compact_time %u.%03u ms\n", (uint32_t)div64(us, 1000), (uint32_t)(us - div64(us, 1000) * 1000));
    kprintf("bench hheap_compact_moved %u blocks\n", moved);
    uint32_t per_ms10 = us ? (uint32_t)div64((uint64_t)moved * 10000u, us) : 0;
    kprintf("bench hheap_compact_rate %u.%u blocks/ms\n", per_ms10 / 10, per_ms10 % 10);
    kprintf("bench hheap_compact_returned %u pages\n", returned * MM_PAGES_PER_BLOCK);
    hh_destroy(&h);
}

void bench_run(void)
{
    kprintf("bench: %u blocks, %u free\n", mm_block_count, mm_free_blocks);
    calibrate();
    bench_defrag();          /* first: the allocator's next-fit position, so the layout, is the same every boot */
    bench_alloc_free(1);
    bench_alloc_free(8);
    bench_map_unmap();
    bench_hheap_compact();
    bench_swap();
    kprintf("bench: done\n");
    qemu_exit(1);
}
