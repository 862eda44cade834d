#pragma once

#include <lib/Types.h>

namespace skiff {

// A frame built by the system-call entry (SystemCallEntry.S) has this in `vector`.
constexpr u64 kSystemCallVector = 0x100;

// Registers saved on every interrupt, exception or system call, in the order InterruptEntry.S and
// SystemCallEntry.S push them. The system-call ABI's registers (lib/Abi.h): the number in rax,
// arguments in rdi, rsi, rdx, r10, r8, r9, the result in rax.
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
    bool from_user() const { return (cs & 3) == 3; }
    u64 system_call_number() const { return rax; }
    u64 system_call_argument(u32 index) const
    {
        switch (index) {
        case 0: return rdi;
        case 1: return rsi;
        case 2: return rdx;
        case 3: return r10;
        case 4: return r8;
        case 5: return r9;
        }
        return 0;
    }
    void set_system_call_result(u64 value) { rax = value; }
};
static_assert(sizeof(TrapFrame) == 22 * 8);

} // namespace skiff
