// SYN cookies (net/tcp/TcpSynCookies.cpp, RFC 4987 §3.6) through the injected-segment harness:
// the MSS table, the round trip (cookie SYN-ACK, then the ACK opens an ESTABLISHED connection with
// the options the SYN offered), what a SYN without timestamps gets, expiry as the secret rotates,
// forgeries refused, the accept queue still bounded, data on the cookie's ACK, and the switch.

#include "TcpHarness.h"

#include <algorithm>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

constexpr u32 kPeerTsval = 777777;

class TcpSynCookie : public TcpHarness {
protected:
    // A listener with a backlog of one, its half-open queue filled by a SYN from port 1 that is
    // never completed: the next SYN gets a cookie.
    void fill_listener()
    {
        m_listener = listen_socket(1);
        send_from(1, kPeerIss, 0, TcpFlag::Syn);
        take_segment();
    }

    void send_from(u16 port, u32 seq, u32 ack, u8 flags, Bytes_ const& options = {}, Bytes_ const& payload = {},
        u16 window = 65535)
    {
        IpFields f;
        f.protocol = 6;
        inject(frame_to_stack(f, tcp_segment(seq, ack, flags, window, options, payload, port, kStackPort)));
    }

    // MSS, SACK-permitted, timestamps, window scale: what Linux offers.
    static Bytes_ full_options(u16 mss, u8 shift, bool sack = true)
    {
        Bytes_ o = mss_option(mss);
        o.insert(o.end(), { static_cast<u8>(sack ? 4 : 1), static_cast<u8>(sack ? 2 : 1), 8, 10 });
        Bytes_ ts(8);
        put32(ts, 0, kPeerTsval);
        o.insert(o.end(), ts.begin(), ts.end());
        o.insert(o.end(), { 1, 3, 3, shift });
        return o;
    }

    static Bytes_ timestamps(u32 value, u32 echo)
    {
        Bytes_ o = { 1, 1, 8, 10 };
        Bytes_ ts(8);
        put32(ts, 0, value);
        put32(ts, 4, echo);
        o.insert(o.end(), ts.begin(), ts.end());
        return o;
    }
};

TEST(TcpSynCookieTable, EachOfferMapsToTheLargestEntryNotAboveIt)
{
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(0)], 536);   // no option: RFC 9293's default
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(100)], 536); // below the table: what any host takes
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(1199)], 536);
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(1200)], 1200);
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(1452)], 1440); // PPPoE
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(1460)], 1460);
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(8960)], 8960);
    EXPECT_EQ(kSynCookieMss[syn_cookie_mss_index(65535)], 8960);
    for (u32 mss = 536; mss <= 65535; mss += 7) {
        u16 entry = kSynCookieMss[syn_cookie_mss_index(static_cast<u16>(mss))];
        EXPECT_LE(entry, mss); // never more than the peer offered
        u32 index = syn_cookie_mss_index(static_cast<u16>(mss));
        if (index + 1 < kSynCookieMssEntries) {
            EXPECT_LT(mss, kSynCookieMss[index + 1]); // and the largest such entry
        }
    }
    for (u32 i = 1; i < kSynCookieMssEntries; ++i)
        EXPECT_LT(kSynCookieMss[i - 1], kSynCookieMss[i]);
}

TEST(TcpSynCookieTable, TimestampBitsAreLinuxsLayout)
{
    TcpOptions syn;
    EXPECT_EQ(syn_cookie_timestamp_bits(syn), 0x0f); // no window scale, no SACK
    syn.has_window_scale = true;
    syn.window_scale = 7;
    EXPECT_EQ(syn_cookie_timestamp_bits(syn), 0x07);
    syn.sack_permitted = true;
    EXPECT_EQ(syn_cookie_timestamp_bits(syn), 0x17);
    syn.window_scale = 0;
    EXPECT_EQ(syn_cookie_timestamp_bits(syn), 0x10);
}

