#pragma once

// What mm/ says about mappings, whatever the architecture: page flags, the entry a walker reports
// for an address, and the hooks a walker flushes and reaches memory through. Each architecture's
// walker (mm/arch/<arch>/PageTable.*) translates these into its own descriptors:
//
//   - x86-64: the bits below are where the hardware keeps them (Intel SDM Vol. 3A Table 4-19), so
//     the translation is the identity;
//   - AArch64: AP[2] for read-only, UXN/PXN for no-execute, AttrIndx for uncached, software bits
//     55-58 for copy-on-write and the not-present markers (mm/arch/aarch64/PageTable.cpp).
//
// An entry value (PageTable::leaf_entry(), Translation::entry) is in this encoding on every
// architecture: present bit, flags, the frame's physical address in bits 12-51.

#include <lib/Format.h>
#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>

namespace skiff::mm {

namespace pte {
constexpr u64 kPresent = 1ull << 0;
constexpr u64 kWritable = 1ull << 1;
constexpr u64 kUser = 1ull << 2;
constexpr u64 kUncached = (1ull << 3) | (1ull << 4); // device registers: no caching, no reordering
constexpr u64 kAccessed = 1ull << 5;                 // the hardware (or the walker) saw a use
constexpr u64 kDirty = 1ull << 6;                    // ... a write
// Software meanings, free on every architecture:
constexpr u64 kCopyOnWrite = 1ull << 9; // present, read-only, and a write fault copies or reclaims
// A not-present entry can say why it is not present:
constexpr u64 kDemandZero = 1ull << 10; // fault in a zeroed frame on first touch (flags kept)
constexpr u64 kGuard = 1ull << 11;      // a guard page: any access is a bug (stack overflow)
constexpr u64 kNoExecute = 1ull << 63;
constexpr u64 kAddressMask = 0x000ffffffffff000ull;
constexpr u64 kFlagsMask = ~kAddressMask;
} // namespace pte

// What callers ask for when mapping: the flags above, minus kPresent which the walker adds.
using PageFlags = u64;
constexpr PageFlags kPageWritable = pte::kWritable;
constexpr PageFlags kPageUser = pte::kUser;
constexpr PageFlags kPageNoExecute = pte::kNoExecute;
constexpr PageFlags kPageUncached = pte::kUncached;
constexpr PageFlags kPageCopyOnWrite = pte::kCopyOnWrite;

struct PhysicalWindow {
    uptr offset { 0 }; // virtual address of physical address 0
    template<typename T>
    T* at(PhysicalAddress physical) const
    {
        return reinterpret_cast<T*>(physical + offset);
    }
};

// TLB maintenance, counted by the walker. In the kernel: arch::flush_tlb_page and friends; in host
// tests: recorders.
struct TlbOperations {
    void (*flush_page)(uptr virtual_address); // one page's translation
    void (*flush_all)();                      // every translation of the table
    // Makes entry writes visible to the hardware walker before the next access through them
    // (AArch64: DSB ISHST, ISB); null where stores to the tables are seen in order (x86-64).
    void (*publish)() { nullptr };
};

struct PageTableStats {
    u64 maps { 0 };
    u64 unmaps { 0 };
    u64 remaps { 0 };
    u64 protects { 0 };
    u64 page_flushes { 0 }; // single-page invalidations issued
    u64 full_flushes { 0 }; // whole-TLB flushes issued
    u64 tables { 0 };       // intermediate tables currently allocated (including the root)
};

struct Translation {
    PhysicalAddress physical; // of the byte at the address asked for
    u64 entry;                // the leaf entry, in the encoding above
    u64 page_size;            // 4 KiB, 2 MiB or 1 GiB
};

} // namespace skiff::mm
