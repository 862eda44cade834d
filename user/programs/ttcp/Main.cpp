// ttcp as a user program: apps/ttcp/TtcpCore.cpp (the same core the host tool runs) over the
// system calls. The console's `ttcp ...` runs this program in the foreground (docs/ttcp.md).
//
// Every wait has a limit, as before it was a task: a receiver gives up after kIdleLimitMs without a
// connection or without data (and Ctrl-C ends a run at any time now). A TCP transmitter's close
// lingers until its data is acknowledged (kDrainLimitMs), so the prompt comes back after the
// transfer, not while it is still in flight.

#include <apps/ttcp/TtcpCore.h>
#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>
#include <user/runtime/ZeroCopy.h>

namespace skiff::user {

namespace {

constexpr u64 kIdleLimitMs = 60000;    // no connection, or no data, for this long: give up
constexpr u64 kDrainLimitMs = 30000;   // a transmitter waits this long for its data to be ACKed
constexpr u64 kUdpIdleMs = 3000;       // as the host tool: a UDP receiver's end-marker patience
constexpr u64 kUdpRetryLimitMs = 5000; // a full transmit path (no buffers) is retried this long
constexpr u16 kSinkServicePort = 5001; // the boot-time ttcp/iperf sink service's port
constexpr u64 kPageSize = 4096;

class UserTransport final : public ttcp::Transport {
public:
    ~UserTransport() { close(); }

    Result<void> connect(StringView host, u16 port, ttcp::SocketSettings const& settings) override
    {
        u32 address;
        if (!parse_ipv4(host, address)) {
            println("ttcp-t: '{}' is not a dotted IPv4 address (the guest has no resolver)", host);
            return Error::InvalidArgument;
        }
        if (settings.udp) {
            note_udp_zero_copy(settings);
            m_udp = TRY(socket(abi::SocketType::Datagram));
            m_destination = Endpoint { address, port };
            return {};
        }
        m_tcp = TRY(socket(abi::SocketType::Stream));
        TRY(apply_options(m_tcp, settings));
        return user::connect(m_tcp, { address, port });
    }

    Result<void> listen(u16 port, ttcp::SocketSettings const& settings) override
    {
        if (settings.udp) {
            note_udp_zero_copy(settings);
            m_udp = TRY(socket(abi::SocketType::Datagram));
            TRY(set_option(m_udp, abi::SocketOption::ReceiveTimeout, kUdpIdleMs));
            return bind(m_udp, { 0, port });
        }
        m_listener = TRY(socket(abi::SocketType::Stream));
        // An accepted connection inherits the listener's options.
        TRY(apply_options(m_listener, settings));
        auto bound = bind(m_listener, { 0, port });
        if (bound.is_error()) {
            if (bound.error() == Error::AddressInUse && port == kSinkServicePort)
                println("ttcp-r: port {} is the boot-time ttcp/iperf sink service; pick another with -p", port);
            return bound.error();
        }
        return user::listen(m_listener, 1);
    }

    Result<ttcp::Peer> accept() override
    {
        Endpoint peer;
        m_tcp = TRY(user::accept(m_listener, &peer));
        (void)user::close(m_listener);
        m_listener = -1;
        TRY(set_option(m_tcp, abi::SocketOption::ReceiveTimeout, kIdleLimitMs));
        return ttcp::Peer { peer.address, peer.port };
    }

    Result<usize> send(ReadonlyBytes data) override { return user::send(m_tcp, data); }

    Result<usize> recv(Bytes buffer) override { return receive(m_tcp, buffer); }

    // The zero-copy receive contract (docs/zero-copy.md): the kernel puts the bytes at the page
    // offset where the next payload sits, so that with copy elimination on it can remap that page
    // instead of copying; or, while nothing is queued, posts the buffer, so that the NE2000's
    // header-first receive reads payload straight into it. The buffer has one spare page for
    // this. With -z off the bytes land in the same places and are copied, so the two runs differ
    // only in the socket option.
    //
    // Double buffering: the allocation holds two such buffers. Each call receives into one and
    // has the kernel post the other as it returns, so that what arrives while the core works on
    // the bytes (hashing, checking) still goes straight into a posted buffer; the next call
    // takes it.
    Result<Bytes> recv_placed(Bytes buffer) override
    {
        if (buffer.data() != m_buffer_base)
            return Transport::recv_placed(buffer);
        usize half = m_buffer_bytes / 2;
        u8* current = m_buffer_base + m_next_half * half;
        u8* next = m_buffer_base + (1 - m_next_half) * half;
        u32 offset = 0;
        usize received = TRY(receive_placed(
            m_tcp, Bytes(current, buffer.size() + kPageSize), offset, Bytes(next, buffer.size() + kPageSize)));
        m_next_half = 1 - m_next_half;
        return Bytes(current + offset, received);
    }

    Result<usize> sendto(ReadonlyBytes datagram) override
    {
        u64 deadline = clock_ns() + kUdpRetryLimitMs * 1000000;
        while (true) {
            auto sent = send_to(m_udp, datagram, m_destination);
            // No packet buffer or transmit slot free: classic ttcp's ENOBUFS. Let the NIC drain.
            bool full = sent.is_error() && (sent.error() == Error::NoMemory || sent.error() == Error::WouldBlock);
            if (!full || clock_ns() >= deadline)
                return sent;
            sleep_ms(1);
        }
    }

    Result<usize> recvfrom(Bytes buffer, ttcp::Peer& from) override
    {
        Endpoint peer;
        usize length = TRY(receive_from(m_udp, buffer, &peer));
        from = ttcp::Peer { peer.address, peer.port };
        return length;
    }

