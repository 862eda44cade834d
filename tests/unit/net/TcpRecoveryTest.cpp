// Loss recovery (net/tcp/TcpCongestion.cpp) through the injected-segment harness: tail-loss
// probes (RFC 8985 §7) — a lost tail repaired in a few round trips instead of the minimum RTO,
// never a probe with nothing outstanding, the delayed-ACK allowance for a lone segment, the
// switch — RACK finding a lost retransmission, and a timeout that keeps the SACK marks. Then the
// two-stack simulator: no probe at all under normal ACK clocking.

#include "TcpHarness.h"

#include <algorithm>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

constexpr u64 kMs = 1000000;
constexpr u32 kMss = 1460;

class TcpRecovery : public TcpHarness {
protected:
    // An active open to a peer that permits SACK (no timestamps), the handshake taking `rtt_ms`:
    // SRTT = rtt_ms. Returns the socket; m_iss is ours.
    TcpSocket* establish_sack(u64 rtt_ms = 10)
    {
        TcpSocket* s = MUST(stack->tcp().open());
        MUST(s->bind({ {}, kStackPort }));
        EXPECT_EQ(s->connect({ kPeerIp, kPeerPort }).error(), Error::InProgress);
        Segment syn = take_segment();
        m_iss = syn.seq;
        advance(rtt_ms * kMs);
        Bytes_ options = mss_option(kMss);
        options.insert(options.end(), { 1, 1, 4, 2 }); // NOP NOP SACK-permitted
        send_segment(kPeerIss, m_iss + 1, TcpFlag::Syn | TcpFlag::Ack, 65535, options);
        EXPECT_EQ(take_segment().flags, TcpFlag::Ack);
        EXPECT_EQ(s->state(), TcpState::Established);
        EXPECT_TRUE(s->tcb().sack_enabled);
        s->set_nodelay(true);
        return s;
    }

    u32 data_seq(u32 segment) const { return m_iss + 1 + segment * kMss; }

    // An ACK of everything below segment `acked`, with SACK blocks [from, to) in segments.
    void ack(u32 acked, std::vector<std::pair<u32, u32>> sacked = {})
    {
        Bytes_ options;
        if (!sacked.empty()) {
            options = { 1, 1, 5, static_cast<u8>(2 + 8 * sacked.size()) };
            for (auto [from, to] : sacked) {
                Bytes_ block(8);
                put32(block, 0, data_seq(from));
                put32(block, 4, data_seq(to));
                options.insert(options.end(), block.begin(), block.end());
            }
        }
        send_segment(kPeerIss + 1, data_seq(acked), TcpFlag::Ack, 65535, options);
    }

    // Moves the clock 100 µs at a time until the stack sends something; returns how long it took.
    u64 wait_for_send(u64 limit)
    {
        u64 start = now;
        while (!has_sent() && now - start < limit)
            advance(100000);
        return now - start;
    }

    std::vector<Segment> take_all()
    {
        std::vector<Segment> all;
        while (has_sent())
            all.push_back(take_segment());
        return all;
    }

    // Sends `segments` full segments; they all go out (the window allows): returns them.
    std::vector<Segment> send_segments(TcpSocket* s, u32 segments, u32 offset = 0)
    {
        Bytes_ data = pattern(segments * kMss, offset);
        EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), data.size());
        std::vector<Segment> sent = take_all();
        EXPECT_EQ(sent.size(), segments);
        return sent;
    }
};

TEST_F(TcpRecovery, LostTailIsRepairedByAProbeInAFewRoundTripsNotTheRetransmissionTimeout)
{
    TcpSocket* s = establish_sack(10); // SRTT 10 ms; RTO = 10 + 4·5 = 30 ms → 200 ms minimum
    ASSERT_EQ(s->retransmission_timeout(), TcpLayer::kMinRto);
    std::vector<Segment> sent = send_segments(s, 3); // the initial window: 3 segments
    // One round trip later the peer acknowledges the first; the last two were lost.
    advance(10 * kMs);
    ack(1);
    EXPECT_FALSE(has_sent());
    EXPECT_TRUE(s->tcb().pto_deadline.is_set());
    // PTO = 2·SRTT (+ 2 ms of timer slack) with two segments in flight: the probe is the last
    // segment sent, again.
    u64 waited = wait_for_send(TcpLayer::kMinRto.ns());
    EXPECT_GE(waited, 20 * kMs);
    EXPECT_LE(waited, 23 * kMs);
    Segment probe = take_segment();
    EXPECT_EQ(probe.seq, sent[2].seq);
    EXPECT_EQ(probe.payload, sent[2].payload);
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_loss_probes, 1u);
    // The probe arrives: the peer SACKs it. RACK: segment 1 was sent before a segment now
    // delivered, longer ago than RACK.rtt + the reordering window: lost, resent at once.
    advance(10 * kMs);
    ack(1, { { 2, 3 } });
    Segment repair = take_segment();
    EXPECT_EQ(repair.seq, sent[1].seq);
    EXPECT_EQ(s->tcb().loss_state, TcpLossState::Recovery);
    advance(10 * kMs);
    ack(3);
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    EXPECT_EQ(s->tcb().loss_state, TcpLossState::Open);
    // Repaired in about five round trips (50 ms from the first ACK): the timer (200 ms minimum,
    // then a window of one segment) never fired.
    EXPECT_EQ(stack->counters().tcp_timeouts, 0u);
    EXPECT_GE(stack->counters().tcp_rack_lost, 1u);
    EXPECT_LT(s->tcb().cwnd, 5u * kMss); // a loss is still a congestion signal
    finish(s);
}

TEST_F(TcpRecovery, WithoutProbesTheSameTailWaitsForTheRetransmissionTimeout)
{
    stack->tcp().set_loss_probes(false);
    TcpSocket* s = establish_sack(10);
    std::vector<Segment> sent = send_segments(s, 3);
    advance(10 * kMs);
    ack(1);
    EXPECT_FALSE(s->tcb().pto_deadline.is_set());
    u64 waited = wait_for_send(TcpLayer::kMinRto.ns() * 2);
    EXPECT_GE(waited, TcpLayer::kMinRto.ns());
    EXPECT_EQ(take_segment().seq, sent[1].seq); // the first unacknowledged, by the timer
    EXPECT_EQ(stack->counters().tcp_timeouts, 1u);
    EXPECT_EQ(stack->counters().tcp_loss_probes, 0u);
    EXPECT_EQ(s->congestion_window(), kMss);
    ack(3);
    stack->tcp().set_loss_probes(true);
    finish(s);
}

TEST_F(TcpRecovery, ALoneSegmentInFlightGetsTheDelayedAckAllowance)
{
    TcpSocket* s = establish_sack(10);
    std::vector<Segment> sent = send_segments(s, 2);
    advance(10 * kMs);
    ack(1); // one segment left in flight: the receiver may be holding its ACK back for a second
    u64 waited = wait_for_send(TcpLayer::kMinRto.ns());
    Duration expected = Duration::from_ms(20 + 2) + TcpLayer::kTlpDelayedAck;
    EXPECT_GE(waited, expected.ns());
    EXPECT_LE(waited, expected.ns() + kMs);
    EXPECT_LT(waited, TcpLayer::kMinRto.ns());
    EXPECT_EQ(take_segment().seq, sent[1].seq);
    ack(2);
    EXPECT_EQ(stack->counters().tcp_timeouts, 0u);
    finish(s);
}

TEST_F(TcpRecovery, NoProbeWhileNothingIsOutstandingAndNoneForPeersWithoutSack)
{
    TcpSocket* s = establish_sack(10);
    send_segments(s, 2);
    advance(10 * kMs);
    ack(2);
    EXPECT_FALSE(s->tcb().pto_deadline.is_set());
    run_for(Duration::from_s(10).ns());
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_loss_probes, 0u);
    s->abort();
    device->sent.clear();

    // A peer that did not permit SACK: a probe's ACK could not say what was lost (RFC 8985 §7).
    TcpSocket* plain = establish_active();
    plain->set_nodelay(true);
    Bytes_ data = pattern(2 * kMss);
    MUST(plain->send({ data.data(), data.size() }));
    take_all();
    EXPECT_FALSE(plain->tcb().pto_deadline.is_set());
    finish(plain);
}

TEST_F(TcpRecovery, NewDataGoesAsTheProbeWhenThereIsAny)
{
    TcpSocket* s = establish_sack(10);
    std::vector<Segment> sent = send_segments(s, 3);
    // More data queued behind a window that has no room for it: the congestion window is full.
    Bytes_ more = pattern(kMss, 9);
    MUST(s->send({ more.data(), more.size() }));
    EXPECT_FALSE(has_sent());
    wait_for_send(TcpLayer::kMinRto.ns());
    Segment probe = take_segment();
    EXPECT_EQ(probe.seq, data_seq(3)); // new data, beyond cwnd: the probe stands for missing ACKs
    EXPECT_EQ(probe.payload, more);
    EXPECT_TRUE(s->tcb().tlp_outstanding);
    EXPECT_FALSE(s->tcb().tlp_is_retransmission);
    // Its SACK shows every earlier segment missing: RACK repairs them.
    advance(10 * kMs);
    ack(0, { { 3, 4 } });
    std::vector<Segment> repairs = take_all();
    ASSERT_FALSE(repairs.empty());
    EXPECT_EQ(repairs[0].seq, sent[0].seq);
    ack(4);
    EXPECT_EQ(stack->counters().tcp_timeouts, 0u);
    finish(s);
}

