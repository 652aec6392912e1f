/* test_handle_heap.c: the handle heap (handle_heap.h): the seed's own reshuffling example
 * with its exact page layout, compaction giving blocks back to the chain, locked blocks
 * pinned, contents kept across every move (checksums), the error paths, and a random
 * workload whose fragmentation is measured before and after compaction. Each test body
 * runs on its own heap, destroyed by its TEST wrapper whatever the outcome. */
#include "console.h"
#include "handle_heap.h"
#include "mm.h"
#include "string.h"
#include "test.h"

#define HH_TEST_VA    HH_DEFAULT_VA
#define HH_TEST_PAGES 256u

/* ---- contents: each block is filled from a seed and checked against it ---- */

static uint8_t pattern_byte(uint32_t seed, uint32_t i)
{
    uint32_t x = seed * 0x9E3779B1u + i * 0x85EBCA77u;
    return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

static const char *fill(struct hh_heap *h, hh_handle_t hd, uint32_t size, uint32_t seed)
{
    void *p = 0;
    CHECK_OK(hh_lock(h, hd, &p));
    CHECK_EQ((uint32_t)p & (HH_ALIGN - 1), 0);
    for (uint32_t i = 0; i < size; i++)
        ((uint8_t *)p)[i] = pattern_byte(seed, i);
    CHECK_OK(hh_unlock(h, hd));
    return 0;
}

static const char *verify(struct hh_heap *h, hh_handle_t hd, uint32_t size, uint32_t seed)
{
    void *p = 0;
    CHECK_OK(hh_lock(h, hd, &p));
    const char *err = 0;
    for (uint32_t i = 0; i < size && !err; i++)
        if (((uint8_t *)p)[i] != pattern_byte(seed, i))
            err = test_fail(__FILE__, __LINE__, "handle 0x%x byte %u of %u changed", hd, i, size);
    CHECK_OK(hh_unlock(h, hd));
    return err;
}

#define CHECK_HH(h) do { const char *_w = 0; if (hh_check((h), &_w) != HH_OK) \
    return test_fail(__FILE__, __LINE__, "hh_check: %s", _w); } while (0)
#define TRY(e) do { const char *_e = (e); if (_e) return _e; } while (0)

static uint32_t offset_of(struct hh_heap *h, hh_handle_t hd)
{
    uint32_t off = 0xFFFFFFFFu;
    hh_info(h, hd, 0, 0, &off);
    return off;
}

/* The page kinds as a string, one letter a page: '.' free, 's' small, 'L' first page of a
 * large block, 'l' the rest of it. */
static const char *kinds(struct hh_heap *h, char *buf, uint32_t n)
{
    static const char letter[] = {'.', 's', 'L', 'l'};
    uint32_t i = 0;
    for (; i < h->pages && i + 1 < n; i++)
        buf[i] = letter[h->page_kind[i] & 3];
    buf[i] = 0;
    return buf;
}

#define CHECK_KINDS(h, want) do { char _b[64]; kinds((h), _b, sizeof _b); \
    if (strcmp(_b, (want))) return test_fail(__FILE__, __LINE__, "pages %s, want %s", _b, (want)); } while (0)

/* Runs body(h) on a fresh heap and destroys it afterwards. */
static const char *with_heap(const char *(*body)(struct hh_heap *))
{
    static struct hh_heap heap;
    CHECK_OK(hh_init(&heap, HH_TEST_VA, HH_TEST_PAGES));
    const char *err = body(&heap);
    hh_destroy(&heap);
    return err;
}

/* ---- the seed's example ----
 * The seed (Block Reshuffling): "Each symbol represents a different memory block. Spaces
 * are page boundaries."
 *     ##|@@|!!|!!|!!        ## and @@ are small blocks filling a page each, !! one
 *                           block of three pages
 *     ##|  |!!|!!|!!        "I delete @@."
 *     @@|@@|!!|!!|!!|##|    "I then allocate @@@@ [two pages]. I can do something here."
 * Without reshuffling @@@@ cannot use the one-page hole and goes after !!, leaving the hole:
 * ##|  |!!|!!|!!|@@|@@| (7 pages). Moving the small ## out of the way (to the end) lets
 * @@@@ take the hole and the page ## left: 6 pages, no hole. */