    // With -z on, a -R transmitter rewrites a slot of a ring as big as the socket's send buffer,
    // each only once the completion report says the stack let go of its previous send.
    u32 send_ring_slots(ttcp::Options const& options) override
    {
        if (options.zero_copy != ttcp::ZeroCopy::On)
            return 1;
        u64 send_buffer
            = m_tcp >= 0 ? get_option(m_tcp, abi::SocketOption::SendBuffer).value_or(256 * 1024) : 256 * 1024;
        m_ring_slots = static_cast<u32>((send_buffer + options.buffer_length - 1) / options.buffer_length + 1);
        return m_ring_slots;
    }

    Result<void> wait_send_released(u64 offset) override
    {
        auto report = TRY(zero_copy_report(m_tcp));
        if (report.released_bytes >= offset)
            return {};
        ++m_release_waits;
        TRY(zero_copy_report(m_tcp, offset, kIdleLimitMs));
        return {};
    }

    void prepare_rewrite(Bytes buffer) override
    {
        // Lift the send protection of the pages no send holds, in one call rather than a write
        // fault per page (whole pages: a slice need not be page-aligned).
        if (!m_zero_copy || buffer.is_empty())
            return;
        uptr start = align_down(reinterpret_cast<uptr>(buffer.data()), kPageSize);
        uptr end = align_up(reinterpret_cast<uptr>(buffer.data()) + buffer.size(), kPageSize);
        (void)zero_copy_release(reinterpret_cast<u8 const*>(start), end - start);
    }

    void close() override
    {
        if (m_ring_slots > 1) {
            println("ttcp-t: zero-copy ring of {} buffers; {} waits for the stack to release a buffer", m_ring_slots,
                m_release_waits);
            m_ring_slots = 0;
        }
        if (m_tcp >= 0) {
            // Let the data be acknowledged before closing: a transmitter that returns to the
            // prompt while its data is still queued would be measured, by the next command, as
            // idle. The kernel resets the connection if that takes longer than the limit.
            (void)set_option(m_tcp, abi::SocketOption::Linger, kDrainLimitMs);
            auto closed = user::close(m_tcp);
            if (closed.is_error() && closed.error() == Error::TimedOut)
                println("ttcp: data still unacknowledged after {} s; the connection was reset", kDrainLimitMs / 1000);
            m_tcp = -1;
        }
        if (m_listener >= 0) {
            (void)user::close(m_listener);
            m_listener = -1;
        }
        if (m_udp >= 0) {
            (void)user::close(m_udp);
            m_udp = -1;
        }
    }

    Result<Bytes> allocate_buffer(usize length) override
    {
        // A zero-copy buffer whatever -z says, so that a run with copy elimination on and one with
        // it off differ only in the socket option; whole pages, plus one: room for recv_placed to
        // start up to a page in; twice, for recv_placed's double buffering (a transmitter uses
        // the first).
        m_buffer_bytes = 2 * (align_up(length, kPageSize) + kPageSize);
        auto zero_copy = zero_copy_allocate(m_buffer_bytes);
        if (!zero_copy.is_error()) {
            m_zero_copy = true;
            m_buffer_base = zero_copy.value();
            return Bytes(m_buffer_base, length);
        }
        println("ttcp: no zero-copy buffer ({}); using ordinary memory, so everything copies", zero_copy.error());
        m_zero_copy = false;
        m_buffer_base = TRY(map_memory(m_buffer_bytes));
        return Bytes(m_buffer_base, length);
    }

    void free_buffer(Bytes) override
    {
        if (m_buffer_base && m_zero_copy)
            (void)zero_copy_free(m_buffer_base, m_buffer_bytes);
        else if (m_buffer_base)
            (void)unmap_memory(m_buffer_base, m_buffer_bytes);
        m_buffer_base = nullptr;
    }

    u64 now_ns() override { return clock_ns(); }
    void sleep_ns(u64 duration) override { user::sleep_ns(duration); }
    void print(StringView text) override
    {
        (void)write(1, { reinterpret_cast<u8 const*>(text.chars()), text.length() });
    }

private:
    static Result<void> apply_options(i64 descriptor, ttcp::SocketSettings const& settings)
    {
        TRY(set_option(descriptor, abi::SocketOption::NoDelay, settings.nodelay));
        // -z on and -z cow both turn copy elimination on (cow only leaves out the cooperation).
        if (settings.zero_copy != ttcp::ZeroCopy::Default)
            TRY(set_option(descriptor, abi::SocketOption::ZeroCopy, settings.zero_copy != ttcp::ZeroCopy::Off));
        TRY(set_option(descriptor, abi::SocketOption::ReceiveTimeout, kIdleLimitMs));
        return {};
    }

    static void note_udp_zero_copy(ttcp::SocketSettings const& settings)
    {
        if (settings.zero_copy != ttcp::ZeroCopy::Default)
            println("ttcp: -z applies to TCP sockets; this UDP run copies as usual");
    }

    i64 m_listener { -1 };
    i64 m_tcp { -1 };
    i64 m_udp { -1 };
    Endpoint m_destination;
    u8* m_buffer_base { nullptr };
    u64 m_buffer_bytes { 0 };
    usize m_next_half { 0 }; // recv_placed's buffer for the next call
    bool m_zero_copy { false };
    u32 m_ring_slots { 0 };
    u64 m_release_waits { 0 }; // waits for the completion report that found the bytes still held
};

} // namespace

int main(Span<StringView const> arguments)
{
    UserTransport transport;
    return ttcp::main(
        arguments.size() > 0 ? Span<StringView const>(arguments.data() + 1, arguments.size() - 1) : arguments,
        transport);
}

} // namespace skiff::user
