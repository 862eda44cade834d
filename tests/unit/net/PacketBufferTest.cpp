#include "HostPort.h"

#include <net/Checksum.h>
#include <net/PacketPool.h>

#include <gtest/gtest.h>
#include <memory>
#include <vector>

using namespace skiff;
using namespace skiff::net;

namespace {

struct Pools : ::testing::Test {
    HostPort port;
    std::unique_ptr<PacketPool> pool { new PacketPool };
    void SetUp() override { MUST(pool->initialize(port, { 8, 4 })); }
    void TearDown() override
    {
        EXPECT_EQ(pool->in_use(), 0u);
        pool->destroy();
        EXPECT_EQ(port.pages_allocated(), 0u);
        EXPECT_EQ(port.pins_held(), 0u);
    }
};

TEST_F(Pools, AllocatedUpFrontWithCounters)
{
    EXPECT_EQ(pool->transmit_counters().capacity, 8u);
    EXPECT_EQ(pool->receive_counters().capacity, 4u);
    EXPECT_EQ(port.pages_allocated(), 4u + 4u); // two transmit buffers per page
    PacketRef a = pool->allocate_transmit();
    PacketRef b = pool->allocate_receive();
    EXPECT_EQ(pool->transmit_counters().in_use, 1u);
    EXPECT_EQ(pool->receive_counters().in_use, 1u);
    a.reset();
    b.reset();
    EXPECT_EQ(pool->transmit_counters().in_use, 0u);
    EXPECT_EQ(pool->receive_counters().in_use, 0u);
    EXPECT_EQ(pool->transmit_counters().high_water, 1u);
}

TEST_F(Pools, ExhaustionIsCountedNotFatal)
{
    std::vector<PacketRef> held;
    while (PacketRef p = pool->allocate_receive())
        held.push_back(std::move(p));
    EXPECT_EQ(held.size(), 4u);
    EXPECT_EQ(pool->receive_counters().failures, 1u);
    held.clear();
    EXPECT_EQ(pool->receive_counters().in_use, 0u);
}

TEST_F(Pools, HeadersArePrependedIntoHeadroomWithoutMoving)
{
    PacketRef p = pool->allocate_transmit();
    EXPECT_EQ(p->headroom(), PacketBuffer::kHeadroom);
    u8* tcp = p->push_header(20);
    u8* ip = p->push_header(20);
    u8* eth = p->push_header(14);
    EXPECT_EQ(ip + 20, tcp);
    EXPECT_EQ(eth + 14, ip);
    EXPECT_EQ(p->linear_length(), 54u);
    EXPECT_EQ(p->linear_phys() & (kPageSize - 1), reinterpret_cast<u64>(eth) & (kPageSize - 1));
    p->reset_headers();
    EXPECT_EQ(p->linear_length(), 0u);
}

TEST_F(Pools, PiecesComeInDriverOrderHeadersSegmentsFollow)
{
    u8* user = port.allocate_zero_copy_buffer(8192);
    for (int i = 0; i < 8192; ++i)
        user[i] = static_cast<u8>(i);
    PacketRef p = pool->allocate_transmit();
    // A 100-byte piece that straddles the page boundary at 4096 becomes two segments, each
    // physically contiguous and each pinning its own page (LyraNET §3.4).
    // A piece is recorded through the pinned frame's own address (Port.h).
    PortPage page0 = MUST(port.pin_user_page(user + 4046, 1));
    PortPage page1 = MUST(port.pin_user_page(user + 4096, 1));
    EXPECT_TRUE(
        p->add_segment({ page0.virt + 4046 % 4096, page0.phys + 4046 % 4096, 50, { page0.phys, FrameKind::Pinned } }));
    EXPECT_TRUE(p->add_segment({ page1.virt, page1.phys, 50, { page1.phys, FrameKind::Pinned } }));
    EXPECT_FALSE(p->add_segment({ user, 0, 1, {} })); // only two
    u8 tail[3] = { 0xaa, 0xbb, 0xcc };
    EXPECT_EQ(p->append_follow({ tail, 3 }), 3u);
    u8* h = p->push_header(4);
    h[0] = h[1] = h[2] = h[3] = 0x11;
    ASSERT_EQ(p->piece_count(), 4u);
    EXPECT_EQ(p->piece(0).length, 4u);
    EXPECT_EQ(p->piece(1).virt, page0.virt + 4046 % 4096);
    EXPECT_EQ(p->piece(2).virt, page1.virt);
    EXPECT_EQ(p->piece(3).length, 3u);
    EXPECT_EQ(p->total_length(), 107u);
    EXPECT_EQ(port.pins_held(), 2u);

    std::vector<u8> flat(107);
    p->copy_to(0, { flat.data(), flat.size() });
    EXPECT_EQ(flat[0], 0x11);
    EXPECT_EQ(flat[4], static_cast<u8>(4046));
    EXPECT_EQ(flat[103], static_cast<u8>(4145));
    EXPECT_EQ(flat[104], 0xaa);
    std::vector<u8> middle(10);
    p->copy_to(50, { middle.data(), 10 });
    EXPECT_EQ(middle[0], static_cast<u8>(4046 + 46));

    PacketRef ring = PacketRef::share(*p); // a driver keeping it in its ring
    p.reset();
    EXPECT_EQ(port.pins_held(), 2u); // still referenced
    ring.reset();
    EXPECT_EQ(port.pins_held(), 0u); // the last reference unpins
    EXPECT_EQ(port.copied_bytes(), 0u);
    port.free_zero_copy_buffer(user, 8192);
}

TEST_F(Pools, FollowIsBoundedByItsStorage)
{
    PacketRef p = pool->allocate_transmit();
    std::vector<u8> big(5000, 1);
    EXPECT_EQ(p->append_follow({ big.data(), big.size() }), PacketBuffer::kFollowCapacity);
    EXPECT_EQ(p->follow_space(), 0u);
}

TEST_F(Pools, ReceiveBufferIsOnePageWithFrameAtOffset)
{
    PacketRef p = pool->allocate_receive();
    EXPECT_EQ(p->storage_capacity(), kPageSize);
    EXPECT_EQ(reinterpret_cast<u64>(p->storage()) % kPageSize, 0u);
    p->set_linear(2, 60);
    EXPECT_EQ(p->linear_length(), 60u);
    EXPECT_TRUE(p->pull(14));
    EXPECT_FALSE(p->pull(100));
    EXPECT_TRUE(p->truncate(20));
    EXPECT_FALSE(p->truncate(21));
    EXPECT_EQ(p->linear_offset(), 16u);
}

TEST_F(Pools, QueueKeepsOrderAndClearReleases)
{
    PacketQueue q;
    PacketRef a = pool->allocate_transmit();
    PacketRef b = pool->allocate_transmit();
    PacketBuffer* first = a.get();
    q.push(std::move(a));
    q.push(std::move(b));
    EXPECT_FALSE(a);
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(pool->transmit_counters().in_use, 2u);
    PacketRef popped = q.pop();
    EXPECT_EQ(popped.get(), first);
    popped.reset();
    EXPECT_EQ(pool->transmit_counters().in_use, 1u);
    q.clear();
    EXPECT_TRUE(q.is_empty());
    EXPECT_EQ(pool->transmit_counters().in_use, 0u);
}

TEST_F(Pools, PacketRefReleasesOnceWhereverOwnershipEnds)
{
    PacketQueue q;
    {
        PacketRef a = pool->allocate_transmit();
        PacketRef moved = std::move(a);
        EXPECT_FALSE(a);
        EXPECT_EQ(moved->reference_count(), 1u);
        PacketRef shared = PacketRef::share(*moved);
        EXPECT_EQ(moved->reference_count(), 2u);
        q.push(std::move(shared));
        moved = pool->allocate_transmit(); // assigning over an owner releases what it held
        EXPECT_EQ(pool->transmit_counters().in_use, 2u);
        EXPECT_EQ(q.front()->reference_count(), 1u);
    }
    EXPECT_EQ(pool->transmit_counters().in_use, 1u); // the queue's
    {
        PacketQueue other = std::move(q);
        EXPECT_TRUE(q.is_empty());
        EXPECT_EQ(other.size(), 1u);
    } // a queue's destructor releases what it holds
    EXPECT_EQ(pool->transmit_counters().in_use, 0u);
}

TEST(Checksum, Rfc1071Example)
{
    // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is ~ddf2.
    u8 bytes[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    EXPECT_EQ(internet_checksum({ bytes, 8 }), static_cast<u16>(~0xddf2));
}

TEST(Checksum, SplitAtOddBoundariesGivesSameResult)
{
    u8 bytes[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    ChecksumAccumulator split;
    split.add({ bytes, 3 });
    split.add({ bytes + 3, 5 });
    split.add({ bytes + 8, 3 });
    EXPECT_EQ(split.finish(), internet_checksum({ bytes, 11 }));
}

} // namespace
