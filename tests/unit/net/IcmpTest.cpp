#include "NetTestHelpers.h"

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

using IcmpInput = StackHarness;

TEST_F(IcmpInput, EchoRequestGetsGoldenEchoReply)
{
    IpFields f;
    f.protocol = 1;
    Bytes_ data = pattern(56);
    inject(frame_to_stack(f, icmp_echo(8, 0x77, 3, data)));
    Bytes_ reply = take_sent();
    IpFields back;
    back.source = kStackIp;
    back.destination = kPeerIp;
    back.protocol = 1;
    back.identification = 1; // the stack's first IP ID
    Bytes_ golden = ethernet(kPeerMac, kStackMac, 0x0800, ipv4(back, icmp_echo(0, 0x77, 3, data)));
    EXPECT_EQ(reply, golden);
    EXPECT_EQ(stack->counters().icmp_echo_replies_sent, 1u);
}

TEST_F(IcmpInput, FragmentedEchoIsAnsweredWithFragmentedReply)
{
    Bytes_ message = icmp_echo(8, 1, 1, pattern(4000));
    for (u32 offset = 0; offset < message.size(); offset += 1480) {
        IpFields f;
        f.protocol = 1;
        u32 length = std::min<u32>(1480, static_cast<u32>(message.size()) - offset);
        f.flags_fragment = static_cast<u16>(offset / 8 | (offset + length < message.size() ? 0x2000 : 0));
        inject(frame_to_stack(f, Bytes_(message.begin() + offset, message.begin() + offset + length)));
    }
    ASSERT_EQ(device->sent.size(), 3u);
    Bytes_ reply;
    while (!device->sent.empty()) {
        Bytes_ frame = take_sent();
        Ipv4View v = MUST(Ipv4View::parse({ frame.data() + 14, frame.size() - 14 }));
        reply.insert(reply.end(), v.payload().begin(), v.payload().end());
    }
    Bytes_ expected = icmp_echo(0, 1, 1, pattern(4000));
    EXPECT_EQ(reply, expected);
}

TEST_F(IcmpInput, MalformedAndBadChecksumAreCountedAndDropped)
{
    IpFields f;
    f.protocol = 1;
    inject(frame_to_stack(f, Bytes_ { 8, 0, 0 }));
    EXPECT_EQ(stack->counters().icmp_drop_malformed, 1u);
    Bytes_ bad = icmp_echo(8, 1, 1, pattern(10));
    bad[9] ^= 0x40;
    inject(frame_to_stack(f, bad));
    EXPECT_EQ(stack->counters().icmp_drop_checksum, 1u);
    EXPECT_TRUE(device->sent.empty());
}

TEST_F(IcmpInput, BroadcastEchoIsNotAnswered)
{
    IpFields f;
    f.protocol = 1;
    f.destination = Ipv4Address::from_octets(10, 0, 2, 255);
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0800, ipv4(f, icmp_echo(8, 1, 1, pattern(8)))));
    EXPECT_TRUE(device->sent.empty());
}

TEST_F(IcmpInput, ClosedUdpPortGetsPortUnreachableQuotingTheDatagram)
{
    Bytes_ datagram = udp(kPeerIp, kStackIp, 4444, 9999, pattern(30));
    inject(frame_to_stack({}, datagram));
    Bytes_ out = take_sent();
    ASSERT_GE(out.size(), 14u + 20 + 8 + 28);
    u8 const* icmp = out.data() + 34;
    EXPECT_EQ(icmp[0], 3);
    EXPECT_EQ(icmp[1], 3);
    EXPECT_EQ(internet_checksum({ icmp, out.size() - 34 }), 0);
    // The quoted header names the original source and destination, then the UDP ports.
    EXPECT_EQ(load_be32(icmp + 8 + 12), kPeerIp.value);
    EXPECT_EQ(load_be32(icmp + 8 + 16), kStackIp.value);
    EXPECT_EQ(load_be16(icmp + 8 + 20), 4444);
    EXPECT_EQ(load_be16(icmp + 8 + 22), 9999);
}

TEST_F(IcmpInput, ErrorsAreRateLimited)
{
    for (int i = 0; i < 50; ++i)
        inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 4444, 9999, pattern(4))));
    EXPECT_EQ(stack->counters().icmp_unreachable_sent, Icmp::kBucketSize);
    EXPECT_EQ(stack->counters().icmp_rate_limited, 50u - Icmp::kBucketSize);
    device->sent.clear();
    advance(Icmp::kTokenInterval * 3);
    for (int i = 0; i < 5; ++i)
        inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 4444, 9999, pattern(4))));
    EXPECT_EQ(device->sent.size(), 3u);
    device->sent.clear();
}

TEST_F(IcmpInput, GuestPingSendsRequestAndCollectsReply)
{
    MUST(stack->icmp().send_echo_request(kPeerIp, 0x99, 7, 100));
    Bytes_ request = take_sent();
    Ipv4View v = MUST(Ipv4View::parse({ request.data() + 14, request.size() - 14 }));
    IcmpView echo = MUST(IcmpView::parse(v.payload()));
    EXPECT_EQ(echo.type(), 8);
    EXPECT_TRUE(echo.checksum_ok());
    // Answer it as the peer would.
    Bytes_ data(echo.data().begin(), echo.data().end());
    IpFields f;
    f.protocol = 1;
    f.ttl = 61;
    inject(frame_to_stack(f, icmp_echo(0, 0x99, 7, data)));
    EXPECT_TRUE(stack->icmp().take_echo_reply(0x42).is_error());
    EchoReply reply = MUST(stack->icmp().take_echo_reply(0x99));
    EXPECT_EQ(reply.sequence, 7);
    EXPECT_EQ(reply.length, 100);
    EXPECT_EQ(reply.ttl, 61);
    EXPECT_TRUE(reply.data_ok);
    EXPECT_EQ(reply.received_ns, now);
}

TEST(IcmpOverWire, PingBetweenTwoStacksIncludingFragmentedAndLossy)
{
    for (u64 seed = 1; seed <= 5; ++seed) {
        WireFaults faults;
        faults.loss_percent = 10;
        faults.duplicate_percent = 10;
        faults.reorder_percent = 20;
        TwoStacks net(faults, seed);
        u32 answered = 0;
        for (u16 seq = 0; seq < 30; ++seq) {
            u16 length = seq % 3 == 0 ? 3000 : 56;
            (void)net.a->icmp().send_echo_request(Ipv4Address::from_octets(10, 0, 0, 2), 5, seq, length);
            net.run_for(200000000);
            for (;;) {
                auto r = net.a->icmp().take_echo_reply(5);
                if (r.is_error())
                    break;
                EXPECT_TRUE(r.value().data_ok);
                ++answered;
            }
        }
        // With 10% loss each way, most echoes (and most fragmented ones) come back.
        EXPECT_GT(answered, 15u) << "seed " << seed;
        net.run_for(40000000000ull); // reassembly and ARP timers run out
        EXPECT_EQ(net.a->pool().in_use(), 0u);
        EXPECT_EQ(net.b->pool().in_use(), 0u);
    }
}

} // namespace
