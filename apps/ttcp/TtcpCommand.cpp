// The guest's `ttcp` console command: apps/ttcp/TtcpCore.cpp (the same core the host tool runs)
// over the kernel's network stack.
//
// The stack's socket calls never block (net/socket/Socket.h). This transport is the blocking glue
// for one ttcp run, built the way kernel/net/Sockets.cpp builds it for UDP: take the stack lock,
// try the call; if it would block, wait on this run's NetWaiter — which the stack wakes through
// Port::wake whenever one of the run's sockets may have become ready — and try again. UDP goes
// through knet::UdpHandle, which already blocks that way.
//
// The console cannot interrupt a command, so every wait has a limit: a receiver gives up after
// kIdleLimitMs without a connection or without data, and says so.

#include <apps/Apps.h>
#include <apps/NetworkCommands.h>
#include <apps/ttcp/TtcpCore.h>
#include <kernel/Time.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>
#include <kernel/sched/Scheduler.h>
#include <mm/Memory.h>
#include <net/tcp/TcpLayer.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::apps {

namespace {

constexpr u64 kIdleLimitMs = 60000;    // no connection, or no data, for this long: give up
constexpr u64 kDrainLimitMs = 30000;   // a transmitter waits this long for its data to be ACKed
constexpr u64 kUdpIdleMs = 3000;       // as the host tool: a UDP receiver's end-marker patience
constexpr u64 kUdpRetryLimitMs = 5000; // a full transmit path (no buffers) is retried this long
constexpr u64 kWaitSliceMs = 1000;     // re-check at least this often, whatever the wakes say
constexpr u16 kSinkServicePort = 5001; // kernel/net/NetServices.cpp's boot-time ttcp/iperf sink

class KernelTransport final : public ttcp::Transport {
public:
    ~KernelTransport() { close(); }

    Result<void> connect(StringView host, u16 port, ttcp::SocketSettings const& settings) override
    {
        auto address = net::Ipv4Address::parse(host);
        if (address.is_error()) {
            kprintln("ttcp-t: '{}' is not a dotted IPv4 address (the guest has no resolver)", host);
            return Error::InvalidArgument;
        }
        net::SocketAddress remote { address.value(), port };
        if (settings.udp) {
            note_udp_zero_copy(settings);
            m_udp = TRY(knet::UdpHandle::open("ttcp"));
            m_destination = remote;
            return {};
        }
        {
            knet::StackLocker locker;
            m_tcp = TRY(knet::stack().tcp().open());
            apply_options(*m_tcp, settings);
            m_tcp->set_waiter(&m_waiter);
            m_waiter.reset();
            auto started = m_tcp->connect(remote);
            if (started.is_error() && started.error() != Error::InProgress)
                return started.error();
        }
        knet::wake_network_thread();
        // The three-way handshake: SYN-SENT until the SYN,ACK, or Closed with the reason.
        return wait_until(kIdleLimitMs, [this]() -> Result<bool> {
            switch (m_tcp->state()) {
            case net::TcpState::SynSent:
            case net::TcpState::SynReceived: return false;
            case net::TcpState::Closed:
                return m_tcp->error() != Error::None ? m_tcp->error() : Error::ConnectionRefused;
            default: return true;
            }
        });
    }

    Result<void> listen(u16 port, ttcp::SocketSettings const& settings) override
    {
        if (settings.udp) {
            note_udp_zero_copy(settings);
            m_udp = TRY(knet::UdpHandle::open("ttcp"));
            return m_udp->bind(port);
        }
        knet::StackLocker locker;
        m_listener = TRY(knet::stack().tcp().open());
        m_listener->set_waiter(&m_waiter);
        // An accepted connection inherits the listener's options, the receive window among them.
        apply_options(*m_listener, settings);
        auto bound = m_listener->bind({ net::Ipv4Address::any(), port });
        if (bound.is_error()) {
            if (bound.error() == Error::AddressInUse && port == kSinkServicePort)
                kprintln("ttcp-r: port {} is the boot-time ttcp/iperf sink service; pick another with -p", port);
            return bound.error();
        }
        return m_listener->listen(1);
    }

