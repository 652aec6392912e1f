/* switch.S: the context switch of the two worker threads, and the first frame of a thread.
 *   void switch_to(uint32_t *save_esp, uint32_t new_esp, uint32_t new_cr3)
 * saves the callee-saved registers on the old stack, stores its esp, loads the new address
 * space (CR3) and the new stack, and returns on it. */
    .text
    .global switch_to
    .type switch_to, @function
switch_to:
    .cfi_startproc
    movl 4(%esp), %eax      /* save_esp */
    movl 8(%esp), %edx      /* new_esp */
    movl 12(%esp), %ecx     /* new_cr3 */
    pushl %ebp
    .cfi_adjust_cfa_offset 4
    pushl %ebx
    .cfi_adjust_cfa_offset 4
    pushl %esi
    .cfi_adjust_cfa_offset 4
    pushl %edi
    .cfi_adjust_cfa_offset 4
    movl %esp, (%eax)
    movl %ecx, %cr3
    movl %edx, %esp
    popl %edi
    .cfi_adjust_cfa_offset -4
    popl %esi
    .cfi_adjust_cfa_offset -4
    popl %ebx
    .cfi_adjust_cfa_offset -4
    popl %ebp
    .cfi_adjust_cfa_offset -4
    ret
    .cfi_endproc
    .size switch_to, . - switch_to

/* A new thread's stack holds (from esp up): edi, esi, ebx, ebp for switch_to, the address of
 * thread_start, then the thread's entry function and its argument. thread_start is the
 * outermost frame: its return address is undefined, so unwinders stop here. */
    .global thread_start
    .type thread_start, @function
thread_start:
    .cfi_startproc
    .cfi_undefined %eip
    popl %eax               /* entry */
    xorl %ebp, %ebp
    call *%eax              /* the argument is on the stack; entry never returns */
1:  cli
    hlt
    jmp 1b
    .cfi_endproc
    .size thread_start, . - thread_start

    .section .note.GNU-stack, "", @progbits
