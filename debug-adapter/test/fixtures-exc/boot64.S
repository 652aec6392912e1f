/* The x86-64 exception test kernel's entry and interrupt stubs. A 32-bit multiboot v1 entry (a.out
 * kludge: QEMU loads the file raw) builds boot page tables (the first GiB identity-mapped and at
 * 0xffffffff80000000, 2 MiB pages), enables long mode and calls kmain in the higher half, which
 * builds its own tables. Each stub's first instruction is the handler entry the debugger breaks
 * on; the CPU-pushed long-mode frame (8-byte slots: [error code], rip, cs, rflags, rsp, ss) is on
 * the stack. */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00010003
	.set MB_CHECK, (0x100000000 - (MB_MAGIC + MB_FLAGS)) & 0xffffffff
	.set KERNEL_VMA, 0xffffffff80000000

	.section .boot.header, "a"
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long MB_CHECK
	.long mb_header
	.long __load_start
	.long __load_end
	.long __bss_end
	.long _start

	.section .boot.text, "ax"
	.code32
	.globl _start
_start:
	cli
	mov %eax, %edi
	mov %ebx, %esi
	xor %ecx, %ecx
fill_pd:
	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax
	mov %eax, boot_pd(,%ecx,8)
	movl $0, boot_pd+4(,%ecx,8)
	inc %ecx
	cmp $512, %ecx
	jne fill_pd
	movl $boot_pd + 3, boot_pdpt_low
	movl $boot_pd + 3, boot_pdpt_high + 510 * 8
	movl $boot_pdpt_low + 3, boot_pml4
	movl $boot_pdpt_high + 3, boot_pml4 + 511 * 8
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xC0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	lgdt boot_gdt_ptr
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	movabs $stack_top, %rsp
	xor %ebp, %ebp
	movabs $kmain, %rax
	call *%rax
halt_loop:
	cli
	hlt
	jmp halt_loop

	.section .boot.data, "a"
	.align 8
boot_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt - KERNEL_VMA

	.section .boot.tables, "aw", @progbits
	.align 4096
boot_pml4:
	.skip 4096
boot_pdpt_low:
	.skip 4096
boot_pdpt_high:
	.skip 4096
boot_pd:
	.skip 4096

	.section .data
	.align 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff    /* 0x08: kernel code, 64-bit */
	.quad 0x00cf92000000ffff    /* 0x10: kernel data */
	.quad 0x00affa000000ffff    /* 0x18: user code, 64-bit */
	.quad 0x00cff2000000ffff    /* 0x20: user data */
	.quad 0, 0                  /* 0x28: the 64-bit TSS (16 bytes), filled in by kmain64.c */
gdt_end:

	.section .bss
	.align 16
stack_bottom:
	.skip 16384
	.globl stack_top
stack_top:

	.section .text
/* enter_user(entry, stack): iretq to ring 3 at entry with rsp = stack (test=user-pf). */
	.globl enter_user
enter_user:
	mov $0x23, %ax
	mov %ax, %ds
	mov %ax, %es
	pushq $0x23
	pushq %rsi
	pushq $0x2
	pushq $0x1b
	pushq %rdi
	iretq

/* Vectors without an error code push a zero so every frame has the same layout. */
.macro STUB_NOERR vector
	.globl isr\vector
isr\vector:
	pushq $0
	pushq $\vector
	jmp isr_common
.endm
.macro STUB_ERR vector
	.globl isr\vector
isr\vector:
	pushq $\vector
	jmp isr_common
.endm

	STUB_NOERR 0
	STUB_NOERR 3
	STUB_NOERR 6
	STUB_ERR 8
	STUB_ERR 13
	STUB_ERR 14

/* A second #PF entry, for the IDT that test=reload-pf loads over the first one. */
	.globl isr14_alt
isr14_alt:
	pushq $14
	jmp isr_common

isr_common:
	push %rax
	push %rcx
	push %rdx
	push %rbx
	push %rbp
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi              /* struct trap_frame * */
	call trap
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rbp
	pop %rbx
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp               /* vector and error code */
	iretq
	.section .note.GNU-stack,"",@progbits
