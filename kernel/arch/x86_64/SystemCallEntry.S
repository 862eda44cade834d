/*
 * User mode on x86-64: the SYSCALL entry and its way back, the first entry into user mode, and the
 * kernel's fault-safe copies to and from user memory.
 *
 * SYSCALL (Intel SDM Vol. 2B) loads RIP from LSTAR, saves the user RIP in rcx and RFLAGS in r11,
 * clears the RFLAGS bits SFMASK names (IF, so the entry runs with interrupts off; DF, TF, AC) and
 * loads the kernel CS and SS from STAR. It does not switch stacks: the entry does, to the current
 * thread's kernel entry stack (the same top as TSS.RSP0), through a scratch word. One CPU, and
 * interrupts off until the frame is built, so the globals cannot be raced.
 *
 * The frame built is a TrapFrame (TrapFrame.h) with vector kSystemCallVector, shaped exactly as
 * an interrupt from user mode would have left it, so the rest of the kernel treats both alike.
 * The way back is SYSRETQ when the frame still describes an ordinary return to 64-bit user code
 * at a canonical lower-half address (SYSRET to a non-canonical RIP would fault in ring 0 on some
 * CPUs), else IRETQ.
 */

    .set KERNEL_STACK_SEGMENT, 0x10
    .set USER_DATA_SELECTOR, 0x1b
    .set USER_CODE_SELECTOR, 0x23
    .set SYSTEM_CALL_VECTOR, 0x100
    /* Byte offsets into TrapFrame: 15 registers, vector, error code, then rip, cs, rflags, rsp, ss. */
    .set FRAME_RIP, 17 * 8
    .set FRAME_CS, 18 * 8
    .set FRAME_RFLAGS, 19 * 8
    .set FRAME_RSP, 20 * 8
    .set FRAME_SS, 21 * 8

    .section .bss
    .balign 8
    .global x86_kernel_entry_stack
x86_kernel_entry_stack:
    .quad 0
x86_user_stack_scratch:
    .quad 0

    .section .text
    .global x86_system_call_entry
    .type x86_system_call_entry, @function
x86_system_call_entry:
    movq %rsp, x86_user_stack_scratch(%rip)
    movq x86_kernel_entry_stack(%rip), %rsp
    pushq $USER_DATA_SELECTOR
    pushq x86_user_stack_scratch(%rip)
    pushq %r11 /* user RFLAGS */
    pushq $USER_CODE_SELECTOR
    pushq %rcx /* user RIP */
    pushq $0
    pushq $SYSTEM_CALL_VECTOR
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    xorl %ebp, %ebp /* a backtrace ends at the user boundary */
    movq %rsp, %rdi
    /* 22 quadwords below a 16-byte aligned stack top: aligned for the call. */
    call x86_system_call_dispatch
    cli
    /* SYSRETQ only for a plain return to 64-bit user code at a lower-half address. */
    cmpq $USER_CODE_SELECTOR, FRAME_CS(%rsp)
    jne x86_return_with_iret
    cmpq $USER_DATA_SELECTOR, FRAME_SS(%rsp)
    jne x86_return_with_iret
    movq FRAME_RIP(%rsp), %rax
    shrq $47, %rax
    jnz x86_return_with_iret
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11 /* replaced below by RFLAGS */
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx /* replaced below by RIP */
    popq %rbx
    popq %rax
    addq $16, %rsp /* vector, error code */
    movq (%rsp), %rcx
    movq 16(%rsp), %r11
    movq 24(%rsp), %rsp
    sysretq
    .size x86_system_call_entry, . - x86_system_call_entry

x86_return_with_iret:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/*
 * [[noreturn]] void x86_enter_user_mode(u64 entry, u64 stack_pointer, u64 argument0, u64 argument1)
 * An IRETQ frame to ring 3 with interrupts on; every other register cleared so nothing of the
 * kernel leaks into the task. stack_pointer is 16-byte aligned with zeros below it: the task starts
 * as if called, rsp = stack_pointer - 8 holding a zero return address (lib/Abi.h).
 */
    .global x86_enter_user_mode
    .type x86_enter_user_mode, @function
x86_enter_user_mode:
    cli
    subq $8, %rsi
    pushq $USER_DATA_SELECTOR
    pushq %rsi
    pushq $0x202 /* IF, and the always-one bit */
    pushq $USER_CODE_SELECTOR
    pushq %rdi
    movq %rdx, %rdi
    movq %rcx, %rsi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    iretq
    .size x86_enter_user_mode, . - x86_enter_user_mode

/*
 * u64 x86_copy_user(void* to, void const* from, u64 count): returns the bytes NOT copied (0 on
 * success). Eight bytes per iteration, then the tail (see Copy.cpp for why under TCG). A page
 * fault at one of the two string instructions that mm/ cannot resolve resumes at its fixup with
 * rcx still counting what was left (Traps.cpp consults x86_user_copy_fixups). The caller opens
 * the user-access window.
 */
    .global x86_copy_user
    .type x86_copy_user, @function
x86_copy_user:
    movq %rdx, %rcx
    shrq $3, %rcx
    andl $7, %edx
x86_copy_user_quads:
    rep movsq
    movq %rdx, %rcx
x86_copy_user_bytes:
    rep movsb
    xorl %eax, %eax
    ret
x86_copy_user_quads_fixup:
    leaq (%rdx, %rcx, 8), %rax
    ret
x86_copy_user_bytes_fixup:
    movq %rcx, %rax
    ret
    .size x86_copy_user, . - x86_copy_user

    .section .rodata
    .balign 8
    .global x86_user_copy_fixups
/* Pairs (faulting instruction, where to resume), ended by a zero pair. */
x86_user_copy_fixups:
    .quad x86_copy_user_quads, x86_copy_user_quads_fixup
    .quad x86_copy_user_bytes, x86_copy_user_bytes_fixup
    .quad 0, 0
