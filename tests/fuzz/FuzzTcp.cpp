// Fuzz target `tcp`: a stateful TCP harness. Random bytes rarely make a TCP segment a stack
// would look at (the checksum, the ports, the sequence numbers must all fit), so the input here is
// not frames but a script of operations, and the harness builds well-formed segments from it:
// it plays the peer 10.0.2.2 and tracks both sides' sequence numbers from what the stack sends,
// so the fuzzer chooses *how far off* a segment is (in window, just outside, far away) rather than
// guessing 32-bit numbers. That reaches every state of RFC 9293 §3.3.2: the stack's echo
// listener (port 7) accepts the peer's connections, and the stack's own connect() to the peer's
// port 5001 goes through SYN-SENT; the application side accepts, sends, receives, shuts down,
// closes and aborts at the fuzzer's command, and time advances through every timer.
//
// Checked besides what the sanitizers catch: every segment the stack sends carries correct IPv4
// and TCP checksums and fits the MSS; the bytes it sends are exactly the application's stream at
// those sequence numbers (copied or zero-copy, first transmission or retransmission); the bytes
// the application receives are the peer's stream, in order, nothing missing or repeated; at the
// end all sockets are closed, time runs out every timer, and shutdown checks that each buffer and
// each pinned page came back.
//
// Input: operations until the input ends (at most 256). The first byte of each chooses:
//   0-4  a segment from the peer: [flags][seq Δ][ack Δ][window: 2][options length][options]
//        [payload length / 8] — the top bit of the operation byte picks the conversation
//        (0: peer -> stack:7, 1: peer:5001 <- the stack's client). A Δ byte below 192 means
//        "exactly the expected number"; above, it is off by (byte - 224) * 97.
//   5    time passes: [b] -> b * b / 4 + 1 ms
//   6,7  the application: [what] on accepted socket (6) or the client socket (7): accept or
//        connect, send [n] * 32 bytes, receive [mode] (plain, or zero copy into a page-aligned
//        region, where whole pages may be remapped), shutdown, close, abort, zero copy on and send

#include "FuzzStack.h"

#include <net/Checksum.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using namespace skiff;
using namespace skiff::fuzz;

constexpr u16 kPeerPort = 40000;
constexpr u16 kPeerServerPort = 5001;

class Reader {
public:
    Reader(u8 const* data, usize size)
        : m_data(data)
        , m_size(size)
    {
    }
    bool done() const { return m_at >= m_size; }
    u8 byte() { return m_at < m_size ? m_data[m_at++] : 0; }
    u16 be16()
    {
        u16 high = byte();
        return static_cast<u16>((high << 8) | byte());
    }
    ReadonlyBytes take(usize length)
    {
        usize available = m_size - m_at < length ? m_size - m_at : length;
        ReadonlyBytes bytes { m_data + m_at, available };
        m_at += available;
        return bytes;
    }

private:
    u8 const* m_data;
    usize m_size;
    usize m_at { 0 };
};

struct Conversation {
    u16 peer_port { 0 };
    u32 stack_iss { 0 }; // from the stack's SYN or SYN-ACK: its data starts at stack_iss + 1
    bool iss_known { false };
    u16 stack_port { 0 }; // 0 until the stack's SYN shows it (the client conversation)
    u32 peer_next { 0 };  // the next sequence number the peer sends
    u32 stack_next { 0 }; // one past the highest sequence the stack has sent: what the peer ACKs
    u32 peer_max { 0 };   // one past the highest sequence the peer has sent: the most the stack may ACK
    bool stack_seen { false };
};

// The peer's bytes are a function of their sequence number, so a retransmission or an overlapping
// segment carries the same bytes at the same sequence numbers, as a real peer's would, and the
// application can check that what it receives is consecutive.
u8 pattern_at(u32 sequence)
{
    return static_cast<u8>(sequence);
}

// The application's stream: byte k of every socket's output is stream_byte(k). s_stream holds
// one period plus room for the longest send, so any send is one contiguous slice of it. It is a
// zero-copy buffer of the port's (HostPort::allocate_zero_copy_buffer), so sends with zero copy
// on pin its pages rather than copy them.
constexpr u32 kStreamPeriod = 65536;
constexpr u32 kLongestSend = 255 * 32;
constexpr u32 kStreamBytes = kStreamPeriod + 4 * 4096;
u8* s_stream;

