/*
 * Switching kernel threads (System V AMD64 ABI).
 *
 * skiff_switch_context(u64* save_rsp, u64 load_rsp): the caller has saved whatever the ABI lets a
 * call clobber, so only the callee-saved registers (rbx, rbp, r12-r15) and RFLAGS go on the old
 * stack; its rsp goes to *save_rsp; then the new thread's stack is loaded and the same registers
 * popped. RFLAGS travels with the thread for its AC bit: a thread preempted inside a user-access
 * window (SMAP) keeps it open, and the thread switched to does not inherit it. IF is 0 on both
 * sides (the switch runs with interrupts off).
 * `ret` returns into the new thread where it last called this function — or, for a thread that
 * never ran, into skiff_thread_trampoline. Called with interrupts off; each thread restores its own
 * interrupt state when it resumes (its InterruptDisabler, or iretq for a preempted one).
 */
    .section .text
    .global skiff_switch_context
    .type skiff_switch_context, @function
skiff_switch_context:
    pushfq
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popfq
    ret
    .size skiff_switch_context, . - skiff_switch_context

/*
 * First code a new thread runs. Scheduler::create_thread built its stack so that the pops above
 * leave r12 = the Thread*, and rsp 16-byte aligned here, as the ABI wants before a call.
 */
    .global skiff_thread_trampoline
    .type skiff_thread_trampoline, @function
skiff_thread_trampoline:
    movq %r12, %rdi
    xorl %ebp, %ebp /* the backtrace of a thread ends here */
    call skiff_thread_start
    ud2 /* skiff_thread_start does not return */
    .size skiff_thread_trampoline, . - skiff_thread_trampoline
