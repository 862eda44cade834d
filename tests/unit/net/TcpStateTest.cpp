// One test per state and event of RFC 9293's state machine (§3.3.2, §3.10.7), named
// <State>.<Event...>, through the injected-segment harness.

#include "TcpHarness.h"

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

using TcpClosed = TcpHarness;
using TcpListen = TcpHarness;
using TcpSynSent = TcpHarness;
using TcpSynReceived = TcpHarness;
using TcpEstablished = TcpHarness;
using TcpFinWait1 = TcpHarness;
using TcpFinWait2 = TcpHarness;
using TcpCloseWait = TcpHarness;
using TcpClosing = TcpHarness;
using TcpLastAck = TcpHarness;
using TcpTimeWait = TcpHarness;

TEST_F(TcpClosed, SegmentWithoutAckGetsResetAcknowledgingIt)
{
    send_segment(5000, 0, TcpFlag::Syn, 1000);
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst | TcpFlag::Ack);
    EXPECT_EQ(rst.seq, 0u);
    EXPECT_EQ(rst.ack, 5001u);
    EXPECT_EQ(stack->counters().tcp_drop_no_socket, 1u);
}

TEST_F(TcpClosed, SegmentWithAckGetsResetAtThatSequence)
{
    send_segment(5000, 777, TcpFlag::Ack, 1000, {}, pattern(10));
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst);
    EXPECT_EQ(rst.seq, 777u);
}

TEST_F(TcpClosed, ResetIsNeverAnswered)
{
    send_segment(5000, 777, TcpFlag::Rst, 0);
    EXPECT_FALSE(has_sent());
}

TEST_F(TcpClosed, MalformedSegmentsAreCountedAndDropped)
{
    IpFields f;
    f.protocol = 6;
    inject(frame_to_stack(f, Bytes_(19)));
    Bytes_ bad_offset = tcp_segment(1, 0, TcpFlag::Syn, 100);
    bad_offset[12] = 0x40; // data offset 4 words
    inject(frame_to_stack(f, bad_offset));
    Bytes_ long_offset = tcp_segment(1, 0, TcpFlag::Syn, 100);
    long_offset[12] = 0xf0; // 60 bytes of header in a 20-byte segment
    inject(frame_to_stack(f, long_offset));
    Bytes_ bad_option = tcp_segment(1, 0, TcpFlag::Syn, 100, { 2, 9, 5, 0 });
    inject(frame_to_stack(f, bad_option));
    EXPECT_EQ(stack->counters().tcp_drop_malformed, 4u);
    Bytes_ bad_sum = tcp_segment(1, 0, TcpFlag::Syn, 100);
    bad_sum[4] ^= 1;
    inject(frame_to_stack(f, bad_sum));
    EXPECT_EQ(stack->counters().tcp_drop_checksum, 1u);
    EXPECT_FALSE(has_sent());
}

TEST_F(TcpListen, SynMovesToSynReceivedAndSendsSynAck)
{
    TcpSocket* l = listen_socket();
    // Offer everything: MSS 9000 (we clamp to our MTU), SACK-permitted, timestamps, scale 7.
    Bytes_ options = { 2, 4, 0x23, 0x28, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 1, 3, 3, 7 };
    send_segment(kPeerIss, 0, TcpFlag::Syn, 29200, options);
    Segment s = take_segment();
    EXPECT_EQ(s.flags, TcpFlag::Syn | TcpFlag::Ack);
    EXPECT_EQ(s.ack, kPeerIss + 1);
    EXPECT_EQ(s.options.mss, 1460); // RFC 9293 §3.7.1: MTU 1500 - 40
    EXPECT_TRUE(s.options.sack_permitted);
    EXPECT_TRUE(s.options.has_timestamps);
    EXPECT_EQ(s.options.ts_echo, 5u);
    EXPECT_TRUE(s.options.has_window_scale);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 2u); // listener + the half-open child
    EXPECT_EQ(l->accept().error(), Error::WouldBlock);
    m_listener = l;
    finish();
}

