#pragma once

// The routing table of a host (RFC 1122 §3.3.1): connected subnets and gateways, longest prefix
// wins, 0.0.0.0/0 is the default route.

#include <lib/Result.h>
#include <net/Address.h>

namespace skiff::net {

struct Route {
    Ipv4Address network;
    u8 prefix_length { 0 };
    Ipv4Address gateway; // any() for a directly connected network
    u8 interface {
        0
    };
};

struct RouteLookup {
    u8 interface {
        0
    };
    Ipv4Address next_hop;
};

class RoutingTable {
public:
    static constexpr u32 kMaxRoutes = 16;

    Result<void> add(Route route);
    Result<void> remove(Ipv4Address network, u8 prefix_length);
    Result<RouteLookup> lookup(Ipv4Address destination) const;
    u32 snapshot(Route* out, u32 capacity) const;
    u32 size() const { return m_count; }

private:
    Route m_routes[kMaxRoutes];
    u32 m_count { 0 };
};

} // namespace skiff::net
