/* test_stress.c: a seeded random stress of the whole memory manager. Thousands of random
 * operations (allocate, free, resize, map, unmap, write, freeze, clean, XMS and DPMI calls,
 * defragment) run against a model of what every chain, mapping and handle should be; after
 * each one the invariant checker and the model are checked, and after every defragmentation
 * the data written through the mappings is read back through them and through the chains'
 * physical pages. The seed is printed; `seed=N` (and `ops=N`) on the command line repeat a
 * run. Also: exhausting memory. */
#include "swap.h"
#include "console.h"
#include "dos.h"
#include "dpmi.h"
#include "heap.h"
#include "modes.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "regs.h"
#include "string.h"
#include "test.h"
#include "x86.h"
#include "xms.h"

#define DEFAULT_SEED 0x5EED2024u
#define DEFAULT_OPS  10000u
#define PROGRESS_EVERY 2000u
#define VERIFY_EVERY 500u          /* full data verification besides the one after defrags */

#define POOL 32                    /* model slots, each holding one chain or none */
#define MAX_CHAIN_BLOCKS 16
#define MAX_PAGES (MAX_CHAIN_BLOCKS * MM_PAGES_PER_BLOCK)
#define SLOT_SPAN (MAX_PAGES * MM_PAGE_SIZE)     /* 256 KiB of address space per slot */
#define STALE_RING 16

/* Where slot i is mapped in each address space (one mapping per space and slot). */
enum space { SP_KPD, SP_PRIV, SP_CUR, SP_COUNT };
static const uint32_t space_base[SP_COUNT] = {
    0xE4000000u,   /* kernel window (KPD) */
    0x00400000u,   /* our private UPD */
    0x02000000u,   /* the current process's UPD (below DPMI_LINEAR_BASE) */
};
static const char *const space_name[SP_COUNT] = {"kpd", "private upd", "current upd"};

/* Words of the pattern in each page: the first PAT_HEAD words and the last word. */
#define PAT_HEAD 8
#define PAT_WORDS (PAT_HEAD + 1)

struct map_model {
    bool live;
    bool readonly;
    uint32_t off, pages;
    uint64_t dirty;            /* pages (bit i = off + i) written through this mapping since the last clean */
};

struct slot {
    chain_id_t id;             /* 0: slot empty */
    uint32_t blocks;
    uint32_t flags;            /* expected CHAIN_* flags */
    uint32_t sum;              /* checksum of the patterns of the pages whose stamp is known */
    uint32_t stamp[MAX_PAGES]; /* pattern stamp of each page; 0 = contents unknown */
    struct map_model map[SP_COUNT];
};

#define XMS_SLOTS 6
#define XMS_PAT_MAX 2048u
struct xms_model {
    uint16_t handle;           /* 0: slot empty */
    uint32_t kb;
    uint32_t locks;
    uint32_t stamp;
    uint32_t valid;            /* bytes from offset 0 that hold the pattern of `stamp` */
};

#define DPMI_SLOTS 6
#define DPMI_MAX_BYTES (96u * 1024u)
struct dpmi_model {
    uint32_t handle;           /* 0: slot empty */
    uint32_t lin, size;        /* size is page rounded */
    uint32_t locks;
    uint32_t stamp;
    uint32_t valid_pages;      /* pages from the start that hold the pattern */
};

struct stress {
    uint32_t seed, rng, op, ops;
    const char *opname;
    struct pcb *me;
    struct slot slot[POOL];
    chain_id_t stale[STALE_RING];
    uint32_t stale_next;
    struct xms_model xms[XMS_SLOTS];
    uint32_t xms_base;         /* handles that existed before the test */
    struct dpmi_model dpmi[DPMI_SLOTS];
    uint16_t conv_seg;         /* conventional buffer for XMS moves (0: none) */
    uint32_t renames, defrags, verifies, errors_checked, moved_seen;
    /* Operations that may be refused for want of memory count their successes and their
     * refusals apart; run_ops requires a minimum of successes (see MIN_SUCCESS_*). */
    uint32_t make_runs, make_refused;      /* mm_defrag_make_run: made / refused (NOMEM) */
    uint32_t contig_made, contig_refused;  /* MmAllocateContiguous: made / refused (NOMEM) */
    uint32_t xms_locked, xms_lock_refused; /* XMS 0Ch: locked / refused (no run for it) */
    uint32_t counts[32];
};
static struct stress st;
static uint32_t priv_upd[UPD_ENTRIES];   /* a UPD that is no process's: never loaded in CR3 */

/* ---- failing with the operation number and seed ---- */