// RFC 9293 §3.1: options fill whole 32-bit words. Every mix a peer may offer (a Windows SYN
// carries MSS, SACK-permitted and window scale without timestamps) gets a SYN-ACK whose header
// ends exactly where its options do: no option cut off, no stray "data" bytes (found by the tcp
// fuzzer: tests/fuzz/regressions/tcp/synack-options-not-whole-words-*).
TEST_F(TcpListen, SynAckOptionsFillWholeWordsForEveryOfferedMix)
{
    Bytes_ const mss = { 2, 4, 0x05, 0xb4 };
    Bytes_ const sack = { 1, 1, 4, 2 };
    Bytes_ const timestamps = { 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0 };
    Bytes_ const scale = { 1, 3, 3, 7 };
    for (int mix = 0; mix < 8; ++mix) {
        Bytes_ options = mss;
        if (mix & 1)
            options.insert(options.end(), sack.begin(), sack.end());
        if (mix & 2)
            options.insert(options.end(), timestamps.begin(), timestamps.end());
        if (mix & 4)
            options.insert(options.end(), scale.begin(), scale.end());
        m_listener = listen_socket();
        send_segment(kPeerIss, 0, TcpFlag::Syn, 8192, options);
        Segment s = take_segment();
        EXPECT_EQ(s.flags, TcpFlag::Syn | TcpFlag::Ack) << "mix " << mix;
        EXPECT_TRUE(s.payload.empty()) << "mix " << mix << ": option bytes leaked into the payload";
        EXPECT_EQ(s.options.mss, 1460) << "mix " << mix;
        EXPECT_EQ(s.options.sack_permitted, (mix & 1) != 0) << "mix " << mix;
        EXPECT_EQ(s.options.has_timestamps, (mix & 2) != 0) << "mix " << mix;
        EXPECT_EQ(s.options.has_window_scale, (mix & 4) != 0) << "mix " << mix;
        finish();
    }
}

TEST_F(TcpListen, SynWithoutOptionsGetsOnlyMss)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 8192);
    Segment s = take_segment();
    EXPECT_EQ(s.options.mss, 1460);
    EXPECT_FALSE(s.options.sack_permitted);
    EXPECT_FALSE(s.options.has_timestamps);
    EXPECT_FALSE(s.options.has_window_scale);
    finish();
}

TEST_F(TcpListen, AckIsAnsweredWithReset)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 4242, TcpFlag::Ack, 100);
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst);
    EXPECT_EQ(rst.seq, 4242u);
    finish();
}

TEST_F(TcpListen, RstIsIgnored)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Rst, 0);
    EXPECT_FALSE(has_sent());
    finish();
}

TEST_F(TcpListen, SynsBeyondTheHalfOpenBacklogGetCookiesAndKeepNoState)
{
    // A burst of clients: the first two get half-open connections, the others SYN cookies
    // (TcpSynCookieTest.cpp); nobody's SYN-ACK is taken back, and no state beyond the backlog.
    m_listener = listen_socket(2);
    for (u16 port = 1; port <= 4; ++port) {
        IpFields f;
        f.protocol = 6;
        inject(frame_to_stack(f, tcp_segment(kPeerIss, 0, TcpFlag::Syn, 1000, {}, {}, port, kStackPort)));
    }
    EXPECT_EQ(device->sent.size(), 4u);
    EXPECT_EQ(stack->counters().tcp_syncookies_sent, 2u);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 3u); // the listener and two half-open connections
    finish();
}

TEST_F(TcpListen, WithoutCookiesSynsBeyondTheBacklogAreDropped)
{
    stack->tcp().set_syn_cookies(false);
    m_listener = listen_socket(2);
    for (u16 port = 1; port <= 4; ++port) {
        IpFields f;
        f.protocol = 6;
        inject(frame_to_stack(f, tcp_segment(kPeerIss, 0, TcpFlag::Syn, 1000, {}, {}, port, kStackPort)));
    }
    EXPECT_EQ(device->sent.size(), 2u);
    EXPECT_EQ(stack->counters().tcp_backlog_full, 2u);
    EXPECT_EQ(stack->counters().tcp_syncookies_sent, 0u);
    stack->tcp().set_syn_cookies(true);
    finish();
}

