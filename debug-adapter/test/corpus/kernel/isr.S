/* isr.S: interrupt entry points. Exception stubs are 16 bytes apart (interrupts.c relies on
 * it); each pushes a zero error code when the CPU does not, then the vector. */
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
    pushl $0
    .endif
    pushl $vector
    jmp exception_common
    .set vector, vector + 1
    .endr

exception_common:
    /* stack: vector, error, eip, cs, eflags */
    pushl 8(%esp)       /* eip */
    pushl 8(%esp)       /* error */
    pushl 8(%esp)       /* vector */
    call exception_handler
1:  cli
    hlt
    jmp 1b

    .global irq0_stub
    .type irq0_stub, @function
irq0_stub:
    pushal
    cld
    call timer_irq
    popal
    iret

    .global irq_spurious_stub
    .type irq_spurious_stub, @function
irq_spurious_stub:
    pushl %eax
    movb $0x20, %al
    outb %al, $0xA0
    outb %al, $0x20
    popl %eax
    iret

    .section .note.GNU-stack, "", @progbits
