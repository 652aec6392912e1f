/* dpmi.h: the DPMI 0.9 memory services over chains, reached through an INT 31h register
 * frame. Blocks are page granular and mapped page aligned into the calling process's user
 * space (DPMI_LINEAR_BASE .. USER_SPACE_END). Handles are 32-bit. On failure CF is set and
 * AX holds the DPMI error code. */
#ifndef DPMI_H
#define DPMI_H
#include <stdint.h>
#include "mm.h"
#include "regs.h"
#include "vector.h"

#define DPMI_ERR_UNSUPPORTED        0x8001
#define DPMI_ERR_INVALID_STATE      0x8002  /* 0601h: region not locked */
#define DPMI_ERR_LINEAR_UNAVAILABLE 0x8012
#define DPMI_ERR_PHYS_UNAVAILABLE   0x8013
#define DPMI_ERR_HANDLE_UNAVAILABLE 0x8016
#define DPMI_ERR_LOCK_COUNT         0x8017
#define DPMI_ERR_INVALID_VALUE      0x8021
#define DPMI_ERR_INVALID_HANDLE     0x8023
#define DPMI_ERR_INVALID_LINEAR     0x8025
/* DOS errors returned by 0100h/0101h */
#define DOS_ERR_MCB_DESTROYED       0x0007
#define DOS_ERR_INSUFFICIENT_MEMORY 0x0008
#define DOS_ERR_INVALID_BLOCK       0x0009

#define DPMI_LINEAR_BASE 0x08000000u   /* DPMI blocks live in 128..256 MiB of user space */
#define DPMI_MAX_BLOCKS  256u          /* table capacity, reserved at init (8016h when full) */

/* One DPMI memory block. Layout is part of the debugger contract. */
struct dpmi_block {
    uint32_t handle;       /* never 0 */
    chain_id_t chain;
    uint32_t linear;       /* where it is mapped in the owner's user space */
    uint32_t size;         /* bytes asked for, rounded up to pages */
    uint32_t owner_pid;
    uint32_t lock_count;   /* 0600h/0601h on any part of it; while > 0 the chain is frozen */
};
extern struct vector dpmi_blocks;   /* of struct dpmi_block */

/* Sets up the block table (capacity DPMI_MAX_BLOCKS, reserved now so it never grows)
 * and the relocation listener. Panics if the heap cannot hold the table. */
void dpmi_init(void);
/* INT 31h dispatcher for AX = 0100h, 0101h, 0102h, 0500h, 0501h, 0502h, 0503h, 0600h,
 * 0601h; anything else answers DPMI_ERR_UNSUPPORTED. Maps into the current process's UPD.
 * Pointers (0500h's ES:EDI) are flat: EDI is a kernel-virtual address or an address in
 * the current process's user space; ES is ignored. DOS blocks (0100h) are owned by pid+1
 * and their "selector" is the real-mode segment itself. */
void dpmi_dispatch(struct rm_regs *r);
/* Frees every DPMI block and DOS block of process `pid` (call it before the process's
 * UPD is released). */
void dpmi_release_process(uint32_t pid);
#endif
