// Data transfer on an established connection, through the injected-segment harness: ACK
// policy, out-of-order data and SACK, retransmission and congestion control, windows, Nagle,
// keepalive, and both ends of the zero-copy path.

#include "TcpHarness.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

using TcpEstablished = TcpHarness;

TEST_F(TcpEstablished, SecondFullSegmentIsAckedAtOnce)
{
    TcpSocket* s = establish_passive();
    u32 seq = kPeerIss + 1;
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, pattern(1460));
    EXPECT_FALSE(has_sent()); // the first one waits for the delayed-ACK timer
    send_segment(seq + 1460, m_iss + 1, TcpFlag::Ack, 65535, {}, pattern(1460));
    Segment ack = take_segment();
    EXPECT_EQ(ack.ack, seq + 2920);
    finish(s);
}

TEST_F(TcpEstablished, LoneSegmentIsAckedWhenTheDelayedAckTimerFires)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 65535, {}, pattern(100));
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->next_deadline(), now + TcpLayer::kDelayedAck.ns());
    advance(TcpLayer::kDelayedAck.ns());
    EXPECT_EQ(take_segment().ack, kPeerIss + 101);
    finish(s);
}

TEST_F(TcpEstablished, OutOfOrderSegmentIsAckedAtOnceWithSackBlock)
{
    TcpSocket* s = establish_active(); // our SYN offered SACK; the peer agrees below
    finish(s);
    m_listener = nullptr;
    // A fresh connection where the peer's SYN,ACK permits SACK.
    TcpSocket* c = MUST(stack->tcp().open());
    MUST(c->bind({ {}, 81 }));
    (void)c->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    IpFields f;
    f.protocol = 6;
    Bytes_ options = mss_option(1460);
    options.insert(options.end(), { 4, 2, 1, 1 });
    inject(frame_to_stack(
        f, tcp_segment(kPeerIss, syn.seq + 1, TcpFlag::Syn | TcpFlag::Ack, 65535, options, {}, kPeerPort, 81)));
    take_segment();
    u32 seq = kPeerIss + 1;
    inject(
        frame_to_stack(f, tcp_segment(seq + 1000, syn.seq + 1, TcpFlag::Ack, 65535, {}, pattern(500), kPeerPort, 81)));
    Segment dup = take_segment();
    EXPECT_EQ(dup.ack, seq);
    ASSERT_EQ(dup.options.sack_count, 1);
    EXPECT_EQ(dup.options.sack[0].left, seq + 1000);
    EXPECT_EQ(dup.options.sack[0].right, seq + 1500);
    EXPECT_EQ(stack->counters().tcp_ooo_segments, 1u);
    // The gap is filled: everything is delivered in order and ACKed at once.
    Bytes_ all = pattern(1500);
    inject(frame_to_stack(f,
        tcp_segment(
            seq, syn.seq + 1, TcpFlag::Ack, 65535, {}, Bytes_(all.begin(), all.begin() + 1000), kPeerPort, 81)));
    Segment ack = take_segment();
    EXPECT_EQ(ack.ack, seq + 1500);
    EXPECT_EQ(ack.options.sack_count, 0);
    Bytes_ out(2000);
    EXPECT_EQ(MUST(c->recv({ out.data(), out.size() })), 1500u);
    out.resize(1500);
    Bytes_ expected(all.begin(), all.begin() + 1000);
    Bytes_ tail = pattern(500);
    expected.insert(expected.end(), tail.begin(), tail.end());
    EXPECT_EQ(out, expected);
    finish(c);
}

TEST_F(TcpEstablished, OverlappingRetransmissionIsTrimmed)
{
    TcpSocket* s = establish_passive();
    Bytes_ data = pattern(300);
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535, {}, Bytes_(data.begin(), data.begin() + 200));
    send_segment(kPeerIss + 101, m_iss + 1, TcpFlag::Ack, 65535, {}, Bytes_(data.begin() + 100, data.end()));
    Bytes_ out(400);
    EXPECT_EQ(MUST(s->recv({ out.data(), out.size() })), 300u);
    out.resize(300);
    EXPECT_EQ(out, data);
    finish(s);
}

TEST_F(TcpEstablished, OutOfOrderQueueIsBounded)
{
    TcpSocket* s = establish_passive();
    for (u32 i = 0; i < TcpLayer::kMaxOutOfOrder + 5; ++i)
        send_segment(kPeerIss + 1 + 200 * (i + 1), m_iss + 1, TcpFlag::Ack, 65535, {}, pattern(100));
    EXPECT_EQ(stack->counters().tcp_ooo_dropped, 5u);
    device->sent.clear();
    finish(s);
}

