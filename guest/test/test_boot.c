/* test_boot.c: the kernel came up as designed: higher half, memory map, block table. */
#include "debuginfo.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "test.h"
#include "x86.h"

extern uint8_t __kernel_start[], __kernel_end[];
void kmain(uint32_t, uint32_t);

TEST(boot, higher_half)
{
    CHECK((uint32_t)kmain >= KERNEL_VBASE);
    CHECK(read_cr0() & 0x80000000u);             /* paging on */
    CHECK(read_cr4() & 0x10u);                   /* PSE on (boot used 4 MiB pages) */
    CHECK_EQ(read_cr3(), V2P(kpd));
    for (uint32_t i = 0; i < UPD_ENTRIES; i++)   /* the boot identity map is gone */
        CHECK_EQ(kpd[i] & ~PTE_A, current->upd[i]);
    CHECK_EQ(V2P(__kernel_start), 0x100000);     /* loaded at 1 MiB */
    return 0;
}

TEST(boot, multiboot_memory)
{
    uint64_t bytes = (uint64_t)mm_block_count * MM_BLOCK_SIZE;
    CHECK(bytes >= 4u << 20);
    CHECK(mm_free_blocks > 0 && mm_free_blocks < mm_block_count);
    CHECK_EQ(mm_block_table[0], CT_RESERVED_BASE + CT_RSV_DOS);       /* IVT, BDA: DOS memory */
    CHECK_EQ(mm_block_table[0xA0000 >> MM_BLOCK_SHIFT], CT_RESERVED_BASE + CT_RSV_FIRMWARE);
    uint32_t kfirst = V2P(__kernel_start) >> MM_BLOCK_SHIFT, klast = (V2P(__kernel_end) - 1) >> MM_BLOCK_SHIFT;
    for (uint32_t b = kfirst; b <= klast; b++)
        CHECK_EQ(mm_block_table[b], CT_RESERVED_BASE + CT_RSV_KERNEL);
    uint32_t table_block = V2P(mm_block_table) >> MM_BLOCK_SHIFT;
    CHECK_EQ(mm_block_table[table_block], CT_RESERVED_BASE + CT_RSV_KERNEL);
    /* Every block is exactly one of the shapes, the count matches: mm_check says so. */
    CHECK_MM();
    return 0;
}

TEST(boot, debug_descriptor)
{
    CHECK_EQ(mm_debug_info.magic, MM_DEBUG_MAGIC);
    CHECK_EQ(mm_debug_info.version, MM_DEBUG_VERSION);
    CHECK_EQ(mm_debug_info.size, sizeof mm_debug_info);
    CHECK_EQ(mm_debug_info.block_count, mm_block_count);
    CHECK_EQ(mm_debug_info.block_table, (uint32_t)mm_block_table);
    CHECK_EQ(mm_debug_info.kpd_phys, read_cr3());
    CHECK_EQ(*(uint32_t *)mm_debug_info.free_blocks_addr, mm_free_blocks);
    CHECK_EQ(**(struct pcb ***)&mm_debug_info.current_addr, current);
    CHECK_EQ(mm_debug_info.pcb_off_upd, (uint32_t)((uint8_t *)current->upd - (uint8_t *)current));
    return 0;
}
