#pragma once

#include <lib/Types.h>

namespace skiff {

// Registers saved on every exception, in the order Vectors.S stores them (288 bytes, a multiple
// of 16 as the stack pointer needs). From EL0, `sp` is SP_EL0 and is restored from the frame.
struct TrapFrame {
    u64 x[31]; // x0-x30; x29 is the frame pointer, x30 the link register
    u64 sp;    // the stack pointer when the exception was taken
    u64 elr;   // ELR_EL1: where execution resumes
    u64 spsr;  // SPSR_EL1: the interrupted PSTATE
    u64 esr;   // ESR_EL1: the syndrome (synchronous exceptions)
    u64 far;   // FAR_EL1: the faulting address (aborts)

    uptr instruction_pointer() const { return elr; }
    uptr stack_pointer() const { return sp; }
    uptr frame_pointer() const { return x[29]; }
    // SPSR_EL1.M[3:0] = 0: taken from EL0 (EL0t). Then `sp` is the task's SP_EL0.
    bool from_user() const { return (spsr & 0xf) == 0; }
    // The system-call ABI (lib/Abi.h): svc #0 with the number in x8, arguments in x0-x5, the
    // result in x0.
    u64 system_call_number() const { return x[8]; }
    u64 system_call_argument(u32 index) const { return index < 6 ? x[index] : 0; }
    void set_system_call_result(u64 value) { x[0] = value; }
};
static_assert(sizeof(TrapFrame) == 36 * 8);

} // namespace skiff