#define SEED_SMALL HH_SMALL_MAX          /* a small block that fills its page */
#define SEED_BANG  (3u * HH_PAGE)        /* !! */
#define SEED_AT    (2u * HH_PAGE)        /* @@@@ */

/* Builds ##|@@|!!|!!|!! (from page `first` on) and deletes @@. */
static const char *seed_build(struct hh_heap *h, hh_handle_t *hash, hh_handle_t *bang, uint32_t first)
{
    hh_handle_t at;
    CHECK_OK(hh_alloc(h, SEED_SMALL, hash));
    CHECK_OK(hh_alloc(h, SEED_SMALL, &at));
    CHECK_OK(hh_alloc(h, SEED_BANG, bang));
    CHECK_EQ(offset_of(h, *hash), first * HH_PAGE + HH_SEG_HDR);
    CHECK_EQ(offset_of(h, at), (first + 1) * HH_PAGE + HH_SEG_HDR);
    CHECK_EQ(offset_of(h, *bang), (first + 2) * HH_PAGE);
    TRY(fill(h, *hash, SEED_SMALL, 0x23));
    TRY(fill(h, at, SEED_SMALL, 0x40));
    TRY(fill(h, *bang, SEED_BANG, 0x21));
    CHECK_OK(hh_free(h, at));
    CHECK_HH(h);
    return 0;
}

static const char *seed_example(struct hh_heap *h)
{
    hh_handle_t hash, bang, at2;
    TRY(seed_build(h, &hash, &bang, 0));
    CHECK_KINDS(h, "s.Lll...");                     /* ##|  |!!|!!|!!  in a 2-block chain */
    CHECK_OK(hh_alloc(h, SEED_AT, &at2));
    CHECK_HH(h);
    /* @@|@@|!!|!!|!!|##| */
    CHECK_KINDS(h, "LlLlls..");
    CHECK_EQ(offset_of(h, at2), 0);
    CHECK_EQ(offset_of(h, bang), 2 * HH_PAGE);
    CHECK_EQ(offset_of(h, hash), 5 * HH_PAGE + HH_SEG_HDR);
    struct hh_usage u;
    hh_usage(h, &u);
    CHECK_EQ(u.extent, 6);
    CHECK_EQ(u.used_pages, 6);
    CHECK_EQ(u.chain_blocks, 2);
    CHECK_EQ(h->stats.room_made, 1);
    CHECK_EQ(h->stats.moves, 1);
    TRY(verify(h, hash, SEED_SMALL, 0x23));          /* ## moved with its contents */
    TRY(verify(h, bang, SEED_BANG, 0x21));
    return 0;
}

/* The same with ## locked: it may not move, so @@@@ goes after !! and the hole stays. */
static const char *seed_example_locked(struct hh_heap *h)
{
    hh_handle_t hash, bang, at2;
    void *p = 0, *q = 0;
    TRY(seed_build(h, &hash, &bang, 0));
    CHECK_OK(hh_lock(h, hash, &p));
    CHECK_OK(hh_alloc(h, SEED_AT, &at2));
    CHECK_HH(h);
    CHECK_KINDS(h, "s.LllLl.");                     /* ##|  |!!|!!|!!|@@|@@| */
    CHECK_EQ(offset_of(h, at2), 5 * HH_PAGE);
    CHECK_EQ(offset_of(h, hash), HH_SEG_HDR);
    CHECK_EQ(h->stats.room_made, 0);
    CHECK_OK(hh_lock(h, hash, &q));
    CHECK_EQ((uint32_t)q, (uint32_t)p);
    CHECK_OK(hh_unlock(h, hash));
    CHECK_OK(hh_unlock(h, hash));
    struct hh_usage u;
    hh_usage(h, &u);
    CHECK_EQ(u.extent, 7);
    return 0;
}

/* With two (locked) pages in front (FF|##|@@|!!|!!|!!, 7 pages in a 2-block chain) the page the
 * reshuffling saves is a whole 16 KiB block of the chain: with ## movable the heap stays
 * at 2 blocks, with ## locked it must grow to 3. */
