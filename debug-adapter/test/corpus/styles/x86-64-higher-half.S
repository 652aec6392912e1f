/* x86-64-higher-half.S: the x86-64 kernel linked at 0xFFFFFFFF80100000 (-mcmodel=kernel), loaded
 * at 1 MiB through the multiboot a.out kludge (x86-64-boot.inc). 4-level paging with 2 MiB pages:
 * one page directory maps physical 0-8 MiB; PML4[511] -> PDPT[510] (0xFFFFFFFF80000000) and, for
 * the jump, PML4[0] -> PDPT[0] (identity) point to it; the identity entry is cleared once the
 * kernel runs high. */
#define KERNEL_VBASE 0xFFFFFFFF80000000
#define EFER_BITS 0

#include "x86-64-boot.inc"

    .text
    .code32
/* Fills the PML4 (boot_root), the two PDPTs and the page directory (physical addresses). */
fill_tables:
    movl $PHYS(pd), %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x083, %eax                    /* PS | W | P: 2 MiB */
    movl %eax, (%edi, %ecx, 8)
    movl $0, 4(%edi, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    leal PHYS(pd) + 0x003, %eax
    movl %eax, PHYS(pdpt_low)           /* PDPT_low[0] */
    movl %eax, PHYS(pdpt_high) + 510 * 8 /* PDPT_high[510] */
    leal PHYS(pdpt_low) + 0x003, %eax
    movl %eax, PHYS(boot_root)          /* PML4[0] */
    leal PHYS(pdpt_high) + 0x003, %eax
    movl %eax, PHYS(boot_root) + 511 * 8 /* PML4[511] */
    ret

    .bss
    .align 4096
pdpt_low:
    .skip 4096
pdpt_high:
    .skip 4096
pd:
    .skip 4096

    .section .note.GNU-stack, "", @progbits
