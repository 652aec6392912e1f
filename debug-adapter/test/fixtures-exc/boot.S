/* Test kernel for CPU exception stops: multiboot v1 header, a flat GDT, the entry (physical,
 * identity-mapped), and one interrupt stub per vector the tests use. Each stub's first
 * instruction is the handler entry the debugger breaks on; the CPU-pushed frame is on the stack. */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003
    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .bss
    .align 16
stack_bottom:
    .skip 16384
    .globl stack_top
stack_top:

    .section .data
    .align 8
    .globl gdt
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: code, flat */
    .quad 0x00cf92000000ffff    /* 0x10: data, flat */
    .quad 0x00cffa000000ffff    /* 0x18: user code, flat */
    .quad 0x00cff2000000ffff    /* 0x20: user data, flat */
    .quad 0                     /* 0x28: the TSS, filled in by kmain.c */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt

#ifdef HIGHER_HALF
/* Linked at 0xC0100000, loaded at 0x100000: a boot directory maps both with 4 MiB pages. */
    .set BASE, 0xC0000000
    .section .data
    .align 4096
boot_directory:
    .long 0x83
    .fill 767, 4, 0
    .long 0x83
    .fill 255, 4, 0
#else
    .set BASE, 0
#endif

    .section .text
    .globl _start
_start:
    cli
#ifdef HIGHER_HALF
    mov $(boot_directory - BASE), %ecx
    mov %ecx, %cr3
    mov %cr4, %ecx
    or $0x10, %ecx              /* PSE */
    mov %ecx, %cr4
    mov %cr0, %ecx
    or $0x80000000, %ecx
    mov %ecx, %cr0
    lea 3f, %ecx
    jmp *%ecx
3:
#endif
    mov $stack_top, %esp
    push %ebx                   /* multiboot information */
    push %eax                   /* multiboot magic */
    lgdt gdt_pointer
    ljmp $0x08, $1f
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    call kmain
2:  cli
    hlt
    jmp 2b

/* enter_user(entry, stack): iret to ring 3 at entry with esp = stack (test=user-pf). */
    .globl enter_user
enter_user:
    mov 4(%esp), %ecx
    mov 8(%esp), %edx
    mov $0x23, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    push $0x23
    push %edx
    push $0x202 & ~0x200
    push $0x1b
    push %ecx
    iret

/* Vectors without an error code push a zero so every frame has the same layout. */
.macro STUB_NOERR vector
    .globl isr\vector
isr\vector:
    push $0
    push $\vector
    jmp isr_common
.endm
.macro STUB_ERR vector
    .globl isr\vector
isr\vector:
    push $\vector
    jmp isr_common
.endm

    STUB_NOERR 0
    STUB_NOERR 6
    STUB_ERR 8
    STUB_ERR 13
    STUB_ERR 14

/* A second #PF entry, for the IDT that test=reload-pf loads over the first one. */
    .globl isr14_alt
isr14_alt:
    push $14
    jmp isr_common

isr_common:
    pusha
    push %esp                   /* struct trap_frame * */
    call trap
    add $4, %esp
    popa
    add $8, %esp                /* vector and error code */
    iret
    .section .note.GNU-stack,"",@progbits
