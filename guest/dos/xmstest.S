/* xmstest.S: every XMS function the guest implements, reached the way a DOS program does:
 * INT 2Fh AX=4300h (installed), AX=4310h (the entry point), then far calls to it. Moves go
 * conventional -> extended -> conventional (the program's own buffer and a DOS block) with
 * the data checked; lock returns a 32-bit address. */
#include "dos.inc"
#define XMS lcallw *xms_entry

/* Sets up the move structure: length, source handle:offset, destination handle:offset. */
.macro MOVE len, sh, soff, dh, doff
    movl \len, %eax
    movl %eax, mv_len
    movw \sh, %ax
    movw %ax, mv_sh
    movl \soff, %eax
    movl %eax, mv_soff
    movw \dh, %ax
    movw %ax, mv_dh
    movl \doff, %eax
    movl %eax, mv_doff
    mov $0x0B, %ah
    mov $mv_len, %si
    XMS
.endm

_start:
    mov %ds, conv_buf1+2            /* far pointers to our buffers */
    mov %ds, conv_buf2+2
    mov $0x4300, %ax                /* 1: installed */
    int $0x2F
    cmp $0x80, %al
    FAILIF(ne, 1)
    mov $0x4310, %ax                /* 2: the entry point */
    int $0x2F
    mov %bx, xms_entry
    mov %es, xms_entry+2
    push %ds
    pop %es
    mov xms_entry+2, %ax
    or xms_entry, %ax
    FAILIF(z, 2)

    CHECKPOINT(1)
    mov $0x00, %ah                  /* 3: 00h version 3.00, no HMA */
    XMS
    cmp $0x0300, %ax
    FAILIF(ne, 3)
    cmp $0, %dx
    FAILIF(ne, 4)

    mov $0x08, %ah                  /* 5: 08h query free: AX largest > 0, DX total >= AX */
    XMS
    cmp $0, %ax
    FAILIF(e, 5)
    cmp %ax, %dx
    FAILIF(b, 6)
    cmp $0, %bl
    FAILIF(ne, 7)

    CHECKPOINT(2)
    mov $0x09, %ah                  /* 8: 09h allocate 64 KiB */
    mov $64, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 8)
    mov %dx, h1

    mov $0x0E, %ah                  /* 9: 0Eh handle info: 64 KiB, not locked */
    mov h1, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 9)
    cmp $64, %dx
    FAILIF(ne, 10)
    cmp $0, %bh
    FAILIF(ne, 11)

    CHECKPOINT(3)
    mov $buf1, %di                  /* a pattern in the program's own memory */
    mov $512, %cx
    mov $0x1357, %ax