static const char *sfail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *sfail(int line, const char *fmt, ...)
{
    char reason[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    kprintf("stress: failed at op %u (%s), seed %u: %s\n", st.op, st.opname, st.seed, reason);
    return test_fail(__FILE__, line, "op %u (%s) seed %u: %s", st.op, st.opname, st.seed, reason);
}

#define S_CHECK(c) do { if (!(c)) return sfail(__LINE__, "%s", #c); } while (0)
#define S_EQ(a, b) do { uint32_t _a = (uint32_t)(a), _b = (uint32_t)(b); \
    if (_a != _b) return sfail(__LINE__, "%s == %s: got 0x%x, want 0x%x", #a, #b, _a, _b); } while (0)
#define S_TRY(e) do { const char *_e = (e); if (_e) return _e; } while (0)

static uint32_t rnd(uint32_t n)
{
    return n ? rand32(&st.rng) % n : 0;
}

static uint32_t stamp_new(void)
{
    uint32_t s;
    do
        s = rand32(&st.rng);
    while (!s);
    return s;
}

/* ---- patterns ---- */

static uint32_t pat(uint32_t stamp, uint32_t k)
{
    uint32_t x = stamp ^ (k * 0x9E3779B9u);
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return x;
}

/* Checksum contribution of page p holding words w[0..PAT_WORDS). */
static uint32_t page_sum(uint32_t p, const uint32_t *w)
{
    uint32_t s = 0x811C9DC5u ^ (p * 0x01000193u);
    for (uint32_t k = 0; k < PAT_WORDS; k++)
        s = (s ^ w[k]) * 16777619u;
    return s;
}

static void expected_words(uint32_t stamp, uint32_t *w)
{
    for (uint32_t k = 0; k < PAT_WORDS; k++)
        w[k] = pat(stamp, k);
}

static void read_phys_words(uint32_t phys, uint32_t *w)
{
    mm_phys_read(phys, w, PAT_HEAD * 4);
    mm_phys_read(phys + MM_PAGE_SIZE - 4, &w[PAT_HEAD], 4);
}

static void write_phys_words(uint32_t phys, const uint32_t *w)
{
    mm_phys_write(phys, w, PAT_HEAD * 4);
    mm_phys_write(phys + MM_PAGE_SIZE - 4, &w[PAT_HEAD], 4);
}

static void read_va_words(uint32_t va, uint32_t *w)
{
    volatile uint32_t *p = (volatile uint32_t *)va;
    for (uint32_t k = 0; k < PAT_HEAD; k++)
        w[k] = p[k];
    w[PAT_HEAD] = p[1023];
}

static void write_va_words(uint32_t va, const uint32_t *w)
{
    volatile uint32_t *p = (volatile uint32_t *)va;
    for (uint32_t k = 0; k < PAT_HEAD; k++)
        p[k] = w[k];
    p[1023] = w[PAT_HEAD];
}

/* Gives page p of slot s a new (or no, stamp 0) pattern stamp in the model. */
static void set_stamp(struct slot *s, uint32_t p, uint32_t stamp)
{
    uint32_t w[PAT_WORDS];
    if (s->stamp[p]) {
        expected_words(s->stamp[p], w);
        s->sum -= page_sum(p, w);
    }
    s->stamp[p] = stamp;
    if (stamp) {
        expected_words(stamp, w);
        s->sum += page_sum(p, w);
    }
}

/* ---- slots and mappings ---- */

static uint32_t slot_va(enum space sp, uint32_t i)
{
    return space_base[sp] + i * SLOT_SPAN;
}

static uint32_t *space_upd(enum space sp)
{
    return sp == SP_KPD ? 0 : sp == SP_PRIV ? priv_upd : st.me->upd;
}

static uint32_t space_flags(enum space sp)
{
    return sp == SP_KPD ? MAP_KPD : MAP_UPD;
}

/* True when the CPU reaches the space directly (its pages can be read through pointers). */
static bool space_live(enum space sp)
{
    return sp != SP_PRIV;
}

static void follow(chain_id_t old_id, chain_id_t new_id, void *ctx)
{
    (void)ctx;
    for (uint32_t i = 0; i < POOL; i++)
        if (st.slot[i].id == old_id) {
            st.slot[i].id = new_id;
            st.renames++;
        }
}

static struct slot *random_slot(bool live)
{
    uint32_t start = rnd(POOL);
    for (uint32_t k = 0; k < POOL; k++) {
        struct slot *s = &st.slot[(start + k) % POOL];
        if ((s->id != 0) == live)
            return s;
    }
    return 0;
}

static uint32_t slot_index(struct slot *s)
{
    return (uint32_t)(s - st.slot);
}

static uint32_t live_slots(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < POOL; i++)
        n += st.slot[i].id != 0;
    return n;
}

/* ---- a fingerprint of all the tables, to show that a refused call changed nothing ---- */

struct snap {
    uint32_t table, owners, free, maps, map_hash, xms_len, dpmi_len, pt_used, xms_hash, dpmi_hash;
};

static uint32_t hash_words(uint32_t h, const void *p, uint32_t bytes)
{
    const uint32_t *w = p;
    for (uint32_t i = 0; i < bytes / 4; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}

static void take_snap(struct snap *s)
{
    s->table = hash_words(0x811C9DC5u, mm_block_table, mm_block_count * 4);
    s->owners = hash_words(0x811C9DC5u, mm_owners, mm_block_count * (uint32_t)sizeof(struct mm_owner));
    s->free = mm_free_blocks;
    s->maps = mm_mapping_count;
    s->map_hash = hash_words(0x811C9DC5u, mm_mappings, mm_mapping_count * (uint32_t)sizeof(struct mm_mapping));
    s->xms_len = xms_handles.length;
    s->dpmi_len = dpmi_blocks.length;
    s->xms_hash = hash_words(0x811C9DC5u, xms_handles.data, xms_handles.length * xms_handles.elem_size);
    s->dpmi_hash = hash_words(0x811C9DC5u, dpmi_blocks.data, dpmi_blocks.length * dpmi_blocks.elem_size);
    s->pt_used = pt_frames_used();
}

static const char *same_snap(int line, const struct snap *a, const char *what)
{
    struct snap b;
    take_snap(&b);
    st.errors_checked++;
    if (a->table != b.table || a->free != b.free)
        return sfail(line, "%s changed the block table", what);
    if (a->owners != b.owners)
        return sfail(line, "%s changed the owner records", what);
    if (a->maps != b.maps || a->map_hash != b.map_hash)
        return sfail(line, "%s changed the mapping registry", what);
    if (a->pt_used != b.pt_used)
        return sfail(line, "%s changed the page tables in use (%u -> %u)", what, a->pt_used, b.pt_used);
    if (a->xms_len != b.xms_len || a->xms_hash != b.xms_hash)
        return sfail(line, "%s changed the XMS handle table", what);
    if (a->dpmi_len != b.dpmi_len || a->dpmi_hash != b.dpmi_hash)
        return sfail(line, "%s changed the DPMI block table", what);
    return 0;
}

/* Runs `call` (an expression returning a status) expecting status `want` and no change. */
#define EXPECT_REFUSED(call, want) do { struct snap _s; take_snap(&_s); int _r = (call); \
    if (_r != (int)(want)) return sfail(__LINE__, "%s returned %d (%s), want %d", #call, _r, mm_strerror(_r), (int)(want)); \
    S_TRY(same_snap(__LINE__, &_s, #call)); } while (0)

/* ---- checks of the model against the memory manager ---- */

/* The chain of slot s has the modelled block count and flags. */
static const char *check_slot_shape(struct slot *s)
{
    uint32_t flags = 0;
    if (!mm_chain_valid(s->id))
        return sfail(__LINE__, "slot %u: chain %u is not live", slot_index(s), s->id);
    S_EQ(MmChainBlocks(s->id), s->blocks);
    S_EQ(MmChainFlags(s->id, &flags), MM_OK);
    S_EQ(flags, s->flags);
    return 0;
}

/* Every registry entry that names one of our chains is one of the modelled mappings, and
 * every modelled mapping is in the registry. */
static const char *check_registry(void)
{
    uint32_t want = 0, found = 0;
    for (uint32_t i = 0; i < POOL; i++)
        for (uint32_t sp = 0; sp < SP_COUNT; sp++)
            want += st.slot[i].id && st.slot[i].map[sp].live;
    for (uint32_t r = 0; r < mm_mapping_count; r++) {
        struct mm_mapping *m = &mm_mappings[r];
        for (uint32_t i = 0; i < POOL; i++) {
            struct slot *s = &st.slot[i];
            if (!s->id || m->chain != s->id)
                continue;
            bool match = false;
            for (uint32_t sp = 0; sp < SP_COUNT && !match; sp++) {
                struct map_model *mm = &s->map[sp];
                match = mm->live && m->va == slot_va(sp, i) && m->upd == space_upd(sp) &&
                        m->page_offset == mm->off && m->pages == mm->pages &&
                        (m->flags & MAP_READONLY) == (mm->readonly ? MAP_READONLY : 0u);
            }
            if (!match)
                return sfail(__LINE__, "registry entry va 0x%x of chain %u is not in the model", m->va, m->chain);
            found++;
        }
    }
    if (found != want)
        return sfail(__LINE__, "%u of our mappings in the registry, the model has %u", found, want);
    return 0;
}

static struct xms_handle *xms_entry(uint16_t handle)
{
    for (uint32_t i = 0; i < xms_handles.length; i++) {
        struct xms_handle *h = vec_at(&xms_handles, i);
        if (h->handle == handle)
            return h;
    }
    return 0;
}

static struct dpmi_block *dpmi_entry(uint32_t handle)
{
    for (uint32_t i = 0; i < dpmi_blocks.length; i++) {
        struct dpmi_block *b = vec_at(&dpmi_blocks, i);
        if (b->handle == handle && b->owner_pid == st.me->pid)
            return b;
    }
    return 0;
}

/* True when the chain's blocks are id, id+1, ... */
static bool chain_is_run(chain_id_t id)
{
    uint32_t n = MmChainBlocks(id), b;
    for (uint32_t i = 0; i < n; i++)
        if (mm_chain_block(id, i, &b) != MM_OK || b != id + i)
            return false;
    return true;
}

static const char *check_services(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < XMS_SLOTS; i++) {
        struct xms_model *x = &st.xms[i];
        if (!x->handle)
            continue;
        n++;
        struct xms_handle *h = xms_entry(x->handle);
        if (!h)
            return sfail(__LINE__, "XMS handle %u is missing from the table", x->handle);
        S_EQ(h->size_kb, x->kb);
        S_EQ(h->lock_count, x->locks);
        uint32_t blocks = (x->kb + 15) / 16;
        if (!blocks) {
            S_EQ(h->chain, 0);
            continue;
        }
        S_CHECK(mm_chain_valid(h->chain));
        S_EQ(MmChainBlocks(h->chain), blocks);
        S_EQ(mm_owners[h->chain].kind, OWNER_XMS);
        uint32_t flags;
        MmChainFlags(h->chain, &flags);
        S_EQ(!!(flags & CHAIN_FROZEN), x->locks > 0);
        if (x->locks)
            S_CHECK(chain_is_run(h->chain));
    }
    S_EQ(xms_handles.length, st.xms_base + n);
    n = 0;
    for (uint32_t i = 0; i < DPMI_SLOTS; i++) {
        struct dpmi_model *d = &st.dpmi[i];
        if (!d->handle)
            continue;
        n++;
        struct dpmi_block *b = dpmi_entry(d->handle);
        if (!b)
            return sfail(__LINE__, "DPMI handle %u is missing from the table", d->handle);
        S_EQ(b->linear, d->lin);
        S_EQ(b->size, d->size);
        S_EQ(b->lock_count, d->locks);
        S_CHECK(mm_chain_valid(b->chain));
        S_EQ(MmChainBlocks(b->chain), (d->size + MM_BLOCK_SIZE - 1) / MM_BLOCK_SIZE);
        uint32_t flags;
        MmChainFlags(b->chain, &flags);
        S_EQ(!!(flags & CHAIN_FROZEN), d->locks > 0);
    }
    uint32_t mine = 0;
    for (uint32_t i = 0; i < dpmi_blocks.length; i++)
        mine += ((struct dpmi_block *)vec_at(&dpmi_blocks, i))->owner_pid == st.me->pid;
    S_EQ(mine, n);
    return 0;
}

/* After every operation: the invariants, and the model's shape of every chain and handle. */
static const char *check_all(void)
{
    const char *why = 0;
    if (mm_check(&why) != MM_OK)
        return sfail(__LINE__, "mm_check: %s", why);
    for (uint32_t i = 0; i < POOL; i++)
        if (st.slot[i].id)
            S_TRY(check_slot_shape(&st.slot[i]));
    S_TRY(check_registry());
    S_TRY(check_services());
    return 0;
}

/* ---- data verification ---- */

static const char *compare_words(struct slot *s, uint32_t p, const uint32_t *got, const char *how)
{
    uint32_t want[PAT_WORDS];
    expected_words(s->stamp[p], want);
    for (uint32_t k = 0; k < PAT_WORDS; k++)
        if (got[k] != want[k])
            return sfail(__LINE__, "slot %u chain %u page %u word %u read %s: 0x%x, want 0x%x",
                         slot_index(s), s->id, p, k == PAT_HEAD ? 1023 : k, how, got[k], want[k]);
    return 0;
}

/* Reads every known page of slot s through the chain's physical pages (checksum against the
 * model) and through each of its mappings. */
static const char *verify_slot(struct slot *s)
{
    uint32_t sum = 0, w[PAT_WORDS];
    for (uint32_t p = 0; p < s->blocks * MM_PAGES_PER_BLOCK; p++) {
        if (!s->stamp[p])
            continue;
        uint32_t phys;
        S_EQ(MmChainPagePhysical(s->id, p, &phys), MM_OK);
        read_phys_words(phys, w);
        sum += page_sum(p, w);
        S_TRY(compare_words(s, p, w, "physically"));
    }
    if (sum != s->sum)
        return sfail(__LINE__, "slot %u chain %u: checksum 0x%x, model 0x%x", slot_index(s), s->id, sum, s->sum);
    for (uint32_t sp = 0; sp < SP_COUNT; sp++) {
        struct map_model *m = &s->map[sp];
        if (!m->live)
            continue;
        for (uint32_t i = 0; i < m->pages; i++) {
            uint32_t p = m->off + i, va = slot_va(sp, slot_index(s)) + i * MM_PAGE_SIZE;
            if (!s->stamp[p])
                continue;
            if (space_live(sp)) {
                read_va_words(va, w);
            } else {
                uint32_t pte = mm_lookup_pte(va, priv_upd);
                if (!(pte & PTE_P))
                    return sfail(__LINE__, "slot %u: private mapping page 0x%x not present", slot_index(s), va);
                read_phys_words(pte & PTE_ADDR, w);
            }
            S_TRY(compare_words(s, p, w, space_name[sp]));
        }
    }
    st.verifies++;
    return 0;
}

static uint8_t xms_byte(uint32_t stamp, uint32_t i)
{
    return (uint8_t)(pat(stamp, i / 4) >> ((i % 4) * 8));
}

static const char *xms_verify(struct xms_model *x);
static const char *dpmi_verify(struct dpmi_model *d);

static const char *verify_everything(void)
{
    for (uint32_t i = 0; i < POOL; i++)
        if (st.slot[i].id)
            S_TRY(verify_slot(&st.slot[i]));
    for (uint32_t i = 0; i < XMS_SLOTS; i++)
        if (st.xms[i].handle)
            S_TRY(xms_verify(&st.xms[i]));
    for (uint32_t i = 0; i < DPMI_SLOTS; i++)
        if (st.dpmi[i].handle)
            S_TRY(dpmi_verify(&st.dpmi[i]));
    return 0;
}

/* When something moved blocks since the last look (a defragmentation, possibly started by an
 * allocation or an XMS lock), everything is read back. */
static const char *verify_if_moved(void)
{
    if (mm_defrag_moved == st.moved_seen)
        return 0;
    st.moved_seen = mm_defrag_moved;
    return verify_everything();
}

/* ---- writing through mappings ---- */

/* Writes new patterns into pages [from, from+n) of mapping sp of slot s, through it. */
static void write_through(struct slot *s, enum space sp, uint32_t from, uint32_t n)
{
    struct map_model *m = &s->map[sp];
    for (uint32_t i = from; i < from + n; i++) {
        uint32_t va = slot_va(sp, slot_index(s)) + i * MM_PAGE_SIZE, w[PAT_WORDS], stamp = stamp_new();
        expected_words(stamp, w);
        if (space_live(sp)) {
            write_va_words(va, w);
            m->dirty |= 1ull << i;
        } else {
            write_phys_words(mm_lookup_pte(va, priv_upd) & PTE_ADDR, w);
        }
        set_stamp(s, m->off + i, stamp);
    }
}

/* Writes patterns into every page of slot s through the chain's physical pages. */
static void write_physically(struct slot *s)
{
    for (uint32_t p = 0; p < s->blocks * MM_PAGES_PER_BLOCK; p++) {
        uint32_t phys, w[PAT_WORDS], stamp = stamp_new();
        MmChainPagePhysical(s->id, p, &phys);
        expected_words(stamp, w);
        write_phys_words(phys, w);
        set_stamp(s, p, stamp);
    }
}

/* ---- chain operations ---- */

static bool our_id(chain_id_t id)
{
    for (uint32_t i = 0; i < POOL; i++)
        if (st.slot[i].id == id)
            return true;
    return false;
}

static const char *op_alloc(void)
{
    struct slot *s = random_slot(false);
    if (!s)
        return 0;
    static const uint32_t flag_choices[] = {0, 0, 0, 0, CHAIN_FROZEN, CHAIN_SWAPPABLE, CHAIN_USER,
                                            CHAIN_USER | CHAIN_SWAPPABLE, CHAIN_FROZEN | CHAIN_USER};
    uint32_t flags = flag_choices[rnd(sizeof flag_choices / sizeof flag_choices[0])];
    uint32_t blocks = rnd(4) ? 1 + rnd(4) : 1 + rnd(MAX_CHAIN_BLOCKS);
    uint32_t seq = mm_alloc_seq;
    chain_id_t id = 0;
    if (blocks > mm_free_blocks) {
        EXPECT_REFUSED(mm_allocate_chain(flags, blocks, OWNER_TEST, 0, &id), MM_ERR_NOMEM);
        return 0;
    }
    if (rnd(2)) {
        st.opname = "MmAllocateChain";
        id = MmAllocateChain(flags, blocks);
        S_CHECK(id != 0);
    } else {
        st.opname = "mm_allocate_chain";
        S_EQ(mm_allocate_chain(flags, blocks, OWNER_TEST, 0x5EED, &id), MM_OK);
        S_EQ(mm_owners[id].kind, OWNER_TEST);
    }
    S_CHECK(mm_chain_valid(id));
    S_CHECK(!our_id(id));
    S_CHECK(mm_owners[id].seq > seq);
    memset(s, 0, sizeof *s);
    s->id = id;
    s->blocks = blocks;
    s->flags = flags;
    if (rnd(2))
        write_physically(s);
    return 0;
}

static const char *op_alloc_contig(void)
{
    struct slot *s = random_slot(false);
    if (!s)
        return 0;
    static const uint32_t ceilings[] = {0, 0x01000000u, 0x02000000u};
    static const uint32_t aligns[] = {0, 0, 0x10000u, 0x40000u};
    uint32_t blocks = 1 + rnd(6), ceiling = ceilings[rnd(3)], align = aligns[rnd(4)];
    uint32_t extra = rnd(3) == 0 ? CHAIN_USER : 0;
    chain_id_t id = 0;
    struct snap before;
    take_snap(&before);
    int r = MmAllocateContiguous(blocks, ceiling, align, extra, &id);
    if (r == MM_ERR_NOMEM) { /* possible when frozen chains block every window: nothing changed */
        st.contig_refused++;
        return same_snap(__LINE__, &before, "MmAllocateContiguous (no memory)");
    }
    S_EQ(r, MM_OK);
    st.contig_made++;
    S_CHECK(mm_chain_valid(id) && !our_id(id));
    uint32_t phys;
    S_EQ(MmContiguousPhysicalAddress(id, &phys), MM_OK);
    S_EQ(phys, id << MM_BLOCK_SHIFT);
    if (ceiling)
        S_CHECK(phys + blocks * MM_BLOCK_SIZE <= ceiling);
    if (align)
        S_EQ(phys & (align - 1), 0);
    S_CHECK(chain_is_run(id));
    memset(s, 0, sizeof *s);
    s->id = id;
    s->blocks = blocks;
    s->flags = CHAIN_CONTIG | CHAIN_FROZEN | extra;
    write_physically(s);
    return 0;
}

static void remember_stale(chain_id_t id)
{
    st.stale[st.stale_next++ % STALE_RING] = id;
}

static const char *op_free(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    chain_id_t id = s->id;
    uint32_t free0 = mm_free_blocks;
    S_EQ(MmFreeChain(id), MM_OK);
    S_EQ(mm_free_blocks, free0 + s->blocks);
    for (uint32_t sp = 0; sp < SP_COUNT; sp++)
        if (s->map[sp].live)
            S_EQ(mm_lookup_pte(slot_va(sp, slot_index(s)), space_upd(sp)) & PTE_P, 0);
    memset(s, 0, sizeof *s);
    remember_stale(id);
    if (rnd(2)) {
        st.opname = "double free";
        EXPECT_REFUSED(MmFreeChain(id), MM_ERR_BAD_ID);
    }
    return 0;
}

/* Calls one of the chain operations on `id`, which is not a live chain (stale or body). */
static const char *refuse_dead_id(chain_id_t id)
{
    uint32_t flags, phys;
    bool dirty;
    S_EQ(MmChainBlocks(id), 0);
    S_CHECK(!mm_chain_valid(id));
    switch (rnd(12)) {
    case 0: EXPECT_REFUSED(MmFreeChain(id), MM_ERR_BAD_ID); break;
    case 1: EXPECT_REFUSED(MmResizeChain(id, 1 + rnd(4)), MM_ERR_BAD_ID); break;
    case 2: EXPECT_REFUSED(MmFreezeChain(id), MM_ERR_BAD_ID); break;
    case 3: EXPECT_REFUSED(MmUnfreezeChain(id), MM_ERR_BAD_ID); break;
    case 4: EXPECT_REFUSED(MmMarkSwappable(id, rnd(2)), MM_ERR_BAD_ID); break;
    case 5: EXPECT_REFUSED(MmChainFlags(id, &flags), MM_ERR_BAD_ID); break;
    case 6: EXPECT_REFUSED(MmChainPagePhysical(id, 0, &phys), MM_ERR_BAD_ID); break;
    case 7: EXPECT_REFUSED(MmContiguousPhysicalAddress(id, &phys), MM_ERR_BAD_ID); break;
    case 8: EXPECT_REFUSED(MmCleanChain(id), MM_ERR_BAD_ID); break;
    case 9: EXPECT_REFUSED(MmChainDirty(id, &dirty), MM_ERR_BAD_ID); break;
    case 10: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)0xE3F00000u, 0, 0), MM_ERR_BAD_ID); break;
    default: EXPECT_REFUSED(MmUnmapChain(MAP_UPD, id, (void *)slot_va(SP_PRIV, 0), priv_upd), MM_ERR_BAD_ID); break;
    }
    return 0;
}

static const char *op_stale(void)
{
    uint32_t n = st.stale_next < STALE_RING ? st.stale_next : STALE_RING;
    if (!n)
        return 0;
    chain_id_t id = st.stale[rnd(n)];
    if (ct_is_head(mm_block_table[id]))   /* reused since: some chain's head now */
        return 0;
    return refuse_dead_id(id);
}

static const char *op_body_id(void)
{
    struct slot *s = random_slot(true);
    if (!s || s->blocks < 2)
        return 0;
    uint32_t b;
    S_EQ(mm_chain_block(s->id, 1 + rnd(s->blocks - 1), &b), MM_OK);
    S_EQ(mm_chain_block(s->id, s->blocks, &b), MM_ERR_RANGE);
    S_EQ(mm_chain_block(s->id, 1, &b), MM_OK);
    return refuse_dead_id(b);
}

/* Cuts the model of slot s to `blocks` blocks (the memory manager unmapped the rest). */
static void model_shrink(struct slot *s, uint32_t blocks)
{
    uint32_t total = blocks * MM_PAGES_PER_BLOCK;
    for (uint32_t p = total; p < MAX_PAGES; p++)
        set_stamp(s, p, 0);
    for (uint32_t sp = 0; sp < SP_COUNT; sp++) {
        struct map_model *m = &s->map[sp];
        if (!m->live || m->off + m->pages <= total)
            continue;
        if (m->off >= total) {
            m->live = false;
            continue;
        }
        m->pages = total - m->off;
        m->dirty &= m->pages >= 64 ? ~0ull : (1ull << m->pages) - 1;
    }
}

static const char *op_resize(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    if (s->flags & CHAIN_CONTIG) {
        EXPECT_REFUSED(MmResizeChain(s->id, s->blocks + 1), MM_ERR_CONTIG);
        EXPECT_REFUSED(MmResizeChain(s->id, 1), MM_ERR_CONTIG);
        return 0;
    }
    switch (rnd(8)) {
    case 0:
        EXPECT_REFUSED(MmResizeChain(s->id, 0), MM_ERR_INVALID);
        return 0;
    case 1:
        EXPECT_REFUSED(MmResizeChain(s->id, s->blocks + mm_free_blocks + 1), MM_ERR_NOMEM);
        return 0;
    default:
        break;
    }
    uint32_t blocks = 1 + rnd(MAX_CHAIN_BLOCKS), free0 = mm_free_blocks;
    S_EQ(MmResizeChain(s->id, blocks), MM_OK);
    S_EQ(mm_free_blocks, free0 + s->blocks - blocks);
    if (blocks < s->blocks)
        model_shrink(s, blocks);
    s->blocks = blocks;
    /* Pages past the new end, in every space where the slot is mapped, are gone. */
    for (uint32_t sp = 0; sp < SP_COUNT; sp++)
        if (s->map[sp].live) {
            uint32_t end = slot_va(sp, slot_index(s)) + s->map[sp].pages * MM_PAGE_SIZE;
            if (end < slot_va(sp, slot_index(s)) + SLOT_SPAN)
                S_EQ(mm_lookup_pte(end, space_upd(sp)) & PTE_P, 0);
        }
    return 0;
}

static const char *op_map(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    enum space sp = (enum space)rnd(SP_COUNT);
    struct map_model *m = &s->map[sp];
    if (m->live)
        return 0;
    uint32_t total = s->blocks * MM_PAGES_PER_BLOCK, va = slot_va(sp, slot_index(s));
    uint32_t off = rnd(3) ? 0 : rnd(total);
    uint32_t pages = rnd(3) ? 0 : 1 + rnd(total - off);
    bool ro = rnd(8) == 0;
    uint32_t flags = space_flags(sp) | (ro ? MAP_READONLY : 0);
    if (pages == 0 && !ro && rnd(2)) {
        st.opname = "MmMapChainToVirtualAddress";
        S_EQ(MmMapChainToVirtualAddress(flags, s->id, (void *)va, off, space_upd(sp)), MM_OK);
    } else {
        st.opname = "mm_map_pages";
        S_EQ(mm_map_pages(flags, s->id, va, off, pages, space_upd(sp)), MM_OK);
    }
    m->live = true;
    m->readonly = ro;
    m->off = off;
    m->pages = pages ? pages : total - off;
    m->dirty = 0;
    for (uint32_t i = 0; i < m->pages; i++) {
        uint32_t pte = mm_lookup_pte(va + i * MM_PAGE_SIZE, space_upd(sp)), phys;
        MmChainPagePhysical(s->id, off + i, &phys);
        S_EQ(pte & PTE_ADDR, phys);
        S_EQ(!!(pte & PTE_W), !ro);
        S_EQ(!!(pte & PTE_U), sp != SP_KPD);
        S_EQ(pte & PTE_D, 0);
    }
    if (!ro)
        write_through(s, sp, 0, m->pages);
    return 0;
}

static const char *op_unmap(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    enum space sp = (enum space)rnd(SP_COUNT);
    struct map_model *m = &s->map[sp];
    uint32_t va = slot_va(sp, slot_index(s));
    if (!m->live) {
        EXPECT_REFUSED(MmUnmapChain(space_flags(sp), s->id, (void *)va, space_upd(sp)), MM_ERR_NOT_MAPPED);
        return 0;
    }
    if (rnd(4) == 0) {   /* the right chain, the wrong address or space */
        EXPECT_REFUSED(MmUnmapChain(space_flags(sp), s->id, (void *)(va + MM_PAGE_SIZE), space_upd(sp)), MM_ERR_NOT_MAPPED);
        enum space other = (enum space)((sp + 1) % SP_COUNT);
        if (!s->map[other].live)
            EXPECT_REFUSED(MmUnmapChain(space_flags(other), s->id, (void *)slot_va(other, slot_index(s)), space_upd(other)),
                           MM_ERR_NOT_MAPPED);
    }
    S_EQ(MmUnmapChain(space_flags(sp), s->id, (void *)va, space_upd(sp)), MM_OK);
    for (uint32_t i = 0; i < m->pages; i++)
        S_EQ(mm_lookup_pte(va + i * MM_PAGE_SIZE, space_upd(sp)) & PTE_P, 0);
    m->live = false;
    return 0;
}

static const char *op_write(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    enum space sp = (enum space)rnd(SP_COUNT);
    struct map_model *m = &s->map[sp];
    if (!m->live || m->readonly)
        return 0;
    uint32_t from = rnd(m->pages), n = 1 + rnd(m->pages - from);
    write_through(s, sp, from, n);
    /* The other mappings of the same pages see the new data at once. */
    return verify_slot(s);
}

/* Mapping requests that must be refused, with the documented codes and no change. */
static const char *op_bad_map(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    uint32_t total = s->blocks * MM_PAGES_PER_BLOCK, i = slot_index(s);
    chain_id_t id = s->id;
    switch (rnd(11)) {
    case 0: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(KERNEL_VBASE - MM_PAGE_SIZE), 0, 0), MM_ERR_RANGE); break;
    case 1:   /* every chain has at least 4 pages: they would run into the windows */
        EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(WINDOW_BASE - MM_PAGE_SIZE), 0, 0), MM_ERR_RANGE);
        break;
    case 2: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)(USER_SPACE_END - MM_PAGE_SIZE), 0, priv_upd), MM_ERR_RANGE); break;
    case 3: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)0, 0, priv_upd), MM_ERR_RANGE); break;
    case 4: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(slot_va(SP_KPD, i) + 8), 0, 0), MM_ERR_ALIGN); break;
    case 5: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)slot_va(SP_PRIV, i), total, priv_upd), MM_ERR_RANGE); break;
    case 6: EXPECT_REFUSED(mm_map_pages(MAP_KPD, id, slot_va(SP_KPD, i), 1, total, 0), MM_ERR_RANGE); break;
    case 7: EXPECT_REFUSED(MmMapChainToVirtualAddress(0, id, (void *)slot_va(SP_KPD, i), 0, 0), MM_ERR_INVALID); break;
    case 8: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_KPD | MAP_UPD, id, (void *)slot_va(SP_KPD, i), 0, priv_upd), MM_ERR_INVALID); break;
    case 9: EXPECT_REFUSED(MmMapChainToVirtualAddress(MAP_UPD, id, (void *)slot_va(SP_PRIV, i), 0, 0), MM_ERR_INVALID); break;
    default: {
        /* Over a page that maps a chain: another slot's mapping, or this chain's own. */
        for (uint32_t k = 0; k < POOL; k++) {
            struct slot *o = &st.slot[(i + k) % POOL];
            for (uint32_t sp = 0; o->id && sp < SP_COUNT; sp++) {
                if (!o->map[sp].live)
                    continue;
                uint32_t va = slot_va(sp, slot_index(o)) + rnd(o->map[sp].pages) * MM_PAGE_SIZE;
                EXPECT_REFUSED(MmMapChainToVirtualAddress(space_flags(sp), id, (void *)va, 0, space_upd(sp)), MM_ERR_BUSY);
                return 0;
            }
        }
        break;
    }
    }
    return 0;
}

