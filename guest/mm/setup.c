/* setup.c: sizes the block table from the Multiboot memory map at boot, places it and the
 * owner records right after the kernel image, marks every block free or reserved, and
 * hands the reserved low region to paging_init as the direct map. */
#include "mm.h"
#include "console.h"
#include "paging.h"
#include "string.h"
#include "x86.h"

#define BOOT_MAP_END   0x01000000u   /* boot.S maps the first 16 MiB */
#define CONVENTIONAL_END 0x000A0000u
#define FIRMWARE_END   0x00100000u

static uint32_t align_up(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

void mm_init(const struct mm_ram_range *ranges, uint32_t count, uint32_t kernel_end_phys)
{
    uint32_t top = 0;
    for (uint32_t i = 0; i < count; i++)
        if (ranges[i].end > top)
            top = ranges[i].end;
    mm_block_count = top >> MM_BLOCK_SHIFT;
    if (mm_block_count < 256)
        panic("only %u KiB of RAM; mmscope's guest needs at least 4 MiB", top / 1024);

    uint32_t table_phys = align_up(kernel_end_phys, MM_BLOCK_SIZE);
    uint32_t owners_phys = align_up(table_phys + mm_block_count * 4, 16);
    uint32_t reserved_end = align_up(owners_phys + mm_block_count * (uint32_t)sizeof(struct mm_owner), MM_BLOCK_SIZE);
    if (reserved_end > BOOT_MAP_END)
        panic("block table ends at 0x%x, past the boot map", reserved_end);
    mm_block_table = P2V(table_phys);
    mm_owners = P2V(owners_phys);
    memset(mm_owners, 0, mm_block_count * sizeof(struct mm_owner));

    for (uint32_t b = 0; b < mm_block_count; b++)
        mm_block_table[b] = CT_RESERVED_BASE + CT_RSV_HOLE;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t first = align_up(ranges[i].start, MM_BLOCK_SIZE) >> MM_BLOCK_SHIFT;
        uint32_t last = ranges[i].end >> MM_BLOCK_SHIFT;   /* exclusive: only whole blocks */
        for (uint32_t b = first; b < last && b < mm_block_count; b++)
            mm_block_table[b] = CT_FREE;
    }
    mm_free_blocks = 0;
    for (uint32_t b = 0; b < mm_block_count; b++) {
        uint32_t pa = b << MM_BLOCK_SHIFT;
        uint32_t *e = &mm_block_table[b];
        if (pa < CONVENTIONAL_END && *e == CT_FREE)
            *e = CT_RESERVED_BASE + CT_RSV_DOS;
        else if (pa >= CONVENTIONAL_END && pa < FIRMWARE_END)
            *e = CT_RESERVED_BASE + CT_RSV_FIRMWARE;
        else if (pa >= FIRMWARE_END && pa < reserved_end)
            *e = CT_RESERVED_BASE + CT_RSV_KERNEL;
        if (*e == CT_FREE)
            mm_free_blocks++;
    }
    paging_init(reserved_end);
    kprintf("mm: %u blocks of 16 KiB, %u free, table at %p, reserved below %p\n", mm_block_count,
            mm_free_blocks, (void *)table_phys, (void *)reserved_end);
}
