/* inject.c: fault injection. Each kind corrupts one structure the way a buggy kernel
 * would, leaving everything else intact, so that the debugger's matching finding can be
 * tested: `inject=KIND` on the command line (demo mode). Never used by normal runs. */
#include "inject.h"
#include "console.h"
#include "mm.h"
#include "mm_event.h"
#include "paging.h"
#include "proc.h"
#include "regs.h"
#include "string.h"
#include "x86.h"
#include "xms.h"

#define INJECT_VA 0xE4000000u

/* Rewrites the PTE of kernel address `va` (which must be mapped with 4 KiB pages). */
static void set_kernel_pte_bits(uint32_t va, uint32_t set)
{
    uint32_t *pt = window_map(WIN_PT, kpd[PDX(va)] & PTE_ADDR);
    pt[PTX(va)] |= set;
    invlpg(va);
}

/* Allocates a chain for an injection and maps it in the kernel (a slot of 1 MiB each from
 * INJECT_VA), so that it is held like any chain in use and is not also a "leak". */
static chain_id_t chain_of(uint32_t blocks, uint32_t flags)
{
    static uint32_t next_slot;
    chain_id_t id = MmAllocateChain(flags, blocks);
    if (id && MmMapChainToVirtualAddress(MAP_KPD, id, (void *)(INJECT_VA + next_slot++ * 0x100000u), 0, 0) != MM_OK) {
        MmFreeChain(id);
        id = 0;
    }
    return id;
}

static int free_block_mapped(void)
{
    chain_id_t id = chain_of(1, CHAIN_FROZEN);
    if (!id)
        return -1;
    mm_block_table[id] = CT_FREE;        /* the table forgets the chain; the PTE stays */
    mm_free_blocks++;
    return 0;
}

static int block_in_two_chains(void)
{
    chain_id_t a = chain_of(2, CHAIN_FROZEN), b = chain_of(2, CHAIN_FROZEN);
    if (!a || !b)
        return -1;
    uint32_t a1 = ct_field(mm_block_table[a]), b1 = ct_field(mm_block_table[b]);
    mm_block_table[a1] = b1;             /* a's tail now runs into b's second block */
    return 0;
}

static int chain_cycle(void)
{
    chain_id_t a = chain_of(3, CHAIN_FROZEN);
    if (!a)
        return -1;
    uint32_t b1 = ct_field(mm_block_table[a]), b2 = ct_field(mm_block_table[b1]);
    mm_block_table[b2] = b1;             /* the last block links back to the second */
    return 0;
}

static int dangling_link(void)
{
    chain_id_t a = chain_of(2, CHAIN_FROZEN);
    uint32_t f = mm_find_free_run(1, 0, 0);
    if (!a || !f)
        return -1;
    uint32_t b1 = ct_field(mm_block_table[a]);
    mm_block_table[b1] = f;              /* links to a free block */
    return 0;
}

static int contiguous_not_contiguous(void)
{
    chain_id_t c;
    if (MmAllocateContiguous(2, 0, 0, 0, &c) != MM_OK)
        return -1;
    uint32_t f = mm_find_free_run(1, 0, 0);
    if (!f)
        return -1;
    mm_block_table[f] = CT_END;          /* the second block "moved" to f */
    mm_block_table[c + 1] = CT_FREE;
    mm_block_table[c] = (mm_block_table[c] & CT_FLAG_BITS) | f;
    return 0;
}

static int contiguous_not_frozen(void)
{
    chain_id_t c;
    if (MmAllocateContiguous(1, 0, 0, 0, &c) != MM_OK)
        return -1;
    mm_block_table[c] &= ~CT_FROZEN;
    return 0;
}

static int flags_on_body(void)
{
    chain_id_t a = chain_of(2, CHAIN_FROZEN);
    if (!a)
        return -1;
    mm_block_table[ct_field(mm_block_table[a])] |= CT_SWAPPABLE;
    return 0;
}

