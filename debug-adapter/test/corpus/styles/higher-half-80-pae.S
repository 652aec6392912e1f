/* higher-half-80-pae.S: the higher-half-80 style with PAE paging. This file's .boot.* sections
 * (the multiboot header, _start and pae-boot.inc's routines) are linked and loaded at 1 MiB
 * (virtual = physical), the rest of the kernel at 0x80100000 and above. PDPT[2]
 * (0x80000000-0xBFFFFFFF) holds the kernel's page directory (pae-boot.inc: 4 KiB pages for
 * 0-2 MiB with NX on data, 2 MiB pages with NX for 2-8 MiB); PDPT[0] holds a boot directory with
 * one executable 2 MiB identity page, where _start goes on running once paging is on, cleared
 * once the kernel runs high. */
#define KERNEL_VBASE 0x80000000
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003
#define PAE_BOOT_SECTION .boot.text

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

#include "pae-boot.inc"

    .section .boot.text, "ax"
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
    movl %eax, 16(%edi)                 /* PDPT[2]: 0x80000000 */
    call pae_enable
    movl $higher_half, %eax
    jmp *%eax
    .size _start, . - _start

    .text
higher_half:
    movl $0, pae_pd_boot                /* drop the identity page */
    movl %cr3, %eax
    movl %eax, %cr3
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp
    pushl %esi
    call kmain
2:  cli
    hlt
    jmp 2b

    .bss
    .align 4096
pae_pd_boot:
    .skip 4096
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
