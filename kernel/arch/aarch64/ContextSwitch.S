/*
 * Switching kernel threads (AAPCS64).
 *
 * skiff_switch_context(u64* save_sp, u64 load_sp): the caller has saved whatever the procedure
 * call standard lets a call clobber, so only the callee-saved registers x19-x28, the frame pointer
 * x29 and the link register x30 go on the old stack; its sp goes to *save_sp; then the new
 * thread's stack is loaded and the same registers restored. `ret` returns into the new thread
 * where it last called this function, or, for a thread that never ran, into
 * skiff_thread_trampoline. Called with interrupts masked; each thread restores its own interrupt
 * state when it resumes (its InterruptDisabler, or ERET for a preempted one).
 */
    .section .text
    .global skiff_switch_context
    .type skiff_switch_context, %function
skiff_switch_context:
    sub sp, sp, #96
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    add sp, sp, #96
    ret
    .size skiff_switch_context, . - skiff_switch_context

/*
 * First code a new thread runs. arch::prepare_thread_stack built its stack so that the loads above
 * leave x19 = the Thread* and x29 = 0 (the backtrace of a thread ends here).
 */
    .global skiff_thread_trampoline
    .type skiff_thread_trampoline, %function
skiff_thread_trampoline:
    mov x0, x19
    bl skiff_thread_start
    brk #0 /* skiff_thread_start does not return */
    .size skiff_thread_trampoline, . - skiff_thread_trampoline
