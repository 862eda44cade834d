#include <kernel/Time.h>
#include <kernel/net/NetWaiter.h>
#include <kernel/net/Network.h>
#include <kernel/net/Sockets.h>

namespace skiff::knet {

namespace {

constexpr u32 kMaxHandles = 16;
UdpHandle* s_handles[kMaxHandles] {}; // guarded by the stack lock
NetWaiter s_echo_waiter;

// Milliseconds left until `deadline_ns`, at least 1 while not reached.
u64 remaining_ms(u64 deadline_ns)
{
    u64 now = time::monotonic_ns();
    if (now >= deadline_ns)
        return 0;
    return (deadline_ns - now + 999999) / 1000000;
}

u64 deadline_after(u64 timeout_ms)
{
    if (timeout_ms == kWaitForever)
        return ~0ull;
    return time::monotonic_ns() + timeout_ms * 1000000;
}

} // namespace

Result<UdpHandle*> UdpHandle::open(char const* owner)
{
    if (!is_running())
        return Error::NetworkUnreachable;
    auto* handle = new (std::nothrow) UdpHandle;
    auto* waiter = new (std::nothrow) NetWaiter;
    if (!handle || !waiter) {
        delete handle;
        delete waiter;
        return Error::NoMemory;
    }
    StackLocker locker;
    u32 slot = 0;
    while (slot < kMaxHandles && s_handles[slot])
        ++slot;
    auto socket = slot < kMaxHandles ? stack().udp().open() : Result<net::UdpSocket*>(Error::NoMemory);
    if (socket.is_error()) {
        delete handle;
        delete waiter;
        return socket.error();
    }
    handle->m_socket = socket.value();
    handle->m_owner = owner;
    handle->m_waiter = waiter;
    handle->m_socket->set_waiter(waiter);
    s_handles[slot] = handle;
    return handle;
}

Result<void> UdpHandle::bind(u16 port)
{
    StackLocker locker;
    return m_socket->bind({ net::Ipv4Address::any(), port });
}

Result<usize> UdpHandle::receive_from(Bytes out, net::SocketAddress* from, u64 timeout_ms)
{
    auto* waiter = static_cast<NetWaiter*>(m_waiter);
    u64 deadline = deadline_after(timeout_ms);
    while (true) {
        {
            StackLocker locker;
            // Reset under the lock: a datagram delivered after this point wakes the waiter.
            waiter->reset();
            auto result = m_socket->recvfrom(out, from);
            if (!result.is_error() || result.error() != Error::WouldBlock)
                return result;
        }
        u64 left = timeout_ms == kWaitForever ? sync::kForever : remaining_ms(deadline);
        if (left == 0)
            return Error::TimedOut;
        waiter->wait(left);
    }
}

Result<u64> wait_send_released(net::TcpSocket& socket, NetWaiter& waiter, u64 offset, u64 timeout_ms)
{
    u64 deadline = deadline_after(timeout_ms);
    while (true) {
        {
            StackLocker locker;
            // Reset under the lock: a release after this point wakes the waiter.
            waiter.reset();
            u64 released = socket.send_released();
            if (released >= offset)
                return released;
            if (offset > socket.send_accepted())
                return Error::InvalidArgument; // bytes never sent are never released
        }
        u64 left = timeout_ms == kWaitForever ? sync::kForever : remaining_ms(deadline);
        if (left == 0)
            return Error::TimedOut;
        waiter.wait(left);
    }
}

Result<usize> UdpHandle::send_to(ReadonlyBytes data, net::SocketAddress destination)
{
    auto result = [&] {
        StackLocker locker;
        return m_socket->sendto(data, destination);
    }();
    // The send may have armed a timer (an ARP request to retry): let the network thread
    // recompute how long it sleeps.
    wake_network_thread();
    return result;
}

void UdpHandle::close()
{
    {
        StackLocker locker;
        m_socket->set_waiter(nullptr);
        m_socket->close();
        for (auto& slot : s_handles) {
            if (slot == this)
                slot = nullptr;
        }
    }
    delete static_cast<NetWaiter*>(m_waiter);
    delete this;
}

void for_each_udp_handle(void (*visit)(UdpHandle& handle, void* context), void* context)
{
    if (!is_running())
        return;
    StackLocker locker;
    for (auto* handle : s_handles) {
        if (handle)
            visit(*handle, context);
    }
}

Result<void> send_echo_request(net::Ipv4Address destination, u16 identifier, u16 sequence, u16 data_length)
{
    if (!is_running())
        return Error::NetworkUnreachable;
    auto result = [&] {
        StackLocker locker;
        stack().icmp().set_echo_waiter(&s_echo_waiter);
        return stack().icmp().send_echo_request(destination, identifier, sequence, data_length);
    }();
    wake_network_thread(); // as in UdpHandle::send_to: a new ARP timer may be due sooner
    return result;
}

Result<net::EchoReply> wait_echo_reply(u16 identifier, u16 sequence, u64 timeout_ms)
{
    u64 deadline = deadline_after(timeout_ms);
    while (true) {
        {
            StackLocker locker;
            s_echo_waiter.reset();
            while (true) {
                auto reply = stack().icmp().take_echo_reply(identifier);
                if (reply.is_error())
                    break;
                if (reply.value().sequence == sequence)
                    return reply.value();
                // A late reply to an earlier request: ping already counted it as lost.
            }
        }
        u64 left = remaining_ms(deadline);
        if (left == 0)
            return Error::TimedOut;
        s_echo_waiter.wait(left);
    }
}

} // namespace skiff::knet
