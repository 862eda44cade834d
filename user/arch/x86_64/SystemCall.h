#pragma once

// One system call on x86-64 (lib/Abi.h): the number in rax, arguments in rdi, rsi, rdx, r10, r8,
// r9, the result in rax; `syscall` itself overwrites rcx (the return address) and r11 (RFLAGS).

#include <lib/Abi.h>
#include <lib/Types.h>

namespace skiff::user {

inline i64 system_call(abi::Call number, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0)
{
    register u64 r10 asm("r10") = a3;
    register u64 r8 asm("r8") = a4;
    register u64 r9 asm("r9") = a5;
    i64 result;
    asm volatile("syscall"
                 : "=a"(result)
                 : "a"(static_cast<u64>(number)), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                 : "rcx", "r11", "memory");
    return result;
}

// The cycle counter, for programs that time short things (the null-call benchmark).
inline u64 cycle_counter()
{
    u32 low, high;
    asm volatile("lfence; rdtsc; lfence" : "=a"(low), "=d"(high)::"memory");
    return (static_cast<u64>(high) << 32) | low;
}

} // namespace skiff::user
