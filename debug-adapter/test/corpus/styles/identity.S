/* identity.S: boot of the "identity-mapped" style. The kernel is linked and loaded at 1 MiB;
 * two page tables map physical 0-8 MiB at the same virtual addresses with 4 KiB pages. */
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
    movl $boot_stack_top, %esp
    movl %eax, %esi
    movl $boot_pts, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    orl $0x003, %eax
    movl %eax, (%edi, %ecx, 4)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b
    leal 0x003(%edi), %eax
    movl %eax, boot_root
    addl $4096, %eax
    movl %eax, boot_root + 4
    movl $boot_root, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0
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
boot_pts:
    .skip 8192
    .align 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