static const char *seed_example_saves_block(struct hh_heap *h, bool lock_hash)
{
    hh_handle_t f1, f2, hash, bang, at2;
    void *p;
    CHECK_OK(hh_alloc(h, SEED_SMALL, &f1));
    CHECK_OK(hh_alloc(h, SEED_SMALL, &f2));
    CHECK_OK(hh_lock(h, f1, &p));                   /* the filler stays where it is */
    CHECK_OK(hh_lock(h, f2, &p));
    TRY(seed_build(h, &hash, &bang, 2));
    CHECK_EQ(MmChainBlocks(h->chain), 2);
    if (lock_hash)
        CHECK_OK(hh_lock(h, hash, &p));
    uint32_t free0 = mm_free_blocks;
    CHECK_OK(hh_alloc(h, SEED_AT, &at2));
    CHECK_HH(h);
    if (lock_hash) {
        CHECK_KINDS(h, "sss.LllLl...");
        CHECK_EQ(MmChainBlocks(h->chain), 3);
        CHECK_EQ(mm_free_blocks, free0 - 1);
        CHECK_OK(hh_unlock(h, hash));
    } else {
        CHECK_KINDS(h, "ssLlLlls");                 /* FF|@@|@@|!!|!!|!!|##| */
        CHECK_EQ(offset_of(h, hash), 7 * HH_PAGE + HH_SEG_HDR);
        CHECK_EQ(MmChainBlocks(h->chain), 2);
        CHECK_EQ(mm_free_blocks, free0);
    }
    TRY(verify(h, hash, SEED_SMALL, 0x23));
    return 0;
}

static const char *seed_saves_block_movable(struct hh_heap *h) { return seed_example_saves_block(h, false); }
static const char *seed_saves_block_locked(struct hh_heap *h) { return seed_example_saves_block(h, true); }

TEST(hheap, seed_example)
{
    TRY(with_heap(seed_example));
    TRY(with_heap(seed_example_locked));
    TRY(with_heap(seed_saves_block_movable));
    return with_heap(seed_saves_block_locked);
}

/* ---- compaction packs pages and gives blocks back ---- */

static const char *compaction_returns_blocks(struct hh_heap *h)
{
    /* 32 blocks of 1000 bytes: 4 to a page, 8 pages = 2 chain blocks. */
    hh_handle_t b[32];
    for (uint32_t i = 0; i < 32; i++) {
        CHECK_OK(hh_alloc(h, 1000, &b[i]));
        TRY(fill(h, b[i], 1000, 100 + i));
    }
    CHECK_KINDS(h, "ssssssss");
    CHECK_EQ(MmChainBlocks(h->chain), 2);
    /* Keep one block per page, at a different place in each page. */
    for (uint32_t i = 0; i < 32; i++)
        if (i % 4 != (i / 4) % 4)
            CHECK_OK(hh_free(h, b[i]));
    CHECK_HH(h);
    struct hh_usage before, after;
    hh_usage(h, &before);
    CHECK_EQ(before.used_pages, 8);
    CHECK_EQ(before.fill_percent, 8000u * 100u / (8u * HH_PAGE));
    uint32_t free0 = mm_free_blocks;
    uint32_t moved = hh_compact(h);
    CHECK_HH(h);
    hh_usage(h, &after);
    CHECK_EQ(after.used_pages, 2);                   /* 8 blocks of 1004 bytes: 4 a page */
    CHECK_EQ(after.extent, 2);
    CHECK_EQ(after.chain_blocks, 1);                 /* one 16 KiB block given back ... */
    CHECK_EQ(mm_free_blocks, free0 + 1);             /* ... to the memory manager */
    CHECK_EQ(h->stats.blocks_returned, 1);
    CHECK(after.fill_percent > 3 * before.fill_percent);
    CHECK(moved >= 6);
    CHECK_KINDS(h, "ss..");
    for (uint32_t i = 0; i < 32; i++)
        if (i % 4 == (i / 4) % 4)
            TRY(verify(h, b[i], 1000, 100 + i));
    /* A second compaction has nothing to do. */
    CHECK_EQ(hh_compact(h), 0);
    /* Freeing the rest and compacting gives the last block back: no chain at all. */
    for (uint32_t i = 0; i < 32; i++)
        if (i % 4 == (i / 4) % 4)
            CHECK_OK(hh_free(h, b[i]));
    hh_compact(h);
    CHECK_EQ(h->chain, 0);
    CHECK_EQ(h->pages, 0);
    CHECK_EQ(mm_free_blocks, free0 + 2);
    CHECK_HH(h);
    return 0;
}

