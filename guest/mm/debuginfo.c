/* debuginfo.c: fills in mm_debug_info, the descriptor the debugger reads (debuginfo.h). */
#include "debuginfo.h"
#include "generation.h"
#include "dos.h"
#include "inject.h"
#include "mm_event.h"
#include "dpmi.h"
#include "mm.h"
#include "paging.h"
#include "proc.h"
#include "swap.h"
#include "v86.h"
#include "timer.h"
#include "x86.h"
#include "xms.h"

#define OFF(type, field) ((uint32_t)__builtin_offsetof(type, field))

struct mm_debug_info mm_debug_info __attribute__((used));
uint32_t mm_fault_injected;

void debuginfo_init(void)
{
    struct mm_debug_info *d = &mm_debug_info;
    d->size = sizeof *d;
    d->block_size = MM_BLOCK_SIZE;
    d->page_size = MM_PAGE_SIZE;
    d->block_count = mm_block_count;
    d->block_table = (uint32_t)mm_block_table;
    d->block_table_phys = V2P(mm_block_table);
    d->owners = (uint32_t)mm_owners;
    d->owners_phys = V2P(mm_owners);
    d->owner_size = sizeof(struct mm_owner);
    d->owner_off_caller = OFF(struct mm_owner, caller);
    d->owner_off_seq = OFF(struct mm_owner, seq);
    d->owner_off_size = OFF(struct mm_owner, size_bytes);
    d->owner_off_kind = OFF(struct mm_owner, kind);
    d->owner_off_handle = OFF(struct mm_owner, handle);
    d->kernel_vbase = KERNEL_VBASE;
    d->lowmap_end = mm_lowmap_end;
    d->user_space_end = USER_SPACE_END;
    d->upd_entries = UPD_ENTRIES;
    d->window_base = WINDOW_BASE;
    d->kpd = (uint32_t)kpd;
    d->kpd_phys = V2P(kpd);
    d->free_blocks_addr = (uint32_t)&mm_free_blocks;
    d->alloc_seq_addr = (uint32_t)&mm_alloc_seq;
    d->proc_list_addr = (uint32_t)&proc_list;
    d->current_addr = (uint32_t)&current;
    d->pcb_size = sizeof(struct pcb);
    d->pcb_off_pid = OFF(struct pcb, pid);
    d->pcb_off_name = OFF(struct pcb, name);
    d->pcb_name_len = PROC_NAME_LEN;
    d->pcb_off_state = OFF(struct pcb, state);
    d->pcb_off_upd = OFF(struct pcb, upd);
    d->pcb_off_next = OFF(struct pcb, next);
    d->mappings = (struct mm_debug_struct){(uint32_t)mm_mappings, (uint32_t)&mm_mapping_count, sizeof(struct mm_mapping)};
    d->map_off_chain = OFF(struct mm_mapping, chain);
    d->map_off_va = OFF(struct mm_mapping, va);
    d->map_off_page_offset = OFF(struct mm_mapping, page_offset);
    d->map_off_pages = OFF(struct mm_mapping, pages);
    d->map_off_flags = OFF(struct mm_mapping, flags);
    d->map_off_upd = OFF(struct mm_mapping, upd);
    d->xms_handles_addr = (uint32_t)&xms_handles;
    d->xms_off_handle = OFF(struct xms_handle, handle);
    d->xms_off_lock_count = OFF(struct xms_handle, lock_count);
    d->xms_off_chain = OFF(struct xms_handle, chain);
    d->xms_off_size_kb = OFF(struct xms_handle, size_kb);
    d->xms_off_owner_pid = OFF(struct xms_handle, owner_pid);
    d->dpmi_blocks_addr = (uint32_t)&dpmi_blocks;
    d->dpmi_off_handle = OFF(struct dpmi_block, handle);
    d->dpmi_off_chain = OFF(struct dpmi_block, chain);
    d->dpmi_off_linear = OFF(struct dpmi_block, linear);
    d->dpmi_off_size = OFF(struct dpmi_block, size);
    d->dpmi_off_owner_pid = OFF(struct dpmi_block, owner_pid);
    d->dpmi_off_lock_count = OFF(struct dpmi_block, lock_count);
    d->dos_first_mcb_seg = DOS_ARENA_START_SEG;
    d->dos_arena_end_seg = DOS_ARENA_END_SEG;
    d->defrag_runs_addr = (uint32_t)&mm_defrag_runs;
    d->defrag_moved_addr = (uint32_t)&mm_defrag_moved;
    d->context_switches_addr = (uint32_t)&proc_context_switches;
    d->ticks_addr = (uint32_t)&timer_ticks;
    d->fault_injected_addr = (uint32_t)&mm_fault_injected;
    d->event_hook_addr = (uint32_t)mm_event_hook;
    d->event_addr = (uint32_t)&mm_last_event;
    d->pcb_off_mode = OFF(struct pcb, mode);
    d->pcb_off_v86 = OFF(struct pcb, v86);
    d->pcb_off_exit_code = OFF(struct pcb, exit_code);
    d->v86_size = sizeof(struct v86_task);
    d->v86_off_low_chain = OFF(struct v86_task, low_chain);
    d->v86_off_low_pages = OFF(struct v86_task, low_pages);
    d->v86_off_mcb_owner = OFF(struct v86_task, mcb_owner);
    d->v86_off_psp_seg = OFF(struct v86_task, psp_seg);
    d->v86_off_status = OFF(struct v86_task, status);
    d->swap_slots_addr = (uint32_t)&swap_slots;
    d->swap_slot_count_addr = (uint32_t)&swap_slot_count;
    d->swap_used_addr = (uint32_t)&swap_slots_used;
    d->swap_outs_addr = (uint32_t)&swap_outs;
    d->swap_ins_addr = (uint32_t)&swap_ins;
    d->swap_slot_size = sizeof(struct swap_slot);
    d->swap_off_state = OFF(struct swap_slot, state);
    d->swap_off_chain = OFF(struct swap_slot, chain);
    d->swap_off_next = OFF(struct swap_slot, next);
    d->swap_off_block = OFF(struct swap_slot, block);
    d->ct_swapped_base = CT_SWAPPED_BASE;
    d->pte_swap_mark = PTE_SWAP_MARK;
    d->pte_swap_page_shift = PTE_SWAP_PAGE_SHIFT;
    d->pte_swap_slot_shift = PTE_SWAP_SLOT_SHIFT;
    d->generation_addr = (uint32_t)&mm_generation;
    d->free_count_addr = (uint32_t)&mm_free_count;
    d->hold_addr = (uint32_t)&mm_hold;
    d->event_record_size = sizeof(struct mm_event_record);
    /* event_ring_*, event_head_addr, tsc_khz: 0 until the ring is set up (no ring yet) */
    d->version = MM_DEBUG_VERSION;
    d->magic = MM_DEBUG_MAGIC;   /* last: a debugger that sees the magic sees the rest */
}
