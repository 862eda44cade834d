#pragma once

// The kernel's virtual address space (x86-64, 4-level paging, 48-bit addresses).
//
//   0x0000000000000000 - 0x00007fffffffffff  lower half: free for user tasks later
//   0xffff800000000000 - ...                 direct map of all physical memory (phys + base)
//   0xffffc00000000000 - ...                 kernel virtual areas in 4 KiB pages (mm/ hands these
//                                            out: thread stacks with guard pages, heap, the
//                                            zero-copy buffer region)
//   0xffffffff80000000 - 0xffffffffbfffffff  the kernel image (-2 GiB, -mcmodel=kernel), which the
//                                            boot code maps onto physical 0..1 GiB
//
// The boot code (boot/x86_64/Boot.S) maps the first 1 GiB of physical memory at the direct-map
// base and at the image base with 2 MiB pages, and identity-maps it for the jump to long mode.
// mm/ builds the final tables.

#include <lib/Types.h>

namespace skiff {

constexpr uptr kDirectMapBase = 0xffff800000000000ull;
constexpr uptr kKernelVirtualAreaBase = 0xffffc00000000000ull;
constexpr uptr kKernelImageBase = 0xffffffff80000000ull;
constexpr u64 kPageSize = 4096;
constexpr u64 kBootMappedBytes = 1ull << 30;

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
