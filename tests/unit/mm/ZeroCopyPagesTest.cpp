// The registered zero-copy pages (mm/ZeroCopyPages.h) over simulated page tables: a send pin is an
// O(1) reference with lazy protection, write faults with and without a pin, release, a buffer
// freed under its pins, and batched receive remaps.

#include <mm/ZeroCopyPages.h>

#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <vector>

using namespace skiff;
using namespace skiff::mm;

namespace {

// As in PageTableTest: 2 MiB of simulated RAM at physical 32 MiB, TLB operations recorded (and an
// optional hook run at each invalidation, to see what the page table held at that moment).
struct Tlb {
    std::vector<uptr> pages;
    int full { 0 };
    std::function<void()> on_flush;
};
Tlb* g_tlb = nullptr;

struct Machine {
    static constexpr PhysicalAddress kRamBase = 32 * 1024 * 1024;
    static constexpr u64 kFrames = 512;
    static constexpr uptr kRegion = 0xffffc01000000000ull;
    static constexpr u64 kRegionPages = 256;
    std::vector<u8> ram;
    std::vector<u64> bookkeeping;
    std::vector<ZeroCopyPageRecord> records;
    FrameAllocator frames;
    Tlb tlb_log;
    TlbOperations tlb { [](uptr page) {
                           g_tlb->pages.push_back(page);
                           if (g_tlb->on_flush)
                               g_tlb->on_flush();
                       },
        [] {
            ++g_tlb->full;
            if (g_tlb->on_flush)
                g_tlb->on_flush();
        } };
    PageTable table;
    ZeroCopyPages zc;
    u64 baseline_used { 0 };

    Machine()
        : ram((kFrames + 1) * kFrameSize)
        , bookkeeping(FrameAllocator::bookkeeping_bytes(kFrames) / 8 + 1)
        , records(kRegionPages)
    {
        g_tlb = &tlb_log;
        frames.initialize(kRamBase, kFrames, bookkeeping.data());
        frames.add_free_range(kRamBase, kFrames * kFrameSize);
        EXPECT_FALSE(table.create(frames, window(), &tlb).is_error());
        table.set_active(true);
        zc.initialize(kRegion, kRegionPages, records.data(), table, frames);
        baseline_used = frames.stats().used;
    }
    ~Machine() { g_tlb = nullptr; }

    PhysicalWindow window()
    {
        uptr aligned = align_up(reinterpret_cast<uptr>(ram.data()), kFrameSize);
        return PhysicalWindow { aligned - kRamBase };
    }
    u8* bytes(PhysicalAddress physical) { return window().at<u8>(physical); }
    u64 entry(uptr page) { return table.leaf_entry(page); }
    PhysicalAddress frame_at(uptr page) { return entry(page) & pte::kAddressMask; }
    bool writable(uptr page) { return entry(page) & pte::kWritable; }
    // What the application sees at `address`, through its mapping.
    u8* app(uptr address) { return bytes(table.translate(address).value().physical); }
    usize invlpgs() const { return tlb_log.pages.size(); }
    // Frames in use beyond the baseline, less the intermediate tables (kept, never freed).
    u64 frames_in_use() { return frames.stats().used - baseline_used - (table.stats().tables - 1); }
};

constexpr uptr kBuffer = Machine::kRegion + 16 * kFrameSize;

} // namespace

TEST(ZeroCopyPages, ABufferIsMappedWritableAndRegistered)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 3).is_error());
    EXPECT_EQ(m.zc.stats().registered_pages, 3u);
    for (uptr page = kBuffer; page < kBuffer + 3 * kFrameSize; page += kFrameSize) {
        EXPECT_TRUE(m.writable(page));
        EXPECT_EQ(m.zc.frame_at(page), m.frame_at(page));
        EXPECT_EQ(m.app(page)[4095], 0); // zeroed
    }
    EXPECT_EQ(m.invlpgs(), 0u); // mapping absent pages flushes nothing
    m.zc.unmap_buffer(kBuffer, 3);
    EXPECT_EQ(m.zc.stats().registered_pages, 0u);
    EXPECT_EQ(m.zc.frame_at(kBuffer), 0u);
    EXPECT_EQ(m.frames_in_use(), 0u);
    EXPECT_EQ(m.zc.pin(Machine::kRegion - kFrameSize).error(), Error::NotSupported); // outside the region
    EXPECT_EQ(m.zc.pin(kBuffer).error(), Error::Fault);                              // no buffer there
}

