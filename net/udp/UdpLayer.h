#pragma once

// UDP (RFC 768, RFC 1122 §4.1): checks length and checksum, demultiplexes to sockets, answers
// datagrams for closed ports with ICMP port unreachable.

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/udp/UdpHeader.h>
#include <net/udp/UdpSocket.h>

namespace skiff::net {

class NetStack;

class UdpLayer {
public:
    static constexpr u32 kMaxSockets = 32;

    explicit UdpLayer(NetStack& stack)
        : m_stack(stack)
    {
    }

    // socket(AF_INET, SOCK_DGRAM, 0)
    Result<UdpSocket*> open();
    // A UDP datagram (linear region from the UDP header; meta filled). Consumes it.
    void input(PacketRef packet);
    void close_all();

private:
    friend class UdpSocket;
    bool port_in_use(u16 port, Ipv4Address address) const;
    Result<u16> ephemeral_port();
    Result<usize> send(UdpSocket&, ReadonlyBytes data, SocketAddress destination);
    UdpSocket* demultiplex(SocketAddress local, SocketAddress remote);

    NetStack& m_stack;
    UdpSocket m_sockets[kMaxSockets];
};

} // namespace skiff::net
