// The AArch64 walker (mm/arch/aarch64/PageTable.*) over simulated RAM, on the host: the descriptors
// it writes (Arm ARM D5.3), the flags it reports back in mm/PageTableTypes.h's encoding,
// break-before-make on remap, and flushes counted as on x86-64.

#include <mm/arch/aarch64/PageTable.h>

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace skiff;
using namespace skiff::mm;
using skiff::mm::aarch64::PageTable;

namespace {

struct Machine;
Machine* g_machine = nullptr;

// The descriptor of a page as the hardware sees it: the event log records it at every flush, so a
// test can see what the TLB invalidation happened between.
struct Event {
    std::string what;
    uptr address;
    u64 descriptor;
};

constexpr uptr kVirt = 0xffffc00000123000ull;
constexpr u64 kValid = 1, kPage = 2, kAttrDevice = 1 << 2, kReadOnly = 1 << 7, kShareable = 3 << 8, kAccess = 1 << 10,
              kPxn = 1ull << 53, kUxn = 1ull << 54, kCow = 1ull << 55;

struct Machine {
    static constexpr PhysicalAddress kRamBase = 0x40000000;
    static constexpr u64 kFrames = 512;
    std::vector<u8> ram;
    std::vector<u64> bookkeeping;
    FrameAllocator frames;
    std::vector<Event> events;
    TlbOperations tlb { [](uptr page) { g_machine->record("flush_page", page); },
        [] { g_machine->record("flush_all", 0); }, [] { g_machine->record("publish", 0); } };
    PageTable table;
    uptr watched { kVirt };

    Machine()
        : ram((kFrames + 1) * kFrameSize)
        , bookkeeping(FrameAllocator::bookkeeping_bytes(kFrames) / 8 + 1)
    {
        g_machine = this;
        frames.initialize(kRamBase, kFrames, bookkeeping.data());
        frames.add_free_range(kRamBase, kFrames * kFrameSize);
        EXPECT_FALSE(table.create(frames, window(), &tlb).is_error());
        table.set_active(true);
    }
    ~Machine() { g_machine = nullptr; }

    PhysicalWindow window()
    {
        uptr aligned = align_up(reinterpret_cast<uptr>(ram.data()), kFrameSize);
        return PhysicalWindow { aligned - kRamBase };
    }
    // The level-3 descriptor of `address`, read by walking the tables as the MMU would.
    u64 descriptor(uptr address)
    {
        PhysicalAddress current = table.root();
        for (int level = 4; level >= 1; --level) {
            u64 entry = window().at<u64>(current)[(address >> (12 + 9 * (level - 1))) & 511];
            if (level == 1 || !(entry & kValid) || !(entry & kPage))
                return entry;
            current = entry & 0x0000fffffffff000ull;
        }
        return 0;
    }
    void record(char const* what, uptr address) { events.push_back({ what, address, descriptor(watched) }); }
    PhysicalAddress frame() { return frames.allocate().value(); }
};

} // namespace

TEST(Aarch64PageTable, MapWritesAPageDescriptorAndPublishesIt)
{
    Machine m;
    PhysicalAddress frame = m.frame();
    ASSERT_FALSE(m.table.map(kVirt, frame, kPageWritable | kPageNoExecute).is_error());
    u64 d = m.descriptor(kVirt);
    EXPECT_EQ(d & 3, kValid | kPage);
    EXPECT_EQ(d & 0x0000fffffffff000ull, frame);
    EXPECT_TRUE(d & kAccess) << "no hardware access-flag update on cortex-a72: AF must be set";
    EXPECT_FALSE(d & kReadOnly);
    EXPECT_EQ(d & (kPxn | kUxn), kPxn | kUxn);
    EXPECT_EQ(d & kShareable, kShareable);
    EXPECT_EQ(d & (7 << 2), 0u); // MAIR attribute 0: Normal memory
    // No TLB maintenance for a page that was invalid, only the barrier.
    ASSERT_FALSE(m.events.empty());
    EXPECT_EQ(m.events.back().what, "publish");
    for (auto const& event : m.events)
        EXPECT_NE(event.what, "flush_page");
    u64 entry = m.table.leaf_entry(kVirt);
    EXPECT_EQ(entry & pte::kAddressMask, frame);
    EXPECT_TRUE(entry & pte::kPresent);
    EXPECT_TRUE(entry & pte::kWritable);
    EXPECT_TRUE(entry & pte::kNoExecute);
    EXPECT_FALSE(entry & pte::kCopyOnWrite);
    // Executable text: PXN clear, UXN still set (user mode never runs kernel pages).
    ASSERT_FALSE(m.table.map(kVirt + 4096, m.frame(), 0).is_error());
    EXPECT_EQ(m.descriptor(kVirt + 4096) & (kPxn | kUxn | kReadOnly), kUxn | kReadOnly);
}

