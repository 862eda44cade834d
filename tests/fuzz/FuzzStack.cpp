#include "FuzzStack.h"

#include <net/Checksum.h>
#include <net/arp/ArpPacket.h>
#include <net/icmp/IcmpHeader.h>

#include <cstring>

namespace skiff::fuzz {

namespace {

// Whatever the stack was fed, what it sends must be well formed: from our MAC, an IPv4 header
// that parses with its checksum and our source address, and a correct ICMP, UDP or TCP checksum
// on every unfragmented datagram; an ARP packet that parses and names us as its sender.
void verify_sent_frame(std::vector<u8> const& frame)
{
    auto ethernet = EthernetView::parse({ frame.data(), frame.size() });
    VERIFY(ethernet.has_value());
    VERIFY(ethernet.value().source() == kStackMac);
    u16 type = ethernet.value().ether_type();
    if (type == static_cast<u16>(EtherType::Arp)) {
        auto arp = ArpView::parse(ethernet.value().payload());
        VERIFY(arp.has_value());
        VERIFY(arp.value().sender_mac() == kStackMac && arp.value().sender_ip() == kStackIp);
        return;
    }
    VERIFY(type == static_cast<u16>(EtherType::Ipv4));
    auto ip = Ipv4View::parse(ethernet.value().payload());
    VERIFY(ip.has_value());
    VERIFY(ip.value().source() == kStackIp);
    if (ip.value().is_fragment())
        return; // the transport checksum covers the whole datagram, not one fragment
    ReadonlyBytes payload = ip.value().payload();
    u8 protocol = ip.value().protocol();
    if (protocol == static_cast<u8>(IpProtocol::Icmp)) {
        VERIFY(internet_checksum(payload) == 0);
    } else if (protocol == static_cast<u8>(IpProtocol::Udp) || protocol == static_cast<u8>(IpProtocol::Tcp)) {
        if (protocol == static_cast<u8>(IpProtocol::Udp) && payload.size() >= 8 && load_be16(payload.data() + 6) == 0)
            return; // UDP without a checksum (RFC 768)
        ChecksumAccumulator sum;
        add_pseudo_header(
            sum, ip.value().source(), ip.value().destination(), protocol, static_cast<u16>(payload.size()));
        sum.add(payload);
        VERIFY(sum.finish() == 0);
    }
}

} // namespace

Result<void> FuzzDevice::transmit(PacketBuffer& packet)
{
    std::vector<u8> frame(packet.total_length());
    u32 at = 0;
    for (u32 i = 0; i < packet.piece_count(); ++i) {
        BufferPiece piece = packet.piece(i);
        VERIFY(at + piece.length <= frame.size());
        std::memcpy(frame.data() + at, piece.virt, piece.length);
        at += piece.length;
    }
    VERIFY(at == frame.size());
    verify_sent_frame(frame);
    // Bounded: a stack that transmits without end (a loop) would otherwise eat the memory.
    if (sent.size() < 4096)
        sent.push_back(std::move(frame));
    return {};
}

void FuzzDevice::inject(u8 const* data, usize length)
{
    PacketBuffer* buffer = allocate_receive_buffer();
    if (!buffer)
        return; // the receive pool is empty: a real NIC drops the frame too
    constexpr u32 kOffset = 2;
    u32 take = static_cast<u32>(length < kPageSize - kOffset ? length : kPageSize - kOffset);
    // Header first, as the NE2000 reads frames: the headers, then the stack says where the rest
    // goes — an application's posted buffer, or behind them.
    u32 headers = take < kPlacedHeaderBytes ? take : kPlacedHeaderBytes;
    if (headers)
        std::memcpy(buffer->storage() + kOffset, data, headers);
    PayloadDestination destination;
    if (headers == kPlacedHeaderBytes)
        destination = place_payload(*buffer, kOffset, take);
    u32 at = headers;
    if (destination.count) {
        for (u32 i = 0; i < destination.count; ++i) {
            std::memcpy(destination.piece[i].data(), data + at, destination.piece[i].size());
            at += static_cast<u32>(destination.piece[i].size());
        }
        VERIFY(at == take);
    } else if (take > headers) {
        std::memcpy(buffer->storage() + kOffset + headers, data + headers, take - headers);
    }
    deliver(buffer, kOffset, take);
}

FuzzStack::FuzzStack()
{
    PoolSizes sizes;
    sizes.transmit = 64;
    sizes.receive = 64;
    MUST(stack.initialize(sizes)); // the host port has memory for 128 pages
    MUST(stack.attach(device, NetConfig {}));
    device.set_link_up(true);
    MUST(stack.arp().add_static(0, kPeerIp, kPeerMac));
    udp = MUST(stack.udp().open());
    MUST(udp->bind({ {}, kEchoPort }));
    tcp_listener = MUST(stack.tcp().open());
    MUST(tcp_listener->bind({ {}, kEchoPort }));
    MUST(tcp_listener->listen(4));
    stack.poll(now);
    device.sent.clear();
}

FuzzStack::~FuzzStack()
{
    // shutdown() aborts every connection, closes every socket, empties every queue and then
    // destroys the pools, which VERIFYs that no buffer is still out.
    stack.shutdown();
    VERIFY(port.pages_allocated() == 0);
    VERIFY(port.pins_held() == 0);
}

void FuzzStack::advance(u64 ns)
{
    u64 until = now + ns;
    // Step from deadline to deadline, bounded so a timer that re-arms at "now" cannot hang us.
    for (int steps = 0; steps < 10000; ++steps) {
        u64 next = stack.next_deadline();
        if (next > until)
            break;
        now = next > now ? next : now + 1;
        stack.poll(now);
    }
    now = until;
    stack.poll(now);
}

void FuzzStack::serve_udp()
{
    u8 buffer[2048];
    for (int i = 0; i < 8; ++i) {
        SocketAddress from;
        auto n = udp->recvfrom({ buffer, sizeof buffer }, &from);
        if (n.is_error())
            return;
        // recvfrom returns the datagram's whole length, which may exceed what it copied.
        usize length = n.value() < sizeof buffer ? n.value() : sizeof buffer;
        (void)udp->sendto({ buffer, length }, from);
    }
}

} // namespace skiff::fuzz

