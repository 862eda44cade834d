#pragma once

// The injected-segment harness: one stack on a SimDevice; tests hand-build TCP segments from
// the peer (10.0.2.2:40000), feed them in, and parse what the stack sends back.

#include "NetTestHelpers.h"

#include <net/tcp/TcpLayer.h>

namespace skiff::net::test {

inline constexpr u16 kPeerPort = 40000;
inline constexpr u16 kStackPort = 80;

struct Segment {
    u32 seq { 0 };
    u32 ack { 0 };
    u8 flags { 0 };
    u16 window { 0 };
    TcpOptions options;
    Bytes_ payload;
    bool has(u8 flag) const { return flags & flag; }
};

inline Bytes_ tcp_segment(u32 seq, u32 ack, u8 flags, u16 window, Bytes_ const& options = {},
    Bytes_ const& payload = {}, u16 sport = kPeerPort, u16 dport = kStackPort)
{
    Bytes_ t(20);
    put16(t, 0, sport);
    put16(t, 2, dport);
    put32(t, 4, seq);
    put32(t, 8, ack);
    t[12] = static_cast<u8>(((20 + options.size()) / 4) << 4);
    t[13] = flags;
    put16(t, 14, window);
    t.insert(t.end(), options.begin(), options.end());
    t.insert(t.end(), payload.begin(), payload.end());
    ChecksumAccumulator sum;
    add_pseudo_header(sum, kPeerIp, kStackIp, 6, static_cast<u16>(t.size()));
    sum.add({ t.data(), t.size() });
    put16(t, 16, sum.finish());
    return t;
}

inline Bytes_ mss_option(u16 mss)
{
    return { 2, 4, static_cast<u8>(mss >> 8), static_cast<u8>(mss) };
}

class TcpHarness : public StackHarness {
protected:
    static constexpr u32 kPeerIss = 1000000;

    void send_segment(
        u32 seq, u32 ack, u8 flags, u16 window = 65535, Bytes_ const& options = {}, Bytes_ const& payload = {})
    {
        IpFields f;
        f.protocol = 6;
        inject(frame_to_stack(f, tcp_segment(seq, ack, flags, window, options, payload)));
    }

    bool has_sent() const { return !device->sent.empty(); }

    Segment take_segment()
    {
        Segment s;
        Bytes_ frame = take_sent();
        if (frame.size() < 54)
            return s;
        auto ip = Ipv4View::parse({ frame.data() + 14, frame.size() - 14 });
        EXPECT_TRUE(ip.has_value());
        EXPECT_EQ(ip.value().protocol(), 6);
        ReadonlyBytes bytes = ip.value().payload();
        ChecksumAccumulator sum;
        add_pseudo_header(sum, ip.value().source(), ip.value().destination(), 6, static_cast<u16>(bytes.size()));
        sum.add(bytes);
        EXPECT_EQ(sum.finish(), 0) << "bad TCP checksum from the stack";
        TcpView tcp = MUST(TcpView::parse(bytes));
        s.seq = tcp.sequence();
        s.ack = tcp.acknowledgment();
        s.flags = tcp.flags();
        s.window = tcp.window();
        EXPECT_TRUE(tcp.parse_options(s.options));
        s.payload.assign(tcp.payload().begin(), tcp.payload().end());
        return s;
    }

    TcpSocket* listen_socket(u32 backlog = 4)
    {
        TcpSocket* l = MUST(stack->tcp().open());
        MUST(l->bind({ {}, kStackPort }));
        MUST(l->listen(backlog));
        return l;
    }

    // LISTEN -> SYN-RECEIVED -> ESTABLISHED by the peer's SYN and ACK; returns the accepted socket.
    TcpSocket* establish_passive(u16 window = 65535, u32 receive_buffer = 0)
    {
        m_listener = listen_socket();
        if (receive_buffer)
            m_listener->set_buffer_sizes(0, receive_buffer);
        send_segment(kPeerIss, 0, TcpFlag::Syn, window, mss_option(1460));
        Segment syn_ack = take_segment();
        m_iss = syn_ack.seq;
        send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, window);
        EXPECT_FALSE(has_sent());
        TcpSocket* s = MUST(m_listener->accept());
        EXPECT_EQ(s->state(), TcpState::Established);
        return s;
    }

    // CLOSED -> SYN-SENT -> ESTABLISHED by our connect and the peer's SYN,ACK.
    TcpSocket* establish_active(u16 window = 65535, Bytes_ const& options = mss_option(1460))
    {
        TcpSocket* s = MUST(stack->tcp().open());
        MUST(s->bind({ {}, kStackPort }));
        EXPECT_EQ(s->connect({ kPeerIp, kPeerPort }).error(), Error::InProgress);
        Segment syn = take_segment();
        m_iss = syn.seq;
        send_segment(kPeerIss, m_iss + 1, TcpFlag::Syn | TcpFlag::Ack, window, options);
        Segment ack = take_segment();
        EXPECT_EQ(ack.flags, TcpFlag::Ack);
        EXPECT_EQ(s->state(), TcpState::Established);
        return s;
    }

    // Run the clock forward through every deadline on the way, as a network thread would.
    void run_for(u64 duration)
    {
        u64 end = now + duration;
        while (true) {
            u64 next = stack->next_deadline();
            if (next > end)
                break;
            now = next > now ? next : now + 1;
            stack->poll(now);
        }
        now = end;
        stack->poll(now);
    }

    // Close everything the test left open and let every timer run out, so the pools are idle.
    void finish(TcpSocket* s = nullptr)
    {
        if (s)
            s->abort();
        if (m_listener)
            m_listener->close();
        device->sent.clear();
        run_for(TcpLayer::kTimeWait.ns() + TcpLayer::kMaxRto.ns() * 20);
        device->sent.clear();
        stack->tcp().abort_all();
        EXPECT_EQ(stack->tcp().sockets_in_use(), 0u);
    }

    TcpSocket* m_listener { nullptr };
    u32 m_iss { 0 };
};

} // namespace skiff::net::test
