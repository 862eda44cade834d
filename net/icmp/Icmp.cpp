#include <net/NetStack.h>
#include <net/icmp/Icmp.h>

namespace skiff::net {

static void write_icmp_header(u8* out, IcmpType type, u8 code, u16 identifier, u16 sequence)
{
    out[0] = static_cast<u8>(type);
    out[1] = code;
    store_be16(out + 2, 0);
    store_be16(out + 4, identifier);
    store_be16(out + 6, sequence);
}

// The checksum covers the ICMP header and data, wherever in the packet they lie.
static void finish_icmp_checksum(PacketBuffer& packet)
{
    ChecksumAccumulator sum;
    sum.add_packet(packet, 0, packet.total_length());
    store_be16(packet.data() + 2, sum.finish());
}

// Puts `data` after the header: copied into follow when it fits, otherwise borrowed (IPv4
// copies borrowed data into its fragments before send() returns).
static void attach_data(PacketBuffer& packet, ReadonlyBytes data)
{
    if (data.size() <= packet.follow_space()) {
        packet.append_follow(data);
        return;
    }
    bool added = packet.add_segment({ data.data(), 0, static_cast<u32>(data.size()), {} });
    VERIFY(added); // a fresh buffer has both segment slots free
}

void Icmp::input(PacketRef packet)
{
    NetCounters& counters = m_stack.counters();
    ++counters.icmp_rx;
    auto parsed = IcmpView::parse(packet->linear());
    if (parsed.is_error()) {
        ++counters.icmp_drop_malformed;
        return;
    }
    IcmpView icmp = parsed.value();
    if (!icmp.checksum_ok()) {
        ++counters.icmp_drop_checksum;
        return;
    }
    switch (static_cast<IcmpType>(icmp.type())) {
    case IcmpType::Echo:
        ++counters.icmp_echo_requests_rx;
        // RFC 1122 §3.2.2.6: an echo request to a broadcast address may be silently discarded;
        // answering invites smurf amplification, so we do not.
        if (packet->meta.link_broadcast || m_stack.is_broadcast_address(packet->meta.destination))
            break;
        answer_echo(move(packet), icmp);
        return;
    case IcmpType::EchoReply: {
        ++counters.icmp_echo_replies_rx;
        EchoReply reply;
        reply.source = packet->meta.source;
        reply.identifier = icmp.identifier();
        reply.sequence = icmp.sequence();
        reply.length = static_cast<u16>(icmp.data().size());
        reply.ttl = packet->meta.ttl;
        reply.received_ns = m_stack.now();
        reply.data_ok = true;
        for (u32 i = 0; i < icmp.data().size(); ++i)
            if (icmp.data()[i] != pattern_byte(i))
                reply.data_ok = false;
        if (m_reply_count == kReplyRing) { // keep the newest
            m_reply_head = (m_reply_head + 1) % kReplyRing;
            --m_reply_count;
        }
        m_replies[(m_reply_head + m_reply_count) % kReplyRing] = reply;
        ++m_reply_count;
        if (m_echo_waiter)
            m_stack.port().wake(m_echo_waiter);
        break;
    }
    case IcmpType::DestinationUnreachable: ++counters.icmp_unreachable_rx; break;
    default: break;
    }
}

void Icmp::answer_echo(PacketRef request, IcmpView const& view)
{
    PacketRef reply = m_stack.pool().allocate_transmit();
    if (!reply) {
        ++m_stack.counters().ip_no_buffer;
        return;
    }
    // RFC 792 "Echo or Echo Reply": the reply returns identifier, sequence and data unchanged.
    attach_data(*reply, view.data());
    write_icmp_header(
        reply->push_header(IcmpView::kHeaderLength), IcmpType::EchoReply, 0, view.identifier(), view.sequence());
    finish_icmp_checksum(*reply);
    ++m_stack.counters().icmp_echo_replies_sent;
    (void)m_stack.ipv4().send(move(reply), request->meta.destination, request->meta.source, IpProtocol::Icmp);
}

Result<void> Icmp::send_echo_request(Ipv4Address destination, u16 identifier, u16 sequence, u16 data_length)
{
    if (data_length > PacketBuffer::kLargeStorage - IcmpView::kHeaderLength)
        return Error::MessageTooLong;
    PacketRef request = m_stack.pool().allocate_transmit();
    if (!request)
        return Error::NoMemory;
    PacketRef scratch;
    if (data_length <= request->follow_space()) {
        u8* data = request->extend_follow(data_length);
        for (u32 i = 0; i < data_length; ++i)
            data[i] = pattern_byte(i);
    } else {
        scratch = m_stack.pool().allocate_large();
        if (!scratch)
            return Error::NoMemory;
        for (u32 i = 0; i < data_length; ++i)
            scratch->storage()[i] = pattern_byte(i);
        attach_data(*request, { scratch->storage(), data_length });
    }
    write_icmp_header(request->push_header(IcmpView::kHeaderLength), IcmpType::Echo, 0, identifier, sequence);
    finish_icmp_checksum(*request);
    return m_stack.ipv4().send(move(request), Ipv4Address::any(), destination, IpProtocol::Icmp);
}

Result<EchoReply> Icmp::take_echo_reply(u16 identifier)
{
    for (u32 i = 0; i < m_reply_count; ++i) {
        u32 index = (m_reply_head + i) % kReplyRing;
        if (m_replies[index].identifier != identifier)
            continue;
        EchoReply reply = m_replies[index];
        // Close the gap, keeping the order of the rest.
        for (u32 j = i; j + 1 < m_reply_count; ++j)
            m_replies[(m_reply_head + j) % kReplyRing] = m_replies[(m_reply_head + j + 1) % kReplyRing];
        --m_reply_count;
        return reply;
    }
    return Error::WouldBlock;
}

bool Icmp::take_token()
{
    u64 now = m_stack.now();
    if (now > m_last_refill) {
        u64 earned = (now - m_last_refill) / kTokenInterval;
        if (earned) {
            m_tokens = static_cast<u32>(min<u64>(kBucketSize, m_tokens + earned));
            m_last_refill += earned * kTokenInterval;
        }
    }
    if (!m_tokens) {
        ++m_stack.counters().icmp_rate_limited;
        return false;
    }
    --m_tokens;
    return true;
}

void Icmp::send_unreachable(UnreachableCode code, PacketBuffer const& datagram)
{
    PacketMeta const& meta = datagram.meta;
    // RFC 1122 §3.2.2: never about an ICMP error, a broadcast or multicast, a datagram from a
    // non-unicast source, or a non-first fragment (callers hand reassembled datagrams only).
    if (meta.link_broadcast || m_stack.is_broadcast_address(meta.destination) || meta.destination.is_multicast())
        return;
    if (meta.source.is_any() || meta.source.is_multicast() || m_stack.is_broadcast_address(meta.source))
        return;
    ReadonlyBytes payload = datagram.linear();
    if (meta.aux == static_cast<u8>(IpProtocol::Icmp)
        && (payload.is_empty()
            || (payload[0] != static_cast<u8>(IcmpType::Echo) && payload[0] != static_cast<u8>(IcmpType::EchoReply))))
        return;
    if (!take_token())
        return;
    PacketRef packet = m_stack.pool().allocate_transmit();
    if (!packet)
        return;
    // RFC 792: the internet header plus the first 64 bits of the original datagram's data. The
    // header was consumed on the way up; it is rebuilt from what IPv4 recorded (addresses,
    // protocol, length), which is what a receiver matches the error against.
    u32 quoted = min(payload.size(), static_cast<usize>(8));
    u8* header = packet->extend_follow(Ipv4View::kMinimumHeader);
    Ipv4View::write(header, static_cast<u16>(Ipv4View::kMinimumHeader + payload.size()), 0, 0, meta.ttl,
        static_cast<u8>(meta.aux), meta.source, meta.destination);
    packet->append_follow(payload.first(quoted));
    write_icmp_header(
        packet->push_header(IcmpView::kHeaderLength), IcmpType::DestinationUnreachable, static_cast<u8>(code), 0, 0);
    finish_icmp_checksum(*packet);
    ++m_stack.counters().icmp_unreachable_sent;
    (void)m_stack.ipv4().send(move(packet), meta.destination, meta.source, IpProtocol::Icmp);
}

} // namespace skiff::net