static const char *op_freeze(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    switch (rnd(3)) {
    case 0:
        st.opname = "MmFreezeChain";
        S_EQ(MmFreezeChain(s->id), MM_OK);
        s->flags |= CHAIN_FROZEN;
        break;
    case 1:
        st.opname = "MmUnfreezeChain";
        if (s->flags & CHAIN_CONTIG) {
            EXPECT_REFUSED(MmUnfreezeChain(s->id), MM_ERR_CONTIG);
        } else {
            S_EQ(MmUnfreezeChain(s->id), MM_OK);
            s->flags &= ~CHAIN_FROZEN;
        }
        break;
    default: {
        st.opname = "MmMarkSwappable";
        bool on = rnd(2);
        S_EQ(MmMarkSwappable(s->id, on), MM_OK);
        s->flags = on ? s->flags | CHAIN_SWAPPABLE : s->flags & ~CHAIN_SWAPPABLE;
        break;
    }
    }
    return 0;
}

static bool model_dirty(struct slot *s)
{
    for (uint32_t sp = 0; sp < SP_COUNT; sp++)
        if (s->map[sp].live && s->map[sp].dirty)
            return true;
    return false;
}

static const char *op_dirty(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    bool dirty = !model_dirty(s);
    S_EQ(MmChainDirty(s->id, &dirty), MM_OK);
    S_EQ(dirty, model_dirty(s));
    S_EQ(MmChainDirty(s->id, 0), MM_ERR_INVALID);
    if (rnd(2)) {
        st.opname = "MmCleanChain";
        S_EQ(MmCleanChain(s->id), MM_OK);
        for (uint32_t sp = 0; sp < SP_COUNT; sp++)
            s->map[sp].dirty = 0;
        S_EQ(MmChainDirty(s->id, &dirty), MM_OK);
        S_EQ(dirty, 0);
        /* Reading does not dirty a page. */
        S_TRY(verify_slot(s));
        S_EQ(MmChainDirty(s->id, &dirty), MM_OK);
        S_EQ(dirty, 0);
        /* One page written through one mapping is enough. */
        enum space sp = (enum space)rnd(SP_COUNT);
        if (space_live(sp) && s->map[sp].live && !s->map[sp].readonly) {
            write_through(s, sp, rnd(s->map[sp].pages), 1);
            S_EQ(MmChainDirty(s->id, &dirty), MM_OK);
            S_EQ(dirty, 1);
        }
    }
    /* The hardware's dirty bits are the model's, page by page. */
    for (uint32_t sp = 0; sp < SP_COUNT; sp++) {
        struct map_model *m = &s->map[sp];
        for (uint32_t i = 0; m->live && space_live(sp) && i < m->pages; i++) {
            uint32_t pte = mm_lookup_pte(slot_va(sp, slot_index(s)) + i * MM_PAGE_SIZE, space_upd(sp));
            S_EQ(!!(pte & PTE_D), (m->dirty >> i) & 1);
        }
    }
    return 0;
}

