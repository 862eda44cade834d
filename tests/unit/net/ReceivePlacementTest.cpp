// Receive in whole pages (docs/zero-copy.md, "Receive placement"):
//  - the MSS advertised at an MTU: whole pages of data plus the timestamp option once a segment can
//    carry a page; what this stack sends itself stays within one transmit buffer;
//  - the MTU: set within the device's range, refused outside it; a frame longer than the MTU is
//    counted and dropped;
//  - receive blocks: contiguous pages made by the pool, broken by a remap, re-made on release;
//  - placement: a timestamped segment placed at NetDevice::kPlacedOffset has its payload start a
//    page; with jumbo frames it fills whole pages, and recv_zero_copy remaps them, several per call,
//    in one batch, through a host port that remaps for real (HostPort: mmap of a memory file) —
//    nothing is copied; headers of any other length land elsewhere and are copied, correctly; a
//    page the port refuses is copied and the rest still arrives.

#include "TcpHarness.h"

#include <cstring>
#include <utility>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

Bytes_ timestamp_option(u32 value, u32 echo)
{
    Bytes_ o { 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0 };
    put32(o, 4, value);
    put32(o, 8, echo);
    return o;
}

TEST(ReceivePlacementMss, WholePagesPlusTheTimestampOptionOnceASegmentCarriesAPage)
{
    EXPECT_EQ(TcpLayer::mss_for_mtu(1500), 1460);
    EXPECT_EQ(TcpLayer::mss_for_mtu(576), 536);
    EXPECT_EQ(TcpLayer::mss_for_mtu(4147), 4107);      // 4095 bytes after 52 of headers: no whole page
    EXPECT_EQ(TcpLayer::mss_for_mtu(4148), 4096 + 12); // one page exactly
    EXPECT_EQ(TcpLayer::mss_for_mtu(9000), 8192 + 12); // two pages; 744 bytes given up
    EXPECT_EQ(TcpLayer::mss_for_mtu(16110), 12288 + 12);
    // The payload a sender with timestamps puts in a full segment is the MSS less 12.
    for (u32 mtu : { 4148u, 9000u, 16110u })
        EXPECT_EQ((TcpLayer::mss_for_mtu(mtu) - 12) % kPageSize, 0u) << mtu;
    // The headers in front of it are the 66 bytes receive placement expects.
    EXPECT_EQ(NetDevice::kPlacedHeaderBytes, 14u + 20 + 20 + 12);
    EXPECT_EQ(NetDevice::kPlacedOffset + NetDevice::kPlacedHeaderBytes, kPageSize);
}

// A stack whose device receives the way the e1000 does, with pools large enough for jumbo blocks.
class ReceivePlacement : public TcpHarness {
protected:
    void SetUp() override
    {
        port = new HostPort(42);
        device = new SimDevice(kStackMac);
        device->max_mtu = 16110;
        stack = new NetStack(*port);
        PoolSizes sizes;
        sizes.transmit = 64;
        sizes.receive = 128;
        sizes.receive_pages = 640;
        MUST(stack->initialize(sizes));
        MUST(stack->attach(*device, NetConfig {}));
        device->set_link_up(true);
        device->sent.clear();
        MUST(stack->arp().add_static(0, kPeerIp, kPeerMac));
        stack->poll(now);
    }

    void TearDown() override
    {
        for (auto [buffer, bytes] : m_buffers)
            port->free_zero_copy_buffer(buffer, bytes);
        TcpHarness::TearDown();
    }

    // A zero-copy buffer of the application's (HostPort: pages that can really be remapped),
    // freed when the test ends.
    u8* zero_copy_buffer(usize pages)
    {
        u8* buffer = port->allocate_zero_copy_buffer(pages * kPageSize);
        m_buffers.push_back({ buffer, pages * kPageSize });
        return buffer;
    }
    std::vector<std::pair<u8*, usize>> m_buffers;