TEST_F(TcpSynCookie, RoundTripOpensAnEstablishedConnectionWithTheOptionsTheSynOffered)
{
    fill_listener();
    u32 sockets = stack->tcp().sockets_in_use();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, full_options(1400, 7));
    Segment syn_ack = take_segment();
    EXPECT_EQ(syn_ack.flags, TcpFlag::Syn | TcpFlag::Ack);
    EXPECT_EQ(syn_ack.ack, kPeerIss + 1);
    EXPECT_EQ(stack->tcp().sockets_in_use(), sockets) << "a cookie keeps no state";
    EXPECT_EQ(stack->counters().tcp_syncookies_sent, 1u);
    // The SYN-ACK offers what the SYN did; its TSval carries shift 7 and SACK in its low bits,
    // and is no later than the clock.
    EXPECT_EQ(syn_ack.options.mss, 1460);
    EXPECT_TRUE(syn_ack.options.sack_permitted);
    EXPECT_TRUE(syn_ack.options.has_window_scale);
    ASSERT_TRUE(syn_ack.options.has_timestamps);
    EXPECT_EQ(syn_ack.options.ts_echo, kPeerTsval);
    EXPECT_EQ(syn_ack.options.ts_value & 0x3f, 0x17u);
    EXPECT_LE(syn_ack.options.ts_value, static_cast<u32>(now / 1000000));
    EXPECT_EQ(kSynCookieMss[syn_ack.seq & 7], 1400);
    // The ACK, echoing it: an ESTABLISHED connection on the accept queue, nothing sent back.
    send_from(
        2, kPeerIss + 1, syn_ack.seq + 1, TcpFlag::Ack, timestamps(kPeerTsval + 1, syn_ack.options.ts_value), {}, 1000);
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 1u);
    TcpSocket* s = MUST(m_listener->accept());
    EXPECT_EQ(s->state(), TcpState::Established);
    EXPECT_EQ(s->remote().port, 2);
    Tcb const& tcb = s->tcb();
    EXPECT_EQ(tcb.snd_mss, 1400 - 12); // the table's 1400, less the timestamp option
    EXPECT_TRUE(tcb.ts_enabled);
    EXPECT_EQ(tcb.ts_recent, kPeerTsval + 1);
    EXPECT_TRUE(tcb.sack_enabled);
    EXPECT_TRUE(tcb.ws_enabled);
    EXPECT_EQ(tcb.snd_wscale, 7);
    EXPECT_EQ(tcb.snd_wnd, 1000u << 7);
    EXPECT_EQ(tcb.iss, syn_ack.seq);
    EXPECT_EQ(tcb.snd_una, syn_ack.seq + 1);
    EXPECT_EQ(tcb.rcv_nxt, kPeerIss + 1);
    // It works: data both ways, our window scaled by the shift we announced.
    Bytes_ data = pattern(300);
    MUST(s->send({ data.data(), data.size() }));
    Segment out = take_segment();
    EXPECT_EQ(out.seq, syn_ack.seq + 1);
    EXPECT_EQ(out.payload, data);
    EXPECT_TRUE(out.options.has_timestamps);
    send_from(2, kPeerIss + 1, syn_ack.seq + 1 + 300, TcpFlag::Ack | TcpFlag::Psh, timestamps(kPeerTsval + 2, 0),
        pattern(50));
    u8 buffer[100];
    EXPECT_EQ(MUST(s->recv({ buffer, sizeof buffer })), 50u);
    finish(s);
}

TEST_F(TcpSynCookie, WithoutTimestampsTheCookieOffersOnlyTheMssAndTheConnectionRunsWithoutScaleOrSack)
{
    fill_listener();
    Bytes_ options = mss_option(1460);
    options.insert(options.end(), { 1, 1, 4, 2, 1, 3, 3, 7 }); // SACK-permitted and scale, no timestamps
    send_from(2, kPeerIss, 0, TcpFlag::Syn, options);
    Segment syn_ack = take_segment();
    EXPECT_EQ(syn_ack.options.mss, 1460);
    EXPECT_FALSE(syn_ack.options.sack_permitted);
    EXPECT_FALSE(syn_ack.options.has_window_scale);
    EXPECT_FALSE(syn_ack.options.has_timestamps);
    send_from(2, kPeerIss + 1, syn_ack.seq + 1, TcpFlag::Ack, {}, {}, 5000);
    TcpSocket* s = MUST(m_listener->accept());
    EXPECT_EQ(s->tcb().snd_mss, 1460);
    EXPECT_FALSE(s->tcb().ws_enabled);
    EXPECT_FALSE(s->tcb().sack_enabled);
    EXPECT_FALSE(s->tcb().ts_enabled);
    EXPECT_EQ(s->tcb().snd_wnd, 5000u);
    finish(s);
}