TEST_F(TcpEstablished, AckedBuffersTheNicStillHoldsAreFreedWhenItLetsGo)
{
    // The last ACK of a transfer arrives while the NIC has not reclaimed the transmit yet: the
    // ACK cannot free the buffer, and no later ACK will come. The next polls must.
    TcpSocket* s = establish_passive();
    s->set_nodelay(true);
    device->hold_transmits = true;
    Bytes_ data = pattern(1000);
    EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), 1000u);
    take_segment();
    send_segment(kPeerIss + 1, m_iss + 1 + 1000, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_queued_bytes(), 1000u); // acknowledged, but the NIC holds it
    EXPECT_LE(stack->next_deadline(), now + TcpLayer::kHeldBufferRecheck.ns());
    device->release_held();
    device->hold_transmits = false;
    advance(TcpLayer::kHeldBufferRecheck.ns());
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    EXPECT_EQ(stack->pool().transmit_counters().in_use, 0u);
    finish(s);
}

TEST_F(TcpEstablished, SendIsSegmentedAtTheMssAndFreedWhenAcked)
{
    TcpSocket* s = establish_passive();
    s->set_nodelay(true);
    Bytes_ data = pattern(4000);
    EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), 4000u);
    // Initial window: 3 segments for MSS 1460 (RFC 5681 §3.1).
    ASSERT_EQ(device->sent.size(), 3u);
    Segment a = take_segment();
    Segment b = take_segment();
    Segment c = take_segment();
    EXPECT_EQ(a.payload.size(), 1460u);
    EXPECT_EQ(b.seq, a.seq + 1460);
    EXPECT_EQ(c.payload.size(), 1080u);
    EXPECT_TRUE(c.has(TcpFlag::Psh));
    EXPECT_EQ(s->send_queued_bytes(), 4000u);
    send_segment(kPeerIss + 1, m_iss + 1 + 4000, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    EXPECT_EQ(stack->pool().transmit_counters().in_use, 0u);
    finish(s);
}

TEST_F(TcpEstablished, SlowStartGrowsTheWindowByOneSegmentPerAck)
{
    TcpSocket* s = establish_passive();
    u32 before = s->congestion_window();
    Bytes_ data = pattern(1460);
    MUST(s->send({ data.data(), data.size() }));
    take_segment();
    send_segment(kPeerIss + 1, m_iss + 1 + 1460, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->congestion_window(), before + 1460);
    finish(s);
}

TEST_F(TcpEstablished, RetransmissionTimeoutBacksOffAndCollapsesTheWindow)
{
    TcpSocket* s = establish_passive();
    Bytes_ data = pattern(1000);
    MUST(s->send({ data.data(), data.size() }));
    Segment first = take_segment();
    u64 rto = s->retransmission_timeout().ns();
    advance(rto);
    Segment again = take_segment();
    EXPECT_EQ(again.seq, first.seq);
    EXPECT_EQ(again.payload, first.payload);
    EXPECT_EQ(s->retransmission_timeout().ns(), 2 * rto); // RFC 6298 §5.5
    EXPECT_EQ(s->congestion_window(), s->send_mss());     // RFC 5681: loss window of one segment
    advance(2 * rto);
    take_segment();
    EXPECT_EQ(s->retransmission_timeout().ns(), 4 * rto);
    // Karn: the ACK of a retransmitted segment gives no RTT sample; the backoff is kept only
    // until new data is acknowledged.
    send_segment(kPeerIss + 1, first.seq + 1000, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->retransmission_timeout().ns(), 4 * rto);
    EXPECT_EQ(stack->counters().tcp_timeouts, 2u);
    finish(s);
}

TEST_F(TcpEstablished, RttSamplesSetTheTimeoutPerRfc6298)
{
    TcpSocket* s = MUST(stack->tcp().open());
    MUST(s->bind({ {}, kStackPort }));
    (void)s->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    advance(100000000); // the handshake takes 100 ms: SRTT 100, RTTVAR 50, RTO 300 ms
    send_segment(kPeerIss, syn.seq + 1, TcpFlag::Syn | TcpFlag::Ack, 65535, mss_option(1460));
    take_segment();
    EXPECT_EQ(s->retransmission_timeout().ns(), 300000000ull);
    Bytes_ data = pattern(100);
    MUST(s->send({ data.data(), data.size() }));
    Segment seg = take_segment();
    advance(200000000); // then 200 ms: RTTVAR = 3/4·50 + 1/4·100, SRTT = 7/8·100 + 1/8·200
    send_segment(kPeerIss + 1, seg.seq + 100, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->retransmission_timeout().ns(), 112500000ull + 4 * 62500000ull);
    finish(s);
}