    // The peer opens with MSS `mss` and, if asked, timestamps; returns the accepted socket.
    TcpSocket* establish(u16 mss, bool timestamps)
    {
        m_listener = listen_socket();
        Bytes_ options = mss_option(mss);
        if (timestamps) {
            Bytes_ ts = timestamp_option(m_ts, 0);
            options.insert(options.end(), ts.begin(), ts.end());
        }
        send_segment(kPeerIss, 0, TcpFlag::Syn, 65535, options);
        Segment syn_ack = take_segment();
        m_iss = syn_ack.seq;
        m_syn_ack = syn_ack;
        m_timestamps = timestamps;
        send_data(kPeerIss + 1, {});
        TcpSocket* s = MUST(m_listener->accept());
        EXPECT_EQ(s->state(), TcpState::Established);
        return s;
    }

    // A segment from the peer at `seq`, with the timestamp option when the connection has it.
    void send_data(u32 seq, Bytes_ const& payload)
    {
        send_segment(
            seq, m_iss + 1, TcpFlag::Ack, 65535, m_timestamps ? timestamp_option(++m_ts, 1) : Bytes_ {}, payload);
    }

    Segment m_syn_ack;
    bool m_timestamps { false };
    u32 m_ts { 1000 };
};

TEST_F(ReceivePlacement, JumboMtuAdvertisesWholePagesAndSendsWhatTheMtuAllows)
{
    MUST(stack->set_mtu(0, 9000));
    EXPECT_EQ(stack->interface(0).mtu, 9000);
    TcpSocket* s = establish(8960, true);
    EXPECT_EQ(m_syn_ack.options.mss, 8204);
    EXPECT_TRUE(m_syn_ack.options.has_timestamps);
    // What we receive is whole pages; what we send is bounded by the MTU only: 8960 less the
    // timestamps' 12.
    EXPECT_EQ(s->send_mss(), 8948);
    finish(s);
}

TEST_F(ReceivePlacement, MtuOutsideTheDevicesRangeIsRefusedAndNothingChanges)
{
    EXPECT_EQ(stack->set_mtu(0, 16111).error(), Error::OutOfRange);
    EXPECT_EQ(stack->set_mtu(0, 67).error(), Error::OutOfRange);
    EXPECT_EQ(stack->set_mtu(1, 1500).error(), Error::InvalidArgument); // no such interface
    EXPECT_EQ(stack->interface(0).mtu, 1500);
    EXPECT_EQ(device->capabilities().mtu, 1500);
    device->max_mtu = 1500; // a device without jumbo frames
    EXPECT_EQ(stack->set_mtu(0, 9000).error(), Error::OutOfRange);
    MUST(stack->set_mtu(0, 1400));
    EXPECT_EQ(stack->interface(0).mtu, 1400);
    EXPECT_EQ(device->capabilities().mtu, 1400);
}

TEST_F(ReceivePlacement, JumboFrameAtMtu1500IsCountedAndDroppedNotDelivered)
{
    device->place_like_e1000(16384); // a buffer that could hold it
    TcpSocket* s = establish(1460, true);
    u64 delivered = stack->counters().ip_rx;
    send_data(kPeerIss + 1, pattern(8192)); // 8258-byte frame on a 1500-byte MTU
    EXPECT_EQ(stack->counters().eth_drop_oversize, 1u);
    EXPECT_EQ(stack->counters().ip_rx, delivered);
    EXPECT_EQ(s->receive_queued_bytes(), 0u);
    EXPECT_EQ(device->counters().rx_errors, 1u);
    // One byte more than the MTU allows: dropped; at the MTU: taken.
    send_data(kPeerIss + 1, pattern(1448 + 1));
    EXPECT_EQ(stack->counters().eth_drop_oversize, 2u);
    send_data(kPeerIss + 1, pattern(1448));
    EXPECT_EQ(s->receive_queued_bytes(), 1448u);
    finish(s);
}