TEST(Aarch64PageTable, UncachedIsDeviceMemory)
{
    Machine m;
    ASSERT_FALSE(m.table.map(kVirt, 0x09000000, kPageWritable | kPageNoExecute | kPageUncached).is_error());
    EXPECT_EQ(m.descriptor(kVirt) & (7 << 2), kAttrDevice);
    EXPECT_EQ(m.table.translate(kVirt).value().entry & pte::kUncached, pte::kUncached);
}

TEST(Aarch64PageTable, ProtectFlushesOncePermissionsInPlace)
{
    Machine m;
    PhysicalAddress frame = m.frame();
    ASSERT_FALSE(m.table.map(kVirt, frame, kPageWritable | kPageNoExecute).is_error());
    m.events.clear();
    ASSERT_FALSE(m.table.protect(kVirt, kPageNoExecute | kPageCopyOnWrite).is_error());
    u64 d = m.descriptor(kVirt);
    EXPECT_TRUE(d & kReadOnly);
    EXPECT_TRUE(d & kCow);
    EXPECT_EQ(m.table.stats().page_flushes, 1u);
    u64 entry = m.table.leaf_entry(kVirt);
    EXPECT_FALSE(entry & pte::kWritable);
    EXPECT_TRUE(entry & pte::kCopyOnWrite);
    // A permission change needs no break: the flush saw the new descriptor already in place.
    ASSERT_EQ(m.events.size(), 1u);
    EXPECT_EQ(m.events[0].what, "flush_page");
    EXPECT_EQ(m.events[0].descriptor, d);
}

TEST(Aarch64PageTable, RemapIsBreakBeforeMakeWithOneCountedFlush)
{
    Machine m;
    PhysicalAddress a = m.frame();
    PhysicalAddress b = m.frame();
    ASSERT_FALSE(m.table.map(kVirt, a, kPageWritable | kPageNoExecute).is_error());
    m.events.clear();
    EXPECT_EQ(m.table.remap(kVirt, b).value(), a);
    // The TLB invalidation happened while the descriptor was invalid; then the new one was
    // written and published.
    ASSERT_EQ(m.events.size(), 2u);
    EXPECT_EQ(m.events[0].what, "flush_page");
    EXPECT_EQ(m.events[0].address, kVirt);
    EXPECT_EQ(m.events[0].descriptor, 0u);
    EXPECT_EQ(m.events[1].what, "publish");
    EXPECT_EQ(m.events[1].descriptor & 0x0000fffffffff000ull, b);
    EXPECT_EQ(m.table.stats().page_flushes, 1u); // counted like one invlpg
    EXPECT_EQ(m.table.stats().remaps, 1u);
    EXPECT_TRUE(m.table.leaf_entry(kVirt) & pte::kWritable); // flags kept
}

TEST(Aarch64PageTable, MarkersKeepFlagsAndAreNotValid)
{
    Machine m;
    ASSERT_FALSE(m.table.set_absent(kVirt, pte::kGuard).is_error());
    EXPECT_EQ(m.descriptor(kVirt) & kValid, 0u);
    EXPECT_EQ(m.table.leaf_entry(kVirt), pte::kGuard);
    ASSERT_FALSE(m.table.set_absent(kVirt + 4096, pte::kDemandZero | kPageWritable | kPageNoExecute).is_error());
    u64 entry = m.table.leaf_entry(kVirt + 4096);
    EXPECT_FALSE(entry & pte::kPresent);
    EXPECT_TRUE(entry & pte::kDemandZero);
    EXPECT_TRUE(entry & pte::kWritable);
    EXPECT_TRUE(entry & pte::kNoExecute);
    // The fault path maps with the marker's flags.
    ASSERT_FALSE(m.table.map(kVirt + 4096, m.frame(), entry & pte::kFlagsMask & ~pte::kDemandZero).is_error());
    EXPECT_TRUE(m.table.leaf_entry(kVirt + 4096) & pte::kPresent);
    EXPECT_FALSE(m.table.clear_absent(kVirt).is_error());
    EXPECT_EQ(m.table.leaf_entry(kVirt), 0u);
    EXPECT_EQ(m.table.clear_absent(kVirt + 4096).error(), Error::Busy); // present now
}

