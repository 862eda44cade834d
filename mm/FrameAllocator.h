#pragma once

// Physical page frames with reference counts.
//
// Every 4 KiB frame of RAM between the lowest and the highest usable address has a descriptor.
// A frame can be mapped in a zero-copy buffer, held by a packet buffer waiting for an ACK and
// owned by a NIC ring at the same time: each holder owns one reference, and the frame returns to
// the free pool when the last one is dropped.
//
// The allocator knows nothing about virtual memory: it never touches the frames themselves, so the
// host tests drive it over made-up physical ranges. Free frames are also tracked in a bitmap (one
// bit per frame, 1 = free) so that single frames come from a next-fit scan and physically
// contiguous runs (descriptor rings) from a first-fit scan, both a word at a time.
//
// Not locked: the kernel's wrappers in mm/Memory.h hold interrupts off around every call (one
// CPU), the host tests are single-threaded.

#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::mm {

using PhysicalAddress = u64;
constexpr u64 kFrameSize = 4096;
constexpr u64 kFrameShift = 12;

struct FrameDescriptor {
    u32 refcount; // 0 = free (or not RAM); each mapping, packet buffer or ring slot holds one
    u16 flags;    // FrameDescriptor::k* below
    u16 pins;     // how many of the references are zero-copy send pins (mm/ZeroCopyPages.h)

    static constexpr u16 kUsable = 1 << 0; // RAM the loader reported as available
};
static_assert(sizeof(FrameDescriptor) == 8);

struct FrameStats {
    u64 total { 0 };       // usable frames
    u64 free { 0 };        // refcount 0
    u64 used { 0 };        // refcount >= 1
    u64 shared { 0 };      // refcount >= 2 (e.g. a user page that TCP still holds)
    u64 allocations { 0 }; // allocate() and frames of allocate_contiguous() since boot
    u64 releases { 0 };    // frames returned to the pool since boot
    u64 failed { 0 };      // allocations that found no memory
};

class FrameAllocator {
public:
    // Bytes of bookkeeping needed for frames [first_frame, first_frame + frame_count): the
    // descriptor array followed by the bitmap, 8-byte aligned.
    static u64 bookkeeping_bytes(u64 frame_count);

    // Start with every frame in [base, base + frame_count * kFrameSize) unusable; `storage` must
    // hold bookkeeping_bytes(frame_count) bytes and outlive the allocator.
    void initialize(PhysicalAddress base, u64 frame_count, void* storage);

    // Marks [base, base + length) as usable free RAM (page-aligned inward).
    void add_free_range(PhysicalAddress base, u64 length);
    // Takes usable frames out of the pool for good (the kernel image, the bookkeeping itself,
    // the boot page tables): each gets refcount 1 and is counted as used.
    void reserve_range(PhysicalAddress base, u64 length);

    // One frame, refcount 1. Contents are undefined.
    Result<PhysicalAddress> allocate();
    // `count` physically contiguous frames, the first aligned to `alignment` bytes (a power of
    // two, at least kFrameSize), each with refcount 1. For descriptor rings and DMA buffers.
    Result<PhysicalAddress> allocate_contiguous(u64 count, u64 alignment = kFrameSize);
    // Drops one reference on each frame of a run.
    void free_contiguous(PhysicalAddress base, u64 count);
    // `count` (1 to 64) physically contiguous frames, no alignment, each with refcount 1: next
    // fit from where the last run ended, skipping used frames a word at a time. For runs allocated
    // and freed all the time (the network stack's receive blocks, re-made whenever zero-copy
    // receive gives one of their pages away), where allocate_contiguous's first fit from the
    // bottom would walk the same fragmented low frames on every call.
    Result<PhysicalAddress> allocate_run(u64 count);

    void ref(PhysicalAddress frame);
    // Drops one reference; returns true when that was the last and the frame is free again.
    bool unref(PhysicalAddress frame);
    u32 refcount(PhysicalAddress frame) const;

    // Zero-copy send pins: a pin is one more reference, counted apart so that a frame's pins can
    // be told from its other holders. add_pin adds `count` of them at once and returns the frame's
    // pin count after it, or 0 (and changes nothing) when that would saturate the count; drop_pin
    // gives `count` back and returns the pins left.
    u32 add_pin(PhysicalAddress frame, u32 count = 1);
    u32 drop_pin(PhysicalAddress frame, u32 count = 1);
    u32 pins(PhysicalAddress frame) const;

    // True for RAM this allocator hands out (MMIO and holes are not managed).
    bool manages(PhysicalAddress address) const;

    FrameStats stats() const;
    PhysicalAddress base() const { return m_base; }
    u64 frame_count() const { return m_frame_count; }

private:
    FrameDescriptor& descriptor(PhysicalAddress frame);
    FrameDescriptor const& descriptor(PhysicalAddress frame) const;
    bool is_free(u64 index) const { return m_bitmap[index / 64] & (1ull << (index % 64)); }
    void set_free(u64 index) { m_bitmap[index / 64] |= 1ull << (index % 64); }
    void clear_free(u64 index) { m_bitmap[index / 64] &= ~(1ull << (index % 64)); }
    void take(u64 index);

    PhysicalAddress m_base { 0 }; // physical address of frame index 0
    u64 m_frame_count { 0 };      // frames covered by m_descriptors
    FrameDescriptor* m_descriptors { nullptr };
    u64* m_bitmap { nullptr }; // 1 = free
    u64 m_bitmap_words { 0 };
    u64 m_next_fit_word { 0 }; // where the next single-frame search starts
    u64 m_next_run { 0 };      // where the next allocate_run() search starts (a frame index)
    u64 m_usable { 0 };
    u64 m_free { 0 };
    u64 m_shared { 0 }; // frames with refcount >= 2, kept exact by ref/unref
    u64 m_allocations { 0 };
    u64 m_releases { 0 };
    u64 m_failed { 0 };
};

} // namespace skiff::mm