TEST_F(ReceivePlacement, PoolMakesContiguousBlocksAndRemakesOnesARemapBroke)
{
    finish(); // only the pool here
    PacketPool& pool = stack->pool();
    u64 frames = port->pages_allocated();
    // Every free buffer gets a block of the new size at once: 128 blocks of one page become 128
    // of three.
    pool.set_receive_block_pages(3);
    EXPECT_EQ(pool.receive_counters().capacity, 128u); // 640 pages / 3 > 128 buffers
    EXPECT_EQ(port->pages_allocated(), frames + 2 * 128);
    PacketRef buffer = pool.allocate_receive();
    ASSERT_TRUE(buffer);
    EXPECT_EQ(buffer->block_pages(), 3u);
    EXPECT_EQ(buffer->storage_capacity(), 3 * kPageSize);
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(buffer->block_page(i).phys, buffer->page().phys + i * kPageSize);
        EXPECT_EQ(buffer->block_page(i).virt, buffer->storage() + i * kPageSize);
    }
    // Zero-copy receive hands page 1 to an application and takes its old frame instead.
    PortPage given = buffer->block_page(1);
    PortPage application = MUST(port->allocate_page());
    u64 held = port->pages_allocated();
    buffer->exchange_page(1, application);
    EXPECT_TRUE(buffer->is_broken());
    u64 made = pool.receive_block_counters().made;
    buffer.reset();
    // Pages 0 and 2 and the application's old frame went back one by one, and a new block was
    // made at once: the frames held do not change; page 1 is the application's now.
    EXPECT_EQ(pool.receive_block_counters().broken, 1u);
    EXPECT_EQ(pool.receive_block_counters().made, made + 1);
    EXPECT_EQ(port->pages_allocated(), held);
    port->unref_page(given.phys); // the application lets it go
    EXPECT_EQ(port->pages_allocated(), frames + 2 * 128);
    PacketRef again = pool.allocate_receive();
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->is_broken());
    EXPECT_EQ(again->block_pages(), 3u);
    again.reset();
    // Larger blocks, fewer buffers: the page budget bounds them (640 / 5 = 128 still).
    pool.set_receive_block_pages(5);
    EXPECT_EQ(pool.receive_counters().capacity, 128u);
    EXPECT_EQ(port->pages_allocated(), frames + 4 * 128);
    pool.set_receive_block_pages(1);
    EXPECT_EQ(pool.receive_available(), 128u);
    EXPECT_EQ(port->pages_allocated(), frames);
}

TEST_F(ReceivePlacement, PageBudgetBoundsHowManyBlocksThereAre)
{
    finish();
    PacketPool pool;
    PoolSizes sizes { 2, 8, 16 };
    MUST(pool.initialize(*port, sizes));
    u64 frames = port->pages_allocated();
    pool.set_receive_block_pages(5);
    EXPECT_EQ(pool.receive_counters().capacity, 3u);
    EXPECT_EQ(pool.receive_available(), 3u);
    EXPECT_EQ(port->pages_allocated(), frames - 8 + 15); // eight blocks of one page, three of five
    PacketRef a = pool.allocate_receive(), b = pool.allocate_receive(), c = pool.allocate_receive();
    EXPECT_TRUE(a && b && c);
    EXPECT_FALSE(pool.allocate_receive());
    EXPECT_EQ(pool.receive_available(), 0u);
    a.reset();
    b.reset();
    c.reset();
    // When the port has no contiguous run, a block is not made; a later allocation tries again.
    pool.set_receive_block_pages(1);
    EXPECT_EQ(pool.receive_available(), 8u);
    port->set_page_limit(port->pages_allocated() - 8); // no room once the 8 one-page blocks go
    pool.set_receive_block_pages(2);
    EXPECT_EQ(pool.receive_available(), 0u);
    EXPECT_GT(pool.receive_block_counters().block_failures, 0u);
    EXPECT_FALSE(pool.allocate_receive());
    port->set_page_limit(~0ull);
    PacketRef later = pool.allocate_receive();
    EXPECT_TRUE(later);
    EXPECT_EQ(later->block_pages(), 2u);
    later.reset();
    pool.destroy();
}