    Result<ttcp::Peer> accept() override
    {
        net::SocketAddress peer;
        net::TcpSocket* connection = TRY(blocking(kIdleLimitMs, [&] { return m_listener->accept(&peer); }));
        {
            knet::StackLocker locker;
            m_tcp = connection;
            m_tcp->set_waiter(&m_waiter);
            m_listener->set_waiter(nullptr);
            m_listener->close();
            m_listener = nullptr;
        }
        return ttcp::Peer { peer.address.value, peer.port };
    }

    Result<usize> send(ReadonlyBytes data) override
    {
        // The network thread sleeps until the stack's next deadline: wake it when this send
        // armed the retransmission timer (nothing was in flight), not for every write — with
        // data in flight, the ACKs wake it and send what was queued (TcpLayer::sends_on_write).
        bool armed = false;
        auto sent = blocking(kIdleLimitMs, [&] {
            bool was_armed = m_tcp->tcb().rto_deadline.is_set();
            auto result = m_tcp->send(data);
            armed |= !was_armed && m_tcp->tcb().rto_deadline.is_set();
            return result;
        });
        if (armed)
            knet::wake_network_thread();
        return sent;
    }

    Result<usize> recv(Bytes buffer) override
    {
        auto received = blocking(kIdleLimitMs, [&] { return m_tcp->recv(buffer); });
        // Reading opened the window: let the network thread send the window update now.
        knet::wake_network_thread();
        return received;
    }

    // The zero-copy receive contract (docs/zero-copy.md), through the kernel's blocking glue
    // (knet::tcp_receive_zero_copy): the destination goes at the page offset where the next
    // payload sits in its receive page, so that with copy elimination on the stack can remap
    // that page instead of copying (the buffer has one spare page for this; the offset is read
    // and used under the same lock hold as the recv); and while nothing is queued the buffer is
    // posted, so that the NE2000's header-first receive reads payload straight into it. With
    // -z off the bytes land in the same places and are copied, so the two runs differ only in the
    // socket option.
    //
    // Double buffering: the allocation holds two such buffers. Each call receives into one and,
    // as it returns, posts the other, so that what arrives while the core works on the bytes
    // (hashing, checking) still goes straight into a posted buffer; the next call takes it.
    Result<Bytes> recv_placed(Bytes buffer) override
    {
        if (!m_zero_copy_buffer || buffer.data() != m_buffer_base)
            return Transport::recv_placed(buffer);
        usize half = m_buffer_bytes / 2;
        Bytes current { m_buffer_base + m_next_half * half, buffer.size() };
        Bytes next { m_buffer_base + (1 - m_next_half) * half, buffer.size() };
        auto received = knet::tcp_receive_zero_copy(*m_tcp, m_waiter, current, kIdleLimitMs, kWaitSliceMs, next);
        m_next_half = 1 - m_next_half;
        knet::wake_network_thread();
        return received;
    }

    Result<usize> sendto(ReadonlyBytes datagram) override
    {
        u64 deadline = time::monotonic_ns() + kUdpRetryLimitMs * 1000000;
        while (true) {
            auto sent = m_udp->send_to(datagram, m_destination);
            knet::wake_network_thread();
            // No packet buffer or transmit slot free: classic ttcp's ENOBUFS. Let the NIC drain.
            bool full = sent.is_error() && (sent.error() == Error::NoMemory || sent.error() == Error::WouldBlock);
            if (!full || time::monotonic_ns() >= deadline)
                return sent;
            sched::sleep_ms(1);
        }
    }

    Result<usize> recvfrom(Bytes buffer, ttcp::Peer& from) override
    {
        net::SocketAddress peer;
        usize length = TRY(m_udp->receive_from(buffer, &peer, kUdpIdleMs));
        from = ttcp::Peer { peer.address.value, peer.port };
        return length;
    }