static int stale_upd(void)
{
    chain_id_t a = MmAllocateChain(CHAIN_USER | CHAIN_FROZEN, 1);
    if (!a || MmMapChainToVirtualAddress(MAP_UPD, a, (void *)0x0F000000, 0, current->upd) != MM_OK)
        return -1;
    kpd[PDX(0x0F000000)] = 0;            /* the live slice lost an entry the UPD has */
    flush_tlb();
    return 0;
}

static int user_mapping_above_limit(void)
{
    uint32_t frame = pt_alloc_frame();
    chain_id_t a = chain_of(1, CHAIN_FROZEN);
    if (!frame || !a)
        return -1;
    uint32_t *pt = window_map(WIN_PT, frame);
    pt[0] = (a << MM_BLOCK_SHIFT) | PTE_P | PTE_W | PTE_U;
    kpd[PDX(0x40000000)] = frame | PTE_P | PTE_W | PTE_U;   /* 1 GiB: above 256 MiB */
    flush_tlb();
    return 0;
}

static int kernel_page_user_writable(void)
{
    chain_id_t a = chain_of(1, CHAIN_FROZEN);
    if (!a)
        return -1;
    kpd[PDX(INJECT_VA)] |= PTE_U;
    set_kernel_pte_bits(INJECT_VA, PTE_U | PTE_W);
    return 0;
}

static int handle_to_freed_chain(void)
{
    struct rm_regs r;
    memset(&r, 0, sizeof r);
    r.eax = 0x0900;                      /* XMS allocate 64 KiB */
    r.edx = 64;
    xms_dispatch(&r);
    if (REG_LO16(r.eax) != 1)
        return -1;
    for (uint32_t i = 0; i < xms_handles.length; i++) {
        struct xms_handle *h = vec_at(&xms_handles, i);
        if (h->handle == REG_LO16(r.edx))
            return MmFreeChain(h->chain) == MM_OK ? 0 : -1;   /* behind XMS's back */
    }
    return -1;
}

static int leaked_chain(void)
{
    return MmAllocateChain(0, 3) ? 0 : -1;   /* allocated, never mapped, never handed to anyone */
}

static int orphan_block(void)
{
    uint32_t f = mm_find_free_run(1, 0, 0);
    if (!f)
        return -1;
    mm_block_table[f] = CT_END;          /* "in use", but no head reaches it */
    mm_free_blocks--;
    return 0;
}

static int corrupt_entry(void)
{
    uint32_t f = mm_find_free_run(1, 0, 0);
    if (!f)
        return -1;
    mm_block_table[f] = CT_RESERVED_BASE + 9;   /* a special value that means nothing */
    mm_free_blocks--;
    return 0;
}

static int process_list_loop(void)
{
    struct pcb *last = proc_list;
    while (last->next)
        last = last->next;
    last->next = proc_list->next;        /* the list no longer ends */
    return 0;
}

/* The swap injections (below the others, so that the recorded documents' sites keep their lines). */
#include "swap.h"

/* A mapped swappable chain of `blocks` with its block 1 swapped out; the slot in *slot. */
static chain_id_t swapped_chain(uint32_t blocks, uint32_t *slot)
{
    chain_id_t id = chain_of(blocks, CHAIN_SWAPPABLE);
    if (!id || swap_out_block(id, 1) != MM_OK)
        return 0;
    *slot = ct_swap_slot(ct_field(mm_block_table[id]));
    return id;
}

static int swapped_frozen_chain(void)
{
    uint32_t s;
    chain_id_t a = swapped_chain(3, &s);
    if (!a)
        return -1;
    mm_block_table[a] |= CT_FROZEN;      /* frozen, with a block still on the disk */
    return 0;
}

static int swap_slot_shared(void)
{
    uint32_t sa, sb;
    chain_id_t a = swapped_chain(2, &sa), b = swapped_chain(2, &sb);
    if (!a || !b)
        return -1;
    /* b's head now links to a's slot; neither is swappable any more, so nothing acts on it. */
    mm_block_table[a] &= ~CT_SWAPPABLE;
    mm_block_table[b] = ((mm_block_table[b] & CT_FLAG_BITS) & ~CT_SWAPPABLE) | (CT_SWAPPED_BASE + sa);
    return 0;
}

