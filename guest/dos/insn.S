/* insn.S: the sensitive instructions the monitor emulates in V86 mode: CLI/STI (a virtual
 * IF seen through PUSHF), POPF keeping the arithmetic flags, PUSHFD/POPFD, IRET, INT n
 * reflected through the task's own IVT (a handler the program installs), INT3, and the
 * default IVT vectors (an IRET stub). */
#include "dos.inc"
_start:
    cli                             /* 1: CLI clears the virtual IF */
    pushf
    pop %ax
    test $0x200, %ax
    FAILIF(nz, 1)
    sti                             /* 2: STI sets it */
    pushf
    pop %ax
    test $0x200, %ax
    FAILIF(z, 2)

    mov $0x0001, %ax                /* 3: POPF loads CF and the virtual IF (here clear) */
    push %ax
    popf
    FAILIF(nc, 3)
    pushf
    pop %ax
    test $0x200, %ax
    FAILIF(nz, 4)
    mov $0x0200, %ax                /* 5: POPF with IF set, CF clear */
    push %ax
    popf
    FAILIF(c, 5)
    pushf
    pop %ax
    test $0x200, %ax
    FAILIF(z, 6)
    test $0x3000, %ax               /* 7: the task sees IOPL 0 */
    FAILIF(nz, 7)

    pushfl                          /* 8: PUSHFD/POPFD (operand-size prefix) */
    popl %eax
    test $0x200, %eax
    FAILIF(z, 8)
    test $0x20000, %eax             /* 9: VM is not visible */
    FAILIF(nz, 9)
    orl $0x0001, %eax
    pushl %eax
    popfl
    FAILIF(nc, 10)
    clc

    pushf                           /* 11: IRET to a label */
    push %cs
    push $after_iret
    iret
    jmp fail_11
after_iret:

    xor %ax, %ax                    /* 12: install a handler for INT 60h in the IVT, call it */
    mov %ax, %es
    movw $handler60, %es:0x180
    mov %cs, %es:0x182
    push %ds
    pop %es
    movw $0, hits
    mov $0x1234, %bx
    sti
    int $0x60
    cmpw $1, hits
    FAILIF(ne, 12)
    cmp $0x1235, %bx                /* 13: the handler ran with our registers */
    FAILIF(ne, 13)
    pushf                           /* 14: IRET restored the virtual IF */
    pop %ax
    test $0x200, %ax
    FAILIF(z, 14)
    mov $1, %al                     /* 15: the handler saw IF clear */
    cmp intflag, %al
    FAILIF(ne, 15)

    xor %ax, %ax                    /* 16: INT3 reflected through vector 3 */
    mov %ax, %es
    movw $handler60, %es:0x0C
    mov %cs, %es:0x0E
    push %ds
    pop %es
    int3
    cmpw $2, hits
    FAILIF(ne, 16)

    int $0x10                       /* 17: a vector the program did not set: IRET stub */
    int $0x16
    jmp pass
fail_11:
    mov $11, %dx
    jmp fail

handler60:
    incw %cs:hits
    inc %bx
    pushf
    pop %ax
    test $0x200, %ax
    setz %al
    mov %al, %cs:intflag
    iret

    DOS_TAIL
hits: .word 0
intflag: .byte 0
    .section .note.GNU-stack, "", @progbits
