/* higher-half-c0.S: boot of the "higher half at 0xC0000000, 4 MiB pages" style. The whole
 * kernel is linked at 0xC0100000 and loaded at 1 MiB; until paging is on, this code runs at its
 * physical address and refers to symbols as (symbol - KERNEL_VBASE). Two 4 MiB PSE entries map
 * physical 0-4 MiB at 0 and at 0xC0000000; the identity entry is removed once we run high. */
#define KERNEL_VBASE 0xC0000000
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .global _start
    .type _start, @function
_start:
    cli
    movl $(boot_stack_top - KERNEL_VBASE), %esp
    movl %eax, %esi
    movl $(boot_root - KERNEL_VBASE), %edx
    movl $0x00000083, (%edx)            /* PD[0]: 0-4 MiB, PS | W | P */
    movl $0x00000083, 3072(%edx)        /* PD[768]: 0xC0000000 */
    movl %cr4, %eax
    orl $0x10, %eax                     /* CR4.PSE */
    movl %eax, %cr4
    movl %edx, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax               /* PG | WP */
    movl %eax, %cr0
    lea 1f, %eax
    jmp *%eax
1:  movl $0, boot_root                    /* drop the identity entry */
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
    .global boot_root
boot_root:
    .skip 4096
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
