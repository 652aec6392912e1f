/* test_event_ring.c: the flight recorder's ring (event_ring.h). Each kind appears with the
 * right fields after its operation, records are numbered and complete (seq = n + 1 at
 * index n % capacity, head = records written), timestamps never go back, and the ring wraps. */
#include "debuginfo.h"
#include "event_ring.h"
#include "mm.h"
#include "proc.h"
#include "swap.h"
#include "string.h"
#include "test.h"
#include "timer.h"
#include "x86.h"

#define RING_VA 0xE7000000u    /* where these tests map their chains (kernel half) */
#define CAP MM_EVENT_RING_CAPACITY

static volatile struct mm_event_record *rec(uint32_t n) { return &mm_event_ring[n & (CAP - 1)]; }

/* The first record of `kind` (and chain, unless chain is ~0u) in [from, head), or 0. */
static volatile struct mm_event_record *find(uint32_t from, uint32_t kind, uint32_t chain)
{
    for (uint32_t n = from; n != mm_event_head; n++) {
        volatile struct mm_event_record *r = rec(n);
        if (r->kind == kind && (chain == ~0u || r->chain == chain))
            return r;
    }
    return 0;
}

/* Every record in [from, head) is complete and numbered, with a TSC that never goes back. */
static const char *numbered(uint32_t from)
{
    uint64_t last = 0;
    for (uint32_t n = from; n != mm_event_head; n++) {
        volatile struct mm_event_record *r = rec(n);
        CHECK_EQ(r->seq, n + 1);
        uint64_t tsc = ((uint64_t)r->tsc_hi << 32) | r->tsc_lo;
        CHECK(tsc >= last);
        last = tsc;
    }
    return 0;
}

TEST(ring, descriptor)
{
    CHECK_EQ(mm_debug_info.event_ring_addr, (uint32_t)mm_event_ring);
    CHECK_EQ(mm_debug_info.event_ring_phys, V2P((uint32_t)mm_event_ring));
    CHECK_EQ(mm_debug_info.event_ring_capacity, CAP);
    CHECK_EQ(mm_debug_info.event_ring_capacity & (CAP - 1), 0);
    CHECK_EQ(mm_debug_info.event_record_size, 48);
    CHECK_EQ(mm_debug_info.event_head_addr, (uint32_t)&mm_event_head);
    CHECK(mm_debug_info.tsc_khz > 1000);     /* measured at boot: at least 1 MHz */
    CHECK_EQ(mm_debug_info.tsc_khz, mm_tsc_khz);
    CHECK(mm_event_head > 0);                /* boot allocated chains */
    return numbered(mm_event_head > CAP ? mm_event_head - CAP : 0);
}

TEST(ring, allocate_resize_free)
{
    uint32_t h0 = mm_event_head, seq0 = mm_last_event.seq;
    chain_id_t id = MmAllocateChain(0, 3);
    CHECK(id);
    CHECK_EQ(mm_event_head, h0 + 1);          /* one operation, one record */
    volatile struct mm_event_record *r = rec(h0);
    CHECK_EQ(r->seq, h0 + 1);
    CHECK_EQ(r->kind, MM_EV_ALLOCATED);
    CHECK_EQ(r->chain, id);
    CHECK_EQ(r->blocks, 3);
    CHECK_EQ(r->status, MM_OK);
    CHECK_EQ(r->pid, current->pid);
    CHECK_EQ(r->caller, mm_last_event.caller);
    CHECK_EQ(r->caller, mm_owners[id].caller);
    CHECK_EQ(mm_last_event.seq, seq0 + 1);    /* the hook's event is still recorded */
    CHECK_OK(MmResizeChain(id, 5));
    r = find(h0, MM_EV_RESIZED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, 5);
    CHECK_EQ(r->arg, 3);
    CHECK_OK(MmFreeChain(id));
    r = find(h0, MM_EV_FREED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, 5);
    CHECK_EQ(mm_event_head, h0 + 3);
    return numbered(h0);
}

