#include <net/NetStack.h>
#include <net/udp/UdpLayer.h>

namespace skiff::net {

Result<UdpSocket*> UdpLayer::open()
{
    for (UdpSocket& socket : m_sockets) {
        if (socket.m_open)
            continue;
        socket.m_open = true;
        socket.m_bound = false;
        socket.m_connected = false;
        socket.m_local = {};
        socket.m_remote = {};
        socket.m_layer = this;
        socket.m_waiter = nullptr;
        socket.m_nonblocking = false;
        return &socket;
    }
    return Error::NoMemory;
}

void UdpLayer::close_all()
{
    for (UdpSocket& socket : m_sockets)
        if (socket.m_open)
            socket.close();
}

bool UdpLayer::port_in_use(u16 port, Ipv4Address address) const
{
    for (UdpSocket const& s : m_sockets) {
        if (!s.m_open || !s.m_bound || s.m_local.port != port)
            continue;
        if (s.m_local.address.is_any() || address.is_any() || s.m_local.address == address)
            return true;
    }
    return false;
}

Result<u16> UdpLayer::ephemeral_port()
{
    return choose_ephemeral_port(
        m_stack.port().random_u64(), [this](u16 port) { return port_in_use(port, Ipv4Address::any()); });
}

// The best match for a datagram: a connected socket whose peer is the sender beats one bound
// to the address, which beats one bound to any address.
UdpSocket* UdpLayer::demultiplex(SocketAddress local, SocketAddress remote)
{
    UdpSocket* best = nullptr;
    int best_score = -1;
    for (UdpSocket& s : m_sockets) {
        if (!s.m_open || !s.m_bound || s.m_local.port != local.port)
            continue;
        if (!s.m_local.address.is_any() && !(s.m_local.address == local.address))
            continue;
        int score = s.m_local.address.is_any() ? 0 : 1;
        if (s.m_connected) {
            if (!(s.m_remote == remote))
                continue;
            score += 2;
        }
        if (score > best_score) {
            best = &s;
            best_score = score;
        }
    }
    return best;
}

void UdpLayer::input(PacketRef packet)
{
    NetCounters& counters = m_stack.counters();
    ++counters.udp_rx;
    auto parsed = UdpView::parse(packet->linear());
    if (parsed.is_error()) {
        ++counters.udp_drop_malformed;
        return;
    }
    UdpView udp = parsed.value();
    // RFC 768 / RFC 1122 §4.1.3.4: verify the checksum unless the sender sent none (zero).
    if (udp.checksum() != 0) {
        ChecksumAccumulator sum;
        add_pseudo_header(
            sum, packet->meta.source, packet->meta.destination, static_cast<u8>(IpProtocol::Udp), udp.length());
        sum.add(udp.bytes());
        if (sum.finish() != 0) {
            ++counters.udp_drop_checksum;
            return;
        }
    }
    SocketAddress local { packet->meta.destination, udp.destination_port() };
    SocketAddress remote { packet->meta.source, udp.source_port() };
    UdpSocket* socket = demultiplex(local, remote);
    if (!socket) {
        ++counters.udp_no_port;
        // RFC 1122 §4.1.3.1: port unreachable; the quote starts at the UDP header.
        bool truncated = packet->truncate(udp.length());
        VERIFY(truncated);
        m_stack.icmp().send_unreachable(UnreachableCode::Port, *packet);
        return;
    }
    if (socket->m_queue.size() >= UdpSocket::kMaxQueuedDatagrams) {
        ++counters.udp_queue_full;
        return;
    }
    // Queue the buffer as it arrived, payload only; the source port rides in meta.aux.
    bool ok = packet->truncate(udp.length()) && packet->pull(UdpView::kHeaderLength);
    VERIFY(ok);
    packet->meta.aux = udp.source_port();
    socket->m_queue.push(move(packet));
    if (socket->m_waiter)
        m_stack.port().wake(socket->m_waiter);
}

Result<usize> UdpLayer::send(UdpSocket& socket, ReadonlyBytes data, SocketAddress destination)
{
    if (destination.port == 0 || destination.address.is_any())
        return Error::InvalidArgument;
    if (data.size() > 0xffff - UdpView::kHeaderLength - Ipv4View::kMinimumHeader)
        return Error::MessageTooLong;
    Ipv4Address source = socket.m_local.address;
    if (source.is_any())
        source = TRY(m_stack.ipv4().source_for(destination.address));
    if (!socket.m_bound) {
        socket.m_local.port = TRY(ephemeral_port());
        socket.m_bound = true;
    }
    PacketRef packet = m_stack.pool().allocate_transmit();
    if (!packet)
        return Error::NoMemory;
    if (data.size() <= packet->follow_space()) {
        packet->append_follow(data);
    } else {
        // Borrowed: IPv4 fragments it into copies before this call returns.
        bool added = packet->add_segment({ data.data(), 0, static_cast<u32>(data.size()), {} });
        VERIFY(added);
    }
    u16 length = static_cast<u16>(data.size() + UdpView::kHeaderLength);
    u8* header = packet->push_header(UdpView::kHeaderLength);
    store_be16(header, socket.m_local.port);
    store_be16(header + 2, destination.port);
    store_be16(header + 4, length);
    store_be16(header + 6, 0);
    ChecksumAccumulator sum;
    add_pseudo_header(sum, source, destination.address, static_cast<u8>(IpProtocol::Udp), length);
    sum.add_packet(*packet, 0, length);
    u16 checksum = sum.finish();
    store_be16(header + 6, checksum ? checksum : 0xffff); // RFC 768: zero means "none"
    ++m_stack.counters().udp_tx;
    TRY(m_stack.ipv4().send(move(packet), source, destination.address, IpProtocol::Udp));
    return data.size();
}

} // namespace skiff::net