TEST_F(TcpEstablished, GivesUpAfterTooManyRetransmissions)
{
    TcpSocket* s = establish_passive();
    Bytes_ data = pattern(10);
    MUST(s->send({ data.data(), data.size() }));
    run_for(3600ull * 1000000000ull);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->error(), Error::TimedOut);
    device->sent.clear();
    s->close();
    finish();
}

TEST_F(TcpEstablished, DuplicateAcksGiveLimitedTransmitThenFastRetransmitPrrAndNewRenoPartialAcks)
{
    // A peer without SACK: duplicate ACKs are all the sender learns.
    TcpSocket* s = establish_passive();
    s->set_nodelay(true);
    // Open the window first (one ACK), then queue 12 segments: 5 go out.
    Bytes_ data = pattern(1460 * 12);
    u32 base = m_iss + 1;
    MUST(s->send({ data.data(), 1460 * 3 }));
    device->sent.clear();
    send_segment(kPeerIss + 1, base + 1460 * 3, TcpFlag::Ack, 65535);
    base += 1460 * 3;
    MUST(s->send({ data.data(), data.size() }));
    size_t in_flight = device->sent.size();
    ASSERT_EQ(in_flight, 5u); // cwnd: 3 segments initially + 2 for the ACK above (RFC 3465)
    device->sent.clear();
    u32 cwnd_before = s->congestion_window();
    // Segment 1 was lost. The first two duplicate ACKs each release one new segment (RFC 3042
    // limited transmit: each stands for a segment that left the network); the third starts fast
    // retransmit of `base`.
    send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535);
    EXPECT_EQ(take_segment().seq, base + static_cast<u32>(in_flight) * 1460);
    send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535);
    EXPECT_EQ(take_segment().seq, base + static_cast<u32>(in_flight + 1) * 1460);
    EXPECT_FALSE(has_sent());
    send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535);
    ASSERT_TRUE(has_sent());
    Segment retransmit = take_segment();
    EXPECT_EQ(retransmit.seq, base);
    EXPECT_FALSE(has_sent()) << "only the retransmission leaves on the third duplicate";
    EXPECT_EQ(stack->counters().tcp_fast_retransmits, 1u);
    EXPECT_EQ(s->tcb().loss_state, TcpLossState::Recovery);
    u32 outstanding = static_cast<u32>(in_flight + 2);
    u32 flight = outstanding * 1460;
    u32 ssthresh = std::max(flight / 2, 2u * 1460);
    EXPECT_EQ(s->slow_start_threshold(), ssthresh);
    EXPECT_LT(s->slow_start_threshold(), cwnd_before + 2 * 1460);
    // RFC 6937 (PRR-SSRB): the window is the pipe (7 outstanding − 1 lost − 3 duplicates = 3
    // segments) plus what may go now, min(ssthresh − pipe, ...) = 730 bytes, raised to one
    // segment for the fast retransmit itself.
    EXPECT_EQ(s->congestion_window(), 3u * 1460 + 1460);
    // Each further duplicate ACK: one more segment delivered. The 4th lets 730 bytes of room,
    // less than a segment: nothing goes; from the 5th on, PRR catches up to ssthresh one new
    // segment per duplicate, never more than ssthresh in the pipe.
    send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535);
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(s->congestion_window(), ssthresh);
    for (u32 i = 0; i < 2; ++i) {
        send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535);
        ASSERT_TRUE(has_sent());
        EXPECT_EQ(take_segment().seq, base + (outstanding + i) * 1460);
        EXPECT_FALSE(has_sent());
        EXPECT_LE(s->congestion_window(), ssthresh);
    }
    outstanding += 2;
    flight = outstanding * 1460;
    // A partial ACK (segment 3 lost too) retransmits the next hole at once (RFC 6582).
    send_segment(kPeerIss + 1, base + 2 * 1460, TcpFlag::Ack, 65535);
    bool retransmitted_hole = false;
    while (has_sent())
        retransmitted_hole |= take_segment().seq == base + 2 * 1460;
    EXPECT_TRUE(retransmitted_hole);
    // The full ACK (of everything outstanding when recovery began, and since) ends recovery with
    // the window at ssthresh (RFC 6937).
    send_segment(kPeerIss + 1, base + flight, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->tcb().loss_state, TcpLossState::Open);
    EXPECT_EQ(s->congestion_window(), s->slow_start_threshold());
    device->sent.clear();
    finish(s);
}

