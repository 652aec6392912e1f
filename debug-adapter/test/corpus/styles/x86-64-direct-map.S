/* x86-64-direct-map.S: the x86-64 kernel linked at 0xFFFFFFFF80100000 (-mcmodel=kernel), loaded
 * at 1 MiB through the multiboot a.out kludge (x86-64-boot.inc). 4-level paging with 1 GiB pages
 * only (the CPU needs pdpe1gb: -cpu max): a direct map of physical 0-4 GiB at 0xFFFF800000000000
 * (PML4[256], four 1 GiB pages with NX; the console reaches the VGA buffer through it,
 * PHYS_MAP_BASE), the kernel's 1 GiB page at 0xFFFFFFFF80000000 (PML4[511] -> PDPT[510]), and an
 * identity 1 GiB page for the jump (PML4[0]), cleared once the kernel runs high. EFER.NXE. */
#define KERNEL_VBASE 0xFFFFFFFF80000000
#define EFER_BITS 0x800

#include "x86-64-boot.inc"

    .text
    .code32
/* Fills the PML4 (boot_root) and the three PDPTs (physical addresses), after checking for 1 GiB
 * pages (CPUID 0x80000001 EDX bit 26). */
fill_tables:
    movl $0x80000001, %eax
    cpuid
    btl $26, %edx
    jc 2f
    movl $PHYS(no_1g_text), %ebx
    jmp boot_fail
2:
    movl $0x083, PHYS(pdpt_low)         /* 0-1 GiB, PS | W | P */
    movl $0x083, PHYS(pdpt_high) + 510 * 8
    movl $PHYS(pdpt_direct), %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $30, %eax
    orl $0x083, %eax
    movl %eax, (%edi, %ecx, 8)
    movl $0x80000000, 4(%edi, %ecx, 8)  /* NX */
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    leal PHYS(pdpt_low) + 0x003, %eax
    movl %eax, PHYS(boot_root)          /* PML4[0] */
    leal PHYS(pdpt_direct) + 0x003, %eax
    movl %eax, PHYS(boot_root) + 256 * 8 /* PML4[256]: 0xFFFF800000000000 */
    leal PHYS(pdpt_high) + 0x003, %eax
    movl %eax, PHYS(boot_root) + 511 * 8 /* PML4[511] */
    ret

    .section .rodata
no_1g_text:
    .asciz "corpus: the CPU has no 1 GiB pages (x86-64-direct-map needs -cpu max or qemu64,+pdpe1gb)\n"

    .bss
    .align 4096
pdpt_low:
    .skip 4096
pdpt_high:
    .skip 4096
pdpt_direct:
    .skip 4096

    .section .note.GNU-stack, "", @progbits
