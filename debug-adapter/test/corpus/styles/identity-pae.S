/* identity-pae.S: the identity style with PAE paging. The kernel is linked and loaded at 1 MiB;
 * PDPT[0] holds the page directory of pae-boot.inc (4 KiB pages for 0-2 MiB with NX on data,
 * 2 MiB pages with NX for 2-8 MiB), so physical 0-8 MiB is mapped at the same virtual addresses. */
#define KERNEL_VBASE 0
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
    movl $boot_stack_top, %esp
    movl %eax, %esi
    call pae_require_nx
    call pae_fill_tables
    leal pae_pd_kernel + 1, %eax
    movl %eax, boot_root                /* PDPT[0] */
    call pae_enable
    xorl %ebp, %ebp
    pushl %esi
    call kmain
2:  cli
    hlt
    jmp 2b
    .size _start, . - _start

    .bss
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