TEST(ring, map_unmap)
{
    uint32_t h0 = mm_event_head;
    chain_id_t id = MmAllocateChain(0, 2);
    CHECK(id);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)RING_VA, 1, 0));
    volatile struct mm_event_record *r = find(h0, MM_EV_MAPPED, id);
    CHECK(r);
    CHECK_EQ(r->arg, RING_VA);
    CHECK_EQ(r->blocks, 2 * MM_PAGES_PER_BLOCK - 1);
    CHECK_EQ(r->flags, MAP_KPD | (1u << 8));  /* MAP_* and the page offset */
    CHECK_EQ(r->extra, 0);                    /* the KPD */
    CHECK_EQ(mm_last_event.flags, MAP_KPD);   /* the hook's event keeps the caller's flags */
    CHECK_OK(MmUnmapChain(MAP_KPD, id, (void *)RING_VA, 0));
    r = find(h0, MM_EV_UNMAPPED, id);
    CHECK(r);
    CHECK_EQ(r->arg, RING_VA);
    CHECK_EQ(r->blocks, 0);
    /* mappings the memory manager trims or removes by itself are recorded too */
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)RING_VA, 0, 0));
    uint32_t h1 = mm_event_head;
    CHECK_OK(MmResizeChain(id, 1));
    r = find(h1, MM_EV_UNMAPPED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, MM_PAGES_PER_BLOCK);  /* pages left */
    uint32_t h2 = mm_event_head;
    CHECK_OK(MmFreeChain(id));
    r = find(h2, MM_EV_UNMAPPED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, 0);
    CHECK_EQ(r->arg, RING_VA);
    CHECK_EQ(rec(h2 + 1)->kind, MM_EV_FREED);  /* the unmapping comes first */
    return numbered(h0);
}

TEST(ring, freeze_clean_flags)
{
    uint32_t h0 = mm_event_head;
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK(id);
    CHECK_OK(MmFreezeChain(id));
    volatile struct mm_event_record *r = find(h0, MM_EV_FROZEN, id);
    CHECK(r);
    CHECK(r->flags & CHAIN_FROZEN);
    CHECK(!(r->arg & CHAIN_FROZEN));
    CHECK_OK(MmUnfreezeChain(id));
    r = find(h0, MM_EV_UNFROZEN, id);
    CHECK(r);
    CHECK(!(r->flags & CHAIN_FROZEN));
    CHECK_OK(MmMarkSwappable(id, true));
    r = find(h0, MM_EV_FLAGS, id);
    CHECK(r);
    CHECK(r->flags & CHAIN_SWAPPABLE);
    CHECK_OK(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)RING_VA, 0, 0));
    *(volatile uint32_t *)RING_VA = 1;
    CHECK_OK(MmCleanChain(id));
    r = find(h0, MM_EV_CLEANED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, MM_PAGES_PER_BLOCK);  /* pages visited */
    CHECK_OK(MmUnmapChain(MAP_KPD, id, (void *)RING_VA, 0));
    CHECK_OK(MmFreeChain(id));
    return numbered(h0);
}

TEST(ring, moved_renamed)
{
    uint32_t h0 = mm_event_head;
    chain_id_t id = MmAllocateChain(0, 2);
    CHECK(id);
    uint32_t dst = 0;
    for (uint32_t b = mm_block_count - 1; b > 0 && !dst; b--)
        if (ct_is_free(mm_block_table[b]))
            dst = b;
    CHECK(dst);
    CHECK_OK(mm_move_block(id, dst));
    volatile struct mm_event_record *r = find(h0, MM_EV_MOVED, id);
    CHECK(r);
    CHECK_EQ(r->blocks, id);
    CHECK_EQ(r->arg, dst);
    CHECK_EQ(r->extra, 0);                    /* the head: index 0 */
    r = find(h0, MM_EV_RENAMED, id);
    CHECK(r);
    CHECK_EQ(r->arg, dst);
    CHECK(mm_chain_valid(dst));
    CHECK_OK(MmFreeChain(dst));
    CHECK(find(h0, MM_EV_FREED, dst));
    return numbered(h0);
}

