#pragma once

// The pages of zero-copy buffers (LyraNET §3.3's "special system call"), registered once when a
// buffer is allocated, so that sending from them costs no page-table work per send: the way
// io_uring's registered buffers and fbufs' cached mappings make zero copy pay.
//
// Every page of the region has a record, found by index (no walk, no search): the frame mapped
// there now and whether the page is write-protected. Then:
//   - pin(address), a zero-copy send taking a page: one more reference on the frame (counted as a
//     pin in its descriptor). The first pin write-protects the page (copy-on-write: one PTE write,
//     one invlpg); later pins find it protected and change nothing in the page table.
//   - unpin(frame), the ACK: drops that reference. Nothing else: the page STAYS protected.
//   - write_fault(page), the application writes a protected page: no send holds the frame ->
//     writable again, same frame, no copy (a lazy reclaim); a send holds it -> a private copy
//     goes under the page and the send keeps the original (the copy-on-write safety net).
//   - release(pages), the application (or free) says it will write: protection is lifted on the
//     pages no send holds, ahead of any fault.
// So an application that sends the same buffer again and again (`ttcp -t -s`) pays one PTE write
// and one invlpg per page for its first send, and none after.
//
// Receive: remap(page, frame) swaps a received frame in under a page (one PTE write, one invlpg);
// remap_pages() does several with all the PTE writes first and the invalidations together at the
// end. Both refuse a page whose frame has another holder (a send pin): that frame would go to a
// NIC's receive ring.
//
// Every PTE write and TLB invalidation made here is counted per direction (ZeroCopyStats).
// Host-tested over the simulated page tables (tests/unit/mm/ZeroCopyPagesTest.cpp). Not locked:
// the kernel calls it with interrupts off (mm/Memory.cpp).

#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>
#include <mm/PageTable.h>

namespace skiff::mm {

struct ZeroCopyStats {
    u64 registered_pages { 0 }; // pages of zero-copy buffers now
    u64 protected_pages { 0 };  // of those, write-protected now
    u64 pinned_frames { 0 };    // frames with at least one send pin now
    // Send: pins and unpins, and the page-table work they cause (first-send protection, and
    // lifting it again: lazy reclaims, COW copies and releases).
    u64 pins { 0 };
    u64 pins_refused { 0 }; // a frame's pin count saturated: the stack copies
    u64 unpins { 0 };
    u64 send_pte_writes { 0 };
    u64 send_invlpgs { 0 };
    u64 lazy_reclaims { 0 };  // write faults with no pin: writable again, no copy
    u64 cow_copies { 0 };     // write faults while pinned: a private copy
    u64 released_pages { 0 }; // made writable by release()
    // Receive: pages remapped, and the page-table work.
    u64 remaps { 0 };
    u64 remaps_refused { 0 }; // the frame there had another holder
    u64 remap_batches { 0 };  // remap_pages() calls that remapped at least one page
    u64 receive_pte_writes { 0 };
    u64 receive_invlpgs { 0 };
    u64 receive_full_flushes { 0 }; // a batch large enough to reload CR3 instead
};

// One page of the region: 8 bytes, indexed by (page - base) / 4096.
struct ZeroCopyPageRecord {
    u32 frame_number { 0 };   // the frame mapped there (physical >> 12); 0 = no buffer there
    u8 write_protected { 0 }; // read-only + COW in the page table
    u8 reserved[3] {};
};
static_assert(sizeof(ZeroCopyPageRecord) == 8);

// One page of a remap_pages() batch: the frame to map in, and on return the frame that was there.
struct PageExchange {
    uptr page;
    PhysicalAddress frame;
};

class ZeroCopyPages {
public:
    enum class FaultResult { NotProtected, Reclaimed, Copied, OutOfMemory };

    // The flags of a zero-copy page, writable and write-protected.
    static constexpr PageFlags kWritable = kPageWritable | kPageNoExecute;
    static constexpr PageFlags kProtected = kPageCopyOnWrite | kPageNoExecute;
    // Above this many pages a batch reloads CR3 once instead of one invlpg per page.
    static constexpr u64 kFullFlushThreshold = PageTable::kFullFlushThreshold;

    static u64 bookkeeping_bytes(u64 pages) { return pages * sizeof(ZeroCopyPageRecord); }

    // The region [base, base + pages * 4096); `records` holds bookkeeping_bytes(pages), zeroed.
    // A task's region (mm/UserSpace.h) maps its pages with `extra_flags` (user access) and counts
    // into the kernel's `shared_stats`, so the counters cover every region and a pin can be
    // dropped through any of them (unpin needs only the frame).
    void initialize(uptr base, u64 pages, ZeroCopyPageRecord* records, PageTable& table, FrameAllocator& frames,
        PageFlags extra_flags = 0, ZeroCopyStats* shared_stats = nullptr);
    bool contains(uptr address) const { return address >= m_base && (address - m_base) / kFrameSize < m_pages; }
    uptr base() const { return m_base; }
    u64 size() const { return m_pages * kFrameSize; }

    // Maps a zeroed frame, writable, under each page of [base, base + pages * 4096) (inside the
    // region, nothing there yet) and registers it. On failure nothing stays mapped.
    Result<void> map_buffer(uptr base, u64 pages);
    // Unmaps and unregisters those pages; each frame loses the mapping's reference. Frames a send
    // still pins live on until unpinned.
    void unmap_buffer(uptr base, u64 pages);

    // Send. NotSupported outside the region (the stack copies), Fault where no buffer is,
    // Busy when the frame's pin count would saturate. `count` pins at once (the pieces of one
    // write that lie in the page); unpin gives back `count` together or one at a time.
    Result<PhysicalAddress> pin(uptr address, u32 count = 1);
    void unpin(PhysicalAddress frame, u32 count = 1);
    // Makes writable the protected pages of [base, base + pages * 4096) that no send holds;
    // returns how many stay protected because a send still does.
    u64 release(uptr base, u64 pages);
    // Write-protects a page as a first send would, without pinning (tests, mark_copy_on_write).
    Result<void> protect(uptr page);

    // A write fault on a present page of the region.
    FaultResult write_fault(uptr page);

    // Receive.
    Result<PhysicalAddress> remap(uptr page, PhysicalAddress new_frame);
    // Remaps the pages of `exchanges` in order up to the first that cannot be (outside the region,
    // no buffer, or its frame shared), then invalidates them together; returns how many were
    // remapped. Each remapped entry's `frame` is then the old frame, whose reference the caller
    // now holds; the others are unchanged.
    u32 remap_pages(Span<PageExchange> exchanges);

    bool is_write_protected(uptr page) const;
    PhysicalAddress frame_at(uptr page) const; // 0 if no buffer is there
    ZeroCopyStats const& stats() const { return *m_counters; }
    // Where this region counts (for a task's region to count into the kernel's).
    ZeroCopyStats* counters() { return m_counters; }

private:
    ZeroCopyPageRecord* record(uptr page);
    ZeroCopyPageRecord const* record(uptr page) const;
    // Makes a protected page writable again (the frame unchanged), counted as send work.
    void unprotect(uptr page, ZeroCopyPageRecord& record);
    bool can_remap(ZeroCopyPageRecord const* record) const;

    uptr m_base { 0 };
    u64 m_pages { 0 };
    ZeroCopyPageRecord* m_records { nullptr };
    PageTable* m_table { nullptr };
    FrameAllocator* m_frames { nullptr };
    PageFlags m_writable { kWritable };
    PageFlags m_protected { kProtected };
    ZeroCopyStats m_own_stats {};
    ZeroCopyStats* m_counters { &m_own_stats };
};

} // namespace skiff::mm