TEST(hheap, compaction_returns_blocks)
{
    return with_heap(compaction_returns_blocks);
}

/* Large blocks move down into free runs at compaction, unless locked. */
static const char *compaction_moves_large(struct hh_heap *h, bool lock_l2)
{
    hh_handle_t s[4], l1, l2;
    for (uint32_t i = 0; i < 4; i++)
        CHECK_OK(hh_alloc(h, SEED_SMALL, &s[i]));
    CHECK_OK(hh_alloc(h, 2 * HH_PAGE, &l1));
    CHECK_OK(hh_alloc(h, 3 * HH_PAGE, &l2));
    TRY(fill(h, l1, 2 * HH_PAGE, 11));
    TRY(fill(h, l2, 3 * HH_PAGE, 12));
    for (uint32_t i = 1; i < 4; i++)
        CHECK_OK(hh_free(h, s[i]));
    CHECK_KINDS(h, "s...LlLll...");
    CHECK_EQ(MmChainBlocks(h->chain), 3);
    void *p;
    if (lock_l2)
        CHECK_OK(hh_lock(h, l2, &p));
    uint32_t free0 = mm_free_blocks;
    hh_compact(h);
    CHECK_HH(h);
    if (lock_l2) {
        CHECK_KINDS(h, "sLl...Lll...");               /* l1 moved below, l2 pinned */
        CHECK_EQ(offset_of(h, l2), 6 * HH_PAGE);
        CHECK_EQ(MmChainBlocks(h->chain), 3);
        CHECK_OK(hh_unlock(h, l2));
    } else {
        CHECK_KINDS(h, "sLllLl..");                   /* l2 (the highest) first into 1-3 */
        CHECK_EQ(offset_of(h, l2), 1 * HH_PAGE);
        CHECK_EQ(offset_of(h, l1), 4 * HH_PAGE);
        CHECK_EQ(MmChainBlocks(h->chain), 2);
        CHECK_EQ(mm_free_blocks, free0 + 1);
    }
    TRY(verify(h, l1, 2 * HH_PAGE, 11));
    TRY(verify(h, l2, 3 * HH_PAGE, 12));
    return 0;
}

static const char *compaction_moves_large_free(struct hh_heap *h) { return compaction_moves_large(h, false); }
static const char *compaction_moves_large_locked(struct hh_heap *h) { return compaction_moves_large(h, true); }

TEST(hheap, compaction_moves_large_blocks)
{
    TRY(with_heap(compaction_moves_large_free));
    return with_heap(compaction_moves_large_locked);
}

/* ---- locks pin blocks ---- */