u8 stream_byte(u64 k)
{
    k %= kStreamPeriod;
    return static_cast<u8>((k * 2654435761u) >> 13);
}

// The application's zero-copy receive buffer (docs/zero-copy.md: page-aligned, in the region the port
// reports), into which recv may remap received pages instead of copying.
constexpr u32 kZeroCopyBytes = 4 * 4096;
u8* s_zero_copy;

// One application socket and what it has sent and received so far.
struct AppSocket {
    TcpSocket* socket { nullptr };
    u64 sent { 0 };           // bytes send() accepted: the next send starts at stream_byte(sent)
    int last_received { -1 }; // the last byte recv() returned, or -1
};

// SKIFF_FUZZ_VERBOSE=1 prints every segment both ways: what a regression input does, readably.
bool verbose()
{
    static bool const on = std::getenv("SKIFF_FUZZ_VERBOSE") != nullptr;
    return on;
}

void trace(char const* direction, TcpView const& t, u64 now)
{
    if (!verbose())
        return;
    std::fprintf(stderr, "%10.3f ms %s %u -> %u flags %02x seq %u ack %u win %u len %zu\n", now / 1e6, direction,
        t.source_port(), t.destination_port(), t.flags(), t.sequence(), t.acknowledgment(), t.window(),
        t.payload().size());
}

i32 delta(u8 byte)
{
    return byte < 192 ? 0 : (static_cast<i32>(byte) - 224) * 97;
}

class TcpHarness {
public:
    TcpHarness()
    {
        m_conversations[0].peer_port = kPeerPort;
        m_conversations[0].stack_port = kEchoPort;
        m_conversations[0].peer_next = m_conversations[0].peer_max = 1000000;
        m_conversations[1].peer_port = kPeerServerPort;
        m_conversations[1].peer_next = m_conversations[1].peer_max = 3000000000u;
        s_stream = m_harness.port.allocate_zero_copy_buffer(kStreamBytes);
        for (u32 i = 0; i < kStreamBytes; ++i)
            s_stream[i] = stream_byte(i);
        s_zero_copy = m_harness.port.allocate_zero_copy_buffer(kZeroCopyBytes);
    }
    // The application's buffers go before the stack does (FuzzStack checks every frame came
    // back); frames a send still pins live until the stack's shutdown unpins them.
    ~TcpHarness()
    {
        m_harness.port.free_zero_copy_buffer(s_stream, kStreamBytes);
        m_harness.port.free_zero_copy_buffer(s_zero_copy, kZeroCopyBytes);
    }

    void run(Reader& in)
    {
        for (int operations = 0; operations < 256 && !in.done(); ++operations) {
            u8 operation = in.byte();
            switch (operation % 8) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4: segment(m_conversations[operation >> 7], in); break;
            case 5: {
                u64 b = in.byte();
                m_harness.advance((b * b / 4 + 1) * kMillisecond);
                break;
            }
            case 6: application(in.byte(), false, in); break;
            case 7: application(in.byte(), true, in); break;
            }
            observe();
        }
        static_assert(kLongestSend <= kStreamBytes - kStreamPeriod);
        // Wind down: the application closes everything; time runs past every timer (TIME-WAIT is
        // 60 s, the longest retransmission back-off a few minutes).
        for (AppSocket& app : m_accepted)
            close(app);
        close(m_client);
        for (int i = 0; i < 10; ++i) {
            m_harness.advance(60000 * kMillisecond);
            observe();
        }
        if (verbose())
            std::fprintf(stderr, "pages remapped by zero-copy recv: %llu\n",
                static_cast<unsigned long long>(m_harness.port.remaps()));
    }

