/* dos_programs.S: the DOS programs of guest/dos/ (built to flat .COM images in build/dos/ by
 * the Makefile), embedded in .rodata with a table of {name, start, size} ended by a 0 name
 * (struct dos_program, v86.h). */
    .section .rodata
.macro PROGRAM name
    .balign 4
prog_\name\()_start:
    .incbin "build/dos/\name\().com"
prog_\name\()_end:
prog_\name\()_name:
    .asciz "\name"
.endm
    PROGRAM memtest
    PROGRAM insn
    PROGRAM fault
    PROGRAM xmstest
    PROGRAM dpmitest
    PROGRAM dosdemo
    PROGRAM dpmifault

.macro ENTRY name
    .long prog_\name\()_name, prog_\name\()_start, prog_\name\()_end - prog_\name\()_start
.endm
    .balign 4
    .global dos_programs
dos_programs:
    ENTRY memtest
    ENTRY insn
    ENTRY fault
    ENTRY xmstest
    ENTRY dpmitest
    ENTRY dosdemo
    ENTRY dpmifault
    .long 0, 0, 0

    .section .note.GNU-stack, "", @progbits