static const char *locked_blocks_never_move(struct hh_heap *h)
{
    /* Three pages of 500-byte blocks; free most, lock a few in the upper pages. */
    enum { N = 24 };
    hh_handle_t b[N];
    bool live[N];
    for (uint32_t i = 0; i < N; i++) {
        CHECK_OK(hh_alloc(h, 500, &b[i]));
        TRY(fill(h, b[i], 500, 7 * i + 1));
        live[i] = true;
    }
    for (uint32_t i = 0; i < N; i++)
        if (i % 3 != 0) {
            CHECK_OK(hh_free(h, b[i]));
            live[i] = false;
        }
    /* Lock blocks 15 (twice) and 21; remember every address. */
    void *p15, *p21, *again;
    CHECK_OK(hh_lock(h, b[15], &p15));
    CHECK_OK(hh_lock(h, b[15], &again));
    CHECK_EQ((uint32_t)again, (uint32_t)p15);
    CHECK_OK(hh_lock(h, b[21], &p21));
    uint32_t off[N];
    for (uint32_t i = 0; i < N; i++)
        off[i] = live[i] ? offset_of(h, b[i]) : 0;
    CHECK_EQ(hh_free(h, b[15]), HH_ERR_LOCKED);       /* a locked block cannot be freed */
    uint32_t moved = hh_compact(h);
    CHECK_HH(h);
    CHECK(moved > 0);
    CHECK_EQ(offset_of(h, b[15]), off[15]);
    CHECK_EQ(offset_of(h, b[21]), off[21]);
    bool some_moved = false;
    for (uint32_t i = 0; i < N; i++)
        if (live[i] && i != 15 && i != 21 && offset_of(h, b[i]) != off[i])
            some_moved = true;
    CHECK(some_moved);
    /* Contents of every block kept, pinned or moved. */
    for (uint32_t i = 0; i < N; i++)
        if (live[i])
            TRY(verify(h, b[i], 500, 7 * i + 1));
    /* One unlock of 15 leaves it locked (counts): it still does not move. */
    CHECK_OK(hh_unlock(h, b[15]));
    uint32_t locks = 0;
    CHECK_OK(hh_info(h, b[15], 0, &locks, 0));
    CHECK_EQ(locks, 1);
    hh_compact(h);
    CHECK_EQ(offset_of(h, b[15]), off[15]);
    /* Fully unlocked, they may move down now. */
    CHECK_OK(hh_unlock(h, b[15]));
    CHECK_OK(hh_unlock(h, b[21]));
    CHECK_EQ(hh_unlock(h, b[21]), HH_ERR_NOT_LOCKED);
    hh_compact(h);
    CHECK_HH(h);
    CHECK(offset_of(h, b[21]) < off[21]);
    struct hh_usage u;
    hh_usage(h, &u);
    CHECK_EQ(u.used_pages, 1);                        /* 8 blocks of 504 bytes fit one page */
    for (uint32_t i = 0; i < N; i++)
        if (live[i])
            TRY(verify(h, b[i], 500, 7 * i + 1));
    return 0;
}

TEST(hheap, locked_blocks_never_move)
{
    return with_heap(locked_blocks_never_move);
}

/* ---- handles, refusals, resizing ---- */

static const char *handles_and_errors(struct hh_heap *h)
{
    hh_handle_t a = 0, b = 0;
    void *p = 0;
    CHECK_EQ(hh_alloc(h, 0, &a), HH_ERR_INVALID);
    CHECK_EQ(hh_alloc(h, 16, 0), HH_ERR_INVALID);
    CHECK_EQ(hh_alloc(h, HH_TEST_PAGES * HH_PAGE + 1, &a), HH_ERR_INVALID);
    CHECK_EQ(a, 0);
    CHECK_EQ(h->chain, 0);                            /* nothing allocated by refusals */
    CHECK_EQ(hh_lock(h, 0, &p), HH_ERR_BAD_HANDLE);
    CHECK_EQ(hh_free(h, 0x12345u), HH_ERR_BAD_HANDLE);
    CHECK_OK(hh_alloc(h, 1, &a));
    CHECK(a != 0);
    CHECK_EQ(hh_lock(h, a, 0), HH_ERR_INVALID);
    CHECK_OK(hh_free(h, a));
    /* The freed handle is stale even when its entry is reused. */
    CHECK_EQ(hh_free(h, a), HH_ERR_BAD_HANDLE);
    CHECK_EQ(hh_lock(h, a, &p), HH_ERR_BAD_HANDLE);
    CHECK_OK(hh_alloc(h, 1, &b));
    CHECK_EQ(b & 0xFFFFu, a & 0xFFFFu);
    CHECK(b != a);
    CHECK_EQ(hh_unlock(h, a), HH_ERR_BAD_HANDLE);
    CHECK_EQ(hh_resize(h, a, 10), HH_ERR_BAD_HANDLE);
    CHECK_EQ(hh_info(h, a, 0, 0, 0), HH_ERR_BAD_HANDLE);
    /* Lock count limit. */
    for (uint32_t i = 0; i < HH_MAX_LOCKS; i++)
        CHECK_OK(hh_lock(h, b, &p));
    CHECK_EQ(hh_lock(h, b, &p), HH_ERR_LOCK_LIMIT);
    for (uint32_t i = 0; i < HH_MAX_LOCKS; i++)
        CHECK_OK(hh_unlock(h, b));
    CHECK_EQ(hh_unlock(h, b), HH_ERR_NOT_LOCKED);
    /* A heap whose address range is full refuses, and stays sound. */
    hh_handle_t big;
    CHECK_EQ(hh_alloc(h, HH_TEST_PAGES * HH_PAGE, &big), HH_ERR_NOMEM);
    CHECK_HH(h);
    CHECK_OK(hh_free(h, b));
    CHECK_EQ(hh_init(0, HH_TEST_VA, 4), HH_ERR_INVALID);
    struct hh_heap other;
    CHECK_EQ(hh_init(&other, HH_TEST_VA + 1, 4), HH_ERR_INVALID);
    CHECK_EQ(hh_init(&other, 0x10000000u, 4), HH_ERR_INVALID);
    CHECK_EQ(hh_init(&other, HH_TEST_VA, 0), HH_ERR_INVALID);
    CHECK_HH(h);
    return 0;
}

