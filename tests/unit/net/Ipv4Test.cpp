#include "NetTestHelpers.h"

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

class Ipv4 : public StackHarness {
protected:
    UdpSocket* listen(u16 port)
    {
        UdpSocket* s = MUST(stack->udp().open());
        MUST(s->bind({ {}, port }));
        return s;
    }
    Bytes_ udp_to_stack(Bytes_ const& data, u16 port = 7) { return udp(kPeerIp, kStackIp, 1234, port, data); }
};

TEST_F(Ipv4, HeaderViewParsesGoldenBytes)
{
    // A header as Linux sends it (checksum worked by hand): 10.0.2.2 -> 10.0.2.15, ICMP, id 0x1c46, DF, TTL 64.
    u8 golden[] = { 0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x06, 0x53, 0x0a, 0x00, 0x02, 0x02,
        0x0a, 0x00, 0x02, 0x0f };
    Bytes_ bytes(golden, golden + 20);
    bytes.resize(0x54);
    u8 written[20];
    Ipv4View::write(written, 0x54, 0x1c46, Ipv4View::kFlagDontFragment, 64, 1, kPeerIp, kStackIp);
    EXPECT_EQ(Bytes_(written, written + 20), Bytes_(golden, golden + 20));
    Ipv4View v = MUST(Ipv4View::parse({ bytes.data(), bytes.size() }));
    EXPECT_EQ(v.header_length(), 20u);
    EXPECT_EQ(v.total_length(), 0x54);
    EXPECT_TRUE(v.dont_fragment());
    EXPECT_FALSE(v.is_fragment());
    EXPECT_EQ(v.protocol(), 1);
    EXPECT_EQ(v.source(), kPeerIp);
    EXPECT_EQ(v.destination(), kStackIp);
}

TEST_F(Ipv4, MalformedHeadersAreCountedAndDropped)
{
    UdpSocket* s = listen(7);
    Bytes_ good = ipv4({}, udp_to_stack(pattern(10)));
    auto send_raw = [&](Bytes_ const& ip) { inject(ethernet(kStackMac, kPeerMac, 0x0800, ip)); };

    send_raw(Bytes_(good.begin(), good.begin() + 19));
    EXPECT_EQ(stack->counters().ip_drop_short, 1u);

    Bytes_ version = good;
    version[0] = 0x65;
    send_raw(version);
    EXPECT_EQ(stack->counters().ip_drop_version, 1u);

    Bytes_ ihl = good;
    ihl[0] = 0x44; // IHL 4 < 5
    send_raw(ihl);
    Bytes_ ihl_big = good;
    ihl_big[0] = 0x4f; // 60 bytes of header in a 38-byte packet
    send_raw(Bytes_(ihl_big.begin(), ihl_big.begin() + 38));
    EXPECT_EQ(stack->counters().ip_drop_bad_ihl, 2u);

    Bytes_ too_long = good;
    put16(too_long, 2, static_cast<u16>(good.size() + 1));
    put16(too_long, 10, 0);
    put16(too_long, 10, checksum_of(too_long, 0, 20));
    send_raw(too_long);
    Bytes_ too_short = good;
    put16(too_short, 2, 19);
    put16(too_short, 10, 0);
    put16(too_short, 10, checksum_of(too_short, 0, 20));
    send_raw(too_short);
    EXPECT_EQ(stack->counters().ip_drop_bad_length, 2u);

    Bytes_ checksum = good;
    checksum[10] ^= 1;
    send_raw(checksum);
    EXPECT_EQ(stack->counters().ip_drop_checksum, 1u);

    IpFields bad_options;
    bad_options.options = { 0x07, 0x09, 0x04, 0x00 }; // a record-route option longer than the header
    send_raw(ipv4(bad_options, udp_to_stack(pattern(10))));
    EXPECT_EQ(stack->counters().ip_drop_bad_options, 1u);

    IpFields foreign;
    foreign.destination = Ipv4Address::from_octets(10, 0, 2, 99);
    send_raw(ipv4(foreign, udp(kPeerIp, foreign.destination, 1, 7, pattern(4))));
    EXPECT_EQ(stack->counters().ip_drop_not_for_us, 1u);

    IpFields broadcast_source;
    broadcast_source.source = Ipv4Address::from_octets(10, 0, 2, 255);
    send_raw(ipv4(broadcast_source, udp(broadcast_source.source, kStackIp, 1, 7, pattern(4))));
    EXPECT_EQ(stack->counters().ip_drop_bad_source, 1u);

    EXPECT_EQ(s->queued(), 0u);
    EXPECT_TRUE(device->sent.empty());
    // The good one still gets through, with Ethernet padding after it ignored.
    Bytes_ padded = good;
    padded.resize(good.size() + 9, 0xee);
    send_raw(padded);
    EXPECT_EQ(s->queued(), 1u);
    s->close();
}

