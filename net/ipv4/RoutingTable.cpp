#include <net/ipv4/RoutingTable.h>

namespace skiff::net {

Result<void> RoutingTable::add(Route route)
{
    route.network.value &= prefix_mask(route.prefix_length);
    for (u32 i = 0; i < m_count; ++i) {
        if (m_routes[i].network == route.network && m_routes[i].prefix_length == route.prefix_length) {
            m_routes[i] = route; // replacing a route is how `gw=` changes the default
            return {};
        }
    }
    if (m_count == kMaxRoutes)
        return Error::NoMemory;
    m_routes[m_count++] = route;
    return {};
}

Result<void> RoutingTable::remove(Ipv4Address network, u8 prefix_length)
{
    network.value &= prefix_mask(prefix_length);
    for (u32 i = 0; i < m_count; ++i) {
        if (m_routes[i].network == network && m_routes[i].prefix_length == prefix_length) {
            m_routes[i] = m_routes[--m_count];
            return {};
        }
    }
    return Error::NotFound;
}

Result<RouteLookup> RoutingTable::lookup(Ipv4Address destination) const
{
    Route const* best = nullptr;
    for (u32 i = 0; i < m_count; ++i) {
        Route const& r = m_routes[i];
        if ((destination.value & prefix_mask(r.prefix_length)) != r.network.value)
            continue;
        if (!best || r.prefix_length > best->prefix_length)
            best = &r;
    }
    if (!best)
        return Error::NetworkUnreachable;
    return RouteLookup { best->interface, best->gateway.is_any() ? destination : best->gateway };
}

u32 RoutingTable::snapshot(Route* out, u32 capacity) const
{
    u32 n = min(capacity, m_count);
    for (u32 i = 0; i < n; ++i)
        out[i] = m_routes[i];
    return n;
}

} // namespace skiff::net
