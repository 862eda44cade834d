// The boot-time services as tasks: the user programs echo (TCP and UDP 7, RFC 862), discard
// (TCP 9, RFC 863) and sink (TCP 5001, a ttcp/iperf sink), each in its own address space
// (user/services/). The kernel opens their sockets here and hands them over before each task's
// first thread runs ("socket activation"), so the ports answer SYNs from the moment the stack is
// up: a connection that comes before the task first runs waits in the listener's backlog.

#include <kernel/base/Print.h>
#include <kernel/net/NetServices.h>
#include <kernel/net/Network.h>
#include <kernel/syscall/SocketCalls.h>
#include <kernel/task/Task.h>
#include <net/tcp/TcpLayer.h>
#include <net/tcp/TcpSocket.h>
#include <net/udp/UdpLayer.h>
#include <net/udp/UdpSocket.h>

namespace skiff::knet {

namespace {

struct Sockets {
    net::TcpSocket* listener { nullptr };
    net::UdpSocket* datagram { nullptr };
};

Result<net::TcpSocket*> open_listener(u16 port, ListenerOptions const& options)
{
    StackLocker locker;
    net::TcpSocket* socket = TRY(stack().tcp().open());
    auto ready = [&]() -> Result<void> {
        TRY(socket->bind({ net::Ipv4Address::any(), port }));
        // Accepted connections inherit the listener's options, the receive window among them: the
        // service's own, no larger than the tcp_window= boot hint when there is one.
        u32 window = tcp_receive_window_hint();
        if (options.receive_window)
            window = window ? min(window, options.receive_window) : options.receive_window;
        socket->set_buffer_sizes(options.send_buffer, window);
        if (!options.zero_copy)
            socket->set_zero_copy(false);
        if (options.nodelay)
            socket->set_nodelay(true);
        return socket->listen(options.backlog);
    }();
    if (ready.is_error()) {
        socket->close();
        return ready.error();
    }
    return socket;
}

Result<net::UdpSocket*> open_datagram(u16 port)
{
    StackLocker locker;
    net::UdpSocket* socket = TRY(stack().udp().open());
    if (auto bound = socket->bind({ net::Ipv4Address::any(), port }); bound.is_error()) {
        socket->close();
        return bound.error();
    }
    return socket;
}

// Before the service's thread runs: its sockets become descriptors 3 (TCP) and 4 (UDP).
Result<void> hand_over(task::Task& task, void* context)
{
    auto* sockets = static_cast<Sockets*>(context);
    TRY(syscall::adopt_socket(task, sockets->listener));
    sockets->listener = nullptr;
    if (sockets->datagram) {
        TRY(syscall::adopt_socket(task, sockets->datagram));
        sockets->datagram = nullptr;
    }
    return {};
}

void close_unclaimed(Sockets& sockets)
{
    StackLocker locker;
    if (sockets.listener)
        sockets.listener->close();
    if (sockets.datagram)
        sockets.datagram->close();
}

} // namespace

Result<u32> start_service(char const* name, u16 port, bool datagram, ListenerOptions const& options)
{
    Sockets sockets;
    auto listener = open_listener(port, options);
    if (listener.is_error()) {
        kprintln("net: {} service: TCP port {}: {}", name, port, listener.error());
        return listener.error();
    }
    sockets.listener = listener.value();
    if (datagram) {
        auto opened = open_datagram(port);
        if (opened.is_error()) {
            kprintln("net: {} service: UDP port {}: {}", name, port, opened.error());
            close_unclaimed(sockets);
            return opened.error();
        }
        sockets.datagram = opened.value();
    }
    StringView arguments[] = { name };
    task::StartProblem problem;
    task::StartOptions start { true, hand_over, &sockets };
    auto started = task::start_task(name, arguments, start, problem);
    close_unclaimed(sockets); // what the task did not take (nothing, unless it failed to start)
    if (started.is_error()) {
        kprintln("net: {} service not started: {}", name, problem.reason);
        return started.error();
    }
    u32 id = started.value()->id();
    kprintln("net: {} service on port {} is task {}", name, port, id);
    task::release_task(started.value());
    return id;
}

void start_services()
{
    (void)start_service("echo", 7, true);
    (void)start_service("discard", 9, false);
    (void)start_service("sink", 5001, false);
}

} // namespace skiff::knet