TEST(ring, swap_out_in)
{
    if (!swap_slot_count)
        return test_fail(__FILE__, __LINE__, "no swap disk (boot with -drive if=ide)");
    uint32_t h0 = mm_event_head;
    chain_id_t id = MmAllocateChain(CHAIN_SWAPPABLE, 2);
    CHECK(id);
    uint32_t b1 = ct_field(mm_block_table[id]);
    CHECK_OK(swap_out_block(id, 1));
    volatile struct mm_event_record *r = find(h0, MM_EV_SWAPPED_OUT, id);
    CHECK(r);
    CHECK_EQ(r->blocks, b1);
    CHECK_EQ(r->extra, 1);
    uint32_t slot = r->arg;
    CHECK(slot < swap_slot_count);
    CHECK_OK(swap_in_chain(id));
    r = find(h0, MM_EV_SWAPPED_IN, id);
    CHECK(r);
    CHECK_EQ(r->arg, slot);
    CHECK_EQ(r->extra, 1);
    CHECK_EQ(r->blocks, ct_field(mm_block_table[id]));
    CHECK_OK(MmFreeChain(id));
    return numbered(h0);
}

static volatile int switched_in;
static void note_running(void *arg) { (void)arg; switched_in = 1; }

TEST(ring, context_switch)
{
    uint32_t h0 = mm_event_head;
    switched_in = 0;
    struct pcb *p = proc_create("ringtest", note_running, 0);
    CHECK(p);
    uint32_t deadline = timer_ms() + 2000;
    while (p->state != PROC_ZOMBIE && (int32_t)(timer_ms() - deadline) < 0)
        proc_yield();
    CHECK(switched_in);
    volatile struct mm_event_record *r = find(h0, MM_EV_SWITCH, ~0u);
    CHECK(r);
    CHECK_EQ(r->pid, current->pid);           /* switched from us */
    CHECK_EQ(r->arg, p->pid);                 /* to it */
    CHECK_OK(proc_reap(p->pid));
    return numbered(h0);
}

TEST(ring, wraps_around)
{
    uint32_t h0 = mm_event_head;
    chain_id_t id = MmAllocateChain(0, 1);
    CHECK(id);
    for (uint32_t i = 0; i < CAP / 2 + 8; i++) {
        CHECK_OK(MmFreezeChain(id));
        CHECK_OK(MmUnfreezeChain(id));
    }
    CHECK_OK(MmFreeChain(id));
    CHECK_EQ(mm_event_head, h0 + CAP + 16 + 2);
    /* the last `capacity` records are all there; the older ones were overwritten */
    const char *why = numbered(mm_event_head - CAP);
    if (why)
        return why;
    CHECK_EQ(rec(mm_event_head - 1)->kind, MM_EV_FREED);
    CHECK_EQ(rec(mm_event_head - 2)->kind, MM_EV_UNFROZEN);
    CHECK_EQ(rec(h0)->seq, h0 + CAP + 1);     /* slot of record h0 holds record h0 + capacity */
    return 0;
}

/* Every event is recorded inside a write section (interrupts off, no interrupt state saved); a
 * record written outside one takes the out-of-line path, which disables interrupts around the
 * write and restores them, and is numbered like any other. */
TEST(ring, outside_write_section)
{
    CHECK_EQ(mm_write_depth(), 0);
    CHECK_EQ(mm_generation & 1, 0);
    CHECK(read_eflags() & 0x200);               /* the selftest runs with interrupts on */
    uint32_t h0 = mm_event_head;
    mm_ring_event_pid(MM_EV_FLAGS, 0x123, 4, 5, 6, MM_OK, 0xc0de, 7, 99);
    CHECK(read_eflags() & 0x200);               /* restored */
    CHECK_EQ(mm_event_head, h0 + 1);
    volatile struct mm_event_record *r = rec(h0);
    CHECK_EQ(r->seq, h0 + 1);
    CHECK_EQ(r->kind, MM_EV_FLAGS);
    CHECK_EQ(r->chain, 0x123);
    CHECK_EQ(r->blocks, 4);
    CHECK_EQ(r->flags, 5);
    CHECK_EQ(r->arg, 6);
    CHECK_EQ(r->caller, 0xc0de);
    CHECK_EQ(r->extra, 7);
    CHECK_EQ(r->pid, 99);
    /* inside a section (interrupts already off) the inline path writes it the same way */
    uint32_t f = mm_write_begin();
    mm_ring_event_pid(MM_EV_FLAGS, 0x124, 0, 0, 0, MM_OK, 0, 0, 98);
    CHECK_EQ(read_eflags() & 0x200, 0);         /* still off: the writer did not turn them on */
    mm_write_end(f);
    CHECK_EQ(mm_event_head, h0 + 2);
    CHECK_EQ(rec(h0 + 1)->chain, 0x124);
    return numbered(h0);
}
