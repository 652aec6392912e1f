/* SMP test kernel: multiboot v1 entry for the bootstrap CPU, and the real-mode trampoline the
 * application processors start in (copied to 0x8000 by smp.c, started by INIT-SIPI-SIPI). The
 * kernel is identity-mapped and linked at 1 MiB. */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text
        .globl _start
_start:
        cli
        mov $bsp_stack_top, %esp
        push %ebx                       /* multiboot info */
        call kmain
1:      hlt
        jmp 1b

/* ---- the AP trampoline: 16-bit code, position independent except for its own copy at 0x8000 ---- */
#define TRAMPOLINE 0x8000
#define T(sym) (sym - trampoline_start + TRAMPOLINE)

        .globl trampoline_start, trampoline_end
        .code16
trampoline_start:
        cli
        xor %ax, %ax
        mov %ax, %ds
        lgdtl T(tramp_gdtr)
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $ap_entry32
        .align 8
tramp_gdt:
        .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: flat code */
        .quad 0x00cf92000000ffff        /* 0x10: flat data */
tramp_gdtr:
        .word 23
        .long T(tramp_gdt)
trampoline_end:

        .code32
ap_entry32:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $1, %eax
        lock xadd %eax, ap_next_slot    /* eax = this AP's slot (0, 1, 2) */
        mov %eax, %ebx
        inc %eax
        shl $12, %eax
        add $ap_stacks, %eax
        mov %eax, %esp
        mov %cr4, %eax
        or $0x10, %eax                  /* PSE */
        mov %eax, %cr4
        mov %ebx, %eax                  /* page directory of slot n: page_dirs[n + 1] */
        inc %eax
        shl $12, %eax
        add $page_dirs, %eax
        mov %eax, %cr3
        mov %cr0, %eax
        or $0x80000000, %eax
        mov %eax, %cr0
        push %ebx
        call ap_main
2:      hlt
        jmp 2b

        .section .bss
        .align 4096
        .globl ap_stacks
ap_stacks:
        .skip 4096 * 3
        .skip 4096
bsp_stack_top:

        .section .note.GNU-stack, "", @progbits
