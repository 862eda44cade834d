#pragma once

// IPv4 for a host (RFC 791, RFC 1122 §3): checks every received header, reassembles fragments,
// dispatches to ICMP, UDP and TCP; on send, routes, fragments what exceeds the MTU and hands the
// packet to ARP.

#include <lib/Result.h>
#include <net/PacketBuffer.h>
#include <net/ipv4/Ipv4Header.h>
#include <net/ipv4/Ipv4Reassembly.h>
#include <net/ipv4/RoutingTable.h>

namespace skiff::net {

class NetStack;

struct Ipv4SendOptions {
    u8 ttl { kDefaultTtl };
    bool dont_fragment { false };
    static constexpr u8 kDefaultTtl = 64; // RFC 1700's recommendation, as Linux does
};

class Ipv4Layer {
public:
    explicit Ipv4Layer(NetStack& stack)
        : m_stack(stack)
        , m_reassembly(stack)
    {
    }

    // An Ethernet payload of type IPv4 from `interface`. Consumes the packet.
    void input(u8 interface, PacketRef packet, u64 now_ns);

    // Send `packet` (the transport header and data; the linear region starts at the transport
    // header) from `source` (any(): the outgoing interface's address) to `destination`.
    // Consumes the packet on every path. Packets whose segments are borrowed (FrameKind::None:
    // memory the caller owns only for the duration of the call) are copied before return.
    Result<void> send(PacketRef packet, Ipv4Address source, Ipv4Address destination, IpProtocol protocol,
        Ipv4SendOptions options = {});

    // The address a packet to `destination` leaves from, and the MTU on the way.
    Result<Ipv4Address> source_for(Ipv4Address destination) const;
    Result<u16> mtu_for(Ipv4Address destination) const;

    RoutingTable& routes() { return m_routes; }
    Ipv4Reassembly& reassembly() { return m_reassembly; }

private:
    Result<void> send_fragments(PacketRef packet, u8 interface, Ipv4Address next_hop, Ipv4Address source,
        Ipv4Address destination, IpProtocol protocol, Ipv4SendOptions options, u16 mtu);
    void deliver(PacketRef packet, u64 now_ns);

    NetStack& m_stack;
    RoutingTable m_routes;
    Ipv4Reassembly m_reassembly;
    u16 m_next_identification { 1 };
};

} // namespace skiff::net
