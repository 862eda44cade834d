#pragma once

// AArch64 translation tables for the kernel's half, 4 KiB granule, 48-bit virtual addresses (Arm
// ARM DDI 0487 D5.2-D5.4): level 0 -> 1 -> 2 -> 3 -> 4 KiB page, each table one 4 KiB frame of 512
// eight-byte descriptors, indexed by the same address bits as x86-64's four levels. Same interface
// as mm/arch/x86_64/PageTable.h, speaking mm/PageTableTypes.h: the walker translates those flags
// into descriptors and back (PageTable.cpp says how).
//
// Flushes, counted exactly as on x86-64:
//   - map of a page that was not valid: no TLB maintenance (a TLB never holds a translation that
//     faulted, D5.7.1), only the barrier that makes the store visible to the walker;
//   - unmap, protect of one page: one TLBI VAAE1IS;
//   - remap of a live page to another frame: break-before-make (D5.10.1): the descriptor is made
//     invalid, the page's translation invalidated (the one counted flush), then the new
//     descriptor written;
//   - unmap_range of more than kFullFlushThreshold pages: one TLBI VMALLE1IS instead.
// TlbOperations::publish (DSB ISHST; ISB) follows every store the walker must see.
//
// Ownership as on x86-64: map() consumes one frame reference, unmap() and remap() hand one back;
// intermediate tables belong to the PageTable.

#include <lib/Format.h>
#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>
#include <mm/PageTableTypes.h>

namespace skiff::mm::aarch64 {

class PageTable {
public:
    static constexpr u64 kSmallPage = 4096;
    static constexpr u64 kLargePage = 2 * 1024 * 1024;
    static constexpr u64 kFullFlushThreshold = 32;

    PageTable() = default;
    PageTable(PageTable const&) = delete;
    PageTable& operator=(PageTable const&) = delete;

    // Allocates the root (the level-0 table TTBR1_EL1 points at) from `frames`, zeroed through
    // `window`.
    Result<void> create(FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb);
    // A task's table: the lower half (TTBR0_EL1, T0SZ = 16), translated apart from the kernel's
    // (TTBR1_EL1), so nothing of the kernel's is copied: a fresh root. `kernel` is for the
    // interface x86-64 needs (it copies the kernel's top-level entries).
    Result<void> create_user(
        FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb, PageTable const& kernel);
    // Frees every intermediate table and the root; leaf frames are the caller's (unmap them first).
    void destroy();
    // What x86-64 needs so that tasks can share the kernel's top level; TTBR1 needs nothing.
    Result<void> reserve_top_level(uptr) { return {}; }
    void seal_top_level() { }
    bool is_user() const { return m_user; }

    PhysicalAddress root() const { return m_root; }
    // Flushes are issued only while this table is the one in TTBR1_EL1; an inactive table is
    // flushed when it is activated.
    void set_active(bool active) { m_active = active; }
    bool is_active() const { return m_active; }

    Result<void> map(uptr virtual_address, PhysicalAddress physical, PageFlags flags);
    // A 2 MiB page (the direct map); both addresses 2 MiB-aligned.
    Result<void> map_large(uptr virtual_address, PhysicalAddress physical, PageFlags flags);
    Result<PhysicalAddress> unmap(uptr virtual_address);
    // Unmaps `pages` consecutive 4 KiB pages that must all be present, calling release(physical)
    // for each, with the cheaper of per-page invalidations and one full flush.
    Result<void> unmap_range(uptr virtual_address, u64 pages, void (*release)(PhysicalAddress, void*), void* context);
    // Replaces the permission bits of a present 4 KiB page.
    Result<void> protect(uptr virtual_address, PageFlags flags);
    // Swaps the frame under a present 4 KiB page, keeping its flags; returns the old frame.
    Result<PhysicalAddress> remap(uptr virtual_address, PhysicalAddress new_physical);
    // Remap and set new flags in one entry write (the COW fault path).
    Result<PhysicalAddress> remap(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags);
    // The same without the invalidation, for batches: the caller invalidates every page so changed
    // (flush_page, or flush_all) before anything uses its new translation. Break-before-make
    // cannot be one store, so here the descriptor is made invalid now and the new one is written by
    // the flush that covers it, right after its TLBI: the same flushes, counted the same, as x86-64.
    Result<PhysicalAddress> remap_unflushed(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags);
    // One page's invalidation and the whole TLB's, counted in stats(); both do nothing to the TLB
    // while the table is not active, but always complete remap_unflushed's pending descriptors.
    void flush_page(uptr address);
    void flush_all();
    Result<Translation> translate(uptr virtual_address) const;

    // A not-present entry with a meaning: pte::kGuard, or pte::kDemandZero | the flags to map with.
    Result<void> set_absent(uptr virtual_address, u64 marker);
    // Clears a not-present marker (guard or demand-zero) without touching present pages.
    Result<void> clear_absent(uptr virtual_address);
    // The 4 KiB-level entry for an address, present or not; 0 if no table reaches it or a large
    // page covers it.
    u64 leaf_entry(uptr virtual_address) const;

    // Prints the walk, one level per line, for fault reports.
    void describe(uptr virtual_address, FormatSink& out) const;

    PageTableStats const& stats() const { return m_stats; }
    PhysicalWindow window() const { return m_window; }

    // The kernel's table translates the upper half (TTBR1_EL1, T1SZ = 16): bits 63-48 all ones.
    // Lower-half addresses belong to TTBR0, where nothing is mapped: none of them is ever found.
    static bool is_canonical(uptr address) { return (address >> 48) == 0xffff; }

private:
    static usize index(uptr address, int level) { return (address >> (12 + 9 * (level - 1))) & 511; }
    u64* table(PhysicalAddress physical) const { return m_window.at<u64>(physical); }
    // Walks down to the table of `level` (1 = level 3, 2 = level 2) covering the address, creating
    // tables when asked. Fails with NotSupported when a block is in the way.
    Result<u64*> table_for(uptr address, int level, bool create);
    u64* existing_leaf(uptr address) const;
    void destroy_level(PhysicalAddress table_physical, int level);
    // The half this table translates: the upper (the kernel's) or, for a task's, the lower.
    bool covers(uptr address) const { return m_user ? (address >> 48) == 0 : is_canonical(address); }
    void publish();
    // Writes the pending descriptor of `address` (every one when address is 0); true if any.
    bool complete_pending(uptr address);

    FrameAllocator* m_frames { nullptr };
    PhysicalWindow m_window {};
    TlbOperations const* m_tlb { nullptr };
    PhysicalAddress m_root { 0 };
    bool m_active { false };
    bool m_user { false };
    PageTableStats m_stats {};
    // remap_unflushed's descriptors, invalid now, to be written after their flush.
    struct PendingMake {
        uptr address;
        u64* entry;
        u64 descriptor;
    };
    static constexpr usize kMaxPending = 256;
    PendingMake m_pending[kMaxPending] {};
    usize m_pending_count { 0 };
};

} // namespace skiff::mm::aarch64
