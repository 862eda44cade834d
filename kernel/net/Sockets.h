#pragma once

// Blocking socket calls for kernel threads and console commands, on top of the stack's
// non-blocking ones (net/socket/Socket.h): take the stack lock, try; if the call would block,
// wait on the socket's NetWaiter (woken through Port::wake from inside the network thread's poll)
// with a timeout, and try again.

#include <lib/Result.h>
#include <net/icmp/Icmp.h>
#include <net/tcp/TcpSocket.h>
#include <net/udp/UdpSocket.h>

namespace skiff::knet {

constexpr u64 kWaitForever = ~0ull;

// A UDP socket opened through the kernel glue; `owner` names it in netstat.
class UdpHandle {
public:
    static Result<UdpHandle*> open(char const* owner);
    Result<void> bind(u16 port);
    // Blocks until a datagram arrives or timeout_ms passes (Error::TimedOut).
    Result<usize> receive_from(Bytes out, net::SocketAddress* from, u64 timeout_ms = kWaitForever);
    Result<usize> send_to(ReadonlyBytes data, net::SocketAddress destination);
    void close(); // frees the handle

    net::UdpSocket& socket() { return *m_socket; }
    char const* owner() const { return m_owner; }

private:
    UdpHandle() = default;
    net::UdpSocket* m_socket { nullptr };
    char const* m_owner { nullptr };
    void* m_waiter { nullptr }; // a NetWaiter
};

// Sockets opened through the glue, for netstat. Calls visit(handle) with the stack lock held.
void for_each_udp_handle(void (*visit)(UdpHandle& handle, void* context), void* context);

class NetWaiter;

// The zero-copy completion report (net::TcpSocket::send_released): blocks until the stack has
// released the first `offset` bytes `socket` took, so their memory can be rewritten without a
// COW fault. Returns the count released, Error::TimedOut after timeout_ms. `waiter` must be the
// socket's waiter (Socket::set_waiter): the stack wakes it as buffers are freed.
Result<u64> wait_send_released(net::TcpSocket& socket, NetWaiter& waiter, u64 offset, u64 timeout_ms);

// Guest ping: one echo request, then wait up to timeout_ms for its reply (matching identifier
// and sequence; older replies are skipped).
Result<void> send_echo_request(net::Ipv4Address destination, u16 identifier, u16 sequence, u16 data_length);
Result<net::EchoReply> wait_echo_reply(u16 identifier, u16 sequence, u64 timeout_ms);

} // namespace skiff::knet
