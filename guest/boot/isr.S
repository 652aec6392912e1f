/* isr.S: interrupt entry stubs (exceptions, IRQs, and the software vectors 0x30-0x33, 0x80,
 * 0x81 that int_set_handler can install). Every vector pushes (error code or 0) and its number, then
 * common_stub saves the registers as struct int_frame and calls interrupt_dispatch(frame),
 * which returns the stack pointer to resume: the same one, or another process's when the
 * scheduler switches. The frame is also what a new process's stack is built to look like. */
    .text
.macro ISR_NOERR n
    .global isr\n
isr\n:
    pushl $0
    pushl $\n
    jmp common_stub
.endm
.macro ISR_ERR n
    .global isr\n
isr\n:
    pushl $\n
    jmp common_stub
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_NOERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_NOERR 29
ISR_NOERR 30
ISR_NOERR 31
ISR_NOERR 32
ISR_NOERR 33
ISR_NOERR 34
ISR_NOERR 35
ISR_NOERR 36
ISR_NOERR 37
ISR_NOERR 38
ISR_NOERR 39
ISR_NOERR 40
ISR_NOERR 41
ISR_NOERR 42
ISR_NOERR 43
ISR_NOERR 44
ISR_NOERR 45
ISR_NOERR 46
ISR_NOERR 47
ISR_NOERR 48
ISR_NOERR 49
ISR_NOERR 50
ISR_NOERR 51
ISR_NOERR 128
ISR_NOERR 129

common_stub:
    pusha
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %fs
    movl %eax, %gs
    pushl %esp
    call interrupt_dispatch
    movl %eax, %esp
    .global interrupt_return
interrupt_return:
    popl %gs
    popl %fs
    popl %es
    popl %ds
    popa
    addl $8, %esp
    iret

    .section .rodata
    .global isr_table
isr_table:
    .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .long isr\n
    .endr
    /* extra vectors: (vector, stub) pairs, ended by 0 */
    .global isr_extra
isr_extra:
    .long 48, isr48, 49, isr49, 50, isr50, 51, isr51, 128, isr128, 129, isr129, 0, 0

    .section .note.GNU-stack, "", @progbits