TEST_F(ReceivePlacement, TimestampedSegmentAtTheMtu1500PlacementStartsAPage)
{
    device->place_like_e1000(2048);
    TcpSocket* s = establish(1460, true);
    s->set_zero_copy(true);
    s->options().zero_copy_threshold = 1024;
    u8* region = zero_copy_buffer(4);
    Bytes_ stream = pattern(3 * 1448);
    for (u32 i = 0; i < 3; ++i)
        send_data(kPeerIss + 1 + i * 1448, Bytes_(stream.begin() + i * 1448, stream.begin() + (i + 1) * 1448));
    Bytes_ got;
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(s->receive_page_offset(), 0u); // the payload starts its page
        u8* destination = region + i * kPageSize;
        // A streaming receiver asking for more gets one segment per call: the next payload
        // starts a page too, not behind these 1448 bytes.
        usize n = MUST(s->recv_zero_copy({ destination, 2 * kPageSize }));
        EXPECT_EQ(n, 1448u);
        got.insert(got.end(), destination, destination + n);
    }
    EXPECT_EQ(got, stream);
    EXPECT_EQ(s->stats().remapped_pages, 3u);
    EXPECT_EQ(s->stats().remapped_whole_pages, 0u); // 1448 of 4096 bytes each
    EXPECT_EQ(s->stats().copied_bytes, 0u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    finish(s);
}

