#include <mm/arch/x86_64/PageTable.h>

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace skiff;
using namespace skiff::mm;
using skiff::mm::x86_64::PageTable;

namespace {

// Simulated physical memory: 2 MiB of "RAM" at physical 32 MiB, reached through a window whose
// offset is the host buffer's address minus that base, as the kernel reaches RAM through the
// direct map. The TLB operations record what they were asked to flush.
struct FlushLog {
    std::vector<uptr> pages;
    int full { 0 };
};
FlushLog* g_log = nullptr;

struct SimulatedMachine {
    static constexpr PhysicalAddress kRamBase = 32 * 1024 * 1024;
    static constexpr u64 kFrames = 512;
    std::vector<u8> ram;
    std::vector<u64> bookkeeping;
    FrameAllocator frames;
    FlushLog log;
    TlbOperations tlb { [](uptr page) { g_log->pages.push_back(page); }, [] { ++g_log->full; } };
    PageTable table;
    u64 baseline_used { 0 };

    SimulatedMachine()
        : ram((kFrames + 1) * kFrameSize)
        , bookkeeping(FrameAllocator::bookkeeping_bytes(kFrames) / 8 + 1)
    {
        g_log = &log;
        frames.initialize(kRamBase, kFrames, bookkeeping.data());
        frames.add_free_range(kRamBase, kFrames * kFrameSize);
        baseline_used = frames.stats().used;
        EXPECT_FALSE(table.create(frames, window(), &tlb).is_error());
        table.set_active(true);
    }
    ~SimulatedMachine() { g_log = nullptr; }

    PhysicalWindow window()
    {
        uptr aligned = align_up(reinterpret_cast<uptr>(ram.data()), kFrameSize);
        return PhysicalWindow { aligned - kRamBase };
    }
    u8* bytes(PhysicalAddress physical) { return window().at<u8>(physical); }
    PhysicalAddress data_frame(u8 fill)
    {
        PhysicalAddress frame = frames.allocate().value();
        std::memset(bytes(frame), fill, kFrameSize);
        return frame;
    }
    // What a load from `address` would read, by walking the tables like the MMU does.
    u8 load(uptr address)
    {
        auto translation = table.translate(address);
        EXPECT_FALSE(translation.is_error());
        return *bytes(translation.value().physical);
    }
};

constexpr uptr kVirt = 0xffffc00000123000ull;

} // namespace

TEST(PageTable, MapTranslateUnmapRoundTrip)
{
    SimulatedMachine m;
    PhysicalAddress frame = m.data_frame(0xab);
    ASSERT_FALSE(m.table.map(kVirt, frame, kPageWritable | kPageNoExecute).is_error());
    // PML4 + PDPT + PD + PT
    EXPECT_EQ(m.table.stats().tables, 4u);
    auto t = m.table.translate(kVirt + 0x123);
    ASSERT_FALSE(t.is_error());
    EXPECT_EQ(t.value().physical, frame + 0x123);
    EXPECT_EQ(t.value().page_size, 4096u);
    EXPECT_TRUE(t.value().entry & pte::kWritable);
    EXPECT_TRUE(t.value().entry & pte::kNoExecute);
    EXPECT_EQ(m.load(kVirt), 0xab);
    // Mapping a not-present page flushes nothing.
    EXPECT_TRUE(m.log.pages.empty());
    EXPECT_EQ(m.table.map(kVirt, frame, 0).error(), Error::AlreadyExists);

    EXPECT_EQ(m.table.unmap(kVirt).value(), frame);
    ASSERT_EQ(m.log.pages.size(), 1u);
    EXPECT_EQ(m.log.pages[0], kVirt);
    EXPECT_EQ(m.table.stats().page_flushes, 1u);
    EXPECT_EQ(m.table.translate(kVirt).error(), Error::NotFound);
    EXPECT_EQ(m.table.unmap(kVirt).error(), Error::NotFound);

    m.frames.unref(frame);
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, RemapSwapsTheFrameAndFlushesOnePage)
{
    SimulatedMachine m;
    PhysicalAddress a = m.data_frame(0xaa);
    PhysicalAddress b = m.data_frame(0xbb);
    ASSERT_FALSE(m.table.map(kVirt, a, kPageWritable).is_error());
    ASSERT_FALSE(m.table.map(kVirt + 4096, b, kPageWritable).is_error());
    EXPECT_EQ(m.load(kVirt), 0xaa);
    m.frames.ref(b); // the second mapping of b owns a reference of its own
    PhysicalAddress old = m.table.remap(kVirt, b).value();
    EXPECT_EQ(old, a);
    EXPECT_EQ(m.load(kVirt), 0xbb);
    EXPECT_TRUE(m.table.translate(kVirt).value().entry & pte::kWritable); // flags kept
    ASSERT_EQ(m.log.pages.size(), 1u);
    EXPECT_EQ(m.log.pages[0], kVirt);
    EXPECT_EQ(m.log.full, 0);
    EXPECT_EQ(m.table.stats().remaps, 1u);
    EXPECT_EQ(m.table.remap(kVirt + 2 * 4096, a).error(), Error::NotFound);

    m.frames.unref(m.table.unmap(kVirt).value());
    m.frames.unref(m.table.unmap(kVirt + 4096).value());
    EXPECT_EQ(m.frames.refcount(a), 1u); // remap handed a's reference back to us
    m.frames.unref(a);
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, ProtectChangesPermissionsAndFlushes)
{
    SimulatedMachine m;
    PhysicalAddress frame = m.data_frame(1);
    ASSERT_FALSE(m.table.map(kVirt, frame, kPageWritable).is_error());
    ASSERT_FALSE(m.table.protect(kVirt, kPageCopyOnWrite).is_error());
    u64 entry = m.table.translate(kVirt).value().entry;
    EXPECT_FALSE(entry & pte::kWritable);
    EXPECT_TRUE(entry & pte::kCopyOnWrite);
    EXPECT_EQ(entry & pte::kAddressMask, frame);
    EXPECT_EQ(m.log.pages.size(), 1u);
    m.frames.unref(m.table.unmap(kVirt).value());
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, LargeUnmapRangeUsesOneFullFlush)
{
    SimulatedMachine m;
    constexpr u64 kPages = PageTable::kFullFlushThreshold + 8;
    for (u64 i = 0; i < kPages; ++i)
        ASSERT_FALSE(m.table.map(kVirt + i * 4096, m.frames.allocate().value(), kPageWritable).is_error());
    ASSERT_FALSE(
        m.table
            .unmap_range(
                kVirt, kPages,
                [](PhysicalAddress frame, void* frames) { static_cast<FrameAllocator*>(frames)->unref(frame); },
                &m.frames)
            .is_error());
    EXPECT_EQ(m.log.full, 1);
    EXPECT_TRUE(m.log.pages.empty());

    // A small range: one invlpg per page.
    for (u64 i = 0; i < 4; ++i)
        ASSERT_FALSE(m.table.map(kVirt + i * 4096, m.frames.allocate().value(), kPageWritable).is_error());
    ASSERT_FALSE(
        m.table
            .unmap_range(
                kVirt, 4,
                [](PhysicalAddress frame, void* frames) { static_cast<FrameAllocator*>(frames)->unref(frame); },
                &m.frames)
            .is_error());
    EXPECT_EQ(m.log.full, 1);
    EXPECT_EQ(m.log.pages.size(), 4u);
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, InactiveTableIsNotFlushed)
{
    SimulatedMachine m;
    m.table.set_active(false);
    PhysicalAddress frame = m.data_frame(1);
    ASSERT_FALSE(m.table.map(kVirt, frame, 0).is_error());
    m.frames.unref(m.table.unmap(kVirt).value());
    EXPECT_TRUE(m.log.pages.empty());
    EXPECT_EQ(m.table.stats().page_flushes, 0u);
    m.table.destroy();
}

