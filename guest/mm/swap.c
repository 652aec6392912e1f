/* swap.c: swapping (swap.h). Placeholder until the ATA driver lands: no disk, swapping off. */
#include "swap.h"

struct swap_slot *swap_slots;
uint32_t swap_slot_count;
uint32_t swap_slots_used;
uint32_t swap_outs, swap_ins;

void swap_init(void)
{
}

bool swap_fault(uint32_t va, uint32_t error_code)
{
    (void)va;
    (void)error_code;
    return false;
}

uint32_t swap_reclaim(uint32_t blocks)
{
    (void)blocks;
    return 0;
}
