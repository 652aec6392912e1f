/* boot.S: Multiboot v1 header and the first instructions. QEMU jumps here at the physical
 * entry point with paging off; we build a boot page directory that maps the first 16 MiB
 * both at 0 and at 0xC0000000 with 4 MiB pages, turn paging on, and enter kmain in the
 * higher half. kmain then builds the real KPD (mm/paging.c). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, provide memory info */
#define KERNEL_VBASE 0xC0000000

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .boot.text, "ax"
    .global _start
    .global _start_phys
    .set _start_phys, _start - KERNEL_VBASE
    .type _start, @function
_start:
    cli
    movl $(boot_stack_top - KERNEL_VBASE), %esp
    movl %eax, %esi                     /* multiboot magic */
    movl %ebx, %edi                     /* multiboot info (physical) */

    /* boot_pd[i] = boot_pd[768 + i] = i * 4 MiB | PS | W | P, for i = 0..3 */
    movl $(boot_pd - KERNEL_VBASE), %edx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $22, %eax
    orl $0x83, %eax
    movl %eax, (%edx, %ecx, 4)
    movl %eax, 3072(%edx, %ecx, 4)
    incl %ecx
    cmpl $4, %ecx
    jne 1b

    movl %cr4, %eax
    orl $0x10, %eax                     /* CR4.PSE */
    movl %eax, %cr4
    movl %edx, %cr3                     /* @dap:load-cr3 (paging is still off here) */
    movl %cr0, %eax
    orl $0x80010000, %eax               /* CR0.PG | CR0.WP */
    movl %eax, %cr0
    lea higher_half, %eax
    jmp *%eax

    .text
higher_half:
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp
    pushl %edi
    pushl %esi
    call kmain
2:  cli
    hlt
    jmp 2b

    .bss
    .align 4096
    .global boot_pd
boot_pd:
    .skip 4096
    .align 16
    .global boot_stack
boot_stack:
    .skip 16384
    .global boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
