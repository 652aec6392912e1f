/* memtest.S: INT 21h memory functions (48h allocate, 49h free, 4Ah resize) and their errors,
 * checked by the program itself (report: dos.inc). */
#include "dos.inc"
_start:
    mov $0x30, %ah                  /* 1: version 5 */
    int $0x21
    cmp $5, %al
    FAILIF(ne, 1)

    mov $0x48, %ah                  /* 2: allocate 100h paragraphs (4 KiB) */
    mov $0x100, %bx
    int $0x21
    FAILIF(c, 2)
    mov %ax, seg1
    cmp $0x1000, %ax                /* 3: inside the arena */
    FAILIF(b, 3)

    mov seg1, %es                   /* 4: the block is memory: write a pattern, read it back */
    xor %di, %di
    mov $0x800, %cx
    mov $0xA55A, %ax
    cld
    rep stosw
    xor %di, %di
    mov $0x800, %cx
    repe scasw
    FAILIF(ne, 4)
    push %ds
    pop %es

    mov $0x48, %ah                  /* 5: too big: error 8 and BX = largest */
    mov $0xFFFF, %bx
    int $0x21
    FAILIF(nc, 5)
    cmp $8, %ax
    FAILIF(ne, 6)
    cmp $0, %bx
    FAILIF(e, 7)
    cmp $0xFFFF, %bx
    FAILIF(e, 8)
    mov %bx, largest

    mov $0x48, %ah                  /* 9: the largest block can be had */
    mov largest, %bx
    int $0x21
    FAILIF(c, 9)
    mov %ax, seg2

    mov $0x49, %ah                  /* 10: free it */
    mov seg2, %es
    int $0x21
    FAILIF(c, 10)

    mov $0x49, %ah                  /* 11: freeing it again: error 9 */
    mov seg2, %es
    int $0x21
    FAILIF(nc, 11)
    cmp $9, %ax
    FAILIF(ne, 12)

    mov $0x49, %ah                  /* 13: free of a bad segment: error 9 */
    mov $0x1234, %bx
    mov %bx, %es
    int $0x21
    FAILIF(nc, 13)
    cmp $9, %ax
    FAILIF(ne, 14)

    mov $0x4A, %ah                  /* 15: grow seg1 in place to 200h paragraphs */
    mov seg1, %es
    mov $0x200, %bx
    int $0x21
    FAILIF(c, 15)

    mov $0x4A, %ah                  /* 16: shrink it to 10h */
    mov seg1, %es
    mov $0x10, %bx
    int $0x21
    FAILIF(c, 16)

    mov $0x4A, %ah                  /* 17: too big: error 8, BX = what it could get */
    mov seg1, %es
    mov $0xFFFF, %bx
    int $0x21
    FAILIF(nc, 17)
    cmp $8, %ax
    FAILIF(ne, 18)
    cmp $0x10, %bx
    FAILIF(b, 19)

    mov $0x4A, %ah                  /* 20: resize of a bad segment: error 9 */
    mov $0x1234, %bx
    mov %bx, %es
    mov $0x10, %bx
    int $0x21
    FAILIF(nc, 20)
    cmp $9, %ax
    FAILIF(ne, 21)

    mov seg1, %es                   /* 22: the first 10h paragraphs kept their contents */
    xor %di, %di
    mov $0x80, %cx
    mov $0xA55A, %ax
    repe scasw
    FAILIF(ne, 22)

    mov $0x49, %ah                  /* 23: free seg1 */
    mov seg1, %es
    int $0x21
    FAILIF(c, 23)
    push %ds
    pop %es

    mov $0x48, %ah                  /* 24: after the frees, the largest block is back */
    mov $0xFFFF, %bx
    int $0x21
    cmp largest, %bx
    FAILIF(b, 24)

    mov $0x77, %ah                  /* 25: an unknown function: CF, error 1 */
    int $0x21
    FAILIF(nc, 25)
    cmp $1, %ax
    FAILIF(ne, 26)
    jmp pass

    DOS_TAIL
seg1: .word 0
seg2: .word 0
largest: .word 0
    .section .note.GNU-stack, "", @progbits