TEST(hheap, handles_and_errors)
{
    return with_heap(handles_and_errors);
}

static const char *resize_keeps_contents(struct hh_heap *h)
{
    hh_handle_t a, b, c;
    void *p;
    CHECK_OK(hh_alloc(h, 100, &a));
    CHECK_OK(hh_alloc(h, 100, &b));                   /* right after a */
    TRY(fill(h, a, 100, 1));
    TRY(fill(h, b, 100, 2));
    uint32_t off_a = offset_of(h, a);
    CHECK_OK(hh_resize(h, a, 98));                    /* fits its segment: in place */
    CHECK_EQ(offset_of(h, a), off_a);
    CHECK_OK(hh_resize(h, a, 100));
    CHECK_EQ(offset_of(h, a), off_a);
    TRY(verify(h, a, 100, 1));
    CHECK_OK(hh_lock(h, a, &p));
    CHECK_EQ(hh_resize(h, a, 2000), HH_ERR_LOCKED);   /* would have to move */
    CHECK_OK(hh_unlock(h, a));
    CHECK_OK(hh_resize(h, a, 2000));                  /* moves: b is in the way */
    CHECK(offset_of(h, a) != off_a);
    TRY(verify(h, a, 100, 1));
    TRY(fill(h, a, 2000, 3));
    CHECK_OK(hh_resize(h, a, 9000));                  /* small -> large (3 pages) */
    CHECK_EQ(offset_of(h, a) % HH_PAGE, 0);
    TRY(verify(h, a, 2000, 3));
    TRY(fill(h, a, 9000, 4));
    CHECK_OK(hh_resize(h, a, 12000));                 /* same page count: in place */
    TRY(verify(h, a, 9000, 4));
    CHECK_OK(hh_resize(h, a, 300));                   /* large -> small */
    TRY(verify(h, a, 300, 4));
    TRY(verify(h, b, 100, 2));
    CHECK_OK(hh_alloc(h, 50, &c));
    CHECK_HH(h);
    uint32_t size = 0;
    CHECK_OK(hh_info(h, a, &size, 0, 0));
    CHECK_EQ(size, 300);
    CHECK_EQ(h->live, 3);
    CHECK_EQ(h->live_bytes, 450);
    return 0;
}

TEST(hheap, resize_keeps_contents)
{
    return with_heap(resize_keeps_contents);
}

/* ---- a random workload: fragmentation before and after compaction ---- */

#define RW_SLOTS 400
#define RW_OPS   3000
struct rw_slot {
    hh_handle_t h;
    uint32_t size, seed;
    bool locked;
    void *ptr;                 /* what hh_lock gave while locked */
};
static struct rw_slot rw[RW_SLOTS];

static uint32_t rw_size(uint32_t *rng)
{
    uint32_t r = rand32(rng) % 100;
    if (r < 60)
        return 8 + rand32(rng) % 256;                 /* many small */
    if (r < 90)
        return 256 + rand32(rng) % 1500;
    if (r < 97)
        return 1500 + rand32(rng) % (HH_SMALL_MAX - 1500 + 1);
    return HH_SMALL_MAX + 1 + rand32(rng) % (2 * HH_PAGE);   /* a few large */
}

static const char *rw_verify_all(struct hh_heap *h)
{
    for (uint32_t i = 0; i < RW_SLOTS; i++)
        if (rw[i].h)
            TRY(verify(h, rw[i].h, rw[i].size, rw[i].seed));
    return 0;
}