static const char *op_physical(void)
{
    struct slot *s = random_slot(true);
    if (!s)
        return 0;
    uint32_t total = s->blocks * MM_PAGES_PER_BLOCK, p = rnd(total), phys, b, cphys;
    S_EQ(MmChainPagePhysical(s->id, p, &phys), MM_OK);
    S_EQ(mm_chain_block(s->id, p / MM_PAGES_PER_BLOCK, &b), MM_OK);
    S_EQ(phys, (b << MM_BLOCK_SHIFT) + (p % MM_PAGES_PER_BLOCK) * MM_PAGE_SIZE);
    EXPECT_REFUSED(MmChainPagePhysical(s->id, total + rnd(8), &phys), MM_ERR_RANGE);
    if (s->flags & CHAIN_CONTIG) {
        S_EQ(MmContiguousPhysicalAddress(s->id, &cphys), MM_OK);
        S_EQ(phys, cphys + p * MM_PAGE_SIZE);
    } else {
        EXPECT_REFUSED(MmContiguousPhysicalAddress(s->id, &cphys), MM_ERR_CONTIG);
    }
    return 0;
}

static const char *op_verify(void)
{
    struct slot *s = random_slot(true);
    return s ? verify_slot(s) : 0;
}

static const char *op_no_memory(void)
{
    chain_id_t id = 0;
    EXPECT_REFUSED(mm_allocate_chain(0, mm_free_blocks + 1 + rnd(100), OWNER_TEST, 0, &id), MM_ERR_NOMEM);
    EXPECT_REFUSED(mm_allocate_chain(0, 0, OWNER_TEST, 0, &id), MM_ERR_INVALID);
    EXPECT_REFUSED(mm_allocate_chain(0x1234, 1, OWNER_TEST, 0, &id), MM_ERR_INVALID);
    EXPECT_REFUSED(MmAllocateContiguous(mm_free_blocks + 1, 0, 0, 0, &id), MM_ERR_NOMEM);
    EXPECT_REFUSED(MmAllocateContiguous(2, 0, 0x3000, 0, &id), MM_ERR_INVALID);
    return 0;
}