TEST(Aarch64PageTable, OnlyTheUpperHalfAndBlocks)
{
    Machine m;
    EXPECT_EQ(m.table.map(0x0000000000400000ull, m.frame(), 0).error(), Error::InvalidArgument);
    EXPECT_EQ(m.table.translate(0x0000ffffffff8000ull).error(), Error::InvalidArgument);
    EXPECT_FALSE(PageTable::is_canonical(0x0000ffffffff8000ull));
    EXPECT_TRUE(PageTable::is_canonical(0xffff800000000000ull));
    constexpr uptr kDirect = 0xffff800040000000ull;
    ASSERT_FALSE(m.table.map_large(kDirect, 0x40000000, kPageWritable | kPageNoExecute).is_error());
    auto translation = m.table.translate(kDirect + 0x12345);
    ASSERT_FALSE(translation.is_error());
    EXPECT_EQ(translation.value().physical, 0x40012345u);
    EXPECT_EQ(translation.value().page_size, 2u * 1024 * 1024);
    EXPECT_EQ(m.table.map(kDirect + 4096, m.frame(), 0).error(), Error::NotSupported); // a block is in the way
}

TEST(Aarch64PageTable, LongUnmapRangeIsOneFullFlush)
{
    Machine m;
    for (u64 i = 0; i < 40; ++i)
        ASSERT_FALSE(m.table.map(kVirt + i * 4096, m.frame(), kPageWritable).is_error());
    u64 released = 0;
    ASSERT_FALSE(m.table
                     .unmap_range(
                         kVirt, 40, [](PhysicalAddress, void* context) { ++*static_cast<u64*>(context); }, &released)
                     .is_error());
    EXPECT_EQ(released, 40u);
    EXPECT_EQ(m.table.stats().full_flushes, 1u);
    EXPECT_EQ(m.table.stats().page_flushes, 0u);
    ASSERT_FALSE(m.table.map(kVirt, m.frame(), kPageWritable).is_error());
    EXPECT_EQ(m.table.unmap(kVirt).value() != 0, true);
    EXPECT_EQ(m.table.stats().page_flushes, 1u);
}

TEST(Aarch64PageTable, UnflushedRemapsBreakNowAndMakeAtTheirFlush)
{
    Machine m;
    PhysicalAddress a[3], b[3];
    for (int i = 0; i < 3; ++i) {
        a[i] = m.frame();
        b[i] = m.frame();
        ASSERT_FALSE(m.table.map(kVirt + i * 4096, a[i], kPageWritable | kPageNoExecute).is_error());
    }
    m.events.clear();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(m.table.remap_unflushed(kVirt + i * 4096, b[i], kPageWritable | kPageNoExecute).value(), a[i]);
    // Broken, not yet made, and nothing flushed.
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(m.descriptor(kVirt + i * 4096), 0u);
    EXPECT_EQ(m.table.stats().page_flushes, 0u);
    // Each page's flush sees it invalid, then its new descriptor is written.
    m.table.flush_page(kVirt);
    ASSERT_GE(m.events.size(), 1u);
    EXPECT_EQ(m.events[0].what, "flush_page");
    EXPECT_EQ(m.events[0].descriptor, 0u);
    EXPECT_EQ(m.descriptor(kVirt) & 0x0000fffffffff000ull, b[0]);
    EXPECT_EQ(m.descriptor(kVirt + 4096), 0u); // still pending
    // A full flush completes the rest.
    m.table.flush_all();
    EXPECT_EQ(m.descriptor(kVirt + 4096) & 0x0000fffffffff000ull, b[1]);
    EXPECT_EQ(m.descriptor(kVirt + 2 * 4096) & 0x0000fffffffff000ull, b[2]);
    EXPECT_EQ(m.table.stats().page_flushes, 1u);
    EXPECT_EQ(m.table.stats().full_flushes, 1u);
    EXPECT_EQ(m.table.stats().remaps, 3u);
    EXPECT_TRUE(m.table.leaf_entry(kVirt + 4096) & pte::kWritable);
}
