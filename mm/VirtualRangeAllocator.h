#pragma once

// Hands out page-aligned ranges of one virtual region (thread stacks, large heap blocks, the
// zero-copy buffer region, MMIO windows). Free space is a sorted array of ranges, coalesced on
// free; allocation is first fit. Only addresses: mapping is the caller's business, so the host
// tests run it as is.
//
// Not locked: the kernel calls it with interrupts off (mm/Memory.cpp).

#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::mm {

class VirtualRangeAllocator {
public:
    static constexpr usize kMaxFreeRanges = 128;

    void initialize(uptr base, u64 size);
    // `size` and `alignment` are multiples of the page size.
    Result<uptr> allocate(u64 size, u64 alignment = 4096);
    // Returns a range obtained from allocate(); it must not overlap free space.
    void free(uptr base, u64 size);

    bool contains(uptr address) const { return address >= m_base && address - m_base < m_size; }
    uptr base() const { return m_base; }
    u64 size() const { return m_size; }
    u64 free_bytes() const { return m_free_bytes; }
    usize free_range_count() const { return m_count; }

private:
    struct Range {
        uptr base;
        u64 size;
    };
    void remove_at(usize index);
    bool insert_at(usize index, Range range);

    uptr m_base { 0 };
    u64 m_size { 0 };
    Range m_free[kMaxFreeRanges] {}; // sorted by base, never adjacent (always coalesced)
    usize m_count { 0 };
    u64 m_free_bytes { 0 };
};

} // namespace skiff::mm