TEST(ZeroCopyPages, APinIsAReferenceAndOnlyTheFirstSendProtects)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 2).is_error());
    PhysicalAddress frame = m.frame_at(kBuffer);
    u64 protects = m.table.stats().protects;

    // The first send of the page: one PTE write (read-only, COW) and one invlpg.
    PhysicalAddress pinned = m.zc.pin(kBuffer + 100).value();
    EXPECT_EQ(pinned, frame);
    EXPECT_EQ(m.frames.refcount(frame), 2u);
    EXPECT_EQ(m.frames.pins(frame), 1u);
    EXPECT_FALSE(m.writable(kBuffer));
    EXPECT_TRUE(m.entry(kBuffer) & pte::kCopyOnWrite);
    EXPECT_EQ(m.invlpgs(), 1u);
    EXPECT_EQ(m.zc.stats().send_pte_writes, 1u);
    EXPECT_EQ(m.zc.stats().send_invlpgs, 1u);
    EXPECT_EQ(m.zc.stats().pinned_frames, 1u);

    // Steady state: the same page sent again and again, each send acknowledged. The page stays
    // protected throughout; nothing in the page table changes, nothing is invalidated.
    for (int send = 0; send < 1000; ++send) {
        EXPECT_EQ(m.zc.pin(kBuffer + 1448 * (send % 3)).value(), frame);
        EXPECT_EQ(m.zc.pin(kBuffer + 4000).value(), frame);
        m.zc.unpin(frame);
        m.zc.unpin(frame);
    }
    EXPECT_EQ(m.invlpgs(), 1u);
    EXPECT_EQ(m.table.stats().protects, protects + 1);
    EXPECT_EQ(m.zc.stats().send_pte_writes, 1u);
    EXPECT_EQ(m.zc.stats().pins, 2001u);
    EXPECT_EQ(m.zc.stats().unpins, 2000u);

    // The ACK of the last send: a decrement only. The page stays read-only.
    m.zc.unpin(frame);
    EXPECT_EQ(m.frames.refcount(frame), 1u);
    EXPECT_EQ(m.frames.pins(frame), 0u);
    EXPECT_EQ(m.zc.stats().pinned_frames, 0u);
    EXPECT_FALSE(m.writable(kBuffer));
    EXPECT_TRUE(m.zc.is_write_protected(kBuffer));
    EXPECT_EQ(m.invlpgs(), 1u);
    EXPECT_EQ(m.zc.stats().protected_pages, 1u);
    EXPECT_TRUE(m.writable(kBuffer + kFrameSize)); // never sent: untouched
    m.zc.unmap_buffer(kBuffer, 2);
    EXPECT_EQ(m.zc.stats().protected_pages, 0u);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, AWriteFaultWithNoPinMakesThePageWritableWithoutACopy)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 1).is_error());
    PhysicalAddress frame = m.frame_at(kBuffer);
    m.app(kBuffer)[7] = 'x';
    m.zc.unpin(m.zc.pin(kBuffer).value()); // sent and acknowledged: protected, no pin
    u64 used = m.frames.stats().used;
    EXPECT_EQ(m.zc.write_fault(kBuffer), ZeroCopyPages::FaultResult::Reclaimed);
    EXPECT_EQ(m.frame_at(kBuffer), frame); // the same frame, no copy
    EXPECT_EQ(m.frames.stats().used, used);
    EXPECT_TRUE(m.writable(kBuffer));
    EXPECT_FALSE(m.entry(kBuffer) & pte::kCopyOnWrite);
    EXPECT_EQ(m.app(kBuffer)[7], 'x');
    EXPECT_EQ(m.zc.stats().lazy_reclaims, 1u);
    EXPECT_EQ(m.zc.stats().cow_copies, 0u);
    EXPECT_EQ(m.zc.stats().send_pte_writes, 2u); // protect at the send, unprotect at the fault
    EXPECT_EQ(m.zc.stats().send_invlpgs, 2u);
    // A writable page's fault is not this class's: the kernel reports it.
    EXPECT_EQ(m.zc.write_fault(kBuffer), ZeroCopyPages::FaultResult::NotProtected);
    // The next send protects again.
    m.zc.unpin(m.zc.pin(kBuffer).value());
    EXPECT_FALSE(m.writable(kBuffer));
    m.zc.unmap_buffer(kBuffer, 1);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, AWriteFaultWhileASendHoldsThePageCopiesIt)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 1).is_error());
    std::memset(m.app(kBuffer), 'A', kFrameSize);
    PhysicalAddress pinned = m.zc.pin(kBuffer).value();
    EXPECT_EQ(m.zc.write_fault(kBuffer), ZeroCopyPages::FaultResult::Copied);
    PhysicalAddress copy = m.frame_at(kBuffer);
    EXPECT_NE(copy, pinned);
    EXPECT_EQ(m.zc.frame_at(kBuffer), copy);
    EXPECT_TRUE(m.writable(kBuffer));
    EXPECT_EQ(m.app(kBuffer)[4095], 'A'); // the application's copy has the whole page
    m.app(kBuffer)[0] = 'B';              // the write the fault was for
    EXPECT_EQ(m.bytes(pinned)[0], 'A');   // TCP still sends what was there at send time
    EXPECT_EQ(m.frames.refcount(pinned), 1u);
    EXPECT_EQ(m.frames.pins(pinned), 1u);
    EXPECT_EQ(m.zc.stats().cow_copies, 1u);
    EXPECT_EQ(m.zc.stats().lazy_reclaims, 0u);
    EXPECT_EQ(m.zc.stats().protected_pages, 0u);
    u64 used = m.frames.stats().used;
    m.zc.unpin(pinned); // the ACK frees the original
    EXPECT_EQ(m.frames.stats().used, used - 1);
    EXPECT_EQ(m.zc.stats().pinned_frames, 0u);
    m.zc.unmap_buffer(kBuffer, 1);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, ReleaseLiftsProtectionFromPagesNoSendHolds)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 3).is_error());
    PhysicalAddress held = m.zc.pin(kBuffer).value();
    m.zc.unpin(m.zc.pin(kBuffer + kFrameSize).value());
    usize invlpgs = m.invlpgs();
    // Page 0 is still held, page 1 is acknowledged, page 2 was never sent.
    EXPECT_EQ(m.zc.release(kBuffer, 3), 1u);
    EXPECT_FALSE(m.writable(kBuffer));
    EXPECT_TRUE(m.writable(kBuffer + kFrameSize));
    EXPECT_TRUE(m.writable(kBuffer + 2 * kFrameSize));
    EXPECT_EQ(m.invlpgs(), invlpgs + 1); // only page 1 changed
    EXPECT_EQ(m.zc.stats().released_pages, 1u);
    m.zc.unpin(held);
    EXPECT_EQ(m.zc.release(kBuffer, 3), 0u);
    EXPECT_TRUE(m.writable(kBuffer));
    EXPECT_EQ(m.zc.stats().protected_pages, 0u);
    EXPECT_EQ(m.zc.release(kBuffer, 3), 0u); // nothing left to do: no page-table work
    EXPECT_EQ(m.invlpgs(), invlpgs + 2);
    m.zc.unmap_buffer(kBuffer, 3);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, AFreedBufferKeepsItsPinnedFramesUntilUnpinned)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 2).is_error());
    m.app(kBuffer)[0] = 'S';
    m.app(kBuffer + kFrameSize)[0] = 'T';
    PhysicalAddress first = m.zc.pin(kBuffer).value();
    PhysicalAddress second = m.zc.pin(kBuffer + kFrameSize).value();
    m.zc.pin(kBuffer + 10).value(); // a second segment from the first page
    m.zc.unmap_buffer(kBuffer, 2);
    EXPECT_EQ(m.zc.stats().registered_pages, 0u);
    EXPECT_EQ(m.zc.stats().protected_pages, 0u);
    EXPECT_EQ(m.zc.stats().pinned_frames, 2u);
    EXPECT_EQ(m.frames.refcount(first), 2u); // the two pins
    EXPECT_EQ(m.frames.refcount(second), 1u);
    EXPECT_EQ(m.bytes(first)[0], 'S');
    EXPECT_EQ(m.bytes(second)[0], 'T');
    EXPECT_EQ(m.frames_in_use(), 2u);
    // A new buffer in the same place before the ACKs: its pages are its own.
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 2).is_error());
    EXPECT_NE(m.frame_at(kBuffer), first);
    m.zc.unpin(first);
    m.zc.unpin(second);
    EXPECT_EQ(m.frames_in_use(), 3u); // the new buffer's two frames and the first, pinned once more
    m.zc.unpin(first);
    EXPECT_EQ(m.zc.stats().pinned_frames, 0u);
    EXPECT_TRUE(m.writable(kBuffer)); // untouched by the old buffer's unpins
    m.zc.unmap_buffer(kBuffer, 2);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, RemapRefusesAFrameASendHolds)
{
    Machine m;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, 1).is_error());
    PhysicalAddress original = m.frame_at(kBuffer);
    PhysicalAddress pinned = m.zc.pin(kBuffer).value();
    PhysicalAddress received = m.frames.allocate().value();
    EXPECT_EQ(m.zc.remap(kBuffer, received).error(), Error::Busy);
    EXPECT_EQ(m.frame_at(kBuffer), original);
    EXPECT_EQ(m.zc.stats().remaps_refused, 1u);
    m.zc.unpin(pinned);
    // Acknowledged: the page is still protected, and the remap may take it (writable again).
    EXPECT_EQ(m.zc.remap(kBuffer, received).value(), original);
    EXPECT_EQ(m.frame_at(kBuffer), received);
    EXPECT_EQ(m.zc.frame_at(kBuffer), received);
    EXPECT_TRUE(m.writable(kBuffer));
    EXPECT_FALSE(m.zc.is_write_protected(kBuffer));
    EXPECT_EQ(m.zc.stats().receive_pte_writes, 1u);
    EXPECT_EQ(m.zc.stats().receive_invlpgs, 1u);
    m.frames.unref(original);
    m.zc.unmap_buffer(kBuffer, 1);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, RemapPagesWritesEveryEntryBeforeTheFirstInvalidation)
{
    Machine m;
    constexpr u32 kPages = 4;
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, kPages).is_error());
    PageExchange batch[kPages];
    PhysicalAddress received[kPages], original[kPages];
    for (u32 i = 0; i < kPages; ++i) {
        original[i] = m.frame_at(kBuffer + i * kFrameSize);
        received[i] = m.frames.allocate().value();
        batch[i] = { kBuffer + i * kFrameSize, received[i] };
    }
    // At every invalidation, count the pages already showing their new frame.
    std::vector<u32> remapped_at_flush;
    m.tlb_log.on_flush = [&] {
        u32 n = 0;
        for (u32 i = 0; i < kPages; ++i)
            n += m.frame_at(kBuffer + i * kFrameSize) == received[i];
        remapped_at_flush.push_back(n);
    };
    EXPECT_EQ(m.zc.remap_pages(batch), kPages);
    m.tlb_log.on_flush = nullptr;
    ASSERT_EQ(remapped_at_flush.size(), kPages); // one invlpg per page
    for (u32 n : remapped_at_flush)
        EXPECT_EQ(n, kPages);
    for (u32 i = 0; i < kPages; ++i) {
        EXPECT_EQ(batch[i].frame, original[i]); // the caller now holds the old frames
        EXPECT_EQ(m.tlb_log.pages[i], kBuffer + i * kFrameSize);
        m.frames.unref(original[i]);
    }
    EXPECT_EQ(m.zc.stats().remaps, kPages);
    EXPECT_EQ(m.zc.stats().remap_batches, 1u);
    EXPECT_EQ(m.zc.stats().receive_pte_writes, kPages);
    EXPECT_EQ(m.zc.stats().receive_invlpgs, kPages);
    m.zc.unmap_buffer(kBuffer, kPages);
    EXPECT_EQ(m.frames_in_use(), 0u);
}