TEST_F(TcpListen, SynsBeyondAFullAcceptQueueAreDropped)
{
    m_listener = listen_socket(1);
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    Segment syn_ack = take_segment();
    send_segment(kPeerIss + 1, syn_ack.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_FALSE(has_sent()); // established, waiting in the accept queue
    IpFields f;
    f.protocol = 6;
    inject(frame_to_stack(f, tcp_segment(kPeerIss, 0, TcpFlag::Syn, 1000, {}, {}, 7, kStackPort)));
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_backlog_full, 1u);
    EXPECT_EQ(stack->counters().tcp_syncookies_sent, 0u); // a full accept queue takes no cookie either
    finish(MUST(m_listener->accept()));
}

TEST_F(TcpSynSent, ConnectSendsSynWithAllOptions)
{
    TcpSocket* s = MUST(stack->tcp().open());
    EXPECT_EQ(s->connect({ kPeerIp, kPeerPort }).error(), Error::InProgress);
    EXPECT_EQ(s->state(), TcpState::SynSent);
    Segment syn = take_segment();
    EXPECT_EQ(syn.flags, TcpFlag::Syn);
    EXPECT_EQ(syn.options.mss, 1460);
    EXPECT_TRUE(syn.options.sack_permitted);
    EXPECT_TRUE(syn.options.has_timestamps);
    EXPECT_TRUE(syn.options.has_window_scale);
    EXPECT_EQ(s->poll_events() & kPollOut, 0u);
    s->close();
}

TEST_F(TcpSynSent, SynAckMovesToEstablishedAndAcks)
{
    TcpSocket* s = establish_active();
    EXPECT_EQ(s->poll_events() & kPollOut, kPollOut);
    EXPECT_EQ(s->send_mss(), 1460);
    finish(s);
}

TEST_F(TcpSynSent, PeerMssBelowOursIsUsed)
{
    TcpSocket* s = establish_active(65535, mss_option(536));
    EXPECT_EQ(s->send_mss(), 536);
    finish(s);
}

TEST_F(TcpSynSent, TinyPeerMssWithTimestampsIsRaisedToTheMinimum)
{
    // Found by the tcp fuzzer: MSS 4 minus the 12 bytes of timestamps wrapped around.
    Bytes_ options = mss_option(4);
    options.insert(options.end(), { 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0 });
    TcpSocket* s = establish_active(65535, options);
    EXPECT_EQ(s->send_mss(), 48);
    s->set_nodelay(true);
    Bytes_ data = pattern(100);
    EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), 100u);
    EXPECT_EQ(take_segment().payload.size(), 48u);
    device->sent.clear();
    finish(s);
}

TEST_F(TcpSynSent, RstWithAcceptableAckRefusesConnection)
{
    TcpSocket* s = MUST(stack->tcp().open());
    MUST(s->bind({ {}, kStackPort }));
    (void)s->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    send_segment(0, syn.seq + 1, TcpFlag::Rst | TcpFlag::Ack, 0);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->error(), Error::ConnectionRefused);
    EXPECT_EQ(s->poll_events() & kPollErr, kPollErr);
    s->close();
}

TEST_F(TcpSynSent, BadAckGetsResetAndConnectionStays)
{
    TcpSocket* s = MUST(stack->tcp().open());
    MUST(s->bind({ {}, kStackPort }));
    (void)s->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    send_segment(kPeerIss, syn.seq + 100, TcpFlag::Syn | TcpFlag::Ack, 1000);
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst);
    EXPECT_EQ(rst.seq, syn.seq + 100);
    EXPECT_EQ(s->state(), TcpState::SynSent);
    s->close();
}

