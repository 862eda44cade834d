#include <mm/VirtualRangeAllocator.h>

#include <gtest/gtest.h>

using namespace skiff;
using namespace skiff::mm;

TEST(VirtualRangeAllocator, FirstFitAndCoalesce)
{
    VirtualRangeAllocator ranges;
    constexpr uptr kBase = 0xffffc00000000000ull;
    ranges.initialize(kBase, 64 * 4096);
    uptr a = ranges.allocate(4 * 4096).value();
    uptr b = ranges.allocate(4 * 4096).value();
    uptr c = ranges.allocate(4 * 4096).value();
    EXPECT_EQ(a, kBase);
    EXPECT_EQ(b, kBase + 4 * 4096);
    EXPECT_EQ(c, kBase + 8 * 4096);
    ranges.free(b, 4 * 4096);
    EXPECT_EQ(ranges.free_range_count(), 2u);
    EXPECT_EQ(ranges.allocate(2 * 4096).value(), b); // first fit reuses the hole
    ranges.free(b, 2 * 4096);
    ranges.free(a, 4 * 4096);
    ranges.free(c, 4 * 4096);
    EXPECT_EQ(ranges.free_range_count(), 1u);
    EXPECT_EQ(ranges.free_bytes(), 64u * 4096);
}

TEST(VirtualRangeAllocator, AlignmentSplitsAndExhaustionFails)
{
    VirtualRangeAllocator ranges;
    constexpr uptr kBase = 0x100000;
    ranges.initialize(kBase, 1024 * 1024);
    ranges.allocate(4096).value();
    uptr aligned = ranges.allocate(64 * 1024, 64 * 1024).value();
    EXPECT_EQ(aligned % (64 * 1024), 0u);
    EXPECT_TRUE(ranges.allocate(2 * 1024 * 1024).is_error());
    EXPECT_EQ(ranges.free_bytes(), 1024u * 1024 - 4096 - 64 * 1024);
}

TEST(VirtualRangeAllocatorDeathTest, DoubleFreeIsCaught)
{
    VirtualRangeAllocator ranges;
    ranges.initialize(0x100000, 16 * 4096);
    uptr a = ranges.allocate(4096).value();
    ranges.free(a, 4096);
    EXPECT_DEATH(ranges.free(a, 4096), "VERIFY");
}
