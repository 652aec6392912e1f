/* debuginfo.h: the debugger contract. The kernel exports one versioned descriptor,
 * `mm_debug_info`, that tells a debugger where everything is and how it is laid out (like
 * Linux's vmcoreinfo). Addresses are kernel-virtual unless the name says _phys. The
 * debugger finds the symbol in the ELF and reads everything else through it. */
#ifndef DEBUGINFO_H
#define DEBUGINFO_H
#include <stdint.h>

#define MM_DEBUG_MAGIC   0x4D4D4442u   /* "MMDB" */
#define MM_DEBUG_VERSION 3u

struct mm_debug_struct {      /* where a table lives and how its records look */
    uint32_t addr;            /* address of the array, or of the struct vector / pointer */
    uint32_t count_addr;      /* address of the live element count (0 if in a vector) */
    uint32_t elem_size;
};

struct mm_debug_info {
    uint32_t magic, version, size;
    /* geometry */
    uint32_t block_size, page_size, block_count;
    uint32_t block_table, block_table_phys;      /* uint32_t[block_count] (chain_table.h) */
    uint32_t owners, owners_phys;                /* struct mm_owner[block_count] */
    uint32_t owner_size, owner_off_caller, owner_off_seq, owner_off_size, owner_off_kind, owner_off_handle;
    uint32_t kernel_vbase, lowmap_end, user_space_end, upd_entries, window_base;
    uint32_t kpd, kpd_phys;
    uint32_t free_blocks_addr, alloc_seq_addr;
    /* processes */
    uint32_t proc_list_addr, current_addr;       /* addresses of struct pcb *proc_list, *current */
    uint32_t pcb_size, pcb_off_pid, pcb_off_name, pcb_name_len, pcb_off_state, pcb_off_upd, pcb_off_next;
    /* mapping registry: struct mm_mapping[count] */
    struct mm_debug_struct mappings;
    uint32_t map_off_chain, map_off_va, map_off_page_offset, map_off_pages, map_off_flags, map_off_upd;
    /* handle tables: struct vector (data, length, capacity, elem_size) */
    uint32_t xms_handles_addr, xms_off_handle, xms_off_lock_count, xms_off_chain, xms_off_size_kb, xms_off_owner_pid;
    uint32_t dpmi_blocks_addr, dpmi_off_handle, dpmi_off_chain, dpmi_off_linear, dpmi_off_size, dpmi_off_owner_pid, dpmi_off_lock_count;
    uint32_t dos_first_mcb_seg, dos_arena_end_seg;
    /* counters */
    uint32_t defrag_runs_addr, defrag_moved_addr, context_switches_addr, ticks_addr;
    /* fault injection: the cmdline option that broke something on purpose, or 0 */
    uint32_t fault_injected_addr;
    /* allocation breakpoints (mm_event.h): the hook function and the last event */
    uint32_t event_hook_addr, event_addr;
    /* version 2: how each process runs, DOS tasks, swapping */
    uint32_t pcb_off_mode, pcb_off_v86, pcb_off_exit_code;   /* enum proc_mode; struct v86_task * */
    uint32_t v86_size, v86_off_low_chain, v86_off_low_pages, v86_off_mcb_owner, v86_off_psp_seg, v86_off_status;
    uint32_t swap_slots_addr;        /* address of `struct swap_slot *swap_slots` */
    uint32_t swap_slot_count_addr, swap_used_addr, swap_outs_addr, swap_ins_addr;
    uint32_t swap_slot_size, swap_off_state, swap_off_chain, swap_off_next, swap_off_block;
    uint32_t ct_swapped_base, pte_swap_mark, pte_swap_page_shift, pte_swap_slot_shift;
    /* version 3: consistent live reads (a seqlock) and the event ring (the flight recorder) */
    uint32_t generation_addr;        /* address of `volatile uint32_t mm_generation`: odd while the
                                        memory manager changes its structures, even when they are
                                        consistent; a live reader keeps a read whose generation was
                                        even and equal before and after it */
    uint32_t free_count_addr;        /* address of `uint32_t mm_free_count`: chains freed since boot
                                        (alloc_seq_addr counts allocations) */
    uint32_t event_ring_addr, event_ring_phys;  /* struct mm_event_record[event_ring_capacity] */
    uint32_t event_ring_capacity;    /* records, a power of two; 0 = this kernel keeps no ring */
    uint32_t event_record_size;      /* sizeof(struct mm_event_record) */
    uint32_t event_head_addr;        /* address of `volatile uint32_t mm_event_head`: records ever
                                        written; record n sits at index n % capacity and its seq
                                        field reads n + 1 once it is complete (written last) */
    uint32_t tsc_khz;                /* the TSC's rate measured at boot in kHz, 0 if unknown */
    uint32_t hold_addr;              /* address of `struct mm_hold` (generation.h): a live reader's
                                        request that the memory manager stand still at its next
                                        consistent point for the length of a copy; 0 = none */
};

extern struct mm_debug_info mm_debug_info;
void debuginfo_init(void);
#endif
