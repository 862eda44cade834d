#pragma once

// One system call on AArch64 (lib/Abi.h): `svc #0` with the number in x8, arguments in x0-x5, the
// result in x0; nothing else changes.

#include <lib/Abi.h>
#include <lib/Types.h>

namespace skiff::user {

inline i64 system_call(abi::Call number, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0)
{
    register u64 x8 asm("x8") = static_cast<u64>(number);
    register u64 x0 asm("x0") = a0;
    register u64 x1 asm("x1") = a1;
    register u64 x2 asm("x2") = a2;
    register u64 x3 asm("x3") = a3;
    register u64 x4 asm("x4") = a4;
    register u64 x5 asm("x5") = a5;
    asm volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return static_cast<i64>(x0);
}

// The generic timer's virtual count (the kernel lets EL0 read it), for programs that time short
// things.
inline u64 cycle_counter()
{
    u64 value;
    asm volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(value)::"memory");
    return value;
}

} // namespace skiff::user
