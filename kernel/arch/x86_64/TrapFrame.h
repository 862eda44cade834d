#pragma once

#include <lib/Types.h>

namespace skiff {

// Registers saved on every interrupt or exception, in the order InterruptEntry.S pushes them.
struct TrapFrame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8;
    u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector;
    u64 error_code;
    // Pushed by the CPU:
    u64 rip, cs, rflags, rsp, ss;

    uptr instruction_pointer() const { return rip; }
    uptr stack_pointer() const { return rsp; }
    uptr frame_pointer() const { return rbp; }
};
static_assert(sizeof(TrapFrame) == 22 * 8);

} // namespace skiff