private:
    void segment(Conversation& c, Reader& in)
    {
        u8 flags = in.byte();
        u32 sequence = c.peer_next + static_cast<u32>(delta(in.byte()));
        u32 ack = c.stack_next + static_cast<u32>(delta(in.byte()));
        u16 window = in.be16();
        ReadonlyBytes options = in.take(in.byte() % 41);
        u32 payload_length = in.byte() * 8u;
        if (!c.stack_port)
            return; // the stack has not said which port its client uses yet

        u32 options_length = (static_cast<u32>(options.size()) + 3) & ~3u;
        u32 tcp_length = 20 + options_length + payload_length;
        std::vector<u8> frame(14 + 20 + tcp_length, 0);
        EthernetView::write(frame.data(), kStackMac, kPeerMac, EtherType::Ipv4);
        u8* ip = frame.data() + 14;
        Ipv4View::write(ip, static_cast<u16>(20 + tcp_length), m_ip_id++, 0, 64, 6, kPeerIp, kStackIp);
        u8* tcp = ip + 20;
        store_be16(tcp, c.peer_port);
        store_be16(tcp + 2, c.stack_port);
        store_be32(tcp + 4, sequence);
        store_be32(tcp + 8, ack);
        tcp[12] = static_cast<u8>(((20 + options_length) / 4) << 4);
        tcp[13] = flags;
        store_be16(tcp + 14, window);
        if (options.size())
            std::memcpy(tcp + 20, options.data(), options.size());
        u8* payload = tcp + 20 + options_length;
        u32 data_sequence = sequence + ((flags & TcpFlag::Syn) ? 1 : 0);
        for (u32 i = 0; i < payload_length; ++i)
            payload[i] = pattern_at(data_sequence + i);
        ChecksumAccumulator sum;
        add_pseudo_header(sum, kPeerIp, kStackIp, 6, static_cast<u16>(tcp_length));
        sum.add({ tcp, tcp_length });
        store_be16(tcp + 16, sum.finish());
        if (verbose())
            trace("peer  >", MUST(TcpView::parse({ tcp, tcp_length })), m_harness.now);
        m_harness.inject(frame.data(), frame.size());

        u32 end = sequence + payload_length + ((flags & TcpFlag::Syn) ? 1 : 0) + ((flags & TcpFlag::Fin) ? 1 : 0);
        if (seq_gt(end, c.peer_max))
            c.peer_max = end;
        if (sequence == c.peer_next)
            c.peer_next += payload_length + ((flags & TcpFlag::Syn) ? 1 : 0) + ((flags & TcpFlag::Fin) ? 1 : 0);
    }

    void application(u8 what, bool client, Reader& in)
    {
        AppSocket& app = client ? m_client : m_accepted[what & 3];
        TcpSocket*& socket = app.socket;
        switch ((what >> 2) % 7) {
        case 0:
            if (socket)
                break;
            if (client) {
                auto opened = m_harness.stack.tcp().open();
                if (opened.is_error())
                    break;
                app = { opened.value(), 0, -1 };
                (void)socket->connect({ kPeerIp, kPeerServerPort });
                m_conversations[1].stack_port = 0;
                m_conversations[1].stack_seen = false;
                m_conversations[1].iss_known = false;
            } else {
                auto accepted = m_harness.tcp_listener->accept();
                if (accepted.has_value())
                    app = { accepted.value(), 0, -1 };
            }
            break;
        case 1: send(app, in.byte() * 32u); break;
        case 2: receive(app, in.byte(), in); break;
        case 3:
            if (socket)
                (void)socket->shutdown_write();
            break;
        case 4: close(app); break;
        case 5:
            if (socket) {
                socket->abort();
                socket = nullptr;
            }
            break;
        case 6:
            if (socket) {
                // Zero copy: the stack refers to s_stream through seg[] and pins its pages until
                // they are acknowledged; the bytes never change, as COW would guarantee.
                socket->set_zero_copy(true);
                send(app, in.byte() * 32u);
            }
            break;
        }
    }

    // recv into a plain buffer, or ([mode] bit 0) with zero copy on into the page-aligned
    // zero-copy region at an offset ([mode] bit 1: one where a TCP payload may start in a receive
    // page, 2 + 14 + 20 + 20 + 4k; else [offset: 2]), so the stack may remap whole pages into it.
    void receive(AppSocket& app, u8 mode, Reader& in)
    {
        if (!app.socket)
            return;
        u8 plain[4096];
        Bytes out { plain, sizeof plain };
        if (mode & 1) {
            usize offset = (mode & 2) ? 56 + 4 * ((mode >> 2) & 15) : in.be16() % kPageSize;
            out = { s_zero_copy + offset, kZeroCopyBytes - offset };
            app.socket->set_zero_copy(true);
        }
        // Plain recv() always copies; the remapping receive is recv_zero_copy(), which may replace
        // whole pages under `out` (docs/zero-copy.md): only what it returns is checked.
        auto received = (mode & 1) ? app.socket->recv_zero_copy(out) : app.socket->recv(out);
        if (received.is_error())
            return;
        VERIFY(received.value() <= out.size());
        for (usize i = 0; i < received.value(); ++i) {
            // The peer's stream, in order: each byte one more than the last.
            VERIFY(app.last_received < 0 || out[i] == static_cast<u8>(app.last_received + 1));
            app.last_received = out[i];
        }
    }

    void send(AppSocket& app, u32 length)
    {
        if (!app.socket)
            return;
        auto sent = app.socket->send({ s_stream + app.sent % kStreamPeriod, length });
        if (sent.has_value()) {
            VERIFY(sent.value() <= length);
            app.sent += sent.value();
        }
    }

    void close(AppSocket& app)
    {
        if (app.socket)
            app.socket->close();
        app.socket = nullptr;
    }

    // Learn the stack's sequence numbers from what it sent, and check each segment is sound.
    void observe()
    {
        for (auto const& frame : m_harness.device.sent) {
            ReadonlyBytes bytes { frame.data(), frame.size() };
            auto ethernet = EthernetView::parse(bytes);
            VERIFY(ethernet.has_value());
            if (ethernet.value().ether_type() != static_cast<u16>(EtherType::Ipv4))
                continue;
            auto ip = Ipv4View::parse(ethernet.value().payload());
            VERIFY(ip.has_value()); // the stack's own IPv4 header must parse, checksum included
            if (ip.value().protocol() != 6 || ip.value().is_fragment())
                continue;
            ReadonlyBytes segment = ip.value().payload();
            ChecksumAccumulator sum;
            add_pseudo_header(sum, ip.value().source(), ip.value().destination(), 6, static_cast<u16>(segment.size()));
            sum.add(segment);
            VERIFY(sum.finish() == 0); // every TCP segment the stack sends has a correct checksum
            auto tcp = TcpView::parse(segment);
            VERIFY(tcp.has_value());
            auto const& t = tcp.value();
            trace("stack >", t, m_harness.now);
            VERIFY(t.payload().size() <= 1460); // the MSS of a 1500-byte MTU
            TcpOptions options;
            VERIFY(t.parse_options(options)); // a well-formed option list, within the data offset
            // The stack never puts data on a SYN: bytes after the header there mean the data
            // offset does not cover the options written (RFC 9293 §3.1: options fill whole words).
            VERIFY(!t.has(TcpFlag::Syn) || t.payload().size() == 0);
            for (Conversation& c : m_conversations) {
                if (t.destination_port() != c.peer_port)
                    continue;
                if (!c.stack_port && t.has(TcpFlag::Syn))
                    c.stack_port = t.source_port();
                if (t.source_port() != c.stack_port)
                    continue;
                // Nothing the peer never sent is acknowledged (RFC 9293 §3.4).
                VERIFY(!t.has(TcpFlag::Ack) || seq_leq(t.acknowledgment(), c.peer_max));
                if (t.has(TcpFlag::Syn)) {
                    c.stack_iss = t.sequence();
                    c.iss_known = true;
                } else if (c.iss_known && !t.has(TcpFlag::Rst)) {
                    // What the stack sends is the application's stream at those sequence numbers.
                    u32 k = t.sequence() - (c.stack_iss + 1);
                    for (usize j = 0; j < t.payload().size(); ++j)
                        VERIFY(t.payload()[j] == stream_byte(static_cast<u64>(k) + j));
                }
                u32 end = t.sequence() + static_cast<u32>(t.payload().size()) + (t.has(TcpFlag::Syn) ? 1 : 0)
                    + (t.has(TcpFlag::Fin) ? 1 : 0);
                if (t.has(TcpFlag::Rst)) {
                    // The connection is gone: the peer's next connection starts elsewhere.
                    c.stack_seen = false;
                    c.peer_next += 100000;
                    continue;
                }
                if (!c.stack_seen || seq_gt(end, c.stack_next))
                    c.stack_next = end;
                c.stack_seen = true;
            }
        }
        m_harness.device.sent.clear();
    }

    FuzzStack m_harness;
    Conversation m_conversations[2];
    AppSocket m_accepted[4];
    AppSocket m_client;
    u16 m_ip_id { 1 };
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    Reader in(data, size);
    TcpHarness harness;
    harness.run(in);
    return 0;
}
