#include <mm/FrameAllocator.h>

#include <gtest/gtest.h>
#include <vector>

using namespace skiff;
using namespace skiff::mm;

namespace {

// 1 MiB of made-up RAM at 16 MiB with a hole, as a Multiboot map might report it.
struct Fixture {
    static constexpr PhysicalAddress kBase = 16 * 1024 * 1024;
    static constexpr u64 kFrames = 256;
    std::vector<u64> storage;
    FrameAllocator frames;
    Fixture()
        : storage(FrameAllocator::bookkeeping_bytes(kFrames) / 8 + 1)
    {
        frames.initialize(kBase, kFrames, storage.data());
        frames.add_free_range(kBase, 128 * kFrameSize);
        frames.add_free_range(kBase + 160 * kFrameSize, 96 * kFrameSize); // hole: frames 128-159
    }
};

} // namespace

TEST(FrameAllocator, CountsOnlyUsableFrames)
{
    Fixture f;
    auto stats = f.frames.stats();
    EXPECT_EQ(stats.total, 224u);
    EXPECT_EQ(stats.free, 224u);
    EXPECT_FALSE(f.frames.manages(Fixture::kBase + 130 * kFrameSize));
    EXPECT_TRUE(f.frames.manages(Fixture::kBase + 160 * kFrameSize));
    EXPECT_FALSE(f.frames.manages(Fixture::kBase - kFrameSize));
}

TEST(FrameAllocator, OverlappingRangesCountOnce)
{
    Fixture f;
    f.frames.add_free_range(Fixture::kBase, 4 * kFrameSize);
    EXPECT_EQ(f.frames.stats().total, 224u);
}

TEST(FrameAllocator, AllocateGivesDistinctFramesWithRefcountOne)
{
    Fixture f;
    std::vector<PhysicalAddress> got;
    for (int i = 0; i < 224; ++i) {
        auto frame = f.frames.allocate();
        ASSERT_FALSE(frame.is_error());
        EXPECT_TRUE(f.frames.manages(frame.value()));
        EXPECT_EQ(f.frames.refcount(frame.value()), 1u);
        for (auto other : got)
            ASSERT_NE(other, frame.value());
        got.push_back(frame.value());
    }
    auto exhausted = f.frames.allocate();
    ASSERT_TRUE(exhausted.is_error());
    EXPECT_EQ(exhausted.error(), Error::NoMemory);
    EXPECT_EQ(f.frames.stats().failed, 1u);
    for (auto frame : got)
        EXPECT_TRUE(f.frames.unref(frame));
    EXPECT_EQ(f.frames.stats().free, 224u);
}

TEST(FrameAllocator, RefcountKeepsSharedFrameAlive)
{
    Fixture f;
    PhysicalAddress frame = f.frames.allocate().value();
    f.frames.ref(frame); // e.g. TCP holds the page of a zero-copy send
    EXPECT_EQ(f.frames.refcount(frame), 2u);
    EXPECT_EQ(f.frames.stats().shared, 1u);
    EXPECT_FALSE(f.frames.unref(frame));
    EXPECT_EQ(f.frames.stats().shared, 0u);
    EXPECT_EQ(f.frames.stats().used, 1u);
    EXPECT_TRUE(f.frames.unref(frame));
    EXPECT_EQ(f.frames.stats().used, 0u);
    EXPECT_EQ(f.frames.stats().releases, 1u);
}

TEST(FrameAllocatorDeathTest, DoubleFreeIsAProgrammingError)
{
    Fixture f;
    PhysicalAddress frame = f.frames.allocate().value();
    f.frames.unref(frame);
    EXPECT_DEATH(f.frames.unref(frame), "refcount > 0");
}

TEST(FrameAllocator, ReservedFramesAreNeverHandedOut)
{
    Fixture f;
    f.frames.reserve_range(Fixture::kBase, 100 * kFrameSize + 1); // rounds out to 101 frames
    EXPECT_EQ(f.frames.stats().used, 101u);
    for (int i = 0; i < 123; ++i) {
        PhysicalAddress frame = f.frames.allocate().value();
        EXPECT_GE(frame, Fixture::kBase + 101 * kFrameSize);
    }
    EXPECT_TRUE(f.frames.allocate().is_error());
}

