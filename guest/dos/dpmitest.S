/* dpmitest.S: a DPMI client. INT 2Fh AX=1687h finds the host, the program allocates the
 * host's data (INT 21h 48h), far-calls the mode-switch entry with AX=1 (32-bit client) and
 * goes on in protected mode: INT 31h allocates LDT descriptors, a memory block (0501h), points
 * a descriptor at it (0007h base, 0008h limit), writes and reads through that selector,
 * resizes (0503h), locks (0600h/0601h), queries (0500h), uses DOS memory (0100h-0102h),
 * frees everything, and ends with INT 21h AX=4C00h. */
#include "dos.inc"
#define DPMI int $0x31

_start:
    mov $0x1687, %ax                /* 1: a host is present */
    int $0x2F
    cmp $0, %ax
    FAILIF(ne, 1)
    test $1, %bx                    /* 2: it runs 32-bit programs */
    FAILIF(z, 2)
    mov %di, entry
    mov %es, entry+2
    push %ds
    pop %es
    mov %si, hostparas

    mov $0x48, %ah                  /* 3: its data */
    mov hostparas, %bx
    int $0x21
    FAILIF(c, 3)
    mov %ax, %es
    mov $1, %ax                     /* 4: the switch */
    lcallw *entry
    FAILIF(c, 4)

    /* protected mode from here: CS, DS, SS are selectors of the same segments */
    mov %cs, %ax                    /* 5: CS is an LDT selector of ring 3 */
    and $7, %ax
    cmp $7, %ax
    FAILIF(ne, 5)
    mov %ds, %ax
    and $7, %ax
    cmp $7, %ax
    FAILIF(ne, 6)
    cmpw $0x1687, magic             /* 7: DS still reaches our data */
    FAILIF(ne, 7)
    mov %es, %ax                    /* 8: ES is the PSP: INT 20h at 0 */
    and $7, %ax
    cmp $7, %ax
    FAILIF(ne, 8)
    cmpw $0x20CD, %es:0
    FAILIF(ne, 9)

    CHECKPOINT(1)
    mov $0x0400, %ax                /* 10: version 0.90, 32-bit */
    DPMI
    cmp $0x005A, %ax
    FAILIF(ne, 10)
    test $1, %bx
    FAILIF(z, 11)

    mov $0x0000, %ax                /* 12: two descriptors */
    mov $2, %cx
    DPMI
    FAILIF(c, 12)
    mov %ax, sel

    CHECKPOINT(2)
    mov $0x0501, %ax                /* 13: 64 KiB of memory */
    mov $0x0001, %bx
    mov $0x0000, %cx
    DPMI
    FAILIF(c, 13)
    mov %bx, lin+2
    mov %cx, lin
    mov %si, handle+2
    mov %di, handle

    mov $0x0007, %ax                /* 14: base of sel = the block */
    mov sel, %bx
    mov lin+2, %cx
    mov lin, %dx
    DPMI
    FAILIF(c, 14)
    mov $0x0008, %ax                /* 15: limit 64 KiB - 1 */
    mov sel, %bx
    xor %cx, %cx
    mov $0xFFFF, %dx
    DPMI
    FAILIF(c, 15)
    mov $0x0006, %ax                /* 16: get base returns it */
    mov sel, %bx
    DPMI
    FAILIF(c, 16)
    cmp lin+2, %cx
    FAILIF(ne, 17)
    cmp lin, %dx
    FAILIF(ne, 18)

    mov sel, %es                    /* 19: write and read through the selector */
    xor %di, %di
    mov $0x8000, %cx
    mov $0xC0DE, %ax
    cld
    rep stosw
    xor %di, %di
    mov $0x8000, %cx
    repe scasw
    FAILIF(ne, 19)
    movw $0xBEEF, %es:0xFFFE
    cmpw $0xBEEF, %es:0xFFFE
    FAILIF(ne, 20)

    CHECKPOINT(3)
    mov $0x0503, %ax                /* 21: resize to 128 KiB */
    mov $0x0002, %bx
    xor %cx, %cx
    mov handle+2, %si
    mov handle, %di
    DPMI
    FAILIF(c, 21)
    mov %bx, lin+2
    mov %cx, lin
    mov $0x0007, %ax                /* 22: follow it: new base, limit 128 KiB - 1 */
    mov sel, %bx
    mov lin+2, %cx
    mov lin, %dx
    DPMI
    FAILIF(c, 22)
    mov $0x0008, %ax
    mov sel, %bx
    mov $0x0001, %cx
    mov $0xFFFF, %dx
    DPMI
    FAILIF(c, 23)
    mov sel, %es                    /* 24: the contents moved with it */
    cmpw $0xBEEF, %es:0xFFFE
    FAILIF(ne, 24)
    cmpw $0xC0DE, %es:0
    FAILIF(ne, 25)
    mov $0x1FFFE, %ebx              /* 26: the new part, with a 32-bit offset */
    movw $0x5AA5, %es:(%ebx)
    cmpw $0x5AA5, %es:(%ebx)
    FAILIF(ne, 26)

    CHECKPOINT(4)
    mov $0x0600, %ax                /* 27: lock, unlock the block */
    mov lin+2, %bx
    mov lin, %cx
    mov $0x0002, %si
    xor %di, %di
    DPMI
    FAILIF(c, 27)
    mov $0x0601, %ax
    mov lin+2, %bx
    mov lin, %cx
    mov $0x0002, %si
    xor %di, %di
    DPMI
    FAILIF(c, 28)

    push %ds                        /* 29: 0500h free memory information into our buffer */
    pop %es
    movl $0, info
    mov $0x0500, %ax
    mov $info, %edi
    DPMI
    FAILIF(c, 29)
    cmpl $0, info
    FAILIF(e, 30)

    CHECKPOINT(5)
    mov $0x0100, %ax                /* 48: too much DOS memory: 8, BX = largest */
    mov $0xFFFF, %bx
    DPMI
    FAILIF(nc, 48)
    cmp $8, %ax
    FAILIF(ne, 49)
    cmp $0x20, %bx
    FAILIF(b, 50)
    mov $0x0100, %ax                /* 31: DOS memory: 20h paragraphs, a selector in DX */
    mov $0x20, %bx
    DPMI
    FAILIF(c, 31)
    mov %dx, dossel
    mov %ax, dosseg
    mov %dx, %fs                    /* 32: it is usable through the selector */
    movw $0x4321, %fs:0x1FE
    cmpw $0x4321, %fs:0x1FE
    FAILIF(ne, 32)
    mov $0x0102, %ax                /* 33: resize it to 40h paragraphs */
    mov $0x40, %bx
    mov dossel, %dx
    DPMI
    FAILIF(c, 33)
    mov dossel, %fs
    cmpw $0x4321, %fs:0x1FE         /* 34: same block, larger limit */
    FAILIF(ne, 34)
    movw $0x1111, %fs:0x3FE
    xor %ax, %ax
    mov %ax, %fs
    mov $0x0101, %ax                /* 35: free it */
    mov dossel, %dx
    DPMI
    FAILIF(c, 35)
    mov $0x0101, %ax                /* 36: again: error */
    mov dossel, %dx
    DPMI
    FAILIF(nc, 36)

    CHECKPOINT(6)
    mov $0x0502, %ax                /* 37: free the memory block */
    mov handle+2, %si
    mov handle, %di
    DPMI
    FAILIF(c, 37)
    mov $0x0502, %ax                /* 38: again: 8023h */
    mov handle+2, %si
    mov handle, %di
    DPMI
    FAILIF(nc, 38)
    cmp $0x8023, %ax
    FAILIF(ne, 39)

    CHECKPOINT(7)
    mov sel, %es
    mov $0x0001, %ax                /* 40: free both descriptors */
    mov sel, %bx
    DPMI
    FAILIF(c, 40)
    mov %es, %ax                    /* 41: ES held the freed selector: now 0 */
    cmp $0, %ax
    FAILIF(ne, 41)
    mov $0x0001, %ax
    mov sel, %bx
    add $8, %bx
    DPMI
    FAILIF(c, 42)
    mov $0x0001, %ax                /* 43: freeing again: 8022h */
    mov sel, %bx
    DPMI
    FAILIF(nc, 43)
    cmp $0x8022, %ax
    FAILIF(ne, 44)
    mov $0x0999, %ax                /* 45: an unsupported function: 8001h */
    DPMI
    FAILIF(nc, 45)
    cmp $0x8001, %ax
    FAILIF(ne, 46)

    CHECKPOINT(8)
    mov $0x09, %ah                  /* print from protected mode */
    mov $msg, %edx
    int $0x21
    mov $0xFF00, %ax
    int $0x21
    mov $0x4C00, %ax
    int $0x21
    mov $47, %dx
    jmp fail

    DOS_TAIL
    .balign 4
magic: .word 0x1687
entry: .word 0, 0
hostparas: .word 0
sel: .word 0
dossel: .word 0
dosseg: .word 0
lin: .long 0
handle: .long 0
info: .fill 48, 1, 0
msg: .ascii "dpmitest: protected mode done\r\n$"
    .section .note.GNU-stack, "", @progbits
