/* fault.S: takes DOS and XMS memory, reports pass (so the test can tell the report from the
 * kill), then writes to B800:0000, which is not mapped in a DOS task: the page fault ends
 * the task, and the kernel must free everything it held. */
#include "dos.inc"
_start:
    mov $0x48, %ah                  /* 1: DOS memory */
    mov $0x200, %bx
    int $0x21
    FAILIF(c, 1)
    mov $0x4310, %ax                /* 2: XMS: 32 KiB */
    int $0x2F
    mov %bx, xms_entry
    mov %es, xms_entry+2
    push %ds
    pop %es
    mov $0x09, %ah
    mov $32, %dx
    lcallw *xms_entry
    cmp $1, %ax
    FAILIF(ne, 2)
    mov $0xFF00, %ax                /* report pass: the kill must override it */
    int $0x21
    mov $0xB800, %ax
    mov %ax, %es
    movw $0x0741, %es:0             /* page fault */
    mov $3, %dx
    jmp fail

    DOS_TAIL
xms_entry: .word 0, 0
    .section .note.GNU-stack, "", @progbits