TEST_F(TcpEstablished, SackBlocksFromThePeerRepairSeveralHolesInOneRoundTrip)
{
    // A connection where the peer permitted SACK.
    TcpSocket* c = MUST(stack->tcp().open());
    MUST(c->bind({ {}, kStackPort }));
    (void)c->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    Bytes_ options = mss_option(1460);
    options.insert(options.end(), { 4, 2, 1, 1 });
    send_segment(kPeerIss, syn.seq + 1, TcpFlag::Syn | TcpFlag::Ack, 65535, options);
    take_segment();
    c->set_nodelay(true);
    u32 base = syn.seq + 1;
    // Grow the window, then put 10 segments in flight.
    Bytes_ data = pattern(1460 * 40);
    u32 offset = 0;
    while (offset < 1460 * 12) {
        offset += static_cast<u32>(MUST(c->send({ data.data() + offset, 1460 })));
        device->sent.clear();
        send_segment(kPeerIss + 1, base + offset, TcpFlag::Ack, 65535);
    }
    base += offset;
    MUST(c->send({ data.data() + offset, 1460 * 10 }));
    u32 sent = 0;
    while (has_sent()) {
        take_segment();
        ++sent;
    }
    ASSERT_GE(sent, 8u);
    // Segments 0 and 2 are lost; the peer SACKs 1 and 3..7.
    auto sack = [&](std::vector<std::pair<u32, u32>> blocks) {
        Bytes_ o = { 1, 1, 5, static_cast<u8>(2 + 8 * blocks.size()) };
        for (auto [l, r] : blocks) {
            Bytes_ b(8);
            put32(b, 0, base + l * 1460);
            put32(b, 4, base + r * 1460);
            o.insert(o.end(), b.begin(), b.end());
        }
        send_segment(kPeerIss + 1, base, TcpFlag::Ack, 65535, o);
    };
    sack({ { 1, 2 } });
    sack({ { 3, 5 }, { 1, 2 } });
    sack({ { 3, 8 }, { 1, 2 } });
    std::vector<u32> retransmitted;
    while (has_sent()) {
        Segment seg = take_segment();
        if (seq_lt(seg.seq, base + sent * 1460))
            retransmitted.push_back((seg.seq - base) / 1460);
    }
    // Both holes go out again before any ACK advances: 0 by fast retransmit, 2 by the
    // scoreboard; the SACKed ones are not resent.
    EXPECT_NE(std::find(retransmitted.begin(), retransmitted.end(), 0u), retransmitted.end());
    EXPECT_NE(std::find(retransmitted.begin(), retransmitted.end(), 2u), retransmitted.end());
    for (u32 r : retransmitted)
        EXPECT_TRUE(r == 0 || r == 2) << "resent SACKed segment " << r;
    finish(c);
}

TEST_F(TcpEstablished, ZeroWindowIsProbedWithBackoff)
{
    TcpSocket* s = establish_passive(0);
    Bytes_ data = pattern(100);
    MUST(s->send({ data.data(), data.size() }));
    EXPECT_FALSE(has_sent()); // window closed
    u64 first = stack->next_deadline();
    ASSERT_NE(first, NetStack::kNoDeadline);
    advance(first - now);
    Segment probe = take_segment();
    EXPECT_EQ(probe.seq, m_iss); // snd_una - 1: elicits an ACK with the window
    EXPECT_TRUE(probe.payload.empty());
    EXPECT_GT(stack->next_deadline() - now, first - (now - (first - now)));
    // The window opens: the data goes out.
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 1000);
    Segment data_segment = take_segment();
    EXPECT_EQ(data_segment.payload, data);
    finish(s);
}

TEST_F(TcpEstablished, NagleHoldsSmallSegmentsWhileDataIsUnacknowledged)
{
    TcpSocket* s = establish_passive();
    u8 byte = 'a';
    MUST(s->send({ &byte, 1 }));
    EXPECT_EQ(take_segment().payload.size(), 1u);
    MUST(s->send({ &byte, 1 }));
    MUST(s->send({ &byte, 1 }));
    EXPECT_FALSE(has_sent()); // held by Nagle
    send_segment(kPeerIss + 1, m_iss + 2, TcpFlag::Ack, 65535);
    EXPECT_EQ(take_segment().payload.size(), 2u); // coalesced
    finish(s);
}