TEST_F(ReceivePlacement, JumboSegmentsAreRemappedInWholePagesSeveralPerCallInOneBatch)
{
    MUST(stack->set_mtu(0, 9000));
    device->place_like_e1000(16384);
    TcpSocket* s = establish(8960, true);
    s->set_zero_copy(true);
    u8* region = zero_copy_buffer(20);
    u64 before[20];
    for (u32 i = 0; i < 20; ++i)
        before[i] = port->frame_under(region + i * kPageSize);
    // Seven full segments of 8192 bytes: 57,344 bytes, inside the 65,535 the SYN-ACK offered.
    Bytes_ stream = pattern(7 * 8192, 3);
    for (u32 i = 0; i < 7; ++i) {
        send_data(kPeerIss + 1 + i * 8192, Bytes_(stream.begin() + i * 8192, stream.begin() + (i + 1) * 8192));
        EXPECT_EQ(s->receive_page_offset(), 0u);
    }
    EXPECT_EQ(MUST(s->recv_zero_copy({ region, 20 * kPageSize })), stream.size());
    EXPECT_EQ(0, std::memcmp(region, stream.data(), stream.size()));
    // Fourteen pages, every one whole, one batch; not a byte copied, by the stack or the port.
    EXPECT_EQ(s->stats().remapped_pages, 14u);
    EXPECT_EQ(s->stats().remapped_whole_pages, 14u);
    EXPECT_EQ(s->stats().remap_batches, 1u);
    EXPECT_EQ(s->stats().remapped_bytes, stream.size());
    EXPECT_EQ(s->stats().copied_bytes, 0u);
    EXPECT_EQ(stack->counters().tcp_received_copied_bytes, 0u);
    EXPECT_EQ(stack->counters().tcp_remap_batches, 1u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    EXPECT_EQ(port->remap_batches(), 1u);
    for (u32 i = 0; i < 14; ++i)
        EXPECT_NE(port->frame_under(region + i * kPageSize), before[i]) << i; // received frames now
    EXPECT_EQ(port->frame_under(region + 14 * kPageSize), before[14]);
    // Twenty pages in one call are two batches (RemapBatch::kPages is 16).
    u32 seq = kPeerIss + 1 + 7 * 8192;
    Bytes_ more = pattern(10 * 8192, 5);
    for (u32 i = 0; i < 10; ++i) {
        send_data(seq + i * 8192, Bytes_(more.begin() + i * 8192, more.begin() + (i + 1) * 8192));
        advance(TcpLayer::kDelayedAck.ns()); // the ACK that moves the window's right edge on
    }
    EXPECT_EQ(MUST(s->recv_zero_copy({ region, 20 * kPageSize })), more.size());
    EXPECT_EQ(0, std::memcmp(region, more.data(), more.size()));
    EXPECT_EQ(s->stats().remap_batches, 3u);
    EXPECT_EQ(s->stats().remapped_whole_pages, 34u);
    EXPECT_EQ(s->stats().copied_bytes, 0u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    finish(s);
}

TEST_F(ReceivePlacement, HeadersOfAnotherLengthLandUnalignedAndAreCopiedCorrectly)
{
    MUST(stack->set_mtu(0, 9000));
    device->place_like_e1000(16384);
    // No timestamps: 54 bytes of headers, the payload starts 12 bytes before a page.
    TcpSocket* s = establish(8960, false);
    s->set_zero_copy(true);
    u8* region = zero_copy_buffer(8);
    Bytes_ stream = pattern(2 * 8204, 7);
    send_data(kPeerIss + 1, Bytes_(stream.begin(), stream.begin() + 8204));
    send_data(kPeerIss + 1 + 8204, Bytes_(stream.begin() + 8204, stream.end()));
    EXPECT_EQ(s->receive_page_offset(), kPageSize - 12);
    usize n = 0;
    while (n < stream.size())
        n += MUST(s->recv_zero_copy({ region + n, 8 * kPageSize - n }));
    EXPECT_EQ(Bytes_(region, region + n), stream);
    EXPECT_EQ(s->stats().remapped_pages, 0u);
    EXPECT_EQ(s->stats().copied_bytes, stream.size());
    finish(s);
}

TEST_F(ReceivePlacement, OptionsOfUnexpectedLengthInATimestampedConnectionAreCopied)
{
    MUST(stack->set_mtu(0, 9000));
    device->place_like_e1000(16384);
    TcpSocket* s = establish(8960, true);
    s->set_zero_copy(true);
    u8* region = zero_copy_buffer(8);
    // Timestamps and four more bytes of options (NOPs): 70 bytes of headers, not 66.
    Bytes_ options = timestamp_option(++m_ts, 1);
    options.insert(options.end(), { 1, 1, 1, 1 });
    Bytes_ data = pattern(8188, 9);
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535, options, data);
    EXPECT_EQ(s->receive_page_offset(), 4u);
    EXPECT_EQ(MUST(s->recv_zero_copy({ region, 8 * kPageSize })), data.size());
    EXPECT_EQ(Bytes_(region, region + data.size()), data);
    EXPECT_EQ(s->stats().remapped_pages, 0u);
    EXPECT_EQ(s->stats().copied_bytes, data.size());
    finish(s);
}

TEST_F(ReceivePlacement, PageThePortRefusesIsCopiedAndTheRestOfTheCallStillArrives)
{
    MUST(stack->set_mtu(0, 9000));
    device->place_like_e1000(16384);
    TcpSocket* s = establish(8960, true);
    s->set_zero_copy(true);
    u8* region = zero_copy_buffer(8);
    // A second holder on the frame under page 2 (as a send's pin would be): never remapped, its
    // frame would go into a NIC's ring.
    u64 held = port->frame_under(region + 2 * kPageSize);
    port->ref_page(held);
    Bytes_ stream = pattern(3 * 8192, 11);
    for (u32 i = 0; i < 3; ++i)
        send_data(kPeerIss + 1 + i * 8192, Bytes_(stream.begin() + i * 8192, stream.begin() + (i + 1) * 8192));
    EXPECT_EQ(MUST(s->recv_zero_copy({ region, 8 * kPageSize })), stream.size());
    EXPECT_EQ(Bytes_(region, region + stream.size()), stream);
    // Pages 0 and 1 remapped; the batch stops at page 2, which and whatever follows it is copied.
    EXPECT_EQ(s->stats().remapped_pages, 2u);
    EXPECT_EQ(s->stats().copied_bytes, 4 * kPageSize);
    EXPECT_EQ(stack->counters().tcp_remap_refused, 1u);
    port->unref_page(held);
    finish(s);
}

} // namespace
