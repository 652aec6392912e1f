/*
 * 32-bit multiboot v1 entry of the x86-64 test kernel. The header uses the a.out kludge (flag bit
 * 16): QEMU's -kernel loader copies the file raw to load_addr and never reads the ELF64 headers.
 * The entry builds 4-level page tables (identity, a direct map at 0xffff800000000000 and the
 * kernel's higher half at 0xffffffff80000000, all with 2 MiB pages over the first GiB), enables
 * long mode (EFER.LME, NXE, SCE) and calls kmain at its higher-half address.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00010003
	.set MB_CHECK, (0x100000000 - (MB_MAGIC + MB_FLAGS)) & 0xffffffff

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
	mov %eax, %edx
	mov $0xff, %al
	out %al, $0xa1
	out %al, $0x21
	mov %edx, %eax
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
	movl $boot_pdpt_low + 3, boot_pml4 + 256 * 8
	movl $boot_pdpt_high + 3, boot_pml4 + 511 * 8
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xC0000080, %ecx
	rdmsr
	or $0x901, %eax
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
	movabs $kernel_stack_top, %rsp
	xor %ebp, %ebp
	movabs $kmain, %rax
	call *%rax
halt_loop:
	hlt
	jmp halt_loop

	.section .boot.data, "a"
	.align 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_ptr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

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

	.section .bss
	.align 16
kernel_stack:
	.skip 16384
	.globl kernel_stack_top
kernel_stack_top:

	.section .note.GNU-stack, "", @progbits