TEST_F(TcpEstablished, NoDelaySendsSmallSegmentsAtOnce)
{
    TcpSocket* s = establish_passive();
    s->set_nodelay(true);
    u8 byte = 'a';
    MUST(s->send({ &byte, 1 }));
    MUST(s->send({ &byte, 1 }));
    EXPECT_EQ(device->sent.size(), 2u);
    device->sent.clear();
    finish(s);
}

TEST_F(TcpEstablished, SendBufferFullWouldBlock)
{
    TcpSocket* s = establish_passive(0); // nothing can leave
    s->set_buffer_sizes(3000, 0);
    Bytes_ data = pattern(5000);
    EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), 3000u);
    EXPECT_EQ(s->send({ data.data(), data.size() }).error(), Error::WouldBlock);
    EXPECT_EQ(s->poll_events() & kPollOut, 0u);
    finish(s);
}

TEST_F(TcpEstablished, KeepaliveProbesThenTimesOut)
{
    TcpSocket* s = establish_passive();
    s->options().keepalive_idle = Duration::from_s(10);
    s->options().keepalive_interval = Duration::from_s(1);
    s->options().keepalive_probes = 3;
    s->set_keepalive(true);
    advance(10ull * 1000000000ull);
    Segment probe = take_segment();
    EXPECT_EQ(probe.seq, m_iss); // snd_una - 1
    // An answer resets the idle timer.
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535);
    advance(1000000000ull);
    EXPECT_FALSE(has_sent());
    run_for(20ull * 1000000000ull);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->error(), Error::TimedOut);
    device->sent.clear();
    s->close();
    finish();
}

TEST_F(TcpEstablished, WindowScaleAndTimestampsAreUsedWhenBothSidesOfferThem)
{
    TcpSocket* c = MUST(stack->tcp().open());
    MUST(c->bind({ {}, kStackPort }));
    (void)c->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    EXPECT_EQ(syn.options.window_scale, 3); // 256 KiB receive buffer fits 16 bits after >> 3
    Bytes_ options = mss_option(1460);
    options.insert(options.end(), { 1, 3, 3, 2, 1, 1, 8, 10, 0, 0, 0, 77 });
    Bytes_ echo(4);
    put32(echo, 0, syn.options.ts_value);
    options.insert(options.end(), echo.begin(), echo.end());
    send_segment(kPeerIss, syn.seq + 1, TcpFlag::Syn | TcpFlag::Ack, 1000, options);
    Segment ack = take_segment();
    EXPECT_TRUE(ack.options.has_timestamps);
    EXPECT_EQ(ack.options.ts_echo, 77u);
    EXPECT_EQ(c->send_mss(), 1460 - 12);
    // RFC 7323 §2.2: the window in the SYN,ACK was not scaled; this one is.
    send_segment(kPeerIss + 1, syn.seq + 1, TcpFlag::Ack, 1000);
    // The peer's window of 1000 is scaled by 2^2: 4000 bytes may be in flight.
    c->set_nodelay(true);
    Bytes_ data = pattern(6000);
    MUST(c->send({ data.data(), data.size() }));
    u32 bytes = 0;
    while (has_sent())
        bytes += static_cast<u32>(take_segment().payload.size());
    EXPECT_LE(bytes, 4000u);
    EXPECT_GT(bytes, 2000u);
    finish(c);
}

TEST_F(TcpEstablished, ZeroCopySendPointsIntoPinnedPagesSplitAtThePageBoundary)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(8192);
    for (int i = 0; i < 8192; ++i)
        user[i] = static_cast<u8>(i * 7);
    // 1460 bytes starting 100 bytes before a page boundary: two pieces, two pins.
    MUST(s->send({ user + 4096 - 100, 1460 }));
    EXPECT_EQ(port->pins_held(), 2u);
    EXPECT_EQ(s->stats().zero_copy_pieces, 2u);
    EXPECT_EQ(s->stats().copied_bytes, 0u);
    EXPECT_GE(device->pieces_seen, 3u); // headers + two segments, each within one page
    Segment seg = take_segment();
    EXPECT_EQ(seg.payload, Bytes_(user + 4096 - 100, user + 4096 - 100 + 1460));
    // Retransmission sends the same pages again.
    advance(s->retransmission_timeout().ns());
    EXPECT_EQ(take_segment().payload, seg.payload);
    // The ACK releases the pins.
    send_segment(kPeerIss + 1, m_iss + 1 + 1460, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->copied_bytes(), 0u); // pinned, not copied: the port copied nothing either
    port->free_zero_copy_buffer(user, 8192);
    finish(s);
}

