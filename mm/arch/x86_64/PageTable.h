#pragma once

// x86-64 4-level page tables (Intel SDM Vol. 3A §4.5): PML4 -> PDPT -> PD -> PT -> 4 KiB page,
// each table one 4 KiB frame of 512 eight-byte entries.
//
// The walker reaches the tables through a PhysicalWindow, "physical address + offset": in the
// kernel the offset is the direct-map base, in the host tests it points into a simulated RAM
// buffer. TLB invalidation goes through TlbOperations for the same reason: invlpg and CR3 writes
// are privileged, so the host tests record the calls instead. Every operation flushes exactly what
// it must and counts it:
//   - map of a page that was not present: nothing. The TLB never caches a not-present
//     translation (SDM §4.10.2.3), and a new intermediate table hangs below an entry that was
//     not present either, so no paging-structure cache holds it.
//   - unmap, remap, protect of one page: one invlpg of that page (SDM §4.10.4.1).
//   - unmap_range of more than kFullFlushThreshold pages: one CR3 reload instead of many invlpgs.
//
// Ownership: map() consumes one frame reference from the caller, unmap() and remap() hand one
// back (the old frame), so refcounts stay with the code that knows what the frame is. Intermediate
// tables belong to the PageTable and are freed by destroy().
//
// Not locked: the kernel calls it with interrupts off (one CPU).

#include <lib/Format.h>
#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>
#include <mm/PageTableTypes.h>

namespace skiff::mm {

// x86-64 entry bits beyond mm/PageTableTypes.h's (which sit where the hardware keeps them, SDM
// Vol. 3A Table 4-19; the same positions serve at every level). In a not-present entry every bit
// but 0 is ignored (SDM §4.7), which is what lets the markers live there.
namespace pte {
constexpr u64 kWriteThrough = 1ull << 3; // PWT
constexpr u64 kCacheDisable = 1ull << 4; // PCD: with PWT, PAT entry 3 = UC in the power-on PAT
constexpr u64 kHuge = 1ull << 7;         // PS: a 2 MiB page in a PD entry (1 GiB in a PDPT entry)
constexpr u64 kGlobal = 1ull << 8;
static_assert(kUncached == (kCacheDisable | kWriteThrough));
} // namespace pte

namespace x86_64 {

class PageTable {
public:
    static constexpr u64 kSmallPage = 4096;
    static constexpr u64 kLargePage = 2 * 1024 * 1024;
    static constexpr u64 kFullFlushThreshold = 32;

    PageTable() = default;
    PageTable(PageTable const&) = delete;
    PageTable& operator=(PageTable const&) = delete;

    // Allocates the root (PML4) from `frames`, zeroed through `window`.
    Result<void> create(FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb);
    // A task's table: the lower half its own, the upper half the kernel's. x86-64 has one root for
    // both halves, so the kernel's top-level entries 256-511 are copied into the new root: they
    // point at the kernel's own tables, shared, which is why the kernel must have made every one
    // it will ever need first (reserve_top_level, seal_top_level).
    Result<void> create_user(
        FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb, PageTable const& kernel);
    // Frees every intermediate table and the root; leaf frames are the caller's (unmap them first).
    // A task's table frees only its own half's.
    void destroy();
    // The kernel's table: makes the top-level entry covering `address` exist now.
    Result<void> reserve_top_level(uptr address);
    // From here on a new top-level entry in the upper half is a bug (tasks would not see it).
    void seal_top_level() { m_top_level_sealed = true; }
    bool is_user() const { return m_user; }

    PhysicalAddress root() const { return m_root; }
    // Flushes are issued only while this table is the one in CR3; an inactive table is flushed by
    // the CR3 load that activates it.
    void set_active(bool active) { m_active = active; }
    bool is_active() const { return m_active; }

    Result<void> map(uptr virtual_address, PhysicalAddress physical, PageFlags flags);
    // A 2 MiB page (the direct map); both addresses 2 MiB-aligned.
    Result<void> map_large(uptr virtual_address, PhysicalAddress physical, PageFlags flags);
    Result<PhysicalAddress> unmap(uptr virtual_address);
    // Unmaps `pages` consecutive 4 KiB pages that must all be present, calling release(physical)
    // for each, with the cheaper of per-page invlpg and one full flush.
    Result<void> unmap_range(uptr virtual_address, u64 pages, void (*release)(PhysicalAddress, void*), void* context);
    // Replaces the permission bits of a present 4 KiB page.
    Result<void> protect(uptr virtual_address, PageFlags flags);
    // Swaps the frame under a present 4 KiB page, keeping its flags; returns the old frame.
    Result<PhysicalAddress> remap(uptr virtual_address, PhysicalAddress new_physical);
    // Remap and set new flags in one entry write (the COW fault path).
    Result<PhysicalAddress> remap(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags);
    // The same without the invalidation, for batches: the caller invalidates every page so changed
    // (flush_page, or flush_all) before anything uses its new translation.
    Result<PhysicalAddress> remap_unflushed(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags);
    // One page's invalidation (invlpg) and the whole TLB's (CR3 reload), counted in stats(); both
    // do nothing while the table is not active.
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

    static bool is_canonical(uptr address)
    {
        u64 high = address >> 47;
        return high == 0 || high == 0x1ffff;
    }

private:
    static usize index(uptr address, int level) { return (address >> (12 + 9 * (level - 1))) & 511; }
    u64* table(PhysicalAddress physical) const { return m_window.at<u64>(physical); }
    // Walks down to the table of `level` (1 = PT, 2 = PD) covering the address, creating tables
    // when asked. Fails with NotSupported when a large page is in the way.
    Result<u64*> table_for(uptr address, int level, bool create);
    u64* existing_leaf(uptr address) const;
    void destroy_level(PhysicalAddress table_physical, int level);

    FrameAllocator* m_frames { nullptr };
    PhysicalWindow m_window {};
    TlbOperations const* m_tlb { nullptr };
    PhysicalAddress m_root { 0 };
    bool m_active { false };
    bool m_user { false };
    bool m_top_level_sealed { false };
    PageTableStats m_stats {};
};

} // namespace x86_64
} // namespace skiff::mm