TEST_F(TcpSynSent, SynAloneMovesToSynReceivedForSimultaneousOpen)
{
    TcpSocket* s = MUST(stack->tcp().open());
    MUST(s->bind({ {}, kStackPort }));
    (void)s->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    EXPECT_EQ(s->state(), TcpState::SynReceived);
    Segment syn_ack = take_segment();
    EXPECT_EQ(syn_ack.flags, TcpFlag::Syn | TcpFlag::Ack);
    EXPECT_EQ(syn_ack.seq, syn.seq);
    EXPECT_EQ(syn_ack.ack, kPeerIss + 1);
    send_segment(kPeerIss + 1, syn.seq + 1, TcpFlag::Syn | TcpFlag::Ack, 1000);
    // The peer's SYN,ACK repeats its SYN (a retransmission): answered, and its ACK completes.
    device->sent.clear();
    send_segment(kPeerIss + 1, syn.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::Established);
    finish(s);
}

TEST_F(TcpSynSent, SynIsRetransmittedWithBackoffThenTimesOut)
{
    TcpSocket* s = MUST(stack->tcp().open());
    (void)s->connect({ kPeerIp, kPeerPort });
    take_segment();
    u64 interval = TcpLayer::kInitialRto.ns();
    for (u32 i = 0; i < TcpLayer::kMaxSynRetransmits; ++i) {
        advance(interval - 1);
        EXPECT_FALSE(has_sent()) << "retransmission " << i << " too early";
        advance(1);
        Segment again = take_segment();
        EXPECT_EQ(again.flags, TcpFlag::Syn);
        interval = std::min(interval * 2, TcpLayer::kMaxRto.ns()); // RFC 6298 §5.5
    }
    advance(interval);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->error(), Error::TimedOut);
    s->close();
}

TEST_F(TcpSynReceived, AckMovesToEstablishedAndQueuesForAccept)
{
    TcpSocket* s = establish_passive();
    EXPECT_EQ(s->remote().port, kPeerPort);
    EXPECT_EQ(m_listener->accept().error(), Error::WouldBlock);
    finish(s);
}

TEST_F(TcpSynReceived, ListenerIsReadableWhenAConnectionWaits)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    Segment syn_ack = take_segment();
    EXPECT_EQ(m_listener->poll_events(), 0u);
    send_segment(kPeerIss + 1, syn_ack.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_EQ(m_listener->poll_events(), kPollIn);
    finish();
}

TEST_F(TcpSynReceived, RstReturnsToListen)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    take_segment();
    send_segment(kPeerIss + 1, 0, TcpFlag::Rst, 0);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u);
    EXPECT_EQ(m_listener->state(), TcpState::Listen);
    finish();
}

TEST_F(TcpSynReceived, RetransmittedSynGetsSynAckAgain)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    Segment first = take_segment();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    Segment second = take_segment();
    EXPECT_EQ(second.flags, TcpFlag::Syn | TcpFlag::Ack);
    EXPECT_EQ(second.seq, first.seq);
    finish();
}

TEST_F(TcpSynReceived, BadAckGetsReset)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    Segment syn_ack = take_segment();
    send_segment(kPeerIss + 1, syn_ack.seq + 50, TcpFlag::Ack, 1000);
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst);
    EXPECT_EQ(rst.seq, syn_ack.seq + 50);
    finish();
}

TEST_F(TcpSynReceived, SynAckIsRetransmittedThenTheHalfOpenConnectionIsDropped)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 1000);
    take_segment();
    advance(TcpLayer::kInitialRto.ns());
    EXPECT_EQ(take_segment().flags, TcpFlag::Syn | TcpFlag::Ack);
    run_for(TcpLayer::kMaxRto.ns() * 10);
    EXPECT_GE(device->sent.size(), TcpLayer::kMaxSynRetransmits - 1);
    device->sent.clear();
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u); // only the listener
    finish();
}

TEST_F(TcpEstablished, RstAtRcvNxtResetsTheConnection)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, 0, TcpFlag::Rst, 0);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->error(), Error::ConnectionReset);
    u8 byte;
    EXPECT_EQ(s->recv({ &byte, 1 }).error(), Error::ConnectionReset);
    s->close();
    finish();
}

TEST_F(TcpEstablished, RstInWindowButNotExactGetsChallengeAck)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 100, 0, TcpFlag::Rst, 0);
    EXPECT_EQ(s->state(), TcpState::Established);
    Segment challenge = take_segment();
    EXPECT_EQ(challenge.flags, TcpFlag::Ack);
    EXPECT_EQ(challenge.ack, kPeerIss + 1);
    EXPECT_EQ(stack->counters().tcp_challenge_acks, 1u);
    finish(s);
}

