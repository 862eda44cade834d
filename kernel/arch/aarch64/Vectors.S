/*
 * The exception vector table (Arm ARM D1.10.2): 16 entries of 0x80 bytes, 2 KiB aligned, installed
 * in VBAR_EL1 by boot/aarch64/Boot.S. The kernel runs at EL1 on SP_EL1 ("current EL with SPx"):
 * those four entries do real work, and so do the synchronous and IRQ entries from a lower EL in
 * AArch64 (a task at EL0: its system calls, faults and interrupts). From EL0 the CPU switches to
 * SP_EL1, which holds the top of the task thread's kernel stack (the kernel erets to EL0 from
 * there, kernel/arch/aarch64/UserMode.cpp); the frame keeps SP_EL0, restored on the way back. The
 * rest (SP_EL0 at EL1, FIQ and SError from EL0, AArch32) cannot happen and are reported as such.
 *
 * Each path saves a TrapFrame (kernel/arch/aarch64/TrapFrame.h) on the current stack and calls
 * aarch64_exception(frame, kind) with interrupts masked (taking an exception masks them, D1.10.1);
 * on return the frame is restored and ERET resumes at ELR_EL1.
 *
 * Stack overflow: a synchronous exception first asks the MMU whether the frame it is about to push
 * fits (AT S1E1W on the lowest byte of the frame). When it does not, the stack pointer is in a
 * guard page, a push would fault again forever; the frame goes on an emergency stack instead and
 * is reported (the role x86-64's double fault on its IST stack plays).
 */

    .set FRAME_SIZE, 288
    .set KIND_SYNC, 0
    .set KIND_IRQ, 1
    .set KIND_FIQ, 2
    .set KIND_SERROR, 3
    .set KIND_UNEXPECTED, 4
    .set KIND_STACK_OVERFLOW, 5
    .set KIND_LOWER_SYNC, 6
    .set KIND_LOWER_IRQ, 7

/* Saves x0-x30, the interrupted sp, ELR, SPSR, ESR, FAR; x0 = frame afterwards. */
.macro SAVE_FRAME
    sub sp, sp, #FRAME_SIZE
    stp x0, x1, [sp, #0]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    add x0, sp, #FRAME_SIZE
    stp x30, x0, [sp, #240]
    mrs x1, elr_el1
    mrs x2, spsr_el1
    stp x1, x2, [sp, #256]
    mrs x1, esr_el1
    mrs x2, far_el1
    stp x1, x2, [sp, #272]
    mov x0, sp
.endm

.macro RESTORE_FRAME
    ldp x1, x2, [sp, #256]
    msr elr_el1, x1
    msr spsr_el1, x2
    ldp x0, x1, [sp, #0]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldr x30, [sp, #240]
    add sp, sp, #FRAME_SIZE
    eret
.endm

.macro ENTRY kind
    .balign 0x80
    SAVE_FRAME
    mov x1, #\kind
    b exception_common
.endm

/* From EL0: the same frame with SP_EL0 in its sp slot, and the way back restores SP_EL0. */
.macro LOWER_ENTRY kind
    .balign 0x80
    sub sp, sp, #FRAME_SIZE
    stp x0, x1, [sp, #0]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x0, sp_el0
    stp x30, x0, [sp, #240]
    mrs x1, elr_el1
    mrs x2, spsr_el1
    stp x1, x2, [sp, #256]
    mrs x1, esr_el1
    mrs x2, far_el1
    stp x1, x2, [sp, #272]
    mov x0, sp
    mov x1, #\kind
    b lower_common
.endm

    .section .text
    .balign 2048
    .global exception_vectors
exception_vectors:
    /* Current EL with SP_EL0: never used by the kernel. */
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    /* Current EL with SP_ELx: the kernel. */
    .balign 0x80
    b sync_entry
    ENTRY KIND_IRQ
    ENTRY KIND_FIQ
    ENTRY KIND_SERROR
    /* Lower EL, AArch64: a task. */
    LOWER_ENTRY KIND_LOWER_SYNC
    LOWER_ENTRY KIND_LOWER_IRQ
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    /* Lower EL, AArch32: never. */
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED
    ENTRY KIND_UNEXPECTED

exception_common:
    /* x0 = frame, x1 = kind; the frame is 16-byte aligned, so is sp. */
    bl aarch64_exception
    RESTORE_FRAME

lower_common:
    mov x29, xzr /* a backtrace ends at the user boundary */
    bl aarch64_exception
    /* Back to EL0 (aarch64_exception returns with interrupts masked): SP_EL0 from the frame. */
    ldr x1, [sp, #248]
    msr sp_el0, x1
    RESTORE_FRAME

sync_entry:
    msr tpidr_el1, x0               /* a scratch register for the check */
    sub x0, sp, #FRAME_SIZE
    at s1e1w, x0
    isb
    mrs x0, par_el1
    tbnz x0, #0, stack_overflow     /* PAR_EL1.F: the translation faulted */
    mrs x0, tpidr_el1
    SAVE_FRAME
    mov x1, #KIND_SYNC
    b exception_common

stack_overflow:
    /* Keep the faulting sp in x0 (tpidr holds x0) and move to the emergency stack. */
    mov x0, sp
    adrp x1, emergency_stack_top
    add x1, x1, :lo12:emergency_stack_top
    mov sp, x1
    mrs x1, tpidr_el1               /* the original x0 */
    sub sp, sp, #FRAME_SIZE
    stp x1, x1, [sp, #0]            /* x1's true value is lost: x0 stands in for it */
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    stp x30, x0, [sp, #240]
    mrs x1, elr_el1
    mrs x2, spsr_el1
    stp x1, x2, [sp, #256]
    mrs x1, esr_el1
    mrs x2, far_el1
    stp x1, x2, [sp, #272]
    mov x0, sp
    mov x1, #KIND_STACK_OVERFLOW
    bl aarch64_exception            /* reports and does not return */
4:  wfi
    b 4b

    .section .bss
    .balign 16
emergency_stack:
    .skip 16384
emergency_stack_top:
