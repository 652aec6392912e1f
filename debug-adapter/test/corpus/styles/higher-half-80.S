/* higher-half-80.S: boot of the "higher half at 0x80000000, 4 KiB pages" style. This file's
 * .boot.* sections are linked and loaded at 1 MiB (virtual = physical), the rest of the kernel
 * at 0x80100000. One boot page table maps physical 0-4 MiB with 4 KiB pages, entered at PD[0]
 * (identity, for the jump) and PD[512] (0x80000000); PD[0] is cleared once we run high. */
#define KERNEL_VBASE 0x80000000
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .boot.text, "ax"
    .global _start
    .type _start, @function
_start:
    cli
    movl %eax, %esi
    movl $(boot_pt0 - KERNEL_VBASE), %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    orl $0x003, %eax                    /* W | P */
    movl %eax, (%edi, %ecx, 4)
    incl %ecx
    cmpl $1024, %ecx
    jne 1b
    movl $(boot_root - KERNEL_VBASE), %edx
    leal 0x003(%edi), %eax
    movl %eax, (%edx)                   /* PD[0] */
    movl %eax, 2048(%edx)               /* PD[512]: 0x80000000 */
    movl %edx, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax               /* PG | WP */
    movl %eax, %cr0
    movl $higher_half, %eax
    jmp *%eax
    .size _start, . - _start

    .text
higher_half:
    movl $0, boot_root
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
    .global boot_root
boot_root:
    .skip 4096
boot_pt0:
    .skip 4096
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
