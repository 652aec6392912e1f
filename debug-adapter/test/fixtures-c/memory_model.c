/* memory_model.c: one of every allocator shape, process list and heap of docs/memory-model.md,
 * laid out in initialised static data, so the memory-model describer can be tested on the
 * compiled image (gcc -m32 -g, never run). Every allocator manages the 16 frames of `pool`;
 * the tests compute the expected frame states from pool's address and corrupt copies of it. */

typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;

struct run { struct run *next; uint32_t phys_next; };
union frame { struct run r; unsigned char bytes[4096]; };

union frame pool[16] __attribute__((aligned(65536))) = {   /* aligned like its largest buddy block */
    /* free list (virtual links through .next): 1 -> 4 -> 6 */
    [1] = { .r = { .next = &pool[4].r } },
    [4] = { .r = { .next = &pool[6].r } },
    /* free list (physical links at offset 4): 2 -> 7 */
    [2] = { .r = { .phys_next = (uint32_t)&pool[7] } },
    /* buddy (virtual links through .next): order 0: 9 -> 3; order 1: 10; order 2: 12 */
    [9] = { .r = { .next = &pool[3].r } },
};
uint32_t pool_frames = 16;

/* bitmap: bit set = used; frames 2, 3, 8, 9, 10, 11, 14, 15 free */
uint32_t frame_bitmap[1] = { 0x000030f3u };
uint32_t bitmap_free = 8;

struct run *freelist = &pool[1].r;
uint32_t free_count = 3;
uint32_t phys_head = (uint32_t)&pool[2];

/* free stack of physical addresses: 3 entries valid */
uint32_t free_stack[16] = { (uint32_t)&pool[5], (uint32_t)&pool[11], (uint32_t)&pool[0] };
uint32_t free_top = 3;
/* free stack of frame numbers, filled by the test (the numbers depend on where pool is) */
uint32_t frame_stack[4];
uint32_t frame_top;

struct block { struct block *next; };
struct block *free_area[4] = { (struct block *)&pool[9], (struct block *)&pool[10], (struct block *)&pool[12], 0 };
unsigned long buddy_free = 8;

enum rtype { R_FREE = 1, R_USED = 2, R_RESERVED = 3 };
struct region { uint64_t base; uint64_t len; enum rtype type; };
struct region regions[4] = {
    { 0x100000, 0x4000, R_FREE },
    { 0x104000, 0x2000, R_USED },
    { 0x200000, 0x1000, R_RESERVED },
};
int nregions = 3;

/* chain table: block 0 kernel, chain 1 = 1 -> 2, block 3 free, chain 4 (frozen) = 4, 5, 6 hole, 7 free */
uint32_t block_table[8] = { 0x07fffff2u, 0x08000002u, 0x07ffffffu, 0x07fffffeu, 0x18000005u, 0x07ffffffu, 0x07fffff0u, 0x07fffffeu };
uint32_t block_count = 8;
uint32_t blocks_free = 2;

/* processes as a linked list */
enum pstate { P_UNUSED, P_READY, P_RUNNING, P_SLEEPING };
struct task { int id; char comm[16]; int state; uint32_t cr3; struct task *next; };
struct task tasks[3] = {
    { 1, "init", P_SLEEPING, 0x00123000, &tasks[2] },
    { 7, "worker", P_READY, 0x00456000, 0 },
    { 3, "shell", P_RUNNING, 0x00789000, &tasks[1] },
};
struct task *task_head = &tasks[0];
struct task *running = &tasks[2];

/* processes as an array (xv6-like), directories virtual */
typedef uint32_t pde_t;
pde_t kpgdir[1024] __attribute__((aligned(4096)));
pde_t upgdir[1024] __attribute__((aligned(4096)));
struct proc { uint32_t sz; pde_t *pgdir; enum pstate state; int pid; char name[16]; };
struct proc ptable[4] = {
    { 0, kpgdir, P_RUNNING, 1, "initcode" },
    { 0, 0, P_UNUSED, 0, "" },
    { 0, upgdir, P_READY, 2, "sh" },
    { 0, 0, P_UNUSED, 0, "" },
};
struct proc *cpu_proc = &ptable[0];
struct proc *procs_by_slot[3] = { &ptable[2], 0, &ptable[0] };

/* heap of adjacent headers (size includes the 16-byte header) */
struct hdr { uint32_t size; uint32_t magic; struct hdr *next; uint32_t pad; };
struct hdr heap_area[16] = {
    [0] = { 48, 0xA110C8EDu, 0, 0 },
    [3] = { 32, 0xF4EEF4EEu, 0, 0 },
    [5] = { 176, 0xA110C8EDu, 0, 0 },
};
struct hdr *heap_end = &heap_area[16];

/* heap of linked headers (size without the header) */
struct mblock { uint32_t size; int used; struct mblock *next; };
struct mblock mblocks[3] = {
    { 100, 1, &mblocks[1] },
    { 200, 0, &mblocks[2] },
    { 300, 1, 0 },
};
struct mblock *heap_head = &mblocks[0];

void _start(void)
{
    for (;;)
        ;
}
