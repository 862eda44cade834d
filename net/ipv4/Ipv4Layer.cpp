#include <net/NetStack.h>
#include <net/ipv4/Ipv4Layer.h>

namespace skiff::net {

void Ipv4Layer::input(u8 interface, PacketRef packet, u64 now_ns)
{
    NetCounters& counters = m_stack.counters();
    ++counters.ip_rx;
    Ipv4View::Problem problem = Ipv4View::Problem::None;
    auto parsed = Ipv4View::parse(packet->linear(), &problem);
    if (parsed.is_error()) {
        switch (problem) {
        case Ipv4View::Problem::Short: ++counters.ip_drop_short; break;
        case Ipv4View::Problem::Version: ++counters.ip_drop_version; break;
        case Ipv4View::Problem::Ihl: ++counters.ip_drop_bad_ihl; break;
        case Ipv4View::Problem::Length: ++counters.ip_drop_bad_length; break;
        default: ++counters.ip_drop_checksum; break;
        }
        return;
    }
    Ipv4View ip = parsed.value();
    if (ip.header_length() > Ipv4View::kMinimumHeader) {
        // RFC 1122 §3.2.1.8: a host must accept and ignore options it does not implement; it
        // implements none, but a malformed option list is a malformed header.
        if (!ip.options_well_formed()) {
            ++counters.ip_drop_bad_options;
            return;
        }
        ++counters.ip_options_seen;
    }
    // RFC 1122 §3.2.1.3: a source that is a broadcast or multicast address is bogus.
    if (ip.source().is_multicast() || m_stack.is_broadcast_address(ip.source())) {
        ++counters.ip_drop_bad_source;
        return;
    }
    Interface const& own = m_stack.interface(interface);
    Ipv4Address destination = ip.destination();
    bool broadcast = own.is_broadcast(destination);
    // A host does not forward (RFC 1122 §3.3.1): anything not for us is dropped.
    if (!broadcast && !m_stack.is_local_address(destination)) {
        ++counters.ip_drop_not_for_us;
        return;
    }
    // RFC 1122 §3.2.1.7: a host must not discard a datagram because its TTL is low; TTL only
    // matters to routers. We record it for ping's output.
    packet->meta.source = ip.source();
    packet->meta.destination = destination;
    packet->meta.ttl = ip.ttl();
    packet->meta.link_broadcast = packet->meta.link_broadcast || broadcast;
    packet->meta.aux = ip.protocol();
    u32 header_length = ip.header_length();
    u32 total_length = ip.total_length();
    bool ok = packet->truncate(total_length) && packet->pull(header_length);
    VERIFY(ok); // parse() checked both lengths

    if (ip.is_fragment()) {
        packet = m_reassembly.input(ip, move(packet), now_ns);
        if (!packet)
            return;
    }
    deliver(move(packet), now_ns);
}

void Ipv4Layer::deliver(PacketRef packet, u64)
{
    switch (static_cast<IpProtocol>(packet->meta.aux)) {
    case IpProtocol::Icmp: m_stack.icmp().input(move(packet)); return;
    case IpProtocol::Udp: m_stack.udp().input(move(packet)); return;
    case IpProtocol::Tcp: m_stack.tcp().input(move(packet)); return;
    default: break;
    }
    ++m_stack.counters().ip_drop_unknown_protocol;
    // RFC 1122 §3.2.2.1: protocol unreachable.
    m_stack.icmp().send_unreachable(UnreachableCode::Protocol, *packet);
}

Result<Ipv4Address> Ipv4Layer::source_for(Ipv4Address destination) const
{
    RouteLookup route = TRY(m_routes.lookup(destination));
    return m_stack.interface(route.interface).address;
}

Result<u16> Ipv4Layer::mtu_for(Ipv4Address destination) const
{
    RouteLookup route = TRY(m_routes.lookup(destination));
    return m_stack.interface(route.interface).mtu;
}

static bool has_borrowed_segments(PacketBuffer const& packet)
{
    for (u8 i = 0; i < packet.segment_count(); ++i)
        if (packet.segment(i).frame.kind == FrameKind::None)
            return true;
    return false;
}

Result<void> Ipv4Layer::send(
    PacketRef packet, Ipv4Address source, Ipv4Address destination, IpProtocol protocol, Ipv4SendOptions options)
{
    NetCounters& counters = m_stack.counters();
    auto routed = m_routes.lookup(destination);
    if (routed.is_error()) {
        ++counters.ip_no_route;
        return routed.error();
    }
    RouteLookup route = routed.value();
    // The limited broadcast leaves through the interface the route names, to the link broadcast.
    if (destination.is_limited_broadcast())
        route.next_hop = destination;
    Interface const& interface = m_stack.interface(route.interface);
    if (source.is_any())
        source = interface.address;
    u32 length = packet->total_length();
    u32 mss = packet->meta.tso_mss;
    if (mss) {
        // A TSO unit (TCP built it for the device, PacketMeta::tso_mss): the device writes each
        // segment's total length, ID (this one plus the segment's index) and header checksum,
        // summing over the field, which must therefore be zero here.
        VERIFY(length + Ipv4View::kMinimumHeader <= 0xffff && options.dont_fragment);
        u32 segments = max(1u, (packet->unit_payload_length() + mss - 1) / mss);
        counters.ip_tx += segments;
        u8* header = packet->push_header(Ipv4View::kMinimumHeader);
        Ipv4View::write(header, static_cast<u16>(length + Ipv4View::kMinimumHeader), m_next_identification,
            Ipv4View::kFlagDontFragment, options.ttl, static_cast<u8>(protocol), source, destination);
        store_be16(header + 10, 0);
        m_next_identification = static_cast<u16>(m_next_identification + segments);
        return m_stack.arp().output(route.interface, route.next_hop, move(packet));
    }
    if (length + Ipv4View::kMinimumHeader > interface.mtu || has_borrowed_segments(*packet))
        return send_fragments(
            move(packet), route.interface, route.next_hop, source, destination, protocol, options, interface.mtu);
    ++counters.ip_tx;
    u16 flags = options.dont_fragment ? Ipv4View::kFlagDontFragment : 0;
    Ipv4View::write(packet->push_header(Ipv4View::kMinimumHeader), static_cast<u16>(length + Ipv4View::kMinimumHeader),
        m_next_identification++, flags, options.ttl, static_cast<u8>(protocol), source, destination);
    return m_stack.arp().output(route.interface, route.next_hop, move(packet));
}

// RFC 791 §3.2 "fragmentation": every fragment but the last carries a multiple of 8 bytes of
// the original payload; all carry the same identification; MF is set on all but the last; the
// offset is in 8-byte units. Each fragment copies its share into its own follow area, so the
// original (and any borrowed memory behind it) is free when this returns.
Result<void> Ipv4Layer::send_fragments(PacketRef packet, u8 interface, Ipv4Address next_hop, Ipv4Address source,
    Ipv4Address destination, IpProtocol protocol, Ipv4SendOptions options, u16 mtu)
{
    NetCounters& counters = m_stack.counters();
    u32 length = packet->total_length();
    u32 room = min<u32>(mtu - Ipv4View::kMinimumHeader, PacketBuffer::kFollowCapacity);
    if (length > room && options.dont_fragment) {
        ++counters.ip_fragment_needed_df;
        return Error::MessageTooLong;
    }
    if (length + Ipv4View::kMinimumHeader > 0xffff)
        return Error::MessageTooLong;
    u32 chunk = length > room ? align_down(room, 8) : room;
    u16 identification = m_next_identification++;
    Result<void> result {};
    for (u32 offset = 0; offset < length; offset += chunk) {
        u32 count = min(chunk, length - offset);
        PacketRef fragment = m_stack.pool().allocate_transmit();
        if (!fragment) {
            ++counters.ip_no_buffer;
            result = Error::NoMemory;
            break;
        }
        packet->copy_to(offset, { fragment->extend_follow(count), count });
        bool last = offset + count >= length;
        u16 flags = static_cast<u16>((offset / 8) | (last ? 0 : Ipv4View::kFlagMoreFragments));
        if (options.dont_fragment)
            flags |= Ipv4View::kFlagDontFragment;
        Ipv4View::write(fragment->push_header(Ipv4View::kMinimumHeader),
            static_cast<u16>(count + Ipv4View::kMinimumHeader), identification, flags, options.ttl,
            static_cast<u8>(protocol), source, destination);
        ++counters.ip_tx;
        if (length > room)
            ++counters.ip_fragments_sent;
        Result<void> sent = m_stack.arp().output(interface, next_hop, move(fragment));
        if (sent.is_error()) {
            result = sent;
            break;
        }
    }
    return result;
}

} // namespace skiff::net
