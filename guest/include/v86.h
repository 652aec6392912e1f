/* v86.h: DOS tasks. A DOS task is a process in virtual-8086 mode with its own first
 * megabyte, mapped through its UPD:
 *   0x00000-0x0FFFF  a private frozen chain (`low_chain`): IVT, BIOS data, the PSP and the
 *                    .COM program (PSP at psp_seg:0, code at psp_seg:0100h), its stack
 *   0x10000-0x9BFFF  the DOS arena, identity mapped: INT 21h allocations (MCB allocator, dos.h)
 *                    are owned by `mcb_owner` (pid + 1) and are visible at their real segment
 *   0x9C000-0xFFFFF  not mapped
 * The kernel's monitor handles the sensitive instructions (INT n, IRET, PUSHF, POPF, CLI,
 * STI) and the services: INT 21h (48h/49h/4Ah, 4Ch exit), INT 2Fh (4300h, 4310h, 1687h),
 * the XMS far-call entry and the DPMI mode switch (docs/guest-memory-services.md). */
#ifndef V86_H
#define V86_H
#include <stdint.h>
#include "mm.h"

/* A DOS task's state. The first fields are part of the debugger contract (mm_debug_info.v86_*). */
struct v86_task {
    chain_id_t low_chain;   /* the private first 64 KiB */
    uint32_t low_pages;     /* pages of it mapped from linear 0 */
    uint16_t mcb_owner;     /* owner id of its MCB blocks (pid + 1) */
    uint16_t psp_seg;       /* segment of its PSP */
    uint32_t status;        /* 0 running, 1 passed, 2 failed (its own report), 3 killed */
};
#endif
