#include <kernel/base/Print.h>
#include <kernel/net/NetServices.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>
#include <kernel/sched/Scheduler.h>
#include <mm/Memory.h>
#include <net/tcp/TcpSocket.h>

namespace skiff::knet {

namespace {

constexpr u16 kEchoPort = 7;
// The largest UDP payload a reassembled IPv4 datagram can carry here (the stack's large buffers
// are 16 KiB); bigger ones are truncated by recvfrom and echoed truncated.
constexpr usize kEchoBufferSize = 16384;
u8 s_echo_buffer[kEchoBufferSize]; // the echo thread only
ServiceStats s_stats;

// RFC 862: "When a datagram is received, the data from it is sent back in an answering datagram."
void udp_echo_thread(void* argument)
{
    auto* handle = static_cast<UdpHandle*>(argument);
    while (true) {
        net::SocketAddress from;
        auto received = handle->receive_from({ s_echo_buffer, kEchoBufferSize }, &from);
        if (received.is_error()) {
            ++s_stats.udp_echo_errors;
            continue;
        }
        usize length = min(received.value(), kEchoBufferSize);
        if (handle->send_to({ s_echo_buffer, length }, from).is_error()) {
            ++s_stats.udp_echo_errors;
            continue;
        }
        ++s_stats.udp_echo_datagrams;
        s_stats.udp_echo_bytes += length;
    }
}

// --- TCP: echo (RFC 862) on 7, discard (RFC 863) on 9, a ttcp/iperf sink on 5001 ---------------
// One thread serves every listener and connection, event-driven: all its sockets share one
// NetWaiter, and each pass does what the sockets allow without blocking.

enum class TcpService : u8 { Echo, Discard, Sink };

struct TcpListener {
    net::TcpSocket* socket { nullptr };
    TcpService service { TcpService::Echo };
    u16 port { 0 };
};

struct TcpConnection {
    net::TcpSocket* socket { nullptr };
    TcpService service { TcpService::Echo };
    bool peer_closed { false };
    u32 pending { 0 }; // echo: bytes received and not yet sent back, at the front of `buffer`
    u8* buffer { nullptr };
};

// Echo buffers come from the zero-copy region (mm::allocate_zero_copy_buffer), so that with
// `zc on` the echo's sends are pinned rather than copied, and the compaction below, which
// rewrites bytes TCP may still hold, goes through copy-on-write (docs/zero-copy.md). If that
// region cannot provide them, static buffers do, and the echo copies as any heap user would.
constexpr u32 kEchoBufferBytes = 16384;

constexpr u32 kMaxTcpConnections = 8;
TcpListener s_listeners[3];
TcpConnection s_connections[kMaxTcpConnections]; // the TCP service thread only
u8 s_static_echo_buffers[kMaxTcpConnections][kEchoBufferBytes];
u8 s_tcp_scratch[65536];
NetWaiter s_tcp_waiter;

// Serves one connection as far as it can go now; returns true if anything moved. Stack locked.
bool serve(TcpConnection& c)
{
    bool progress = false;
    net::TcpSocket& socket = *c.socket;
    for (u32 round = 0; round < 16; ++round) {
        Bytes into = c.service == TcpService::Echo ? Bytes { c.buffer + c.pending, kEchoBufferBytes - c.pending }
                                                   : Bytes { s_tcp_scratch, sizeof(s_tcp_scratch) };
        if (into.size() == 0)
            break; // echo back-pressure: nothing more is read until the peer takes what we send
        auto received = socket.recv(into);
        if (received.is_error()) {
            if (received.error() != Error::WouldBlock)
                c.peer_closed = true;
            break;
        }
        progress = true;
        if (received.value() == 0) {
            c.peer_closed = true;
            break;
        }
        if (c.service == TcpService::Echo)
            c.pending += static_cast<u32>(received.value());
        else if (c.service == TcpService::Sink)
            s_stats.tcp_sink_bytes += received.value();
        else
            s_stats.tcp_discard_bytes += received.value();
    }
    if (c.service == TcpService::Echo && c.pending) {
        auto sent = socket.send({ c.buffer, c.pending });
        if (!sent.is_error() && sent.value()) {
            u32 count = static_cast<u32>(sent.value());
            for (u32 i = count; i < c.pending; ++i)
                c.buffer[i - count] = c.buffer[i];
            c.pending -= count;
            s_stats.tcp_echo_bytes += count;
            progress = true;
        } else if (sent.is_error() && sent.error() != Error::WouldBlock) {
            c.peer_closed = true;
            c.pending = 0;
        }
    }
    if (socket.state() == net::TcpState::Closed || (c.peer_closed && c.pending == 0)) {
        socket.set_waiter(nullptr);
        socket.close(); // FIN after everything queued, or release a dead connection
        c.socket = nullptr;
        progress = true;
    }
    return progress;
}

void tcp_services_thread(void*)
{
    while (true) {
        bool progress = false;
        {
            StackLocker locker;
            s_tcp_waiter.reset();
            for (auto& listener : s_listeners) {
                if (!listener.socket)
                    continue;
                while (true) {
                    // With every slot busy, leave connections in the listener's accept queue (and
                    // further SYNs to the backlog) rather than accept and reset them: clients wait.
                    TcpConnection* slot = nullptr;
                    for (auto& c : s_connections) {
                        if (!c.socket) {
                            slot = &c;
                            break;
                        }
                    }
                    if (!slot)
                        break;
                    auto accepted = listener.socket->accept();
                    if (accepted.is_error())
                        break;
                    progress = true;
                    slot->socket = accepted.value();
                    slot->service = listener.service;
                    slot->peer_closed = false;
                    slot->pending = 0;
                    slot->socket->set_waiter(&s_tcp_waiter);
                    ++s_stats.tcp_connections;
                }
            }
            for (auto& c : s_connections) {
                if (c.socket)
                    progress |= serve(c);
            }
        }
        if (!progress)
            s_tcp_waiter.wait(1000);
    }
}

void start_tcp_services()
{
    struct Wanted {
        TcpService service;
        u16 port;
    };
    constexpr Wanted kWanted[] = { { TcpService::Echo, 7 }, { TcpService::Discard, 9 }, { TcpService::Sink, 5001 } };
    {
        StackLocker locker;
        for (u32 i = 0; i < 3; ++i) {
            auto socket = stack().tcp().open();
            if (socket.is_error()) {
                kprintln("net: TCP service on port {} not started: {}", kWanted[i].port, socket.error());
                continue;
            }
            if (auto bound = socket.value()->bind({ net::Ipv4Address::any(), kWanted[i].port }); bound.is_error()) {
                kprintln("net: TCP port {}: {}", kWanted[i].port, bound.error());
                socket.value()->close();
                continue;
            }
            // Accepted connections inherit the listener's options, the receive window among them.
            if (u32 window = tcp_receive_window_hint())
                socket.value()->set_buffer_sizes(0, window);
            if (auto listening = socket.value()->listen(32); listening.is_error()) {
                kprintln("net: TCP port {}: {}", kWanted[i].port, listening.error());
                socket.value()->close();
                continue;
            }
            socket.value()->set_waiter(&s_tcp_waiter);
            s_listeners[i] = { socket.value(), kWanted[i].service, kWanted[i].port };
        }
    }
    auto zero_copy = mm::allocate_zero_copy_buffer(kMaxTcpConnections * kEchoBufferBytes);
    for (u32 i = 0; i < kMaxTcpConnections; ++i) {
        s_connections[i].buffer
            = zero_copy.is_error() ? s_static_echo_buffers[i] : zero_copy.value() + i * kEchoBufferBytes;
    }
    auto thread = sched::create_thread("tcp-services", tcp_services_thread, nullptr);
    if (thread.is_error()) {
        kprintln("net: TCP service thread not started: {}", thread.error());
        return;
    }
    sched::detach(thread.value());
}

} // namespace

void start_services()
{
    start_tcp_services();

    auto handle = UdpHandle::open("udp-echo");
    if (handle.is_error()) {
        kprintln("net: UDP echo service not started: {}", handle.error());
        return;
    }
    if (auto bound = handle.value()->bind(kEchoPort); bound.is_error()) {
        kprintln("net: UDP echo service cannot bind port {}: {}", kEchoPort, bound.error());
        handle.value()->close();
        return;
    }
    auto thread = sched::create_thread("udp-echo", udp_echo_thread, handle.value());
    if (thread.is_error()) {
        kprintln("net: UDP echo thread not started: {}", thread.error());
        handle.value()->close();
        return;
    }
    sched::detach(thread.value());
}

ServiceStats service_stats()
{
    return s_stats;
}

} // namespace skiff::knet
