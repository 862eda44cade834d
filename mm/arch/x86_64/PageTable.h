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

namespace skiff::mm {

// Entry bits (SDM Vol. 3A Table 4-19 for a 4 KiB PTE; the same positions serve at every level).
namespace pte {
constexpr u64 kPresent = 1ull << 0;
constexpr u64 kWritable = 1ull << 1;
constexpr u64 kUser = 1ull << 2;
constexpr u64 kWriteThrough = 1ull << 3; // PWT
constexpr u64 kCacheDisable = 1ull << 4; // PCD
constexpr u64 kAccessed = 1ull << 5;
constexpr u64 kDirty = 1ull << 6;
constexpr u64 kHuge = 1ull << 7; // PS: a 2 MiB page in a PD entry (1 GiB in a PDPT entry)
constexpr u64 kGlobal = 1ull << 8;
// Bits 9-11 are ignored by the hardware and free for the OS (SDM Table 4-19, "Ignored").
constexpr u64 kCopyOnWrite = 1ull << 9; // present, read-only, and a write fault copies or reclaims
// In an entry that is not present, every bit except bit 0 is ignored (SDM §4.7, "P flag"), so a
// not-present entry can say why it is not present:
constexpr u64 kDemandZero = 1ull << 10; // fault in a zeroed frame on first touch (flags kept)
constexpr u64 kGuard = 1ull << 11;      // a guard page: any access is a bug (stack overflow)
constexpr u64 kNoExecute = 1ull << 63;  // needs EFER.NXE, which the boot code sets
constexpr u64 kAddressMask = 0x000ffffffffff000ull;
constexpr u64 kFlagsMask = ~kAddressMask;
} // namespace pte

// What callers ask for when mapping: PTE bits, minus kPresent which the walker adds.
using PageFlags = u64;
constexpr PageFlags kPageWritable = pte::kWritable;
constexpr PageFlags kPageUser = pte::kUser;
constexpr PageFlags kPageNoExecute = pte::kNoExecute;
// Uncached for MMIO: PCD and PWT both set select PAT entry 3, UC, in the power-on PAT (SDM §11.12.3).
constexpr PageFlags kPageUncached = pte::kCacheDisable | pte::kWriteThrough;
constexpr PageFlags kPageCopyOnWrite = pte::kCopyOnWrite;

struct PhysicalWindow {
    uptr offset { 0 }; // virtual address of physical address 0
    template<typename T>
    T* at(PhysicalAddress physical) const
    {
        return reinterpret_cast<T*>(physical + offset);
    }
};

struct TlbOperations {
    void (*flush_page)(uptr virtual_address); // invlpg
    void (*flush_all)();                      // CR3 reload
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
    u64 entry;                // the leaf entry as the hardware sees it
    u64 page_size;            // 4 KiB, 2 MiB or 1 GiB
};

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
    // Frees every intermediate table and the root; leaf frames are the caller's (unmap them first).
    void destroy();

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
    PageTableStats m_stats {};
};

} // namespace skiff::mm
