/* mm64.c: memory-manager code for the symbol layer to read: a four-level page-table walk over
 * tables in a static pool, a bitmap frame allocator and a small slab cache. Inline helpers,
 * nested loops with block-local variables, unions and bit fields, 64-bit masks. */
#include "x64.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ul << PAGE_SHIFT)
#define PTE_PRESENT 0x1ul
#define PTE_WRITE 0x2ul
#define PTE_HUGE 0x80ul
#define PTE_NX (1ul << 63)
#define ADDR_MASK 0x000ffffffffff000ul
#define FRAMES 512

typedef uint64_t pte_t;

union pte_view {
    pte_t raw;
    struct {
        uint64_t present : 1;
        uint64_t write : 1;
        uint64_t user : 1;
        uint64_t pwt : 1;
        uint64_t pcd : 1;
        uint64_t accessed : 1;
        uint64_t dirty : 1;
        uint64_t huge : 1;
        uint64_t global : 1;
        uint64_t avail : 3;
        uint64_t frame : 40;
        uint64_t reserved : 11;
        uint64_t nx : 1;
    } bits;
};

struct walk_result {
    uint64_t physical;
    int level;
    int huge;
    pte_t entries[4];
};

struct slab {
    struct slab *next;
    uint32_t object_size;
    uint16_t free_count;
    uint16_t capacity;
    uint64_t free_mask;
    unsigned char *base;
};

static pte_t table_pool[8][512] __attribute__((aligned(4096)));
static int tables_used;
static uint64_t frame_bitmap[FRAMES / 64];
static unsigned char slab_memory[4][4096] __attribute__((aligned(64)));
static struct slab slabs[4];
struct slab *slab_list;

static inline unsigned table_index(uint64_t va, int level)
{
    return (unsigned)(va >> (PAGE_SHIFT + 9 * level)) & 0x1ffu;
}

static inline pte_t *table_at(pte_t entry)
{
    uint64_t index = (entry & ADDR_MASK) >> PAGE_SHIFT;
    return table_pool[index % 8];
}

static pte_t *new_table(void)
{
    pte_t *t = table_pool[tables_used++ % 8];
    for (int i = 0; i < 512; i++) t[i] = 0;
    return t;
}

int map_page(pte_t *root, uint64_t va, uint64_t pa, uint64_t flags)
{
    pte_t *table = root;
    for (int level = 3; level > 0; level--) {
        unsigned idx = table_index(va, level);
        pte_t entry = table[idx];
        if (!(entry & PTE_PRESENT)) {
            pte_t *fresh = new_table();
            uint64_t slot = (uint64_t)(fresh - table_pool[0]) / 512;
            entry = (slot << PAGE_SHIFT) | PTE_PRESENT | PTE_WRITE;
            table[idx] = entry;
        }
        if (entry & PTE_HUGE) return -1;
        table = table_at(entry);
    }
    table[table_index(va, 0)] = (pa & ADDR_MASK) | flags | PTE_PRESENT;
    return 0;
}

int walk(const pte_t *root, uint64_t va, struct walk_result *out)
{
    const pte_t *table = root;
    out->huge = 0;
    for (int level = 3; level >= 0; level--) {
        union pte_view view;
        view.raw = table[table_index(va, level)];
        out->entries[3 - level] = view.raw;
        if (!view.bits.present) {
            out->level = level;
            return -1;
        }
        if (level > 0 && view.bits.huge) {
            uint64_t span = PAGE_SIZE << (9 * level);
            out->physical = (view.raw & ADDR_MASK & ~(span - 1)) | (va & (span - 1));
            out->level = level;
            out->huge = 1;
            return 0;
        }
        if (level == 0) {
            out->physical = ((uint64_t)view.bits.frame << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
            out->level = 0;
            return view.bits.nx ? 1 : 0;
        }
        table = table_at(view.raw);
    }
    return -1;
}

long frame_alloc(void)
{
    for (unsigned word = 0; word < FRAMES / 64; word++) {
        uint64_t bits = frame_bitmap[word];
        if (bits == ~0ul) continue;
        for (unsigned bit = 0; bit < 64; bit++) {
            uint64_t mask = 1ul << bit;
            if (!(bits & mask)) {
                frame_bitmap[word] = bits | mask;
                return (long)(word * 64 + bit);
            }
        }
    }
    return -1;
}

void frame_free(long frame)
{
    if (frame < 0 || frame >= FRAMES) return;
    frame_bitmap[frame / 64] &= ~(1ul << (frame % 64));
}

static inline int lowest_set(uint64_t v)
{
    int n = 0;
    while (!(v & 1)) {
        v >>= 1;
        n++;
    }
    return n;
}

void *slab_alloc(uint32_t size)
{
    for (struct slab *s = slab_list; s; s = s->next) {
        if (s->object_size < size || s->free_count == 0) continue;
        int slot = lowest_set(s->free_mask);
        s->free_mask &= ~(1ul << slot);
        s->free_count--;
        return s->base + (size_t)slot * s->object_size;
    }
    return NULL;
}

void slab_setup(void)
{
    static const uint32_t sizes[4] = { 32, 64, 128, 256 };
    slab_list = NULL;
    for (int i = 3; i >= 0; i--) {
        struct slab *s = &slabs[i];
        s->object_size = sizes[i];
        s->capacity = (uint16_t)(4096 / sizes[i] > 64 ? 64 : 4096 / sizes[i]);
        s->free_count = s->capacity;
        s->free_mask = s->capacity == 64 ? ~0ul : (1ul << s->capacity) - 1;
        s->base = slab_memory[i];
        s->next = slab_list;
        slab_list = s;
    }
}

uint64_t mm_selftest(void)
{
    pte_t *root = new_table();
    struct walk_result r;
    uint64_t acc = 0;
    slab_setup();
    for (int i = 0; i < 6; i++) {
        long frame = frame_alloc();
        uint64_t va = 0xffffffff80000000ul + (uint64_t)i * PAGE_SIZE * 513;
        if (map_page(root, va, (uint64_t)frame << PAGE_SHIFT, i & 1 ? PTE_NX : PTE_WRITE) == 0 && walk(root, va + 0x123, &r) >= 0) {
            acc += r.physical ^ (uint64_t)r.level;
        }
        void *obj = slab_alloc((uint32_t)(24 + i * 40));
        acc += (uintptr_t)obj & 0xfff;
        if (i == 4) frame_free(frame);
    }
    return acc;
}