1:  stosw
    add $0x0101, %ax
    loop 1b

    MOVE $1024, $0, conv_buf1, h1, $4096     /* 12: 0Bh conventional -> extended */
    cmp $1, %ax
    FAILIF(ne, 12)
    MOVE $1024, h1, $4096, $0, conv_buf2     /* 13: extended -> conventional */
    cmp $1, %ax
    FAILIF(ne, 13)
    mov $buf1, %si                  /* 14: the data came back */
    mov $buf2, %di
    mov $512, %cx
    repe cmpsw
    FAILIF(ne, 14)

    mov $0x48, %ah                  /* 15: extended -> a DOS block of the arena */
    mov $0x40, %bx
    int $0x21
    FAILIF(c, 15)
    mov %ax, dosseg
    movw $0, conv_dos
    mov %ax, conv_dos+2
    MOVE $1024, h1, $4096, $0, conv_dos
    cmp $1, %ax
    FAILIF(ne, 16)
    mov dosseg, %es
    mov $buf1, %si
    xor %di, %di
    mov $512, %cx
    repe cmpsw
    FAILIF(ne, 17)
    push %ds
    pop %es
    mov $0x49, %ah
    mov dosseg, %es
    int $0x21
    FAILIF(c, 18)
    push %ds
    pop %es

    CHECKPOINT(4)
    MOVE $1023, $0, conv_buf1, h1, $0        /* 19: odd length: A7h */
    cmp $0, %ax
    FAILIF(ne, 19)
    cmp $0xA7, %bl
    FAILIF(ne, 20)
    MOVE $2, $0x7777, $0, h1, $0             /* 21: bad source handle: A3h */
    cmp $0xA3, %bl
    FAILIF(ne, 21)
    MOVE $2, $0, conv_buf1, h1, $0x10000     /* 22: destination past the block: A7h/A6h */
    cmp $0, %ax
    FAILIF(ne, 22)

    CHECKPOINT(9)
    mov $0x0C, %ah                  /* 23: 0Ch lock: a 32-bit address in DX:BX */
    mov h1, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 23)
    mov %dx, addr+2
    mov %bx, addr
    movl addr, %eax
    cmpl $0x100000, %eax            /* 24: above the first megabyte, 16 KiB aligned */
    FAILIF(b, 24)
    test $0x3FFF, %eax
    FAILIF(nz, 25)
    mov $0x0E, %ah                  /* 26: lock count 1 */
    mov h1, %dx
    XMS
    cmp $1, %bh
    FAILIF(ne, 26)
    mov $0x0A, %ah                  /* 27: free while locked: ABh */
    mov h1, %dx
    XMS
    cmp $0, %ax
    FAILIF(ne, 27)
    cmp $0xAB, %bl
    FAILIF(ne, 28)
    mov $0x0F, %ah                  /* 29: realloc while locked: ABh */
    mov $128, %bx
    mov h1, %dx
    XMS
    cmp $0xAB, %bl
    FAILIF(ne, 29)

    mov $0x0D, %ah                  /* 30: 0Dh unlock */
    mov h1, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 30)
    mov $0x0D, %ah                  /* 31: unlock again: AAh */
    mov h1, %dx
    XMS
    cmp $0xAA, %bl
    FAILIF(ne, 31)

    CHECKPOINT(5)
    mov $0x0F, %ah                  /* 32: 0Fh realloc to 128 KiB */
    mov $128, %bx
    mov h1, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 32)
    mov $0x0E, %ah                  /* 33: now 128 KiB */
    mov h1, %dx
    XMS
    cmp $128, %dx
    FAILIF(ne, 33)
    mov $buf2, %di                  /* 34: contents kept */
    mov $512, %cx
    xor %ax, %ax
    rep stosw
    MOVE $1024, h1, $4096, $0, conv_buf2
    cmp $1, %ax
    FAILIF(ne, 34)
    mov $buf1, %si
    mov $buf2, %di
    mov $512, %cx
    repe cmpsw
    FAILIF(ne, 35)
    MOVE $1024, $0, conv_buf1, h1, $0x1FC00  /* 36: the grown part is usable */
    cmp $1, %ax
    FAILIF(ne, 36)

    CHECKPOINT(6)
    mov $0x0A, %ah                  /* 37: 0Ah free */
    mov h1, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 37)
    mov $0x0A, %ah                  /* 38: free again: A2h */
    mov h1, %dx
    XMS
    cmp $0, %ax
    FAILIF(ne, 38)
    cmp $0xA2, %bl
    FAILIF(ne, 39)
    mov $0x0E, %ah                  /* 40: info of a freed handle: A2h */
    mov h1, %dx
    XMS
    cmp $0xA2, %bl
    FAILIF(ne, 40)

    CHECKPOINT(7)
    mov $0x01, %ah                  /* 41: request HMA: 90h (none) */
    XMS
    cmp $0, %ax
    FAILIF(ne, 41)
    cmp $0x90, %bl
    FAILIF(ne, 42)
    mov $0x03, %ah                  /* 43: global enable A20: ok */
    XMS
    cmp $1, %ax
    FAILIF(ne, 43)
    mov $0x04, %ah                  /* 44: global disable A20: 94h */
    XMS
    cmp $0x94, %bl
    FAILIF(ne, 44)
    mov $0x07, %ah                  /* 45: query A20: on */
    XMS
    cmp $1, %ax
    FAILIF(ne, 45)
    mov $0x10, %ah                  /* 46: request UMB: 80h not implemented */
    mov $1, %dx
    XMS
    cmp $0, %ax
    FAILIF(ne, 46)
    cmp $0x80, %bl
    FAILIF(ne, 47)
    mov $0x02, %ah                  /* 48: release HMA: 90h */
    XMS
    cmp $0x90, %bl
    FAILIF(ne, 48)
    mov $0x05, %ah                  /* 49: local enable A20: ok */
    XMS
    cmp $1, %ax
    FAILIF(ne, 49)
    mov $0x06, %ah                  /* 50: local disable A20: 94h */
    XMS
    cmp $0x94, %bl
    FAILIF(ne, 50)
    mov $0x11, %ah                  /* 51: release UMB: 80h */
    XMS
    cmp $0x80, %bl
    FAILIF(ne, 51)
    mov $0x12, %ah                  /* 52: reallocate UMB: 80h */
    XMS
    cmp $0x80, %bl
    FAILIF(ne, 52)
    mov $0x09, %ah                  /* 53: a zero-length block is legal, and freed */
    xor %dx, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 53)
    mov $0x0A, %ah
    XMS
    cmp $1, %ax
    FAILIF(ne, 54)
    CHECKPOINT(8)
    jmp pass

    DOS_TAIL
    .balign 4
xms_entry: .word 0, 0
h1: .word 0
dosseg: .word 0
    .balign 4
addr: .long 0
conv_buf1: .word buf1, 0             /* seg:off far pointers (segment set at start) */
conv_buf2: .word buf2, 0
conv_dos: .word 0, 0
mv_len: .long 0                      /* the move structure */
mv_sh: .word 0
mv_soff: .long 0
mv_dh: .word 0
mv_doff: .long 0
    .balign 2
buf1: .fill 1024, 1, 0
buf2: .fill 1024, 1, 0
    .section .note.GNU-stack, "", @progbits
