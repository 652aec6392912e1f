/* higher-half-c0-pae.S: the higher-half-c0 style with PAE paging. The kernel is linked at
 * 0xC0100000 and loaded at 1 MiB; until paging is on, this code runs at its physical address and
 * refers to symbols as (symbol - KERNEL_VBASE). PDPT[3] (0xC0000000-0xFFFFFFFF) holds the kernel's
 * page directory (pae-boot.inc: 4 KiB pages for 0-2 MiB with NX on data, 2 MiB pages with NX
 * for 2-8 MiB); PDPT[0] holds a boot directory with one executable 2 MiB identity page for the
 * jump, removed once we run high. */
#define KERNEL_VBASE 0xC0000000
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

#include "pae-boot.inc"

    .text
    .global _start
    .type _start, @function
_start:
    cli
    movl $(boot_stack_top - KERNEL_VBASE), %esp
    movl %eax, %esi
    call pae_require_nx
    call pae_fill_tables
    movl $(pae_pd_boot - KERNEL_VBASE), %edi
    movl $0x00000083, (%edi)            /* PD[0]: 0-2 MiB, PS | W | P, executable */
    movl $(boot_root - KERNEL_VBASE), %edi
    leal (pae_pd_boot - KERNEL_VBASE) + 1, %eax
    movl %eax, (%edi)                   /* PDPT[0]: the boot directory */
    leal (pae_pd_kernel - KERNEL_VBASE) + 1, %eax
    movl %eax, 24(%edi)                 /* PDPT[3]: 0xC0000000 */
    call pae_enable
    lea 1f, %eax
    jmp *%eax
1:  movl $0, pae_pd_boot                /* drop the identity page */
    movl %cr3, %eax
    movl %eax, %cr3
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp
    pushl %esi
    call kmain
2:  cli
    hlt
    jmp 2b
    .size _start, . - _start

    .bss
    .align 4096
pae_pd_boot:
    .skip 4096
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