/* True when block b belongs to a chain that the defragmenter may move. */
static int block_is_movable(uint32_t b, const uint8_t *movable_mark)
{
    return movable_mark[b];
}

/* After a full compaction, within every stretch of memory between immovable blocks (reserved,
 * frozen, contiguous), no movable block lies above a free block. */
static const char *check_compacted(void)
{
    static uint8_t mark[1u << 18];
    for (uint32_t b = 0; b < mm_block_count; b++)
        mark[b] = 0;
    for (uint32_t h = 1; h < mm_block_count; h++) {
        uint32_t e = mm_block_table[h];
        if (!ct_is_head(e) || (e & (CT_FROZEN | CT_CONTIG)))
            continue;
        uint32_t n = 0;
        for (uint32_t b = h; b != CT_END && n++ <= mm_block_count; b = ct_field(mm_block_table[b]))
            mark[b] = 1;
    }
    uint32_t free_seen = 0;   /* a free block seen in the current stretch, 0 = none */
    for (uint32_t b = 1; b < mm_block_count; b++) {
        uint32_t e = mm_block_table[b];
        if (ct_is_free(e)) {
            if (!free_seen)
                free_seen = b;
        } else if (block_is_movable(b, mark)) {
            if (free_seen)
                return sfail(__LINE__, "after MmDefragment block %u of a movable chain lies above free block %u in the same stretch", b, free_seen);
        } else {
            free_seen = 0;    /* an immovable block ends the stretch */
        }
    }
    return 0;
}

static const char *op_defrag(void)
{
    /* Compaction stays within the stretches between immovable blocks, so no free run
     * shrinks: the largest one never gets smaller. */
    uint32_t free0 = mm_free_blocks, runs0 = mm_defrag_runs, moved0 = mm_defrag_moved, run0 = mm_largest_free_run();
    uint32_t moved = MmDefragment();
    st.defrags++;
    S_EQ(mm_defrag_runs, runs0 + 1);
    S_EQ(mm_defrag_moved, moved0 + moved);
    S_EQ(mm_free_blocks, free0);
    if (mm_largest_free_run() < run0)
        return sfail(__LINE__, "the largest free run shrank from %u to %u blocks", run0, mm_largest_free_run());
    S_TRY(check_all());
    S_TRY(check_compacted());
    st.moved_seen = mm_defrag_moved;
    S_TRY(verify_everything());
    /* A second pass finds nothing left to move. */
    S_EQ(MmDefragment(), 0);
    return 0;
}

static const char *op_make_run(void)
{
    static const uint32_t ceilings[] = {0, 0x01000000u, 0x02000000u};
    static const uint32_t aligns[] = {0, 0x10000u, 0x40000u};
    uint32_t blocks = 1 + rnd(64), ceiling = ceilings[rnd(3)], align = aligns[rnd(3)];
    struct snap before;
    take_snap(&before);
    int r = mm_defrag_make_run(blocks, ceiling, align);
    if (r == MM_ERR_NOMEM) {
        st.make_refused++;
        return same_snap(__LINE__, &before, "mm_defrag_make_run (no memory)");
    }
    S_EQ(r, MM_OK);
    st.make_runs++;
    uint32_t start = mm_find_free_run(blocks, ceiling, align);
    S_CHECK(start != 0);
    S_TRY(check_all());
    st.moved_seen = mm_defrag_moved;
    return verify_everything();
}

/* ---- XMS through its dispatcher ---- */

static void xms_call(struct rm_regs *r, uint8_t fn)
{
    REG_SETHI8(r->eax, fn);
    xms_dispatch(r);
}

/* Expects failure code `code` (AX = 0, BL = code) and no change to any table. */
#define XMS_REFUSED(regs_init, fn, code) do { struct rm_regs _r = regs_init; struct snap _s; take_snap(&_s); \
    xms_call(&_r, fn); \
    if (REG_LO16(_r.eax) != 0 || REG_LO8(_r.ebx) != (code)) \
        return sfail(__LINE__, "XMS %02xh: AX=%x BL=%x, want AX=0 BL=%x", fn, REG_LO16(_r.eax), REG_LO8(_r.ebx), code); \
    S_TRY(same_snap(__LINE__, &_s, "refused XMS call")); } while (0)

static struct xms_model *xms_slot(bool live)
{
    uint32_t start = rnd(XMS_SLOTS);
    for (uint32_t k = 0; k < XMS_SLOTS; k++) {
        struct xms_model *x = &st.xms[(start + k) % XMS_SLOTS];
        if ((x->handle != 0) == live)
            return x;
    }
    return 0;
}