TEST_F(TcpEstablished, CopyModeUsesFollowOnTheSameCodePath)
{
    TcpSocket* s = establish_passive();
    s->set_nodelay(true);
    Bytes_ data = pattern(1460);
    MUST(s->send({ data.data(), data.size() }));
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(s->stats().copied_bytes, 1460u);
    EXPECT_EQ(take_segment().payload, data);
    finish(s);
}

TEST_F(TcpEstablished, GlobalCopyEliminationSwitchAppliesToNewSockets)
{
    stack->tcp().set_default_zero_copy(true);
    TcpSocket* s = establish_passive(); // the listener, and so the child, take the default
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(4096);
    std::fill(user, user + 4096, 0x5a);
    MUST(s->send({ user, 1000 }));
    EXPECT_EQ(s->stats().zero_copy_pieces, 1u);
    EXPECT_EQ(port->pins_held(), 1u);
    send_segment(kPeerIss + 1, m_iss + 1 + 1000, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    port->free_zero_copy_buffer(user, 4096);
    stack->tcp().set_default_zero_copy(false);
    TcpSocket* other = MUST(stack->tcp().open());
    EXPECT_FALSE(other->options().zero_copy);
    other->close();
    device->sent.clear();
    finish(s);
}

TEST_F(TcpEstablished, ZeroCopyReceiveRemapsAPageAtTheSameOffset)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    u8* region = port->allocate_zero_copy_buffer(4 * 4096);
    Bytes_ data = pattern(1400);
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 65535, {}, data);
    // The harness delivers frames at offset 2: payload at 2 + 14 + 20 + 20 = 56 in its page.
    u8* destination = region + 4096 + 56;
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1400 })), 1400u);
    EXPECT_EQ(port->remaps(), 1u);
    EXPECT_EQ(s->stats().remapped_pages, 1u);
    EXPECT_EQ(Bytes_(destination, destination + 1400), data);
    // At a different offset it is copied.
    send_segment(kPeerIss + 1401, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 65535, {}, data);
    EXPECT_EQ(MUST(s->recv_zero_copy({ region + 8192, 1400 })), 1400u);
    EXPECT_EQ(port->remaps(), 1u);
    EXPECT_EQ(Bytes_(region + 8192, region + 8192 + 1400), data);
    // Below the threshold it is copied too.
    send_segment(kPeerIss + 2801, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 65535, {}, pattern(100));
    EXPECT_EQ(MUST(s->recv_zero_copy({ region + 4096 * 3 + 56, 100 })), 100u);
    EXPECT_EQ(port->remaps(), 1u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    port->free_zero_copy_buffer(region, 4 * 4096);
    finish(s);
}

TEST_F(TcpEstablished, ReceiveWindowShrinksAsDataQueuesAndReopensAfterRecv)
{
    TcpSocket* s = establish_passive(65535, 32768);
    Bytes_ data = pattern(1460);
    u32 seq = kPeerIss + 1;
    for (int i = 0; i < 15; ++i, seq += 1460)
        send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    Segment last;
    while (has_sent())
        last = take_segment();
    EXPECT_LE(last.window, 32768 - 14 * 1460); // the 15th segment waits for a delayed ACK
    Bytes_ out(65536);
    EXPECT_EQ(MUST(s->recv({ out.data(), out.size() })), 15u * 1460);
    Segment update = take_segment(); // a window update after the application read
    EXPECT_GT(update.window, last.window);
    finish(s);
}

TEST_F(TcpEstablished, PollReportsReadableWritableAndErrors)
{
    TcpSocket* s = establish_passive();
    int waiter = 0;
    s->set_waiter(&waiter);
    PollEntry entry { s, kPollIn | kPollOut, 0 };
    EXPECT_EQ(poll_sockets(&entry, 1), 1u);
    EXPECT_EQ(entry.revents, kPollOut);
    u64 wakes = port->wakes();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 65535, {}, pattern(10));
    EXPECT_GT(port->wakes(), wakes);
    poll_sockets(&entry, 1);
    EXPECT_EQ(entry.revents, kPollIn | kPollOut);
    send_segment(kPeerIss + 11, 0, TcpFlag::Rst, 0);
    poll_sockets(&entry, 1);
    EXPECT_TRUE(entry.revents & kPollErr);
    s->close();
    finish();
}

} // namespace