namespace skiff::fuzz {

namespace {

// An ICMP echo request from the peer, built byte by byte with its checksums.
std::vector<u8> echo_request(u16 identifier, u16 sequence)
{
    std::vector<u8> frame(14 + 20 + 8 + 32);
    EthernetView::write(frame.data(), kStackMac, kPeerMac, EtherType::Ipv4);
    Ipv4View::write(frame.data() + 14, 20 + 8 + 32, 0x7777, 0, 64, 1, kPeerIp, kStackIp);
    u8* icmp = frame.data() + 34;
    icmp[0] = 8;
    store_be16(icmp + 4, identifier);
    store_be16(icmp + 6, sequence);
    for (u32 i = 0; i < 32; ++i)
        icmp[8 + i] = static_cast<u8>(i);
    store_be16(icmp + 2, internet_checksum({ icmp, 40 }));
    return frame;
}

bool is_echo_reply(std::vector<u8> const& frame, u16 identifier, u16 sequence)
{
    auto ethernet = EthernetView::parse({ frame.data(), frame.size() });
    if (ethernet.is_error() || ethernet.value().ether_type() != static_cast<u16>(EtherType::Ipv4))
        return false;
    auto ip = Ipv4View::parse(ethernet.value().payload());
    if (ip.is_error() || ip.value().protocol() != 1 || !(ip.value().destination() == kPeerIp))
        return false;
    auto icmp = IcmpView::parse(ip.value().payload());
    return icmp.has_value() && icmp.value().type() == 0 && icmp.value().identifier() == identifier
        && icmp.value().sequence() == sequence && icmp.value().checksum_ok();
}

} // namespace

void FuzzStack::expect_alive()
{
    constexpr u16 kIdentifier = 0x5a5a;
    for (u16 attempt = 0; attempt < 2; ++attempt) {
        device.sent.clear();
        std::vector<u8> request = echo_request(kIdentifier, attempt);
        inject(request.data(), request.size());
        advance(100 * kMillisecond);
        for (auto const& frame : device.sent)
            if (is_echo_reply(frame, kIdentifier, attempt))
                return;
        // The fuzz input may have taught the ARP cache something else about the peer (a spoofed
        // reply); the stack may then be asking for it: tell it the truth and ask again.
        (void)stack.arp().add_static(0, kPeerIp, kPeerMac);
    }
    VERIFY(!"the stack no longer answers a ping after this input");
}

} // namespace skiff::fuzz
