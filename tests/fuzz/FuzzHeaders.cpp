// Fuzz target `headers`: every header view's parse() and every accessor, on arbitrary bytes.
// A view must either refuse the bytes or answer every question within them (smoltcp's rule:
// checked views, never a struct cast over untrusted bytes). AddressSanitizer catches any read
// outside the input.

#include <net/arp/ArpPacket.h>
#include <net/ethernet/EthernetFrame.h>
#include <net/icmp/IcmpHeader.h>
#include <net/ipv4/Ipv4Header.h>
#include <net/tcp/TcpHeader.h>
#include <net/udp/UdpHeader.h>

using namespace skiff;
using namespace skiff::net;

namespace {

// Folds values into a sink the optimiser cannot drop.
u64 volatile g_sink;
void use(u64 value)
{
    g_sink = g_sink + value;
}
void use(ReadonlyBytes bytes)
{
    u64 sum = bytes.size();
    for (u8 b : bytes)
        sum += b;
    use(sum);
}

void headers_at(ReadonlyBytes bytes)
{
    if (auto ethernet = EthernetView::parse(bytes); ethernet.has_value()) {
        auto const& e = ethernet.value();
        use(e.destination().bytes[5] + e.source().bytes[0] + e.ether_type());
        use(e.payload());
    }
    Ipv4View::Problem problem = Ipv4View::Problem::None;
    if (auto ip = Ipv4View::parse(bytes, &problem); ip.has_value()) {
        auto const& v = ip.value();
        use(v.header_length() + v.total_length() + v.identification() + v.flags_fragment() + v.ttl() + v.protocol());
        use(v.dont_fragment() + v.more_fragments() + v.fragment_offset() + v.is_fragment());
        use(v.source().value ^ v.destination().value);
        use(v.options());
        use(v.header());
        use(v.payload());
        use(v.options_well_formed());
    } else {
        use(static_cast<u64>(problem));
    }
    if (auto arp = ArpView::parse(bytes); arp.has_value()) {
        auto const& a = arp.value();
        use(static_cast<u64>(a.operation()) + a.sender_ip().value + a.target_ip().value);
        use(a.sender_mac().bytes[0] + a.target_mac().bytes[5]);
    }
    if (auto icmp = IcmpView::parse(bytes); icmp.has_value()) {
        auto const& i = icmp.value();
        use(i.checksum_ok() + i.type() + i.code() + i.identifier() + i.sequence());
        use(i.data());
    }
    if (auto udp = UdpView::parse(bytes); udp.has_value()) {
        auto const& u = udp.value();
        use(u.source_port() + u.destination_port() + u.length() + u.checksum());
        use(u.payload());
    }
    if (auto tcp = TcpView::parse(bytes); tcp.has_value()) {
        auto const& t = tcp.value();
        use(t.source_port() + t.destination_port() + t.sequence() + t.acknowledgment() + t.header_length());
        use(t.flags() + t.has(TcpFlag::Syn) + t.window());
        use(t.options_bytes());
        use(t.payload());
        TcpOptions options;
        use(t.parse_options(options));
        use(options.mss + options.window_scale + options.sack_count + options.ts_value + options.ts_echo);
        for (u32 i = 0; i < options.sack_count; ++i)
            use(options.sack[i].left ^ options.sack[i].right);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    ReadonlyBytes bytes { data, size };
    headers_at(bytes);
    // The layers as the stack nests them: IPv4 after 14 bytes of Ethernet, and the transport
    // header after the IPv4 header, if those parse.
    if (size >= 14) {
        headers_at(bytes.slice(14));
        if (auto ip = Ipv4View::parse(bytes.slice(14)); ip.has_value())
            headers_at(ip.value().payload());
    }
    return 0;
}
