/* x86-64/switch.S: the context switch of the two worker threads and the first frame of a thread
 * (the 64-bit counterpart of ../switch.S).
 *   void switch_to(uintptr_t *save_sp, uintptr_t new_sp, uintptr_t new_cr3)
 * saves the callee-saved registers on the old stack, stores its rsp, loads the new address
 * space (CR3) and the new stack, and returns on it. */
    .text
    .global switch_to
    .type switch_to, @function
switch_to:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    movq %rsp, (%rdi)
    movq %rdx, %cr3
    movq %rsi, %rsp
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size switch_to, . - switch_to

/* A new thread's stack holds (from rsp up): r15, r14, r13, r12, rbx, rbp for switch_to, the
 * address of thread_start, then the thread's entry function and its argument. thread_start is
 * the outermost frame: its return address is undefined, so unwinders stop here. After its two
 * pops rsp is the (16-byte aligned) top of the stack, as the call needs. */
    .global thread_start
    .type thread_start, @function
thread_start:
    .cfi_startproc
    .cfi_undefined %rip
    popq %rax               /* entry */
    popq %rdi               /* its argument */
    xorl %ebp, %ebp
    call *%rax              /* entry never returns */
1:  cli
    hlt
    jmp 1b
    .cfi_endproc
    .size thread_start, . - thread_start

    .section .note.GNU-stack, "", @progbits
