// Header-first receive and the posted receive (docs/zero-copy.md, "Header-first receive"): a driver
// that reads frames by PIO reads the headers, asks the stack where the payload goes, and for an
// in-order data segment of a connection whose application waits with a posted zero-copy buffer it
// reads the payload straight into that buffer — the socket stage moves no byte. The demux
// decisions: posted destination / none / another socket / short frame / options of another
// length / out of order / no room / a page that cannot be written that way; and the posted
// receive in TCP: committed only once TCP accepts the segment, in order and where it was put.

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

class HeaderFirst : public TcpHarness {
protected:
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

    // A connection from the peer's `peer_port` with timestamps (unless told), accepted.
    TcpSocket* establish(u16 peer_port = kPeerPort, bool timestamps = true)
    {
        if (!m_listener)
            m_listener = listen_socket();
        Bytes_ options = mss_option(1460);
        if (timestamps) {
            Bytes_ ts = timestamp_option(++m_ts, 0);
            options.insert(options.end(), ts.begin(), ts.end());
        }
        inject_tcp(peer_port, kPeerIss, 0, TcpFlag::Syn, options, {});
        Segment syn_ack = take_segment();
        m_iss = syn_ack.seq;
        m_timestamps = timestamps;
        inject_tcp(peer_port, kPeerIss + 1, m_iss + 1, TcpFlag::Ack, options_now(), {});
        TcpSocket* s = MUST(m_listener->accept());
        EXPECT_EQ(s->state(), TcpState::Established);
        s->set_zero_copy(true);
        return s;
    }

    Bytes_ options_now() { return m_timestamps ? timestamp_option(++m_ts, 1) : Bytes_ {}; }

    Bytes_ data_frame(u32 seq, Bytes_ const& payload, u16 peer_port = kPeerPort, Bytes_ options = {})
    {
        if (options.empty())
            options = options_now();
        IpFields f;
        f.protocol = 6;
        return frame_to_stack(
            f, tcp_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, options, payload, peer_port, kStackPort));
    }

    void inject_tcp(u16 peer_port, u32 seq, u32 ack, u8 flags, Bytes_ const& options, Bytes_ const& payload)
    {
        IpFields f;
        f.protocol = 6;
        inject(frame_to_stack(f, tcp_segment(seq, ack, flags, 65535, options, payload, peer_port, kStackPort)));
    }

    // One frame read header first and processed; whether its payload went into a posted buffer.
    bool receive(Bytes_ const& frame)
    {
        bool placed = device->inject_header_first(frame);
        stack->poll(now);
        return placed;
    }

    bool m_timestamps { true };
    u32 m_ts { 500 };
};

TEST_F(HeaderFirst, PostedDestinationTakesInOrderPayloadAndTheSocketStageMovesNothing)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(4);
    MUST(s->post_receive({ region, 4 * kPageSize }));
    EXPECT_TRUE(s->has_posted_receive());
    Bytes_ stream = pattern(5 * 1448, 3);
    for (u32 i = 0; i < 5; ++i)
        EXPECT_TRUE(receive(
            data_frame(kPeerIss + 1 + i * 1448, Bytes_(stream.begin() + i * 1448, stream.begin() + (i + 1) * 1448))))
            << i;
    EXPECT_EQ(stack->counters().tcp_placed_segments, 5u);
    EXPECT_EQ(stack->counters().tcp_placed_bytes, stream.size());
    EXPECT_EQ(device->counters().rx_placed_bytes, stream.size());
    EXPECT_EQ(s->receive_queued_bytes(), 0u); // nothing on the socket's queue
    EXPECT_EQ(s->take_posted(), stream.size());
    EXPECT_FALSE(s->has_posted_receive());
    EXPECT_EQ(Bytes_(region, region + stream.size()), stream);
    // The socket stage moved nothing: no copy, no remap.
    EXPECT_EQ(stack->counters().tcp_received_copied_bytes, 0u);
    EXPECT_EQ(stack->counters().tcp_remapped_pages, 0u);
    EXPECT_EQ(s->stats().placed_bytes, stream.size());
    EXPECT_EQ(s->recv({ region, 100 }).error(), Error::WouldBlock);
    // And the peer hears about all of it.
    advance(TcpLayer::kDelayedAck.ns());
    Segment ack;
    while (has_sent())
        ack = take_segment();
    EXPECT_EQ(ack.ack, kPeerIss + 1 + stream.size());
    finish(s);
}

TEST_F(HeaderFirst, NothingPostedTakesTheOrdinaryPath)
{
    TcpSocket* s = establish();
    Bytes_ data = pattern(1448);
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, data)));
    EXPECT_EQ(s->receive_queued_bytes(), 1448u);
    EXPECT_EQ(stack->counters().tcp_placed_segments, 0u);
    finish(s);
}

TEST_F(HeaderFirst, AnotherSocketsSegmentTakesTheOrdinaryPath)
{
    TcpSocket* a = establish(kPeerPort);
    u32 iss_a = m_iss;
    TcpSocket* b = establish(kPeerPort + 1);
    u8* region = zero_copy_buffer(2);
    MUST(a->post_receive({ region, 2 * kPageSize }));
    Bytes_ data = pattern(1000);
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, data, kPeerPort + 1))); // for b
    EXPECT_EQ(b->receive_queued_bytes(), 1000u);
    EXPECT_EQ(a->take_posted(), 0u);
    a->abort();
    m_iss = iss_a;
    finish(b);
}

TEST_F(HeaderFirst, ShortFramesTakeTheOrdinaryPath)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(2);
    MUST(s->post_receive({ region, 2 * kPageSize }));
    // No payload: exactly the headers, and a pure ACK shorter than them.
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, {})));
    m_timestamps = false;
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, {}, kPeerPort, Bytes_ { 1, 1, 1, 1 })));
    m_timestamps = true;
    // Ten bytes of data are placed like any other in-order payload.
    EXPECT_TRUE(receive(data_frame(kPeerIss + 1, pattern(10))));
    EXPECT_EQ(s->take_posted(), 10u);
    finish(s);
}

