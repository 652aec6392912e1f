/* dpmifault.S: a DPMI client that takes memory (0501h, 64 KiB), a descriptor and a DOS block
 * (0100h), tries to free its own CS and SS selectors (refused: 8022h), reports pass, then
 * reads through a descriptor whose base is unmapped linear memory: the page fault in
 * protected mode ends the task, and the kernel frees its DPMI block, DOS blocks and LDT with it. */
#include "dos.inc"
#define DPMI int $0x31
_start:
    mov $0x1687, %ax
    int $0x2F
    mov %di, entry
    mov %es, entry+2
    mov $0x48, %ah                  /* 1: host data */
    mov %si, %bx
    int $0x21
    FAILIF(c, 1)
    mov %ax, %es
    mov $1, %ax                     /* 2: the switch */
    lcallw *entry
    FAILIF(c, 2)
    mov $0x0501, %ax                /* 3: 64 KiB */
    mov $1, %bx
    xor %cx, %cx
    DPMI
    FAILIF(c, 3)
    mov $0x0000, %ax                /* 4: a descriptor */
    mov $1, %cx
    DPMI
    FAILIF(c, 4)
    mov %ax, sel
    mov $0x0007, %ax                /* its base: 240 MiB, where nothing is mapped */
    mov sel, %bx
    mov $0x0F00, %cx
    xor %dx, %dx
    DPMI
    FAILIF(c, 11)
    mov $0x0008, %ax
    mov sel, %bx
    xor %cx, %cx
    mov $0xFFFF, %dx
    DPMI
    FAILIF(c, 12)
    mov $0x0100, %ax                /* 5: a DOS block */
    mov $0x10, %bx
    DPMI
    FAILIF(c, 5)
    mov $0x0001, %ax                /* 6: freeing our own CS is refused */
    mov %cs, %bx
    DPMI
    FAILIF(nc, 6)
    cmp $0x8022, %ax
    FAILIF(ne, 7)
    mov $0x0001, %ax                /* 8: and SS */
    mov %ss, %bx
    DPMI
    FAILIF(nc, 8)
    mov $0x0009, %ax                /* 9: changing a loaded selector's access rights too */
    mov %ds, %bx
    mov $0xFA, %cl
    xor %ch, %ch
    DPMI
    FAILIF(nc, 9)
    mov $0xFF00, %ax
    int $0x21
    mov sel, %es
    mov %es:0, %ax                  /* page fault in protected mode */
    mov $10, %dx
    jmp fail

    DOS_TAIL
entry: .word 0, 0
sel: .word 0
    .section .note.GNU-stack, "", @progbits