TEST_F(TcpEstablished, RstOutsideWindowIsDroppedSilently)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1000000, 0, TcpFlag::Rst, 0);
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(s->state(), TcpState::Established);
    finish(s);
}

TEST_F(TcpEstablished, SynGetsChallengeAckAndConnectionStays)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 5, 0, TcpFlag::Syn, 1000);
    EXPECT_EQ(take_segment().flags, TcpFlag::Ack);
    EXPECT_EQ(s->state(), TcpState::Established);
    finish(s);
}

TEST_F(TcpEstablished, ChallengeAcksAreRateLimited)
{
    TcpSocket* s = establish_passive();
    for (u32 i = 0; i < TcpLayer::kChallengeAcksPerSecond + 10; ++i)
        send_segment(kPeerIss + 5, 0, TcpFlag::Syn, 1000);
    EXPECT_EQ(device->sent.size(), TcpLayer::kChallengeAcksPerSecond);
    finish(s);
}

TEST_F(TcpEstablished, UnacceptableSegmentIsAnsweredWithAck)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss - 5000, m_iss + 1, TcpFlag::Ack, 1000, {}, pattern(10));
    Segment ack = take_segment();
    EXPECT_EQ(ack.ack, kPeerIss + 1);
    EXPECT_EQ(s->receive_queued_bytes(), 0u);
    finish(s);
}

TEST_F(TcpEstablished, AckOfUnsentDataIsAnsweredAndIgnored)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 500, TcpFlag::Ack, 1000);
    Segment ack = take_segment();
    EXPECT_EQ(ack.seq, m_iss + 1);
    finish(s);
}

TEST_F(TcpEstablished, FinMovesToCloseWaitAndRecvSeesEndOfStream)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Fin | TcpFlag::Ack, 1000, {}, pattern(5));
    EXPECT_EQ(s->state(), TcpState::CloseWait);
    Segment ack = take_segment();
    EXPECT_EQ(ack.ack, kPeerIss + 1 + 5 + 1);
    u8 out[16];
    EXPECT_EQ(MUST(s->recv({ out, 16 })), 5u);
    EXPECT_EQ(MUST(s->recv({ out, 16 })), 0u);
    finish(s);
}

TEST_F(TcpEstablished, CloseSendsFinAndMovesToFinWait1)
{
    TcpSocket* s = establish_passive();
    s->close();
    Segment fin = take_segment();
    EXPECT_EQ(fin.flags, TcpFlag::Fin | TcpFlag::Ack);
    EXPECT_EQ(fin.seq, m_iss + 1);
    EXPECT_EQ(s->state(), TcpState::FinWait1);
    finish();
}

TEST_F(TcpEstablished, CloseWithUnreadDataSendsReset)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack | TcpFlag::Psh, 1000, {}, pattern(10));
    device->sent.clear();
    s->close();
    Segment rst = take_segment();
    EXPECT_TRUE(rst.has(TcpFlag::Rst));
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u);
    finish();
}

TEST_F(TcpFinWait1, AckOfFinMovesToFinWait2)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::FinWait2);
    EXPECT_EQ(s->send({ fin.payload.data(), 0 }).error(), Error::Shutdown);
    finish(s);
}

TEST_F(TcpFinWait1, FinWithoutAckOfOursMovesToClosing)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq, TcpFlag::Fin | TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::Closing);
    EXPECT_EQ(take_segment().ack, kPeerIss + 2);
    finish(s);
}

TEST_F(TcpFinWait1, FinWithAckOfOursMovesToTimeWait)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::TimeWait);
    finish(s);
}

TEST_F(TcpFinWait1, FinIsRetransmittedUntilAcked)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    advance(TcpLayer::kInitialRto.ns());
    Segment again = take_segment();
    EXPECT_TRUE(again.has(TcpFlag::Fin));
    EXPECT_EQ(again.seq, fin.seq);
    finish(s);
}