TEST_F(HeaderFirst, OptionsOfAnotherLengthTakeTheOrdinaryPath)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(2);
    MUST(s->post_receive({ region, 2 * kPageSize }));
    // Timestamps and a SACK block: 44 bytes of TCP header, not 32.
    Bytes_ options = timestamp_option(++m_ts, 1);
    options.insert(options.end(), { 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2 });
    Bytes_ data = pattern(1400);
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, data, kPeerPort, options)));
    EXPECT_EQ(s->receive_queued_bytes(), 1400u);
    // With something queued, nothing more is placed (it would overtake the queue); posting is
    // refused too, until recv has taken it.
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1 + 1400, data)));
    EXPECT_EQ(s->take_posted(), 0u);
    EXPECT_EQ(s->post_receive({ region, 2 * kPageSize }).error(), Error::Busy);
    EXPECT_EQ(MUST(s->recv({ region, 2 * kPageSize })), 2800u);
    finish(s);
}

TEST_F(HeaderFirst, ConnectionWithoutTimestampsTakesTheOrdinaryPath)
{
    TcpSocket* s = establish(kPeerPort, false);
    u8* region = zero_copy_buffer(2);
    MUST(s->post_receive({ region, 2 * kPageSize }));
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, pattern(1460))));
    EXPECT_EQ(s->receive_queued_bytes(), 1460u);
    finish(s);
}

TEST_F(HeaderFirst, OutOfOrderOrTooBigForTheRoomLeftTakesTheOrdinaryPath)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(1);
    MUST(s->post_receive({ region, 3000 }));
    Bytes_ data = pattern(1448);
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1 + 1448, data))); // a gap in front of it
    EXPECT_TRUE(receive(data_frame(kPeerIss + 1, data)));         // fills the gap, placed
    EXPECT_EQ(s->receive_queued_bytes(), 1448u);                  // the one after, in order now
    EXPECT_EQ(s->take_posted(), 1448u);
    EXPECT_EQ(MUST(s->recv({ region + 1448, 1448 })), 1448u);
    EXPECT_EQ(Bytes_(region, region + 1448), data);
    // 3000 bytes posted: two segments fit, the third does not and is queued.
    MUST(s->post_receive({ region, 3000 }));
    u32 seq = kPeerIss + 1 + 2 * 1448;
    EXPECT_TRUE(receive(data_frame(seq, data)));
    EXPECT_TRUE(receive(data_frame(seq + 1448, data)));
    EXPECT_FALSE(receive(data_frame(seq + 2896, data)));
    EXPECT_EQ(s->take_posted(), 2896u);
    EXPECT_EQ(s->receive_queued_bytes(), 1448u);
    finish(s);
}

TEST_F(HeaderFirst, APageThatCannotBeWrittenThatWayTakesTheOrdinaryPath)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(2);
    PortPage pinned = MUST(port->pin_user_page(region, 1)); // a send holds it: write-protected
    MUST(s->post_receive({ region, 2 * kPageSize }));
    EXPECT_FALSE(receive(data_frame(kPeerIss + 1, pattern(1448))));
    EXPECT_EQ(s->receive_queued_bytes(), 1448u);
    port->unpin_user_page(pinned.phys, 1);
    finish(s);
}

TEST_F(HeaderFirst, PostingIsRefusedWithoutCopyEliminationOrAZeroCopyBuffer)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(1);
    u8 plain[64];
    EXPECT_EQ(s->post_receive({ plain, sizeof plain }).error(), Error::InvalidArgument);
    s->set_zero_copy(false);
    EXPECT_EQ(s->post_receive({ region, kPageSize }).error(), Error::NotSupported);
    EXPECT_FALSE(s->has_posted_receive());
    EXPECT_FALSE(stack->tcp().has_posted_receives());
    finish(s);
}

TEST_F(HeaderFirst, PayloadIsTheApplicationsOnlyOnceTcpHasAcceptedItWhereItWasPut)
{
    TcpSocket* s = establish();
    u8* region = zero_copy_buffer(4);
    MUST(s->post_receive({ region, 4 * kPageSize }));
    Bytes_ first = pattern(1448, 7), second = pattern(1448, 8);
    Bytes_ bad = data_frame(kPeerIss + 1, first);
    bad.back() ^= 0x5a; // a payload byte: the TCP checksum no longer matches
    // Both read in one driver poll: the second is placed behind the first.
    EXPECT_TRUE(device->inject_header_first(bad));
    EXPECT_TRUE(device->inject_header_first(data_frame(kPeerIss + 1 + 1448, second)));
    stack->poll(now);
    // The first fails its checksum; the second is not where it belongs now: neither counts.
    EXPECT_EQ(stack->counters().tcp_drop_checksum, 1u);
    EXPECT_EQ(stack->counters().tcp_placed_dropped, 2u);
    EXPECT_EQ(stack->counters().tcp_placed_bytes, 0u);
    EXPECT_EQ(s->tcb().rcv_nxt, kPeerIss + 1);
    // The retransmissions are placed from the start of the buffer again.
    EXPECT_TRUE(receive(data_frame(kPeerIss + 1, first)));
    EXPECT_TRUE(receive(data_frame(kPeerIss + 1 + 1448, second)));
    EXPECT_EQ(s->take_posted(), 2896u);
    EXPECT_EQ(Bytes_(region, region + 1448), first);
    EXPECT_EQ(Bytes_(region + 1448, region + 2896), second);
    finish(s);
}

} // namespace
