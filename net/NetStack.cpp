#include <lib/StageProfile.h>
#include <net/NetStack.h>

namespace skiff::net {

NetStack::NetStack(Port& port)
    : m_port(port)
    , m_arp(*this)
    , m_ipv4(*this)
    , m_icmp(*this)
    , m_udp(*this)
    , m_tcp(*this)
{
}

NetStack::~NetStack()
{
    shutdown();
}

Result<void> NetStack::initialize(PoolSizes sizes)
{
    return m_pool.initialize(m_port, sizes);
}

Result<u8> NetStack::attach(NetDevice& device, NetConfig const& config)
{
    if (device.m_stack)
        return Error::AlreadyExists;
    if (m_interface_count == kMaxInterfaces)
        return Error::NoMemory;
    u8 index = static_cast<u8>(m_interface_count);
    Interface& interface = m_interfaces[index];
    interface.device = &device;
    interface.mac = device.mac_address();
    interface.address = config.address;
    interface.prefix_length = config.prefix_length;
    interface.mtu = device.capabilities().mtu;
    TRY(m_ipv4.routes().add({ config.address, config.prefix_length, Ipv4Address::any(), index }));
    if (!config.gateway.is_any())
        TRY(m_ipv4.routes().add({ Ipv4Address::any(), 0, config.gateway, index }));
    NetDeviceCapabilities caps = device.capabilities();
    bool first = m_interface_count == 0;
    m_transmit_checksum_offload = (first || m_transmit_checksum_offload) && caps.tcp_udp_checksum_offload;
    bool tso = caps.tso && caps.tcp_udp_checksum_offload && caps.tso_max_pieces >= 3;
    m_tso_max_bytes = tso ? (first ? caps.tso_max_bytes : min(m_tso_max_bytes, caps.tso_max_bytes)) : 0;
    m_tso_max_pieces = tso ? (first ? caps.tso_max_pieces : min(m_tso_max_pieces, caps.tso_max_pieces)) : 0;
    if (!m_tso_max_bytes || !m_tso_max_pieces)
        m_tso_max_bytes = m_tso_max_pieces = 0;
    ++m_interface_count;
    device.m_stack = this;
    device.m_interface = index;
    if (device.link_up())
        m_arp.send_gratuitous(index);
    return index;
}

void NetStack::shutdown()
{
    m_input.clear();
    m_tcp.abort_all();
    m_udp.close_all();
    m_arp.clear_queues();
    m_ipv4.reassembly().clear();
    for (u32 i = 0; i < m_interface_count; ++i)
        m_interfaces[i].device->m_stack = nullptr;
    m_interface_count = 0;
    m_pool.destroy();
}

bool NetStack::is_local_address(Ipv4Address address) const
{
    for (u32 i = 0; i < m_interface_count; ++i)
        if (m_interfaces[i].address == address)
            return true;
    return false;
}

bool NetStack::is_broadcast_address(Ipv4Address address) const
{
    if (address.is_limited_broadcast())
        return true;
    for (u32 i = 0; i < m_interface_count; ++i)
        if (m_interfaces[i].is_broadcast(address))
            return true;
    return false;
}

PacketBuffer* NetStack::device_allocate_receive_buffer(NetDevice& device)
{
    PacketRef buffer = m_pool.allocate_receive();
    if (!buffer)
        ++device.counters().rx_dropped;
    return buffer.leak(); // to a ring slot: the driver holds it until deliver()
}

void NetStack::device_set_receive_extent(NetDevice&, u32 offset, u32 bytes)
{
    VERIFY(bytes > 0 && offset + bytes <= PacketBuffer::kMaxBlockPages * kPageSize);
    m_pool.set_receive_block_pages(static_cast<u32>(align_up(offset + bytes, kPageSize) / kPageSize));
}

Result<void> NetStack::set_mtu(u8 index, u16 mtu)
{
    if (index >= m_interface_count)
        return Error::InvalidArgument;
    Interface& interface = m_interfaces[index];
    NetDeviceCapabilities caps = interface.device->capabilities();
    if (mtu < caps.min_mtu || mtu > caps.max_mtu)
        return Error::OutOfRange;
    if (mtu != caps.mtu)
        TRY(interface.device->set_mtu(mtu));
    interface.mtu = mtu;
    return {};
}

// Header-first receive. The frame's first 66 bytes must be exactly the headers of a full TCP data
// segment with timestamps for this host — Ethernet to our MAC, IPv4 without options, not a
// fragment, its total length the frame's, its header checksum right, TCP with 32 bytes of header —
// and TCP must have a posted buffer for the connection that takes the payload whole, in order. Any
// other frame (short ones, other protocols, options of another length, a socket that posted
// nothing) takes the ordinary path. What is checked here is what Ethernet and IPv4 input would
// check (the frame then skips them: process_frame); TCP checks the rest when it processes the
// segment, after the payload has arrived, and only then is it the application's.
PayloadDestination NetStack::device_place_payload(NetDevice& device, PacketBuffer& buffer, u32 offset, u32 frame_length)
{
    constexpr u32 kHeaders = NetDevice::kPlacedHeaderBytes;
    constexpr u32 kIpAt = EthernetView::kHeaderLength;
    constexpr u32 kTcpAt = kIpAt + 20;
    if (!m_tcp.has_posted_receives() || frame_length <= kHeaders || frame_length > 0xffff
        || offset + kHeaders > buffer.storage_capacity())
        return {};
    u8 const* frame = buffer.storage() + offset;
    Interface const& interface = m_interfaces[device.m_interface];
    MacAddress destination;
    __builtin_memcpy(destination.bytes, frame, 6);
    if (!(destination == interface.mac) || load_be16(frame + 12) != static_cast<u16>(EtherType::Ipv4))
        return {};
    u8 const* ip = frame + kIpAt;
    if (ip[0] != 0x45 || load_be16(ip + 2) != frame_length - kIpAt || (load_be16(ip + 6) & 0x3fff) != 0
        || ip[9] != static_cast<u8>(IpProtocol::Tcp) || internet_checksum({ ip, 20 }) != 0)
        return {};
    Ipv4Address source { load_be32(ip + 12) };
    Ipv4Address target { load_be32(ip + 16) };
    if (target != interface.address || source.is_multicast() || is_broadcast_address(source))
        return {};
    auto tcp = TcpView::parse({ frame + kTcpAt, kHeaders - kTcpAt });
    if (tcp.is_error() || tcp.value().header_length() != kHeaders - kTcpAt)
        return {};
    PacketMeta meta;
    meta.source = source;
    meta.destination = target;
    meta.ttl = ip[8];
    meta.interface = device.m_interface;
    meta.aux = static_cast<u8>(IpProtocol::Tcp);
    PayloadDestination placed = m_tcp.place_payload(buffer, meta, tcp.value(), frame_length - kHeaders);
    if (placed.count)
        buffer.meta = meta;
    return placed;
}

void NetStack::device_deliver(NetDevice& device, PacketBuffer* delivered, u32 offset, u32 length)
{
    PacketRef buffer(delivered);
    VERIFY(buffer->kind() == PacketBuffer::Kind::Receive);
    ++device.counters().rx_packets;
    device.counters().rx_bytes += length;
    if (u32 placed = buffer->payload_length()) {
        // Header first: the payload is in the posted buffer already, the headers in this one.
        device.counters().rx_placed_bytes += placed;
        VERIFY(length == NetDevice::kPlacedHeaderBytes + placed);
        if (m_input.size() >= kMaxInputQueue) {
            ++m_counters.eth_drop_input_queue_full;
            ++device.counters().rx_dropped;
            return;
        }
        buffer->set_linear(offset, NetDevice::kPlacedHeaderBytes);
        m_input.push(move(buffer));
        return;
    }
    if (m_input.size() >= kMaxInputQueue) {
        ++m_counters.eth_drop_input_queue_full;
        ++device.counters().rx_dropped;
        return;
    }
    // Longer than the interface's MTU allows with the Ethernet header (the stack takes no VLAN
    // tags, and drivers hand up frames without their FCS): a jumbo frame on an interface not set
    // up for one. Drivers drop these first where they can; whatever gets here is counted and
    // dropped too.
    if (length > m_interfaces[device.m_interface].mtu + 14u) {
        ++m_counters.eth_drop_oversize;
        ++device.counters().rx_errors;
        return;
    }
    buffer->set_linear(offset, length);
    buffer->meta = {};
    buffer->meta.interface = device.m_interface;
    m_input.push(move(buffer));
}

void NetStack::device_link_changed(NetDevice& device, bool up)
{
    // RFC 5227 §3: announce our address when the link comes up, so neighbours with a stale
    // cache entry (another machine, or us before a reboot with a new MAC) learn the current one.
    if (up)
        m_arp.send_gratuitous(device.m_interface);
}

void NetStack::poll(u64 now_ns)
{
    if (now_ns > m_now)
        m_now = now_ns;
    // Everything this poll transmits shares one doorbell per device (NetDevice::flush).
    TransmitBatch batch(*this);
    // ACKs owed for in-order data are sent once the whole receive batch is processed, so one ACK
    // covers the batch rather than every second segment of it (TcpLayer::end_input_batch).
    m_tcp.begin_input_batch();
    while (PacketRef packet = m_input.pop()) {
        // LyraNET Fig. 6 "protocol": Ethernet, IP and TCP input up to queueing on the socket (an
        // ACK sent on the way is charged to the send stages: lib/StageProfile.h).
        profile::ScopedStage stage(profile::Stage::ReceiveProtocol, 1, packet->total_length());
        process_frame(move(packet));
    }
    m_tcp.end_input_batch();
    m_arp.poll(m_now);
    m_ipv4.reassembly().poll(m_now);
    m_tcp.poll(m_now);
}

u64 NetStack::next_deadline() const
{
    u64 deadline = m_input.is_empty() ? kNoDeadline : m_now;
    deadline = min(deadline, m_arp.next_deadline());
    deadline = min(deadline, const_cast<NetStack*>(this)->m_ipv4.reassembly().next_deadline());
    deadline = min(deadline, m_tcp.next_deadline());
    return deadline;
}

void NetStack::process_frame(PacketRef packet)
{
    ++m_counters.eth_rx;
    if (packet->payload_length()) {
        // Read header first into a posted buffer: Ethernet and IPv4 were checked when the stack
        // said where the payload goes (device_place_payload); TCP takes it from here.
        ++m_counters.ip_rx;
        bool pulled = packet->pull(EthernetView::kHeaderLength + 20);
        VERIFY(pulled);
        m_tcp.input(move(packet));
        return;
    }
    auto frame = EthernetView::parse(packet->linear());
    if (frame.is_error()) {
        ++m_counters.eth_drop_short;
        return;
    }
    u8 interface_index = packet->meta.interface;
    Interface& interface = m_interfaces[interface_index];
    MacAddress destination = frame.value().destination();
    // Accept frames for our MAC and broadcasts; other multicast and unicast frames (a device in
    // promiscuous mode, a bridge flooding) are not ours.
    if (!(destination == interface.mac) && !destination.is_broadcast()) {
        ++m_counters.eth_drop_not_for_us;
        return;
    }
    packet->meta.link_broadcast = destination.is_broadcast();
    u16 type = frame.value().ether_type();
    if (m_frame_tap) {
        if (m_frame_tap->claims(type)) {
            ++m_counters.eth_rx_tapped;
            m_frame_tap->take(interface_index, move(packet));
            return;
        }
        if (m_frame_tap->capturing())
            m_frame_tap->observe(interface_index, *packet);
    }
    bool pulled = packet->pull(EthernetView::kHeaderLength);
    VERIFY(pulled); // parse() checked the length
    switch (type) {
    case static_cast<u16>(EtherType::Arp): m_arp.input(interface_index, move(packet)); return;
    case static_cast<u16>(EtherType::Ipv4): m_ipv4.input(interface_index, move(packet), m_now); return;
    default: ++m_counters.eth_drop_unknown_type; return;
    }
}

Result<void> NetStack::transmit_frame(u8 index, MacAddress destination, EtherType type, PacketRef packet)
{
    Interface& interface = m_interfaces[index];
    EthernetView::write(packet->push_header(EthernetView::kHeaderLength), destination, interface.mac, type);
    NetDevice& device = *interface.device;
    u32 length = packet->total_length();
    // A TSO unit leaves as this many frames, each with its own copy of the headers.
    u32 mss = packet->meta.tso_mss;
    u32 payload = packet->unit_payload_length();
    u32 frames = mss ? max(1u, (payload + mss - 1) / mss) : 1;
    u64 wire_bytes = length + u64 { frames - 1 } * packet->linear_length();
    Result<void> result = Error::NetworkUnreachable;
    if (device.link_up()) {
        profile::ScopedStage stage(profile::Stage::SendDriver, frames, wire_bytes); // LyraNET Fig. 5 "driver"
        result = device.transmit(*packet);
    }
    NetDeviceCounters& counters = device.counters();
    if (result.is_error()) {
        ++m_counters.eth_tx_errors;
        counters.tx_dropped += frames;
    } else {
        m_counters.eth_tx += frames;
        counters.tx_packets += frames;
        counters.tx_bytes += wire_bytes;
        if (mss) {
            ++counters.tx_tso_units;
            counters.tx_tso_segments += frames;
        }
    }
    packet.reset(); // a driver that keeps the frame took its own reference
    if (m_batch_depth == 0) {
        profile::ScopedStage stage(profile::Stage::SendDriver, 0); // the doorbell: the card sends now
        device.flush();
    }
    return result;
}

Result<void> NetStack::transmit_raw(u8 index, PacketRef packet)
{
    if (index >= m_interface_count)
        return Error::InvalidArgument;
    NetDevice& device = *m_interfaces[index].device;
    if (!device.link_up())
        return Error::NetworkUnreachable;
    u32 length = packet->total_length();
    Result<void> result = {};
    {
        profile::ScopedStage stage(profile::Stage::SendDriver, 1, length);
        result = device.transmit(*packet);
    }
    NetDeviceCounters& counters = device.counters();
    if (result.is_error()) {
        ++m_counters.eth_tx_errors;
        ++counters.tx_dropped;
    } else {
        ++m_counters.eth_tx;
        ++counters.tx_packets;
        counters.tx_bytes += length;
    }
    packet.reset(); // a driver that keeps the frame took its own reference
    if (m_batch_depth == 0)
        device.flush();
    return result;
}

void NetStack::end_transmit_batch()
{
    VERIFY(m_batch_depth > 0);
    if (--m_batch_depth)
        return;
    // The batch's doorbells are driver transmit time (LyraNET Fig. 5 "driver"): QEMU's e1000 sends
    // the frames inside the TDT write.
    profile::ScopedStage stage(profile::Stage::SendDriver, 0);
    for (u32 i = 0; i < m_interface_count; ++i)
        if (m_interfaces[i].device)
            m_interfaces[i].device->flush();
}

} // namespace skiff::net
