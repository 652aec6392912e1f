/* dosdemo.S: the demo's DOS task. For a bounded number of rounds: takes a DOS block and an
 * XMS block, fills the DOS block, copies it to extended memory and back into its own buffer,
 * checks the data, frees both, prints a line, and waits 100 ms (INT 15h AH=86h). */
#include "dos.inc"
#define ROUNDS 20
#define XMS lcallw *xms_entry
_start:
    mov $0x4310, %ax
    int $0x2F
    mov %bx, xms_entry
    mov %es, xms_entry+2
    push %ds
    pop %es
    mov %ds, mv_doff+2
    movw $ROUNDS, left
round:
    mov $0x48, %ah                  /* 1: a DOS block of 4 KiB */
    mov $0x100, %bx
    int $0x21
    FAILIF(c, 1)
    mov %ax, dosseg
    mov $0x09, %ah                  /* 2: 16 KiB of XMS */
    mov $16, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 2)
    mov %dx, handle
    mov dosseg, %es                 /* fill the DOS block with the round's pattern */
    xor %di, %di
    mov $2048, %cx
    mov left, %ax
    imul $0x0101, %ax
    cld
    rep stosw
    push %ds
    pop %es
    movl $4096, mv_len              /* 3: DOS block -> XMS */
    movw $0, mv_sh
    movw $0, mv_soff
    mov dosseg, %ax
    mov %ax, mv_soff+2
    mov handle, %ax
    mov %ax, mv_dh
    movl $0, mv_doff
    mov $0x0B, %ah
    mov $mv_len, %si
    XMS
    cmp $1, %ax
    FAILIF(ne, 3)
    mov handle, %ax                 /* 4: XMS -> our buffer */
    mov %ax, mv_sh
    movl $0, mv_soff
    movw $0, mv_dh
    movw $buf, mv_doff
    mov %ds, mv_doff+2
    mov $0x0B, %ah
    mov $mv_len, %si
    XMS
    cmp $1, %ax
    FAILIF(ne, 4)
    mov $buf, %di                   /* 5: the data made the round trip */
    mov $2048, %cx
    mov left, %ax
    imul $0x0101, %ax
    repe scasw
    FAILIF(ne, 5)
    mov $0x0A, %ah                  /* 6: free both */
    mov handle, %dx
    XMS
    cmp $1, %ax
    FAILIF(ne, 6)
    mov $0x49, %ah
    mov dosseg, %es
    int $0x21
    FAILIF(c, 7)
    push %ds
    pop %es
    mov $0x86, %ah                  /* wait 100 ms */
    mov $0x0001, %cx
    mov $0x86A0, %dx
    int $0x15
    decw left
    jnz round
    mov $0x09, %ah
    mov $msg, %dx
    int $0x21
    jmp pass

    DOS_TAIL
    .balign 4
xms_entry: .word 0, 0
left: .word 0
dosseg: .word 0
handle: .word 0
mv_len: .long 0
mv_sh: .word 0
mv_soff: .long 0
mv_dh: .word 0
mv_doff: .long 0
msg: .ascii "dosdemo: 20 rounds of DOS block -> XMS -> conventional ok\r\n$"
    .balign 2
buf: .fill 4096, 1, 0
    .section .note.GNU-stack, "", @progbits