static int swap_slot_free_in_use(void)
{
    uint32_t s;
    chain_id_t a = swapped_chain(2, &s);
    if (!a)
        return -1;
    mm_block_table[a] &= ~CT_SWAPPABLE;
    swap_slots[s].state = SWAP_FREE;     /* the link and the PTEs still hold the slot */
    swap_slots[s].chain = 0;
    swap_slots_used--;
    return 0;
}

/* The DOS-side injections (kept below the others so that their source lines stay put: the
 * recorded documents of extension/test/fixtures name sites in this file by line). */
#include "dos.h"
#include "v86.h"

/* Allocates a DOS block and overwrites the type byte of the MCB after it: the chain now
 * holds a block that is neither 'M' nor 'Z' (a program that wrote past its block's end). */
static int mcb_chain_broken(void)
{
    uint16_t seg, largest;
    if (dos_alloc(0x100, DOS_OWNER_SYSTEM, &seg, &largest) != DOS_OK)
        return -1;
    struct mcb *next = (struct mcb *)P2V((uint32_t)(seg + 0x100u) << 4);
    next->type = 'X';
    return 0;
}

/* Maps a page of another chain into a DOS task's private first 64 KiB (its low chain's range):
 * the page after the ones its low chain maps, else its last page. The task is a live one of the
 * demo's, or (between two of them) a new one that never runs: the world stops after this. */
static int v86_foreign_memory(void)
{
    struct pcb *task = 0;
    for (struct pcb *p = proc_list; p; p = p->next)
        if ((p->mode == PROC_MODE_V86 || p->mode == PROC_MODE_DPMI) && p->v86 && p->state != PROC_ZOMBIE && (p->upd[0] & PTE_P)) {
            task = p;
            break;
        }
    const struct dos_program *prog = dos_program_find("dosdemo");
    if (!task && prog)
        task = v86_task_create("dosdemo", prog->start, prog->size);
    chain_id_t other = chain_of(1, CHAIN_FROZEN);
    if (!task || !other)
        return -1;
    uint32_t page = task->v86->low_pages < 16 ? task->v86->low_pages : 15;
    uint32_t *pt = window_map(WIN_PT, task->upd[0] & PTE_ADDR);
    pt[page] = (other << MM_BLOCK_SHIFT) | PTE_P | PTE_W | PTE_U;
    flush_tlb();
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(void);
} kinds[] = {
    {"free-block-mapped", free_block_mapped},
    {"block-in-two-chains", block_in_two_chains},
    {"chain-cycle", chain_cycle},
    {"dangling-link", dangling_link},
    {"contiguous-not-contiguous", contiguous_not_contiguous},
    {"contiguous-not-frozen", contiguous_not_frozen},
    {"flags-on-body", flags_on_body},
    {"stale-upd", stale_upd},
    {"user-mapping-above-limit", user_mapping_above_limit},
    {"kernel-page-user-writable", kernel_page_user_writable},
    {"handle-to-freed-chain", handle_to_freed_chain},
    {"leaked-chain", leaked_chain},
    {"orphan-block", orphan_block},
    {"corrupt-entry", corrupt_entry},
    {"process-list-broken", process_list_loop},
    {"swapped-frozen-chain", swapped_frozen_chain},
    {"swap-slot-shared", swap_slot_shared},
    {"swap-slot-free-in-use", swap_slot_free_in_use},
    {"mcb-chain-broken", mcb_chain_broken},
    {"v86-foreign-memory", v86_foreign_memory},
};

int fault_inject(const char *kind)
{
    for (uint32_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kind, kinds[i].name))
            continue;
        uint32_t f = mm_write_begin();
        int r = kinds[i].fn();
        /* An event of no kind closes the injection: a debugger treats the chain of the last
         * allocation event as still in flight, and the injected leak must not look like one. */
        mm_event(MM_EV_NONE, 0, 0, 0, 0, 0, 0);
        mm_write_end(f);
        if (r == 0)
            mm_fault_injected = i + 1;
        return r;
    }
    return -1;
}