TEST_F(TcpRecovery, RackFindsALostRetransmissionWithoutWaitingForTheTimer)
{
    TcpSocket* s = establish_sack(10);
    // Grow the window: three rounds of full ACKs.
    u32 base = 0;
    for (u32 round = 0; round < 3; ++round) {
        u32 n = static_cast<u32>(send_segments(s, s->congestion_window() / kMss, base).size());
        base += n;
        advance(10 * kMs);
        ack(base);
    }
    u32 first = base;
    Bytes_ data = pattern(24 * kMss, 5);
    MUST(s->send({ data.data(), data.size() }));
    u32 flight = static_cast<u32>(take_all().size());
    ASSERT_GE(flight, 8u);
    // Segment `first` is lost; the rest arrive, SACKed.
    advance(10 * kMs);
    ack(first, { { first + 1, first + flight } });
    std::vector<Segment> out = take_all();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out[0].seq, data_seq(first)); // RACK: DupThresh segments SACKed, no reordering window
    EXPECT_EQ(stack->counters().tcp_timeouts, 0u);
    // The retransmission is lost too, but new data sent after it arrives: its SACK shows the
    // retransmission overtaken, and RACK resends it once more, still without the timer.
    ASSERT_GE(out.size(), 2u) << "PRR lets new data out behind the retransmission";
    u32 last_new = (out.back().seq - m_iss - 1) / kMss;
    advance(10 * kMs);
    ack(first, { { first + 1, last_new + 1 } });
    std::vector<Segment> again = take_all();
    ASSERT_FALSE(again.empty());
    EXPECT_EQ(again[0].seq, data_seq(first));
    EXPECT_EQ(stack->counters().tcp_lost_retransmits, 1u);
    EXPECT_EQ(stack->counters().tcp_timeouts, 0u);
    advance(10 * kMs);
    ack(last_new + 1);
    finish(s);
}

TEST_F(TcpRecovery, TimeoutKeepsTheSackMarksAndResendsOnlyTheHoles)
{
    TcpSocket* s = establish_sack(10);
    std::vector<Segment> sent = send_segments(s, 3);
    advance(10 * kMs);
    ack(0, { { 1, 2 } }); // 1 SACKed; 0 and 2 not (yet): RACK waits a quarter RTT
    take_all();
    // Nothing more comes back: the retransmission timer eventually fires.
    run_for(TcpLayer::kMinRto.ns() * 3);
    std::vector<Segment> resent = take_all();
    ASSERT_FALSE(resent.empty());
    for (Segment const& seg : resent)
        EXPECT_NE(seg.seq, sent[1].seq) << "the SACKed segment was sent again";
    ack(3);
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    finish(s);
}

// A transfer over a clean simulated wire (both ends Skiff, delayed ACKs on): the ACK clock never
// lets a probe timeout run out — not between bursts, not at the end.
TEST(TcpRecoverySimulator, NoProbesUnderNormalAckClocking)
{
    for (bool tso : { false, true }) {
        TwoStacks net({}, 3, tso);
        TcpSocket* listener = MUST(net.b->tcp().open());
        MUST(listener->bind({ {}, 5001 }));
        MUST(listener->listen(4));
        TcpSocket* client = MUST(net.a->tcp().open());
        EXPECT_EQ(client->connect({ Ipv4Address::from_octets(10, 0, 0, 2), 5001 }).error(), Error::InProgress);
        net.run_for(10 * kMs);
        TcpSocket* server = MUST(listener->accept());
        std::vector<u8> buffer(65536);
        u64 received = 0;
        Bytes_ data = pattern(1 << 20);
        // Bursts of different sizes (odd and even segment counts, a short tail), each read
        // before the next: every burst ends with ACKs the receiver may delay.
        for (u32 burst : { 1000u, 1460u, 2920u, 4000u, 65536u, 100000u, 7u, 300000u }) {
            u32 sent = 0;
            while (sent < burst) {
                auto n = client->send({ data.data(), std::min<u32>(burst - sent, static_cast<u32>(data.size())) });
                ASSERT_TRUE(n.has_value());
                sent += static_cast<u32>(n.value());
                net.run_for(kMs);
                for (;;) {
                    auto r = server->recv({ buffer.data(), buffer.size() });
                    if (r.is_error() || r.value() == 0)
                        break;
                    received += r.value();
                }
            }
            net.run_for(300 * kMs); // the burst's last ACK, delayed or not
            for (;;) {
                auto r = server->recv({ buffer.data(), buffer.size() });
                if (r.is_error() || r.value() == 0)
                    break;
                received += r.value();
            }
        }
        EXPECT_EQ(received, 1000u + 1460 + 2920 + 4000 + 65536 + 100000 + 7 + 300000);
        EXPECT_EQ(net.a->counters().tcp_loss_probes, 0u) << "tso " << tso;
        EXPECT_EQ(net.a->counters().tcp_retransmits, 0u) << "tso " << tso;
        EXPECT_EQ(net.a->counters().tcp_timeouts, 0u) << "tso " << tso;
        client->close();
        server->close();
        listener->close();
        net.run_for(200ull * 1000 * kMs);
        EXPECT_EQ(net.a->counters().tcp_loss_probes, 0u) << "the FIN's tail: tso " << tso;
        EXPECT_EQ(net.a->pool().in_use(), 0u);
        EXPECT_EQ(net.b->pool().in_use(), 0u);
    }
}

} // namespace