TEST_F(TcpFinWait2, FinMovesToTimeWaitAndIsAcked)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Ack, 1000);
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::TimeWait);
    EXPECT_EQ(take_segment().ack, kPeerIss + 2);
    finish(s);
}

TEST_F(TcpFinWait2, DataIsStillReceived)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Ack | TcpFlag::Psh, 1000, {}, pattern(100));
    u8 out[200];
    EXPECT_EQ(MUST(s->recv({ out, 200 })), 100u);
    finish(s);
}

TEST_F(TcpCloseWait, CloseSendsFinAndMovesToLastAck)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    u8 out[4];
    EXPECT_EQ(MUST(s->recv({ out, 4 })), 0u);
    s->close();
    EXPECT_EQ(s->state(), TcpState::LastAck);
    Segment fin = take_segment();
    EXPECT_TRUE(fin.has(TcpFlag::Fin));
    finish();
}

TEST_F(TcpCloseWait, SendStillWorks)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    Bytes_ data = pattern(50);
    EXPECT_EQ(MUST(s->send({ data.data(), data.size() })), 50u);
    EXPECT_EQ(take_segment().payload, data);
    finish(s);
}

TEST_F(TcpLastAck, AckOfFinClosesAndFreesTheSocket)
{
    TcpSocket* s = establish_passive();
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    s->close();
    Segment fin = take_segment();
    send_segment(kPeerIss + 2, fin.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u); // only the listener
    finish();
}

TEST_F(TcpClosing, AckOfFinMovesToTimeWait)
{
    TcpSocket* s = establish_passive();
    MUST(s->shutdown_write());
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    send_segment(kPeerIss + 2, fin.seq + 1, TcpFlag::Ack, 1000);
    EXPECT_EQ(s->state(), TcpState::TimeWait);
    finish(s);
}

TEST_F(TcpTimeWait, ExpiresAfterTwoMsl)
{
    TcpSocket* s = establish_passive();
    s->close();
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    EXPECT_EQ(s->state(), TcpState::TimeWait);
    EXPECT_EQ(stack->next_deadline(), now + TcpLayer::kTimeWait.ns());
    advance(TcpLayer::kTimeWait.ns() - 1);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 2u);
    advance(1);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u);
    finish();
}

TEST_F(TcpTimeWait, RetransmittedFinIsAckedAndRestartsTheTimer)
{
    TcpSocket* s = establish_passive();
    s->close();
    Segment fin = take_segment();
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    take_segment();
    advance(TcpLayer::kTimeWait.ns() / 2);
    send_segment(kPeerIss + 1, fin.seq + 1, TcpFlag::Fin | TcpFlag::Ack, 1000);
    EXPECT_EQ(take_segment().ack, kPeerIss + 2);
    advance(TcpLayer::kTimeWait.ns() / 2 + 1);
    EXPECT_EQ(stack->tcp().sockets_in_use(), 2u); // restarted
    advance(TcpLayer::kTimeWait.ns());
    EXPECT_EQ(stack->tcp().sockets_in_use(), 1u);
    finish();
}

} // namespace

namespace {

// What a socket call outside the stack's thread compares with that thread's next look
// (knet::wake_network_thread_by): the connection's earliest timer, and never once it is gone.
TEST_F(TcpEstablished, NextDeadlineIsTheEarliestTimerAndNeverOnceClosed)
{
    TcpSocket* s = establish_passive();
    EXPECT_FALSE(s->tcb().rto_deadline.is_set());
    ASSERT_EQ(s->send({ pattern(100).data(), 100 }).value(), 100u);
    Segment data = take_segment();
    EXPECT_EQ(data.payload.size(), 100u);
    ASSERT_TRUE(s->tcb().rto_deadline.is_set());
    EXPECT_LE(s->next_deadline().ns(), s->tcb().rto_deadline.ns());
    EXPECT_EQ(s->next_deadline().ns(), stack->tcp().next_deadline()); // the only connection
    send_segment(kPeerIss + 1, 0, TcpFlag::Rst, 0);
    EXPECT_EQ(s->state(), TcpState::Closed);
    s->close();
    EXPECT_EQ(s->next_deadline(), Instant::never());
    finish();
}

} // namespace