    void close() override
    {
        if (m_ring_slots > 1) {
            kprintln("ttcp-t: zero-copy ring of {} buffers; {} waits for the stack to release a buffer", m_ring_slots,
                m_release_waits);
            m_ring_slots = 0;
        }
        if (m_tcp) {
            {
                knet::StackLocker locker;
                (void)m_tcp->take_posted(); // the buffer goes away with this run
            }
            // Let the data be acknowledged before closing. With copy elimination the pages of the
            // buffer are pinned until then; and a transmitter that returns to the prompt while its
            // data is still queued would be measured, by the next command, as idle.
            auto drained = wait_until(kDrainLimitMs, [this]() -> Result<bool> {
                switch (m_tcp->state()) {
                case net::TcpState::Established:
                case net::TcpState::CloseWait: return m_tcp->send_queued_bytes() == 0;
                default: return true;
                }
            });
            knet::StackLocker locker;
            m_tcp->set_waiter(nullptr);
            // Data still queued after the limit (a failed or stalled transfer): reset rather than
            // leave the connection retransmitting in the background, because the segments point
            // into the buffer that free_buffer() is about to unmap.
            if (drained.is_error() && m_tcp->send_queued_bytes() != 0) {
                kprintln("ttcp: {} bytes still unacknowledged after {} s; resetting the connection",
                    m_tcp->send_queued_bytes(), kDrainLimitMs / 1000);
                m_tcp->abort();
            } else {
                m_tcp->close();
            }
            m_tcp = nullptr;
        }
        if (m_listener) {
            knet::StackLocker locker;
            m_listener->set_waiter(nullptr);
            m_listener->close();
            m_listener = nullptr;
        }
        if (m_udp) {
            m_udp->close();
            m_udp = nullptr;
        }
        knet::wake_network_thread();
    }

    // With -z on, a -R transmitter rewrites a slot of a ring as big as the socket's send buffer
    // plus one, so that the slot it waits for was sent a send buffer ago: by the time the socket
    // would have blocked anyway, the stack has usually released it (docs/zero-copy.md).
    u32 send_ring_slots(ttcp::Options const& options) override
    {
        if (options.zero_copy != ttcp::ZeroCopy::On)
            return 1;
        u32 send_buffer = net::TcpSocketOptions {}.send_buffer;
        m_ring_slots = (send_buffer + options.buffer_length - 1) / options.buffer_length + 1;
        return m_ring_slots;
    }

    Result<void> wait_send_released(u64 offset) override
    {
        {
            knet::StackLocker locker;
            if (m_tcp->send_released() >= offset)
                return {};
        }
        ++m_release_waits;
        TRY(knet::wait_send_released(*m_tcp, m_waiter, offset, kIdleLimitMs));
        return {};
    }

    // The slot's previous send is released but its pages stay write-protected (mm/ lifts the
    // protection lazily): lift it now for the whole slot, a PTE write per page, rather than take a
    // write fault per page when ttcp fills it (docs/zero-copy.md).
    void prepare_rewrite(Bytes buffer) override
    {
        if (m_zero_copy_buffer)
            (void)mm::release_zero_copy_buffer(buffer.data(), buffer.size());
    }

    Result<Bytes> allocate_buffer(usize length) override
    {
        // Whole pages from the zero-copy region whatever -z says, so that a run with copy
        // elimination on and one with it off differ only in the socket option; plus one page,
        // room for recv_placed to start up to a page in; twice, for recv_placed's double
        // buffering (the transmitter uses the first).
        m_buffer_bytes = 2 * (align_up(length, kPageSize) + kPageSize);
        auto zero_copy = mm::allocate_zero_copy_buffer(m_buffer_bytes);
        if (!zero_copy.is_error()) {
            m_zero_copy_buffer = true;
            m_buffer_base = zero_copy.value();
            return Bytes(zero_copy.value(), length);
        }
        auto* memory = new (std::nothrow) u8[length];
        if (!memory)
            return Error::NoMemory;
        m_zero_copy_buffer = false;
        kprintln("ttcp: no zero-copy buffer ({}); using the heap, so receive copies", zero_copy.error());
        return Bytes(memory, length);
    }

