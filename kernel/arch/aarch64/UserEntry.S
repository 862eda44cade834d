/*
 * User mode on AArch64: the first entry into EL0 and the kernel's fault-safe copies to and from user
 * memory. System calls, faults and interrupts from EL0 come in through Vectors.S (the lower-EL
 * entries) and go back the same way.
 */

    .section .text

/*
 * [[noreturn]] void aarch64_enter_user_mode(u64 entry, u64 stack_pointer, u64 argument0,
 *     u64 argument1, u64 kernel_stack_top)
 * The kernel stack goes back to its top (exceptions from EL0 will be taken there, on SP_EL1), then
 * ERET to EL0t at `entry` with SP_EL0 = stack_pointer, the two arguments in x0 and x1, the link
 * register 0 (as if called from address 0: lib/Abi.h), every other register cleared, and DAIF
 * clear (interrupts on).
 */
    .global aarch64_enter_user_mode
    .type aarch64_enter_user_mode, %function
aarch64_enter_user_mode:
    msr daifset, #2
    mov sp, x4
    msr sp_el0, x1
    msr elr_el1, x0
    msr spsr_el1, xzr
    mov x0, x2
    mov x1, x3
    mov x2, xzr
    mov x3, xzr
    mov x4, xzr
    mov x5, xzr
    mov x6, xzr
    mov x7, xzr
    mov x8, xzr
    mov x9, xzr
    mov x10, xzr
    mov x11, xzr
    mov x12, xzr
    mov x13, xzr
    mov x14, xzr
    mov x15, xzr
    mov x16, xzr
    mov x17, xzr
    mov x18, xzr
    mov x19, xzr
    mov x20, xzr
    mov x21, xzr
    mov x22, xzr
    mov x23, xzr
    mov x24, xzr
    mov x25, xzr
    mov x26, xzr
    mov x27, xzr
    mov x28, xzr
    mov x29, xzr
    mov x30, xzr
    eret
    .size aarch64_enter_user_mode, . - aarch64_enter_user_mode

/*
 * u64 aarch64_copy_user(void* to, void const* from, u64 count): returns the bytes NOT copied (0 on
 * success). Eight bytes at a time while eight remain, then one. A data abort at one of the four
 * accesses that mm/ cannot resolve resumes at the fixup with x2 still counting what was left
 * (Traps.cpp consults aarch64_user_copy_fixups).
 */
    .global aarch64_copy_user
    .type aarch64_copy_user, %function
aarch64_copy_user:
1:  cmp x2, #8
    b.lo 3f
aarch64_copy_user_load8:
    ldr x3, [x1]
aarch64_copy_user_store8:
    str x3, [x0]
    add x0, x0, #8
    add x1, x1, #8
    sub x2, x2, #8
    b 1b
3:  cbz x2, 4f
aarch64_copy_user_load1:
    ldrb w3, [x1], #1
aarch64_copy_user_store1:
    strb w3, [x0], #1
    sub x2, x2, #1
    b 3b
4:  mov x0, xzr
    ret
aarch64_copy_user_fixup:
    mov x0, x2
    ret
    .size aarch64_copy_user, . - aarch64_copy_user

    .section .rodata
    .balign 8
    .global aarch64_user_copy_fixups
/* Pairs (faulting instruction, where to resume), ended by a zero pair. */
aarch64_user_copy_fixups:
    .quad aarch64_copy_user_load8, aarch64_copy_user_fixup
    .quad aarch64_copy_user_store8, aarch64_copy_user_fixup
    .quad aarch64_copy_user_load1, aarch64_copy_user_fixup
    .quad aarch64_copy_user_store1, aarch64_copy_user_fixup
    .quad 0, 0