static uint8_t *conv_buf(void) { return (uint8_t *)P2V((uint32_t)st.conv_seg * 16u + 32u); }
static struct xms_move *conv_move(void) { return (struct xms_move *)P2V((uint32_t)st.conv_seg * 16u); }
static uint32_t conv_far(void) { return ((uint32_t)st.conv_seg << 16) | 32u; }

/* Copies len bytes between conventional memory (our buffer) and handle h at offset off. */
static void xms_move_regs(struct rm_regs *r, uint16_t h, uint32_t off, uint32_t len, bool to_handle)
{
    struct xms_move *m = conv_move();
    m->length = len;
    m->src_handle = to_handle ? 0 : h;
    m->src_offset = to_handle ? conv_far() : off;
    m->dst_handle = to_handle ? h : 0;
    m->dst_offset = to_handle ? off : conv_far();
    memset(r, 0, sizeof *r);
    r->ds = st.conv_seg;
    REG_SET16(r->esi, 0);
}

static const char *xms_ok(struct rm_regs *r, uint8_t fn)
{
    xms_call(r, fn);
    if (REG_LO16(r->eax) != 1)
        return sfail(__LINE__, "XMS %02xh failed: BL=%x", fn, REG_LO8(r->ebx));
    return 0;
}

static const char *xms_fill(struct xms_model *x)
{
    uint32_t len = x->kb * 1024u < XMS_PAT_MAX ? x->kb * 1024u : XMS_PAT_MAX;
    x->stamp = stamp_new();
    x->valid = len;
    if (!len)
        return 0;
    for (uint32_t i = 0; i < len; i++)
        conv_buf()[i] = xms_byte(x->stamp, i);
    struct rm_regs r;
    xms_move_regs(&r, x->handle, 0, len, true);
    return xms_ok(&r, 0x0B);
}

static const char *xms_verify(struct xms_model *x)
{
    if (!x->valid)
        return 0;
    struct rm_regs r;
    memset(conv_buf(), 0, x->valid);
    xms_move_regs(&r, x->handle, 0, x->valid, false);
    S_TRY(xms_ok(&r, 0x0B));
    for (uint32_t i = 0; i < x->valid; i++)
        if (conv_buf()[i] != xms_byte(x->stamp, i))
            return sfail(__LINE__, "XMS handle %u byte %u: 0x%x, want 0x%x", x->handle, i, conv_buf()[i], xms_byte(x->stamp, i));
    if (x->locks) {
        /* Locked: the 32-bit address is where the contiguous block is, contents included. */
        struct xms_handle *h = xms_entry(x->handle);
        uint8_t buf[64];
        uint32_t n = x->valid < sizeof buf ? x->valid : sizeof buf;
        mm_phys_read(h->chain << MM_BLOCK_SHIFT, buf, n);
        for (uint32_t i = 0; i < n; i++)
            S_EQ(buf[i], xms_byte(x->stamp, i));
    }
    return 0;
}

static const char *op_xms(void)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    struct xms_model *x;
    switch (rnd(12)) {
    case 0: case 1: {                               /* 09h allocate */
        st.opname = "XMS 09h";
        if (!(x = xms_slot(false)))
            return 0;
        uint32_t kb = rnd(8) == 0 ? 0 : 1 + rnd(160);
        REG_SET16(r.edx, kb);
        S_TRY(xms_ok(&r, 0x09));
        memset(x, 0, sizeof *x);
        x->handle = REG_LO16(r.edx);
        x->kb = kb;
        S_CHECK(x->handle != 0);
        return xms_fill(x);
    }
    case 2: {                                       /* 0Ah free (refused while locked) */
        st.opname = "XMS 0Ah";
        if (!(x = xms_slot(true)))
            return 0;
        REG_SET16(r.edx, x->handle);
        if (x->locks) {
            XMS_REFUSED(r, 0x0A, XMS_ERR_LOCKED);
            return 0;
        }
        S_TRY(xms_ok(&r, 0x0A));
        uint16_t h = x->handle;
        x->handle = 0;
        memset(&r, 0, sizeof r);
        REG_SET16(r.edx, h);
        XMS_REFUSED(r, 0x0A, XMS_ERR_INVALID_HANDLE);   /* double free */
        return 0;
    }
    case 3: case 4: {                               /* 0Ch lock */
        st.opname = "XMS 0Ch";
        if (!(x = xms_slot(true)) || x->locks >= 3)
            return 0;
        REG_SET16(r.edx, x->handle);
        xms_call(&r, 0x0C);
        if (REG_LO16(r.eax) != 1) {
            /* Only possible when no run of the block's size can be made. */
            S_EQ(REG_LO8(r.ebx), XMS_ERR_LOCK_FAILED);
            st.xms_lock_refused++;
            return 0;
        }
        st.xms_locked++;
        x->locks++;
        uint32_t addr = ((uint32_t)REG_LO16(r.edx) << 16) | REG_LO16(r.ebx);
        struct xms_handle *h = xms_entry(x->handle);
        S_CHECK(h);
        S_EQ(addr, h->chain << MM_BLOCK_SHIFT);
        S_TRY(verify_if_moved());
        return xms_verify(x);
    }
    case 5: {                                       /* 0Dh unlock */
        st.opname = "XMS 0Dh";
        if (!(x = xms_slot(true)))
            return 0;
        REG_SET16(r.edx, x->handle);
        if (!x->locks) {
            XMS_REFUSED(r, 0x0D, XMS_ERR_NOT_LOCKED);
            return 0;
        }
        S_TRY(xms_ok(&r, 0x0D));
        x->locks--;
        return 0;
    }
    case 6: {                                       /* 0Fh reallocate */
        st.opname = "XMS 0Fh";
        if (!(x = xms_slot(true)))
            return 0;
        uint32_t kb = rnd(8) == 0 ? 0 : 1 + rnd(160);
        REG_SET16(r.edx, x->handle);
        REG_SET16(r.ebx, kb);
        if (x->locks) {
            XMS_REFUSED(r, 0x0F, XMS_ERR_LOCKED);
            return 0;
        }
        S_TRY(xms_ok(&r, 0x0F));
        x->kb = kb;
        if (x->valid > kb * 1024u)
            x->valid = kb * 1024u;
        return xms_verify(x);
    }
    case 7: {                                       /* 0Eh handle information */
        st.opname = "XMS 0Eh";
        if (!(x = xms_slot(true)))
            return 0;
        REG_SET16(r.edx, x->handle);
        S_TRY(xms_ok(&r, 0x0E));
        S_EQ(REG_HI8(r.ebx), x->locks);
        S_EQ(REG_LO16(r.edx), x->kb);
        return 0;
    }
    case 8: {                                       /* 08h query free memory */
        st.opname = "XMS 08h";
        xms_call(&r, 0x08);
        uint32_t kb = mm_free_blocks * 16u > 0xFFFFu ? 0xFFFFu : mm_free_blocks * 16u;
        S_EQ(REG_LO16(r.edx), kb);
        S_EQ(REG_LO16(r.eax), kb);
        return 0;
    }
    case 9: {                                       /* 0Bh move: write a new pattern, read it back */
        st.opname = "XMS 0Bh";
        if (!(x = xms_slot(true)))
            return 0;
        S_TRY(xms_fill(x));
        return xms_verify(x);
    }
    default: {                                      /* refusals */
        st.opname = "XMS refusal";
        x = xms_slot(true);
        switch (rnd(6)) {
        case 0: REG_SET16(r.edx, 0xFFF0); XMS_REFUSED(r, 0x0A, XMS_ERR_INVALID_HANDLE); break;
        case 1: REG_SET16(r.edx, 0xFFF0); XMS_REFUSED(r, 0x0C, XMS_ERR_INVALID_HANDLE); break;
        case 2: XMS_REFUSED(r, 0x10, XMS_ERR_NOT_IMPLEMENTED); break;
        case 3:
            if (x && x->kb >= 2) {          /* odd length */
                xms_move_regs(&r, x->handle, 0, 3, true);
                XMS_REFUSED(r, 0x0B, XMS_ERR_INVALID_LENGTH);
            }
            break;
        case 4:
            if (x) {                        /* past the end of the block */
                xms_move_regs(&r, x->handle, x->kb * 1024u, 2, true);
                XMS_REFUSED(r, 0x0B, XMS_ERR_INVALID_LENGTH);
            }
            break;
        default:
            xms_move_regs(&r, 0xFFF0, 0, 2, false);
            XMS_REFUSED(r, 0x0B, XMS_ERR_INVALID_SRC_HANDLE);
            break;
        }
        return 0;
    }
    }
}

/* ---- DPMI through its dispatcher ---- */

static void dpmi_call(struct rm_regs *r, uint16_t ax)
{
    REG_SET16(r->eax, ax);
    dpmi_dispatch(r);
}

static void set_pair(uint32_t *hi, uint32_t *lo, uint32_t v)
{
    REG_SET16(*hi, v >> 16);
    REG_SET16(*lo, v & 0xFFFFu);
}

static uint32_t get_pair(uint32_t hi, uint32_t lo)
{
    return ((uint32_t)REG_LO16(hi) << 16) | REG_LO16(lo);
}

#define DPMI_REFUSED(regs, ax, code) do { struct snap _s; take_snap(&_s); dpmi_call(&(regs), ax); \
    if (!((regs).eflags & EFLAGS_CF) || REG_LO16((regs).eax) != (code)) \
        return sfail(__LINE__, "DPMI %04xh: CF=%u AX=%x, want CF=1 AX=%x", ax, (regs).eflags & EFLAGS_CF, REG_LO16((regs).eax), code); \
    S_TRY(same_snap(__LINE__, &_s, "refused DPMI call")); } while (0)

static const char *dpmi_ok(struct rm_regs *r, uint16_t ax)
{
    dpmi_call(r, ax);
    if (r->eflags & EFLAGS_CF)
        return sfail(__LINE__, "DPMI %04xh failed: AX=%x", ax, REG_LO16(r->eax));
    return 0;
}

static struct dpmi_model *dpmi_slot(bool live)
{
    uint32_t start = rnd(DPMI_SLOTS);
    for (uint32_t k = 0; k < DPMI_SLOTS; k++) {
        struct dpmi_model *d = &st.dpmi[(start + k) % DPMI_SLOTS];
        if ((d->handle != 0) == live)
            return d;
    }
    return 0;
}

static void dpmi_fill(struct dpmi_model *d)
{
    d->stamp = stamp_new();
    d->valid_pages = d->size / MM_PAGE_SIZE;
    for (uint32_t p = 0; p < d->valid_pages; p++) {
        uint32_t w[PAT_WORDS];
        expected_words(d->stamp + p, w);
        write_va_words(d->lin + p * MM_PAGE_SIZE, w);
    }
}

/* Reads the block back through its linear address and through its chain's pages. */
static const char *dpmi_verify(struct dpmi_model *d)
{
    struct dpmi_block *b = dpmi_entry(d->handle);
    S_CHECK(b);
    for (uint32_t p = 0; p < d->valid_pages; p++) {
        uint32_t w[PAT_WORDS], want[PAT_WORDS], phys;
        expected_words(d->stamp + p, want);
        read_va_words(d->lin + p * MM_PAGE_SIZE, w);
        for (uint32_t k = 0; k < PAT_WORDS; k++)
            if (w[k] != want[k])
                return sfail(__LINE__, "DPMI handle %u page %u word %u: 0x%x, want 0x%x", d->handle, p, k, w[k], want[k]);
        S_EQ(MmChainPagePhysical(b->chain, p, &phys), MM_OK);
        read_phys_words(phys, w);
        for (uint32_t k = 0; k < PAT_WORDS; k++)
            if (w[k] != want[k])
                return sfail(__LINE__, "DPMI handle %u page %u word %u physically: 0x%x, want 0x%x", d->handle, p, k, w[k], want[k]);
    }
    return 0;
}

