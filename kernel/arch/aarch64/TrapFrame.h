#pragma once

#include <lib/Types.h>

namespace skiff {

// Registers saved on every exception, in the order Vectors.S stores them (288 bytes, a multiple
// of 16 as the stack pointer needs).
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
};
static_assert(sizeof(TrapFrame) == 36 * 8);

} // namespace skiff