TEST(FrameAllocator, ContiguousRunIsAlignedAndSkipsTheHole)
{
    Fixture f;
    // Take frame 1 so the first aligned run of 16 cannot start at 0.
    f.frames.reserve_range(Fixture::kBase + kFrameSize, kFrameSize);
    auto run = f.frames.allocate_contiguous(16, 16 * kFrameSize);
    ASSERT_FALSE(run.is_error());
    EXPECT_EQ(run.value(), Fixture::kBase + 16 * kFrameSize);
    for (u64 i = 0; i < 16; ++i)
        EXPECT_EQ(f.frames.refcount(run.value() + i * kFrameSize), 1u);
    // First fit: frames 2-15 are too few for 90, frames 32-127 are enough.
    auto after_hole = f.frames.allocate_contiguous(90);
    ASSERT_FALSE(after_hole.is_error());
    EXPECT_EQ(after_hole.value(), Fixture::kBase + 32 * kFrameSize);
    auto too_big = f.frames.allocate_contiguous(97);
    EXPECT_TRUE(too_big.is_error());
    auto high = f.frames.allocate_contiguous(96);
    ASSERT_FALSE(high.is_error());
    EXPECT_EQ(high.value(), Fixture::kBase + 160 * kFrameSize);
    f.frames.free_contiguous(run.value(), 16);
    f.frames.free_contiguous(after_hole.value(), 90);
    f.frames.free_contiguous(high.value(), 96);
    EXPECT_EQ(f.frames.stats().used, 1u);
}

TEST(FrameAllocator, RunsAreFoundNextFitPastUsedWordsAndAroundTheEnd)
{
    Fixture f;
    // Scatter single free frames over the first 100: every odd one is taken.
    for (u64 i = 1; i < 100; i += 2)
        f.frames.reserve_range(Fixture::kBase + i * kFrameSize, kFrameSize);
    // The first run of 5 lies past them.
    PhysicalAddress first = MUST(f.frames.allocate_run(5));
    EXPECT_EQ(first, Fixture::kBase + 100 * kFrameSize);
    for (u64 i = 0; i < 5; ++i)
        EXPECT_EQ(f.frames.refcount(first + i * kFrameSize), 1u);
    // Next fit: the next one starts where that one ended, even after it is freed.
    PhysicalAddress second = MUST(f.frames.allocate_run(5));
    EXPECT_EQ(second, first + 5 * kFrameSize);
    f.frames.free_contiguous(first, 5);
    EXPECT_EQ(MUST(f.frames.allocate_run(3)), second + 5 * kFrameSize);
    // Runs do not cross the hole (frames 128-159): the next one of 20 from frame 113 is at 160.
    EXPECT_EQ(MUST(f.frames.allocate_run(20)), Fixture::kBase + 160 * kFrameSize);
    // Frames 180-243 make one run of 64; then nothing is long enough for another, anywhere.
    EXPECT_EQ(MUST(f.frames.allocate_run(64)), Fixture::kBase + 180 * kFrameSize);
    EXPECT_TRUE(f.frames.allocate_run(64).is_error());
    // Around the end: 244-255 hold two runs of 5; the third wraps round to the bottom, past the
    // scattered singles, to the run freed before.
    EXPECT_EQ(MUST(f.frames.allocate_run(5)), Fixture::kBase + 244 * kFrameSize);
    EXPECT_EQ(MUST(f.frames.allocate_run(5)), Fixture::kBase + 249 * kFrameSize);
    EXPECT_EQ(MUST(f.frames.allocate_run(5)), first);
    u64 used = f.frames.stats().used;
    EXPECT_EQ(used + f.frames.stats().free, 224u);
}

TEST(FrameAllocator, NextFitReusesFreedFramesEventually)
{
    Fixture f;
    PhysicalAddress first = f.frames.allocate().value();
    f.frames.unref(first);
    // Churn: allocate and free one frame many times; the pool never shrinks.
    for (int i = 0; i < 10000; ++i) {
        PhysicalAddress frame = f.frames.allocate().value();
        f.frames.unref(frame);
    }
    EXPECT_EQ(f.frames.stats().free, 224u);
    EXPECT_EQ(f.frames.stats().allocations, 10001u);
}
