/* x86-64/isr.S: the interrupt entry points of the x86-64 corpus kernels (the 64-bit counterpart
 * of ../isr.S). Exception stubs are 16 bytes apart (interrupts.c relies on it); each pushes a
 * zero error code when the CPU does not, then the vector. */
    .text
    .align 16
    .global exception_stub_table
exception_stub_table:
    .set vector, 0
    .rept 32
    .align 16
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21)
    nop
    nop
    .else
    pushq $0
    .endif
    pushq $vector
    jmp exception_common
    .set vector, vector + 1
    .endr

exception_common:
    /* stack: vector, error, rip, cs, rflags, rsp, ss */
    movq (%rsp), %rdi       /* vector */
    movq 8(%rsp), %rsi      /* error */
    movq 16(%rsp), %rdx     /* rip */
    andq $-16, %rsp
    call exception_handler
1:  cli
    hlt
    jmp 1b

/* The CPU aligns the stack to 16 and pushes 5 quadwords; the 9 saved registers make it 16-byte
 * aligned again for the call. */
    .global irq0_stub
    .type irq0_stub, @function
irq0_stub:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    cld
    call timer_irq
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq

    .global irq_spurious_stub
    .type irq_spurious_stub, @function
irq_spurious_stub:
    pushq %rax
    movb $0x20, %al
    outb %al, $0xA0
    outb %al, $0x20
    popq %rax
    iretq

    .section .note.GNU-stack, "", @progbits