TEST(ZeroCopyPages, RemapPagesStopsAtAPinnedPageAndALargeBatchFlushesOnce)
{
    Machine m;
    constexpr u32 kPages = 40; // above the full-flush threshold
    ASSERT_FALSE(m.zc.map_buffer(kBuffer, kPages).is_error());
    std::vector<PageExchange> batch(kPages);
    for (u32 i = 0; i < kPages; ++i)
        batch[i] = { kBuffer + i * kFrameSize, m.frames.allocate().value() };
    PhysicalAddress pinned = m.zc.pin(kBuffer + 2 * kFrameSize).value();
    usize invlpgs = m.invlpgs();
    // Pages 0 and 1 are remapped, page 2 is held by a send: the batch stops there.
    EXPECT_EQ(m.zc.remap_pages({ batch.data(), kPages }), 2u);
    EXPECT_EQ(m.invlpgs(), invlpgs + 2);
    EXPECT_EQ(m.frame_at(kBuffer + 2 * kFrameSize), pinned);
    EXPECT_EQ(m.zc.stats().remaps_refused, 1u);
    for (u32 i = 0; i < 2; ++i)
        m.frames.unref(batch[i].frame); // the old frames, handed back
    m.zc.unpin(pinned);
    // The rest in one batch: one CR3 reload instead of 38 invlpgs.
    EXPECT_EQ(m.zc.remap_pages({ batch.data() + 2, kPages - 2 }), kPages - 2);
    EXPECT_EQ(m.invlpgs(), invlpgs + 2);
    EXPECT_EQ(m.tlb_log.full, 1);
    EXPECT_EQ(m.zc.stats().receive_full_flushes, 1u);
    for (u32 i = 2; i < kPages; ++i)
        m.frames.unref(batch[i].frame);
    m.zc.unmap_buffer(kBuffer, kPages);
    EXPECT_EQ(m.frames_in_use(), 0u);
}
