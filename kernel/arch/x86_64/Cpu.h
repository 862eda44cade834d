#pragma once

// x86-64 instructions as inline functions, for the code under kernel/arch/x86_64/ (Processor.h
// builds the architecture interface of kernel/base/Arch.h from them). Nothing else includes this.

#include <lib/Types.h>

namespace skiff::arch {

inline void cli()
{
    asm volatile("cli" ::: "memory");
}
inline void sti()
{
    asm volatile("sti" ::: "memory");
}
inline void hlt()
{
    asm volatile("hlt" ::: "memory");
}
inline void pause()
{
    asm volatile("pause");
}

inline u64 read_flags()
{
    u64 flags;
    asm volatile("pushfq; popq %0" : "=r"(flags)::"memory");
    return flags;
}
constexpr u64 kFlagsInterruptEnable = 1 << 9;

inline u64 read_cr2()
{
    u64 value;
    asm volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}
inline u64 read_cr3()
{
    u64 value;
    asm volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}
// Loading CR3 flushes every non-global TLB entry: the "full flush" that mm counts.
inline void write_cr3(u64 value)
{
    asm volatile("mov %0, %%cr3" ::"r"(value) : "memory");
}
inline u64 read_cr0()
{
    u64 value;
    asm volatile("mov %%cr0, %0" : "=r"(value));
    return value;
}
inline u64 read_cr4()
{
    u64 value;
    asm volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}
inline void write_cr4(u64 value)
{
    asm volatile("mov %0, %%cr4" ::"r"(value) : "memory");
}

// Invalidate the TLB entry for one virtual page (Intel SDM Vol. 3A 4.10.4.1).
inline void invlpg(uptr address)
{
    asm volatile("invlpg (%0)" ::"r"(address) : "memory");
}

inline u64 rdtsc()
{
    u32 low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return (static_cast<u64>(high) << 32) | low;
}

inline u64 read_msr(u32 msr)
{
    u32 low, high;
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (static_cast<u64>(high) << 32) | low;
}
inline void write_msr(u32 msr, u64 value)
{
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32)));
}

inline void cpuid(u32 leaf, u32 subleaf, u32& a, u32& b, u32& c, u32& d)
{
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf));
}

} // namespace skiff::arch