TEST_F(Ipv4, WellFormedOptionsAreIgnored)
{
    UdpSocket* s = listen(7);
    IpFields f;
    f.options = { 0x01, 0x01, 0x01, 0x00 }; // NOP NOP NOP EOL
    inject(frame_to_stack(f, udp_to_stack(pattern(20))));
    EXPECT_EQ(stack->counters().ip_options_seen, 1u);
    u8 out[64];
    EXPECT_EQ(MUST(s->recvfrom({ out, 64 })), 20u);
    s->close();
}

TEST_F(Ipv4, UnknownProtocolGetsProtocolUnreachable)
{
    IpFields f;
    f.protocol = 99;
    inject(frame_to_stack(f, pattern(12)));
    Bytes_ out = take_sent();
    EXPECT_EQ(out[14 + 9], 1);      // ICMP
    EXPECT_EQ(out[14 + 20], 3);     // destination unreachable
    EXPECT_EQ(out[14 + 20 + 1], 2); // protocol
    EXPECT_EQ(stack->counters().ip_drop_unknown_protocol, 1u);
}

struct Fragment {
    u32 offset;
    u32 length;
    bool more;
};

Bytes_ fragment_frame(Bytes_ const& payload, Fragment f, u16 id = 0x4242)
{
    IpFields fields;
    fields.identification = id;
    fields.flags_fragment = static_cast<u16>((f.offset / 8) | (f.more ? 0x2000 : 0));
    return frame_to_stack(fields, Bytes_(payload.begin() + f.offset, payload.begin() + f.offset + f.length));
}

TEST_F(Ipv4, ReassemblesFragmentsInAnyOrder)
{
    UdpSocket* s = listen(7);
    Bytes_ data = pattern(3000);
    Bytes_ datagram = udp_to_stack(data);
    inject(fragment_frame(datagram, { 2960, 48, false }));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    EXPECT_EQ(s->queued(), 0u);
    inject(fragment_frame(datagram, { 1480, 1480, true }));
    ASSERT_EQ(s->queued(), 1u);
    Bytes_ out(4000);
    SocketAddress from;
    ASSERT_EQ(MUST(s->recvfrom({ out.data(), out.size() }, &from)), 3000u);
    out.resize(3000);
    EXPECT_EQ(out, data);
    EXPECT_EQ(from.port, 1234);
    EXPECT_EQ(stack->counters().reasm_completed, 1u);
    EXPECT_EQ(stack->ipv4().reassembly().active(), 0u);
    s->close();
}

TEST_F(Ipv4, DuplicateFragmentsAreIgnored)
{
    UdpSocket* s = listen(7);
    Bytes_ datagram = udp_to_stack(pattern(2000));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    inject(fragment_frame(datagram, { 1480, 528, false }));
    EXPECT_EQ(stack->counters().reasm_duplicates, 1u);
    EXPECT_EQ(s->queued(), 1u);
    s->close();
}

TEST_F(Ipv4, OverlappingFragmentsWithDifferentBytesDiscardTheDatagram)
{
    UdpSocket* s = listen(7);
    Bytes_ datagram = udp_to_stack(pattern(2000));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    Bytes_ evil = datagram;
    evil[1000] ^= 0xff;
    inject(fragment_frame(evil, { 992, 1016, false }));
    EXPECT_EQ(stack->counters().reasm_overlaps, 1u);
    EXPECT_EQ(stack->ipv4().reassembly().active(), 0u);
    inject(fragment_frame(datagram, { 1480, 528, false }));
    EXPECT_EQ(s->queued(), 0u); // the rest of it never completes
    advance(Ipv4Reassembly::kTimeout);
    EXPECT_EQ(stack->counters().reasm_timeouts, 1u);
    s->close();
}

TEST_F(Ipv4, NeverCompletedDatagramTimesOutAndFreesItsBuffer)
{
    Bytes_ datagram = udp_to_stack(pattern(2000));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    EXPECT_EQ(stack->ipv4().reassembly().active(), 1u);
    EXPECT_EQ(stack->next_deadline(), now + Ipv4Reassembly::kTimeout);
    advance(Ipv4Reassembly::kTimeout - 1);
    EXPECT_EQ(stack->ipv4().reassembly().active(), 1u);
    advance(1);
    EXPECT_EQ(stack->ipv4().reassembly().active(), 0u);
    EXPECT_EQ(stack->counters().reasm_timeouts, 1u);
}