TEST(PageTable, LargePagesTranslateAndBlockSmallMappings)
{
    SimulatedMachine m;
    constexpr uptr kDirect = 0xffff800000000000ull;
    ASSERT_FALSE(m.table.map_large(kDirect, 0, kPageWritable).is_error());
    auto t = m.table.translate(kDirect + 0x1234567 % (2 * 1024 * 1024));
    ASSERT_FALSE(t.is_error());
    EXPECT_EQ(t.value().page_size, 2u * 1024 * 1024);
    EXPECT_EQ(t.value().physical, 0x1234567u % (2 * 1024 * 1024));
    EXPECT_EQ(m.table.map(kDirect + 4096, 0x5000, 0).error(), Error::NotSupported);
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, AbsentMarkersSurviveAndAreReplacedByMap)
{
    SimulatedMachine m;
    ASSERT_FALSE(m.table.set_absent(kVirt, pte::kGuard).is_error());
    ASSERT_FALSE(m.table.set_absent(kVirt + 4096, pte::kDemandZero | kPageWritable).is_error());
    EXPECT_EQ(m.table.translate(kVirt).error(), Error::NotFound);
    EXPECT_EQ(m.table.leaf_entry(kVirt), pte::kGuard);
    EXPECT_EQ(m.table.leaf_entry(kVirt + 4096), pte::kDemandZero | kPageWritable);
    PhysicalAddress frame = m.data_frame(0);
    ASSERT_FALSE(m.table.map(kVirt + 4096, frame, kPageWritable).is_error());
    EXPECT_FALSE(m.table.leaf_entry(kVirt + 4096) & pte::kDemandZero);
    ASSERT_FALSE(m.table.clear_absent(kVirt).is_error());
    EXPECT_EQ(m.table.leaf_entry(kVirt), 0u);
    m.frames.unref(m.table.unmap(kVirt + 4096).value());
    m.table.destroy();
    EXPECT_EQ(m.frames.stats().used, m.baseline_used);
}

TEST(PageTable, NonCanonicalAddressesAreRejected)
{
    SimulatedMachine m;
    EXPECT_EQ(m.table.translate(0x0000800000000000ull).error(), Error::InvalidArgument);
    EXPECT_TRUE(PageTable::is_canonical(0xffff800000000000ull));
    EXPECT_FALSE(PageTable::is_canonical(0xfff0800000000000ull));
    m.table.destroy();
}

TEST(PageTable, DescribeNamesEveryLevel)
{
    SimulatedMachine m;
    PhysicalAddress frame = m.data_frame(0);
    ASSERT_FALSE(m.table.map(kVirt, frame, kPageCopyOnWrite).is_error());
    char text[1024];
    BufferSink sink(text, sizeof(text));
    m.table.describe(kVirt, sink);
    std::string out(text);
    EXPECT_NE(out.find("PML4[384]"), std::string::npos) << out;
    EXPECT_NE(out.find("PT  [291]"), std::string::npos) << out;
    EXPECT_NE(out.find("ro x cow"), std::string::npos) << out;
    m.frames.unref(m.table.unmap(kVirt).value());
    m.table.destroy();
}