static const char *random_workload(struct hh_heap *h)
{
    uint32_t rng = 0x4EA9C0DEu, seeds = 1, locked = 0;
    memset(rw, 0, sizeof rw);
    for (uint32_t op = 0; op < RW_OPS; op++) {
        struct rw_slot *s = &rw[rand32(&rng) % RW_SLOTS];
        uint32_t what = rand32(&rng) % 10;
        if (!s->h) {
            s->size = rw_size(&rng);
            s->seed = seeds++;
            CHECK_OK(hh_alloc(h, s->size, &s->h));
            TRY(fill(h, s->h, s->size, s->seed));
        } else if (what < 4 && !s->locked) {
            CHECK_OK(hh_free(h, s->h));
            s->h = 0;
        } else if (what < 5 && !s->locked && locked < 8) {
            CHECK_OK(hh_lock(h, s->h, &s->ptr));
            s->locked = true;
            locked++;
        } else if (what < 7 && s->locked) {
            CHECK_OK(hh_unlock(h, s->h));
            s->locked = false;
            locked--;
        } else if (what < 8 && !s->locked) {
            uint32_t n = rw_size(&rng);
            CHECK_OK(hh_resize(h, s->h, n));
            TRY(verify(h, s->h, s->size < n ? s->size : n, s->seed));
            s->size = n;
            s->seed = seeds++;
            TRY(fill(h, s->h, n, s->seed));
        } else if (what < 9 && op % 50 == 0) {
            hh_compact(h);
            TRY(rw_verify_all(h));
        }
        if (op % 100 == 0)
            CHECK_HH(h);
    }
    /* Free about half of what is left, at random: holes all over the heap. */
    for (uint32_t i = 0; i < RW_SLOTS; i++)
        if (rw[i].h && !rw[i].locked && rand32(&rng) % 2) {
            CHECK_OK(hh_free(h, rw[i].h));
            rw[i].h = 0;
        }
    CHECK_HH(h);
    struct hh_usage before, after;
    hh_usage(h, &before);
    uint32_t free0 = mm_free_blocks, returned0 = h->stats.blocks_returned;
    uint32_t moved = hh_compact(h);
    CHECK_HH(h);
    hh_usage(h, &after);
    kprintf("hheap: random workload: %u blocks (%u locked), %u bytes; before compaction %u pages used, "
            "extent %u, %u chain blocks, %u%% full; after: %u moved, %u pages used, extent %u, %u chain blocks, %u%% full\n",
            h->live, locked, h->live_bytes, before.used_pages, before.extent, before.chain_blocks, before.fill_percent,
            moved, after.used_pages, after.extent, after.chain_blocks, after.fill_percent);
    CHECK_EQ(after.live_bytes, before.live_bytes);
    CHECK(after.used_pages <= before.used_pages);
    CHECK(after.extent <= before.extent);
    CHECK(after.chain_blocks <= before.chain_blocks);
    CHECK_EQ(mm_free_blocks, free0 + (before.chain_blocks - after.chain_blocks));
    CHECK_EQ(h->stats.blocks_returned - returned0, before.chain_blocks - after.chain_blocks);
    /* The workload leaves the heap well fragmented, and compaction packs it: fewer pages,
     * fuller pages. */
    CHECK(before.fill_percent < 60);
    CHECK(after.used_pages * 4 <= before.used_pages * 3);
    CHECK(after.fill_percent >= 70);
    CHECK(after.chain_blocks < before.chain_blocks);   /* memory went back */
    TRY(rw_verify_all(h));
    /* Locked blocks are still where their pointers say. */
    for (uint32_t i = 0; i < RW_SLOTS; i++)
        if (rw[i].h && rw[i].locked) {
            CHECK_EQ(h->va + offset_of(h, rw[i].h), (uint32_t)rw[i].ptr);
            CHECK_OK(hh_unlock(h, rw[i].h));
        }
    for (uint32_t i = 0; i < RW_SLOTS; i++)
        if (rw[i].h)
            CHECK_OK(hh_free(h, rw[i].h));
    hh_compact(h);
    CHECK_EQ(h->chain, 0);
    CHECK_EQ(h->live, 0);
    CHECK_HH(h);
    return 0;
}

TEST(hheap, random_workload_fragmentation)
{
    return with_heap(random_workload);
}