TEST_F(TcpSynCookie, EveryTableEntryComesBack)
{
    fill_listener();
    u16 port = 100;
    for (u16 offered : { 0, 500, 536, 1250, 1300, 1380, 1420, 1452, 1460, 9000 }) {
        ++port;
        Bytes_ options = offered ? mss_option(offered) : Bytes_ {};
        send_from(port, kPeerIss, 0, TcpFlag::Syn, options);
        Segment syn_ack = take_segment();
        send_from(port, kPeerIss + 1, syn_ack.seq + 1, TcpFlag::Ack);
        TcpSocket* s = MUST(m_listener->accept());
        // The table's entry, clamped to what our own MTU allows (1460), as any connection's.
        u16 expected = std::min<u16>(kSynCookieMss[syn_cookie_mss_index(offered)], 1460);
        EXPECT_EQ(s->tcb().snd_mss, expected) << "offered " << offered;
        s->abort();
        device->sent.clear();
    }
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 10u);
    finish();
}

TEST_F(TcpSynCookie, ACookieExpiresAsTheSecretRotates)
{
    u64 period = TcpLayer::kSynCookieRotation.ns();
    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 first = take_segment().seq;
    // One rotation later the secret it was made with is the previous one: still good. (The
    // listener keeps sending cookies all along, so it keeps looking at cookie ACKs.)
    advance(period + 1000000);
    device->sent.clear(); // port 1's SYN-ACK retransmissions
    send_from(3, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 second = take_segment().seq;
    send_from(2, kPeerIss + 1, first + 1, TcpFlag::Ack);
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 1u);
    MUST(m_listener->accept())->abort();
    device->sent.clear();
    // Two more rotations: the secret `second` was made with is gone. Refused, and the listener
    // answers the ACK with a reset as RFC 9293 has it in LISTEN.
    advance(period + 1000000);
    device->sent.clear(); // port 1's SYN-ACK retransmissions
    send_from(4, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 third = take_segment().seq;
    advance(period + 1000000);
    device->sent.clear(); // port 1's SYN-ACK retransmissions
    send_from(5, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    take_segment();
    send_from(3, kPeerIss + 1, second + 1, TcpFlag::Ack);
    Segment rst = take_segment();
    EXPECT_EQ(rst.flags, TcpFlag::Rst);
    EXPECT_EQ(stack->counters().tcp_syncookies_failed, 1u);
    // The same 4-tuple and ISN gets a different cookie now.
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    EXPECT_NE(take_segment().seq, first);
    // The one made under the previous secret is still good.
    send_from(4, kPeerIss + 1, third + 1, TcpFlag::Ack);
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 2u);
    finish(MUST(m_listener->accept()));
}

TEST_F(TcpSynCookie, AListenerThatStoppedSendingCookiesStopsTakingThem)
{
    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 cookie = take_segment().seq;
    // Two rotation periods without a cookie sent: the listener no longer checks ACKs for one.
    advance(2 * TcpLayer::kSynCookieRotation.ns());
    device->sent.clear();
    send_from(2, kPeerIss + 1, cookie + 1, TcpFlag::Ack);
    EXPECT_EQ(take_segment().flags, TcpFlag::Rst);
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 0u);
    finish();
}

TEST_F(TcpSynCookie, ForgedAcksAreRefused)
{
    // A listener that never sent a cookie does not even look: a plain reset.
    m_listener = listen_socket(1);
    send_from(9, kPeerIss + 1, 12345, TcpFlag::Ack);
    EXPECT_EQ(take_segment().flags, TcpFlag::Rst);
    EXPECT_EQ(stack->counters().tcp_syncookies_failed, 0u);
    m_listener->close();
    device->sent.clear();

    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 cookie = take_segment().seq;
    // Guesses: 2,000 random acknowledgment numbers; the right cookie from another port or with
    // another ISN; the right MAC with another MSS index.
    u32 x = 0x12345678;
    for (u32 i = 0; i < 2000; ++i) {
        x = x * 1664525 + 1013904223;
        send_from(static_cast<u16>(2000 + i % 1000), kPeerIss + 1, x, TcpFlag::Ack);
    }
    send_from(3, kPeerIss + 1, cookie + 1, TcpFlag::Ack);
    send_from(2, kPeerIss + 2, cookie + 1, TcpFlag::Ack);
    send_from(2, kPeerIss + 1, (cookie ^ 1) + 1, TcpFlag::Ack);
    EXPECT_EQ(stack->counters().tcp_syncookies_failed, 2003u);
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 0u);
    EXPECT_EQ(device->sent.size(), 2003u); // each answered with a reset
    device->sent.clear();
    EXPECT_EQ(m_listener->accept().error(), Error::WouldBlock);
    // The real one still works.
    send_from(2, kPeerIss + 1, cookie + 1, TcpFlag::Ack);
    finish(MUST(m_listener->accept()));
}