    void free_buffer(Bytes buffer) override
    {
        if (m_zero_copy_buffer)
            mm::free_zero_copy_buffer(buffer.data(), m_buffer_bytes);
        else
            delete[] buffer.data();
    }

    u64 now_ns() override { return time::monotonic_ns(); }
    void sleep_ns(u64 duration) override { sched::sleep_ms(max<u64>(1, duration / 1000000)); }
    void print(StringView text) override { kprint("{}", text); }

private:
    static constexpr u64 kPageSize = 4096;

    static void apply_options(net::TcpSocket& socket, ttcp::SocketSettings const& settings)
    {
        socket.set_nodelay(settings.nodelay);
        if (settings.zero_copy != ttcp::ZeroCopy::Default)
            socket.set_zero_copy(settings.zero_copy != ttcp::ZeroCopy::Off);
        if (u32 window = knet::tcp_receive_window_hint())
            socket.set_buffer_sizes(0, window);
    }

    static void note_udp_zero_copy(ttcp::SocketSettings const& settings)
    {
        if (settings.zero_copy != ttcp::ZeroCopy::Default)
            kprintln("ttcp: -z applies to TCP sockets; this UDP run copies as usual");
    }

    // Retries `attempt` (a non-blocking socket call) under the stack lock until it does anything
    // but WouldBlock, or `limit_ms` passes with no progress (Error::TimedOut).
    template<typename Attempt>
    auto blocking(u64 limit_ms, Attempt attempt) -> decltype(attempt())
    {
        u64 deadline = time::monotonic_ns() + limit_ms * 1000000;
        while (true) {
            {
                knet::StackLocker locker;
                // Reset under the lock: readiness that changes after this wakes the waiter.
                m_waiter.reset();
                auto result = attempt();
                if (!result.is_error() || result.error() != Error::WouldBlock)
                    return result;
            }
            u64 now = time::monotonic_ns();
            if (now >= deadline)
                return Error::TimedOut;
            m_waiter.wait(min(kWaitSliceMs, (deadline - now + 999999) / 1000000));
        }
    }

    // Waits until `done` (called under the stack lock) says true or fails, or limit_ms passes.
    template<typename Condition>
    Result<void> wait_until(u64 limit_ms, Condition done)
    {
        u64 deadline = time::monotonic_ns() + limit_ms * 1000000;
        while (true) {
            {
                knet::StackLocker locker;
                m_waiter.reset();
                if (TRY(done()))
                    return {};
            }
            u64 now = time::monotonic_ns();
            if (now >= deadline)
                return Error::TimedOut;
            m_waiter.wait(min(kWaitSliceMs, (deadline - now + 999999) / 1000000));
        }
    }

    knet::NetWaiter m_waiter; // woken by the stack for any of this run's sockets
    u32 m_ring_slots { 0 };
    u64 m_release_waits { 0 };              // waits for the completion report that found the bytes still held
    net::TcpSocket* m_listener { nullptr }; // the stack's lock guards the sockets' contents
    net::TcpSocket* m_tcp { nullptr };
    knet::UdpHandle* m_udp { nullptr };
    net::SocketAddress m_destination;
    bool m_zero_copy_buffer { false };
    u8* m_buffer_base { nullptr };
    u64 m_buffer_bytes { 0 };
    usize m_next_half { 0 }; // recv_placed's buffer for the next call
};

int ttcp_command(console::Arguments const& arguments)
{
    if (!network_ready())
        return 1;
    StringView words[console::Arguments::kMaxWords];
    usize count = 0;
    for (usize i = 1; i < arguments.count(); ++i)
        words[count++] = arguments[i];
    KernelTransport transport;
    return ttcp::main(Span<StringView const>(words, count), transport);
}

} // namespace

void register_ttcp_commands()
{
    console::register_command(
        { "ttcp", "ttcp -t|-r [-u] [-s] [-l len] [-n count] [-p port] [-z on|off] [-H] [-R seed] [host]",
            "classic TCP/UDP throughput test (docs/ttcp.md)", ttcp_command });
}

} // namespace skiff::apps
