/*
 * Interrupt and exception entry stubs. Each vector's stub makes the stack look the same — an error
 * code (the CPU's, or 0 for vectors without one), then the vector number — and jumps to a common
 * path that saves the general registers as a TrapFrame (kernel/base/Interrupts.h) and calls
 * x86_trap_dispatch(TrapFrame*). Intel SDM Vol. 3A 6.12.1 and Table 6-1 list which exceptions
 * push an error code: 8, 10-14, 17, 21, 29, 30.
 */

    .section .text

.macro STUB_NO_ERROR vector
    .global interrupt_stub_\vector
interrupt_stub_\vector:
    pushq $0
    pushq $\vector
    jmp interrupt_common
.endm

.macro STUB_WITH_ERROR vector
    .global interrupt_stub_\vector
interrupt_stub_\vector:
    pushq $\vector
    jmp interrupt_common
.endm

interrupt_common:
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
    cld
    movq %rsp, %rdi
    /* The CPU aligned RSP to 16 before its pushes; 22 quadwords later it is aligned again. */
    call x86_trap_dispatch
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

STUB_NO_ERROR 0
STUB_NO_ERROR 1
STUB_NO_ERROR 2
STUB_NO_ERROR 3
STUB_NO_ERROR 4
STUB_NO_ERROR 5
STUB_NO_ERROR 6
STUB_NO_ERROR 7
STUB_WITH_ERROR 8
STUB_NO_ERROR 9
STUB_WITH_ERROR 10
STUB_WITH_ERROR 11
STUB_WITH_ERROR 12
STUB_WITH_ERROR 13
STUB_WITH_ERROR 14
STUB_NO_ERROR 15
STUB_NO_ERROR 16
STUB_WITH_ERROR 17
STUB_NO_ERROR 18
STUB_NO_ERROR 19
STUB_NO_ERROR 20
STUB_WITH_ERROR 21
STUB_NO_ERROR 22
STUB_NO_ERROR 23
STUB_NO_ERROR 24
STUB_NO_ERROR 25
STUB_NO_ERROR 26
STUB_NO_ERROR 27
STUB_NO_ERROR 28
STUB_WITH_ERROR 29
STUB_WITH_ERROR 30
STUB_NO_ERROR 31
.irp vector, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
STUB_NO_ERROR \vector
.endr
STUB_NO_ERROR 255

    .section .rodata
    .balign 8
    .global interrupt_stub_table
/* Addresses of the stubs for vectors 0-47, then 255 (spurious) at index 48. */
interrupt_stub_table:
.irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,255
    .quad interrupt_stub_\vector
.endr