TEST_F(TcpSynCookie, LostAckAndFirstSegmentCostARetransmissionNotTheConnection)
{
    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 cookie = take_segment().seq;
    // The ACK and the first 100 bytes are lost; the next 100 arrive first. Their sequence number
    // is not the peer's ISN + 1, so the cookie cannot be checked: dropped, no reset.
    Bytes_ data = pattern(200);
    send_from(2, kPeerIss + 101, cookie + 1, TcpFlag::Ack | TcpFlag::Psh, {}, Bytes_(data.begin() + 100, data.end()));
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_syncookies_failed, 1u);
    // The peer retransmits from its first byte: the connection opens, every byte in order.
    send_from(2, kPeerIss + 1, cookie + 1, TcpFlag::Ack, {}, Bytes_(data.begin(), data.begin() + 100));
    send_from(2, kPeerIss + 101, cookie + 1, TcpFlag::Ack | TcpFlag::Psh, {}, Bytes_(data.begin() + 100, data.end()));
    TcpSocket* s = MUST(m_listener->accept());
    u8 buffer[256];
    ASSERT_EQ(MUST(s->recv({ buffer, sizeof buffer })), 200u);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), buffer));
    // A bare ACK that fails the check is still answered with a reset (RFC 9293, LISTEN).
    device->sent.clear();
    send_from(3, kPeerIss + 1, cookie + 1, TcpFlag::Ack);
    EXPECT_EQ(take_segment().flags, TcpFlag::Rst);
    finish(s);
}

TEST_F(TcpSynCookie, TheAcceptQueueStaysBounded)
{
    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    u32 cookie = take_segment().seq;
    // Port 1's half-open connection completes: the accept queue (backlog 1) is full. (Its SYN,
    // retransmitted, brings its SYN-ACK again.)
    TcpSocket* l = m_listener;
    send_from(1, kPeerIss, 0, TcpFlag::Syn);
    u32 iss1 = take_segment().seq;
    send_from(1, kPeerIss + 1, iss1 + 1, TcpFlag::Ack);
    EXPECT_FALSE(has_sent());
    // The valid cookie finds no room: dropped without a word, as its SYN would have been.
    u64 full_before = stack->counters().tcp_backlog_full;
    u32 sockets = stack->tcp().sockets_in_use();
    send_from(2, kPeerIss + 1, cookie + 1, TcpFlag::Ack | TcpFlag::Psh, {}, pattern(20));
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->tcp().sockets_in_use(), sockets);
    EXPECT_EQ(stack->counters().tcp_backlog_full, full_before + 1);
    EXPECT_EQ(stack->counters().tcp_syncookies_validated, 0u);
    // Once the application accepts, the peer's retransmission of its data gets in, data included.
    TcpSocket* first = MUST(l->accept());
    EXPECT_EQ(first->remote().port, 1);
    send_from(2, kPeerIss + 1, cookie + 1, TcpFlag::Ack | TcpFlag::Psh, {}, pattern(20));
    TcpSocket* second = MUST(l->accept());
    EXPECT_EQ(second->remote().port, 2);
    u8 buffer[64];
    EXPECT_EQ(MUST(second->recv({ buffer, sizeof buffer })), 20u);
    Segment ack = take_segment(); // the data is acknowledged (at once or by the delayed ACK)
    EXPECT_EQ(ack.ack, kPeerIss + 1 + 20);
    first->abort();
    finish(second);
}

TEST_F(TcpSynCookie, WithCookiesOffAFullListenerDropsTheSynAndTheAck)
{
    stack->tcp().set_syn_cookies(false);
    fill_listener();
    send_from(2, kPeerIss, 0, TcpFlag::Syn, mss_option(1460));
    EXPECT_FALSE(has_sent());
    EXPECT_EQ(stack->counters().tcp_syncookies_sent, 0u);
    EXPECT_EQ(stack->counters().tcp_backlog_full, 1u);
    stack->tcp().set_syn_cookies(true);
    finish();
}

} // namespace