static const char *op_dpmi(void)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    struct dpmi_model *d;
    switch (rnd(10)) {
    case 0: case 1: {                               /* 0501h allocate */
        st.opname = "DPMI 0501h";
        if (!(d = dpmi_slot(false)))
            return 0;
        uint32_t bytes = 1 + rnd(DPMI_MAX_BYTES);
        set_pair(&r.ebx, &r.ecx, bytes);
        S_TRY(dpmi_ok(&r, 0x0501));
        memset(d, 0, sizeof *d);
        d->lin = get_pair(r.ebx, r.ecx);
        d->handle = get_pair(r.esi, r.edi);
        d->size = (bytes + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
        S_CHECK(d->handle != 0);
        S_CHECK(d->lin >= DPMI_LINEAR_BASE && d->lin + d->size <= USER_SPACE_END);
        S_EQ(d->lin & (MM_PAGE_SIZE - 1), 0);
        dpmi_fill(d);
        return 0;
    }
    case 2: {                                       /* 0502h free */
        st.opname = "DPMI 0502h";
        if (!(d = dpmi_slot(true)))
            return 0;
        set_pair(&r.esi, &r.edi, d->handle);
        S_TRY(dpmi_ok(&r, 0x0502));
        S_EQ(mm_lookup_pte(d->lin, st.me->upd) & PTE_P, 0);
        memset(&r, 0, sizeof r);
        set_pair(&r.esi, &r.edi, d->handle);
        d->handle = 0;
        DPMI_REFUSED(r, 0x0502, DPMI_ERR_INVALID_HANDLE);
        return 0;
    }
    case 3: {                                       /* 0503h resize */
        st.opname = "DPMI 0503h";
        if (!(d = dpmi_slot(true)))
            return 0;
        uint32_t bytes = 1 + rnd(DPMI_MAX_BYTES);
        set_pair(&r.esi, &r.edi, d->handle);
        set_pair(&r.ebx, &r.ecx, bytes);
        dpmi_call(&r, 0x0503);
        if (r.eflags & EFLAGS_CF) {
            /* A locked block cannot move; growing it in place may collide with a neighbour. */
            S_CHECK(d->locks > 0);
            S_EQ(REG_LO16(r.eax), DPMI_ERR_LINEAR_UNAVAILABLE);
            return dpmi_verify(d);
        }
        uint32_t size = (bytes + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
        d->lin = get_pair(r.ebx, r.ecx);
        if (d->valid_pages > size / MM_PAGE_SIZE)
            d->valid_pages = size / MM_PAGE_SIZE;
        d->size = size;
        S_TRY(dpmi_verify(d));
        return 0;
    }
    case 4: case 5: {                               /* 0600h lock / 0601h unlock */
        if (!(d = dpmi_slot(true)))
            return 0;
        bool lock = rnd(2) == 0;
        st.opname = lock ? "DPMI 0600h" : "DPMI 0601h";
        uint32_t off = rnd(d->size), len = 1 + rnd(d->size - off);
        set_pair(&r.ebx, &r.ecx, d->lin + off);
        set_pair(&r.esi, &r.edi, len);
        if (!lock && d->locks == 0) {
            DPMI_REFUSED(r, 0x0601, DPMI_ERR_INVALID_STATE);
            return 0;
        }
        S_TRY(dpmi_ok(&r, lock ? 0x0600 : 0x0601));
        d->locks = lock ? d->locks + 1 : d->locks - 1;
        return 0;
    }
    case 6: {                                       /* 0500h free memory information */
        st.opname = "DPMI 0500h";
        static uint32_t info[12];
        memset(info, 0, sizeof info);
        r.edi = (uint32_t)info;
        S_TRY(dpmi_ok(&r, 0x0500));
        S_EQ(info[5], mm_free_blocks * MM_PAGES_PER_BLOCK);
        S_EQ(info[6], mm_block_count * MM_PAGES_PER_BLOCK);
        S_EQ(info[3], (USER_SPACE_END - DPMI_LINEAR_BASE) / MM_PAGE_SIZE);
        return 0;
    }
    case 7: {                                       /* rewrite and read back */
        st.opname = "DPMI write";
        if (!(d = dpmi_slot(true)))
            return 0;
        dpmi_fill(d);
        return dpmi_verify(d);
    }
    default: {                                      /* refusals */
        st.opname = "DPMI refusal";
        switch (rnd(5)) {
        case 0: set_pair(&r.esi, &r.edi, 0xDEAD0000u); DPMI_REFUSED(r, 0x0502, DPMI_ERR_INVALID_HANDLE); break;
        case 1: set_pair(&r.ebx, &r.ecx, 0); DPMI_REFUSED(r, 0x0501, DPMI_ERR_INVALID_VALUE); break;
        case 2: DPMI_REFUSED(r, 0x0999, DPMI_ERR_UNSUPPORTED); break;
        case 3:   /* lock a range below every DPMI block */
            set_pair(&r.ebx, &r.ecx, DPMI_LINEAR_BASE - MM_PAGE_SIZE);
            set_pair(&r.esi, &r.edi, 16);
            DPMI_REFUSED(r, 0x0600, DPMI_ERR_INVALID_LINEAR);
            break;
        default:
            set_pair(&r.esi, &r.edi, 0xDEAD0000u);
            set_pair(&r.ebx, &r.ecx, 4096);
            DPMI_REFUSED(r, 0x0503, DPMI_ERR_INVALID_HANDLE);
            break;
        }
        return 0;
    }
    }
}

/* ---- the run ---- */

struct op_kind {
    const char *name;
    const char *(*fn)(void);
    uint32_t weight;
};

static const struct op_kind kinds[] = {
    {"alloc", op_alloc, 90},
    {"alloc contiguous", op_alloc_contig, 20},
    {"free", op_free, 70},
    {"stale id", op_stale, 25},
    {"body id", op_body_id, 10},
    {"resize", op_resize, 60},
    {"map", op_map, 110},
    {"unmap", op_unmap, 60},
    {"write", op_write, 50},
    {"bad map", op_bad_map, 40},
    {"freeze/unfreeze/swappable", op_freeze, 50},
    {"dirty/clean", op_dirty, 50},
    {"physical", op_physical, 25},
    {"verify", op_verify, 30},
    {"no memory", op_no_memory, 5},
    {"MmDefragment", op_defrag, 5},
    {"mm_defrag_make_run", op_make_run, 7},
    {"xms", op_xms, 90},
    {"dpmi", op_dpmi, 90},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const struct op_kind *pick_kind(void)
{
    uint32_t total = 0;
    for (uint32_t i = 0; i < NKINDS; i++)
        total += kinds[i].weight;
    /* Keep the pool about half full: allocate more when it runs low. */
    if (live_slots() < POOL / 4 && rnd(2))
        return &kinds[0];
    uint32_t x = rnd(total);
    for (uint32_t i = 0; i < NKINDS; i++) {
        if (x < kinds[i].weight)
            return &kinds[i];
        x -= kinds[i].weight;
    }
    return &kinds[0];
}

static uint32_t mapped_pages(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < POOL; i++)
        for (uint32_t sp = 0; sp < SP_COUNT; sp++)
            if (st.slot[i].id && st.slot[i].map[sp].live)
                n += st.slot[i].map[sp].pages;
    return n;
}

/* Refusals for want of memory are legal, but a run where most of these operations were
 * refused has not tested them: at least MIN_SUCCESS_PERCENT of the attempts must succeed,
 * and at least one success per MIN_SUCCESS_EVERY operations of the run (about a tenth of
 * the attempts the operation weights give). */
#define MIN_SUCCESS_PERCENT 50u
#define MIN_SUCCESS_EVERY 1000u
static const char *check_one_minimum(const char *what, uint32_t made, uint32_t refused)
{
    uint32_t floor = st.ops / MIN_SUCCESS_EVERY;
    if (made < floor || made * 100u < (made + refused) * MIN_SUCCESS_PERCENT)
        return sfail(__LINE__, "%s: %u made and %u refused in %u operations (want >= %u and >= %u%% of the attempts)",
                     what, made, refused, st.ops, floor, MIN_SUCCESS_PERCENT);
    return 0;
}

static const char *check_successes(void)
{
    S_TRY(check_one_minimum("mm_defrag_make_run", st.make_runs, st.make_refused));
    S_TRY(check_one_minimum("XMS lock", st.xms_locked, st.xms_lock_refused));
    return check_one_minimum("MmAllocateContiguous", st.contig_made, st.contig_refused);
}

static const char *run_ops(void)
{
    for (st.op = 1; st.op <= st.ops; st.op++) {
        const struct op_kind *k = pick_kind();
        st.opname = k->name;
        st.counts[k - kinds]++;
        S_TRY(k->fn());
        S_TRY(check_all());
        S_TRY(verify_if_moved());
        if (st.op % VERIFY_EVERY == 0)
            S_TRY(verify_everything());
        if (st.op % PROGRESS_EVERY == 0)
            kprintf("stress: %u/%u ops, %u chains, %u mapped pages, %u free blocks, %u defrags, "
                    "%u runs made (%u refused), %u contiguous (%u refused), %u renames, %u refusals checked\n",
                    st.op, st.ops, live_slots(), mapped_pages(), mm_free_blocks, st.defrags,
                    st.make_runs, st.make_refused, st.contig_made, st.contig_refused,
                    st.renames, st.errors_checked);
    }
    st.op = st.ops;
    st.opname = "minimum successes";
    S_TRY(check_successes());
    st.opname = "final verification";
    MmDefragment();
    st.defrags++;
    S_TRY(check_all());
    S_TRY(check_compacted());
    return verify_everything();
}

/* Frees everything the run holds (also after a failure). */
static void release_all(void)
{
    struct rm_regs r;
    for (uint32_t i = 0; i < DPMI_SLOTS; i++) {
        if (!st.dpmi[i].handle)
            continue;
        memset(&r, 0, sizeof r);
        set_pair(&r.esi, &r.edi, st.dpmi[i].handle);
        dpmi_call(&r, 0x0502);
        st.dpmi[i].handle = 0;
    }
    for (uint32_t i = 0; i < XMS_SLOTS; i++) {
        struct xms_model *x = &st.xms[i];
        if (!x->handle)
            continue;
        for (; x->locks; x->locks--) {
            memset(&r, 0, sizeof r);
            REG_SET16(r.edx, x->handle);
            xms_call(&r, 0x0D);
        }
        memset(&r, 0, sizeof r);
        REG_SET16(r.edx, x->handle);
        xms_call(&r, 0x0A);
        x->handle = 0;
    }
    for (uint32_t i = 0; i < POOL; i++)
        if (st.slot[i].id) {
            MmFreeChain(st.slot[i].id);
            st.slot[i].id = 0;
        }
    mm_release_upd(priv_upd);
    if (st.conv_seg) {
        dos_free(st.conv_seg);
        st.conv_seg = 0;
    }
}

TEST(stress, random_10k)
{
    char buf[24];
    int ok = 0;
    memset(&st, 0, sizeof st);
    memset(priv_upd, 0, sizeof priv_upd);
    st.seed = DEFAULT_SEED;
    if (cmdline_get(kernel_cmdline, "seed", buf, sizeof buf)) {
        uint32_t v = parse_uint(buf, &ok);
        if (ok && v)
            st.seed = v;
    }
    st.ops = DEFAULT_OPS;
    if (cmdline_get(kernel_cmdline, "ops", buf, sizeof buf)) {
        uint32_t v = parse_uint(buf, &ok);
        if (ok && v)
            st.ops = v;
    }
    st.rng = st.seed;
    st.me = current;
    st.xms_base = xms_handles.length;
    st.moved_seen = mm_defrag_moved;
    st.opname = "setup";
    kprintf("stress: seed %u, %u operations (repeat with seed=%u)\n", st.seed, st.ops, st.seed);
    uint16_t largest;
    CHECK_OK(dos_alloc((XMS_PAT_MAX + 64) / 16, 0x77, &st.conv_seg, &largest));
    CHECK_OK(mm_add_relocation_listener(follow, 0));
    swap_suspended++;   /* the model expects NOMEM exactly when blocks > free (swap.stress_* swap) */
    const char *err = run_ops();
    swap_suspended--;
    mm_remove_relocation_listener(follow, 0);
    if (!err)
        kprintf("stress: done, %u verifications, %u defrags, %u runs made (%u refused), "
                "%u contiguous (%u refused), %u XMS locks (%u refused), %u renames, %u refusals checked\n",
                st.verifies, st.defrags, st.make_runs, st.make_refused, st.contig_made,
                st.contig_refused, st.xms_locked, st.xms_lock_refused, st.renames, st.errors_checked);
    release_all();
    return err;
}

/* Allocates until memory runs out, checks every refusal then, and gives it all back. */
TEST(stress, exhaustion)
{
    uint32_t free0 = mm_free_blocks, cap = mm_free_blocks;
    chain_id_t *ids = kzalloc(cap * sizeof(chain_id_t));
    CHECK(ids);
    free0 = mm_free_blocks;          /* the heap may have grown for the array */
    uint32_t n = 0, size = 64;
    chain_id_t id;
    while (n < cap) {
        int r = mm_allocate_chain(0, size, OWNER_TEST, 0, &id);
        if (r == MM_ERR_NOMEM) {
            if (size == 1)
                break;
            CHECK(mm_free_blocks < size);
            size /= 2;
            continue;
        }
        CHECK_OK(r);
        ids[n++] = id;
    }
    CHECK_EQ(mm_free_blocks, 0);
    CHECK_MM();
    uint32_t sum = 0;
    for (uint32_t b = 0; b < mm_block_count; b++)
        sum = sum * 31u + mm_block_table[b];
    /* Every allocation path refuses, and nothing changes. */
    CHECK_EQ(MmAllocateChain(0, 1), 0);
    CHECK_EQ(mm_last_error, MM_ERR_NOMEM);
    CHECK_EQ(mm_allocate_chain(CHAIN_FROZEN, 1, OWNER_TEST, 0, &id), MM_ERR_NOMEM);
    CHECK_EQ(MmAllocateContiguous(1, 0, 0, 0, &id), MM_ERR_NOMEM);
    CHECK_EQ(MmResizeChain(ids[0], MmChainBlocks(ids[0]) + 1), MM_ERR_NOMEM);
    CHECK_EQ(mm_defrag_make_run(1, 0, 0), MM_ERR_NOMEM);
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    REG_SETHI8(r.eax, 0x09);
    REG_SET16(r.edx, 16);
    xms_dispatch(&r);
    CHECK_EQ(REG_LO16(r.eax), 0);
    CHECK_EQ(REG_LO8(r.ebx), XMS_ERR_OUT_OF_MEMORY);
    memset(&r, 0, sizeof r);
    REG_SET16(r.eax, 0x0501);
    REG_SET16(r.ecx, 4096);
    dpmi_dispatch(&r);
    CHECK(r.eflags & EFLAGS_CF);
    CHECK_EQ(REG_LO16(r.eax), DPMI_ERR_PHYS_UNAVAILABLE);
    uint32_t sum2 = 0;
    for (uint32_t b = 0; b < mm_block_count; b++)
        sum2 = sum2 * 31u + mm_block_table[b];
    CHECK_EQ(sum2, sum);
    CHECK_EQ(mm_free_blocks, 0);
    CHECK_MM();
    /* Free one block's worth and the next allocation fits exactly. */
    CHECK_OK(MmFreeChain(ids[--n]));
    uint32_t back = mm_free_blocks;
    CHECK(back >= 1);
    CHECK_OK(mm_allocate_chain(0, back, OWNER_TEST, 0, &id));
    CHECK_EQ(mm_free_blocks, 0);
    ids[n++] = id;
    for (uint32_t i = 0; i < n; i++)
        CHECK_OK(MmFreeChain(ids[i]));
    CHECK_EQ(mm_free_blocks, free0);
    CHECK_MM();
    kfree(ids);
    return 0;
}