TEST_F(Ipv4, BadFragmentsAreCountedAndDropped)
{
    Bytes_ datagram = udp_to_stack(pattern(2000));
    inject(fragment_frame(datagram, { 0, 1001, true })); // not a multiple of 8
    EXPECT_EQ(stack->counters().reasm_malformed, 1u);
    IpFields f;
    f.flags_fragment = static_cast<u16>(((65528 - 8) / 8) | 0x2000);
    inject(frame_to_stack(f, Bytes_(8)));
    EXPECT_EQ(stack->counters().reasm_too_big, 1u);
    // More datagrams than the pool has slots: the oldest unfinished one gives way, nothing is
    // queued without bound, and the newest can still complete.
    for (u16 id = 1; id <= PacketPool::kLargeCount + 1; ++id) {
        inject(fragment_frame(datagram, { 0, 1480, true }, id));
        advance(1000000);
    }
    EXPECT_EQ(stack->counters().reasm_no_slot, 1u);
    EXPECT_EQ(stack->ipv4().reassembly().active(), PacketPool::kLargeCount);
    UdpSocket* s = listen(7);
    inject(fragment_frame(datagram, { 1480, 528, false }, 1)); // the evicted one: never completes
    EXPECT_EQ(s->queued(), 0u);
    inject(fragment_frame(datagram, { 1480, 528, false }, PacketPool::kLargeCount + 1));
    EXPECT_EQ(s->queued(), 1u);
    s->close();
    stack->ipv4().reassembly().clear();
}

TEST_F(Ipv4, AFragmentReachingPast64KiBDiscardsItsDatagram)
{
    Bytes_ datagram = udp_to_stack(pattern(2000));
    inject(fragment_frame(datagram, { 0, 1480, true }));
    EXPECT_EQ(stack->ipv4().reassembly().active(), 1u);
    IpFields f;
    f.identification = 0x4242;
    f.flags_fragment = static_cast<u16>(8190);
    inject(frame_to_stack(f, Bytes_(1000)));
    EXPECT_EQ(stack->counters().reasm_too_big, 1u);
    EXPECT_EQ(stack->ipv4().reassembly().active(), 0u);
}

TEST_F(Ipv4, LargeDatagramIsFragmentedOnSend)
{
    UdpSocket* s = MUST(stack->udp().open());
    Bytes_ data = pattern(4000);
    EXPECT_EQ(MUST(s->sendto({ data.data(), data.size() }, { kPeerIp, 5555 })), 4000u);
    ASSERT_EQ(device->sent.size(), 3u);
    Bytes_ reassembled;
    u32 expected_offset = 0;
    for (int i = 0; i < 3; ++i) {
        Bytes_ f = take_sent();
        Ipv4View v = MUST(Ipv4View::parse({ f.data() + 14, f.size() - 14 }));
        EXPECT_LE(v.total_length(), 1500);
        EXPECT_EQ(v.fragment_offset(), expected_offset);
        EXPECT_EQ(v.more_fragments(), i < 2);
        expected_offset += static_cast<u32>(v.payload().size());
        reassembled.insert(reassembled.end(), v.payload().begin(), v.payload().end());
    }
    EXPECT_EQ(Bytes_(reassembled.begin() + 8, reassembled.end()), data);
    EXPECT_EQ(stack->counters().ip_fragments_sent, 3u);
    s->close();
}

TEST_F(Ipv4, OffSubnetTrafficGoesToTheGatewayMac)
{
    UdpSocket* s = MUST(stack->udp().open());
    u8 byte = 1;
    MUST(s->sendto({ &byte, 1 }, { Ipv4Address::from_octets(8, 8, 8, 8), 53 }));
    Bytes_ f = take_sent(); // 10.0.2.2 (the gateway) has a static ARP entry in the harness
    EXPECT_EQ(Bytes_(f.begin(), f.begin() + 6), Bytes_(kPeerMac.bytes, kPeerMac.bytes + 6));
    EXPECT_EQ(
        MUST(Ipv4View::parse({ f.data() + 14, f.size() - 14 })).destination(), Ipv4Address::from_octets(8, 8, 8, 8));
    s->close();
}

} // namespace
