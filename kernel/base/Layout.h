#pragma once

// The kernel's virtual address space: 4-level tables of 4 KiB pages and 48-bit addresses, the same
// on x86-64 and on AArch64 (where the upper half is translated through TTBR1_EL1 and the lower
// half through TTBR0_EL1).
//
//   0x0000000000000000 - 0x00007fffffffffff  lower half: free for user tasks later
//   0xffff800000000000 - ...                 direct map of all physical memory (phys + base)
//   0xffffc00000000000 - ...                 kernel virtual areas in 4 KiB pages (mm/ hands these
//                                            out: thread stacks with guard pages, heap, the
//                                            zero-copy buffer region, MMIO windows)
//   0xffffffff80000000 - 0xffffffffffffffff  the kernel image at base + its physical address
//                                            (-2 GiB; x86-64's -mcmodel=kernel needs it there)
//
// The boot code (boot/<arch>/) maps the physical memory below arch::kBootMappedPhysicalEnd that
// holds the image at the direct-map base and at the image base, with large pages. mm/ builds the
// final tables.

#include <kernel/base/Arch.h>
#include <lib/Types.h>

namespace skiff {

constexpr uptr kDirectMapBase = 0xffff800000000000ull;
constexpr uptr kKernelVirtualAreaBase = 0xffffc00000000000ull;
constexpr uptr kKernelImageBase = 0xffffffff80000000ull;
constexpr u64 kPageSize = 4096;
// The boot tables reach physical memory below this (x86-64: the first 1 GiB; AArch64: RAM from
// 1 GiB to 2 GiB on QEMU's virt): where mm/ may put its bookkeeping before its own tables exist.
constexpr u64 kBootMappedPhysicalEnd = arch::kBootMappedPhysicalEnd;

inline void* phys_to_virt(u64 physical)
{
    return reinterpret_cast<void*>(physical + kDirectMapBase);
}
template<typename T>
inline T* phys_to_ptr(u64 physical)
{
    return reinterpret_cast<T*>(physical + kDirectMapBase);
}
// For addresses inside the kernel image (its code, data and bss), not for heap or stacks.
inline u64 image_virt_to_phys(void const* address)
{
    return reinterpret_cast<uptr>(address) - kKernelImageBase;
}

} // namespace skiff
