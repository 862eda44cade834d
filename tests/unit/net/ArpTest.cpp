#include "NetTestHelpers.h"

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

Bytes_ arp_packet(u16 op, MacAddress smac, Ipv4Address sip, MacAddress tmac, Ipv4Address tip)
{
    Bytes_ a(28);
    put16(a, 0, 1);
    put16(a, 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a, 6, op);
    for (int i = 0; i < 6; ++i) {
        a[8 + i] = smac.bytes[i];
        a[18 + i] = tmac.bytes[i];
    }
    put32(a, 14, sip.value);
    put32(a, 24, tip.value);
    return a;
}

class Arp : public StackHarness {
protected:
    Arp() { static_peer = false; }
    void send_udp(Ipv4Address to)
    {
        UdpSocket* s = MUST(stack->udp().open());
        u8 data[4] = { 1, 2, 3, 4 };
        (void)s->sendto({ data, 4 }, { to, 9 });
        s->close();
    }
};

TEST_F(Arp, RequestIsAnsweredWithGoldenReply)
{
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    Bytes_ reply = take_sent();
    Bytes_ golden = ethernet(kPeerMac, kStackMac, 0x0806, arp_packet(2, kStackMac, kStackIp, kPeerMac, kPeerIp));
    EXPECT_EQ(reply, golden);
    // RFC 826: the requester was learned on the way.
    ArpEntryInfo entries[4];
    ASSERT_EQ(stack->arp().snapshot(entries, 4), 1u);
    EXPECT_EQ(entries[0].address, kPeerIp);
    EXPECT_EQ(entries[0].mac, kPeerMac);
    EXPECT_EQ(entries[0].state, ArpEntryInfo::State::Reachable);
}

TEST_F(Arp, RequestForSomeoneElseIsNotAnsweredNorLearned)
{
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806,
        arp_packet(1, kPeerMac, kPeerIp, {}, Ipv4Address::from_octets(10, 0, 2, 99))));
    EXPECT_TRUE(device->sent.empty());
    ArpEntryInfo entries[4];
    EXPECT_EQ(stack->arp().snapshot(entries, 4), 0u);
}

TEST_F(Arp, UnresolvedSendQueuesThenFlushesOnReply)
{
    send_udp(kPeerIp);
    Bytes_ request = take_sent();
    EXPECT_EQ(
        request, ethernet(MacAddress::broadcast(), kStackMac, 0x0806, arp_packet(1, kStackMac, kStackIp, {}, kPeerIp)));
    EXPECT_TRUE(device->sent.empty()); // the datagram waits
    inject(ethernet(kStackMac, kPeerMac, 0x0806, arp_packet(2, kPeerMac, kPeerIp, kStackMac, kStackIp)));
    Bytes_ datagram = take_sent();
    EXPECT_EQ(get16(datagram, 12), 0x0800);
    EXPECT_EQ(Bytes_(datagram.begin(), datagram.begin() + 6), Bytes_(kPeerMac.bytes, kPeerMac.bytes + 6));
    EXPECT_EQ(stack->counters().arp_resolved, 1u);
}

TEST_F(Arp, QueuePerAddressIsBounded)
{
    for (int i = 0; i < 7; ++i)
        send_udp(kPeerIp);
    EXPECT_EQ(device->sent.size(), 1u); // one request
    EXPECT_EQ(stack->counters().arp_queue_overflow, 3u);
    inject(ethernet(kStackMac, kPeerMac, 0x0806, arp_packet(2, kPeerMac, kPeerIp, kStackMac, kStackIp)));
    EXPECT_EQ(device->sent.size(), 1u + ArpCache::kQueuePerEntry);
    device->sent.clear();
}

TEST_F(Arp, RetriesThenGivesUpWithHostUnreachable)
{
    send_udp(kPeerIp);
    for (int i = 0; i < 5; ++i)
        advance(ArpCache::kRetryInterval);
    EXPECT_EQ(stack->counters().arp_requests_sent, ArpCache::kMaxRequests);
    EXPECT_EQ(stack->counters().arp_gave_up, 1u);
    device->sent.clear();
    UdpSocket* s = MUST(stack->udp().open());
    u8 data[1] = { 0 };
    auto result = s->sendto({ data, 1 }, { kPeerIp, 9 });
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error(), Error::HostUnreachable);
    s->close();
    // After the failure has been remembered long enough, resolution is tried again.
    advance(ArpCache::kFailedLifetime);
    send_udp(kPeerIp);
    EXPECT_EQ(device->sent.size(), 1u);
    for (int i = 0; i < 5; ++i)
        advance(ArpCache::kRetryInterval);
    device->sent.clear();
}

TEST_F(Arp, EntriesExpireAfter1200Seconds)
{
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    device->sent.clear();
    advance(1199ull * 1000000000ull);
    ArpEntryInfo entries[4];
    EXPECT_EQ(stack->arp().snapshot(entries, 4), 1u);
    send_udp(kPeerIp);
    EXPECT_EQ(get16(take_sent(), 12), 0x0800); // still cached: sent directly
    advance(2ull * 1000000000ull);
    EXPECT_EQ(stack->arp().snapshot(entries, 4), 0u);
}

TEST_F(Arp, FlushEmptiesTheTable)
{
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    device->sent.clear();
    stack->arp().flush();
    ArpEntryInfo entries[4];
    EXPECT_EQ(stack->arp().snapshot(entries, 4), 0u);
}

TEST_F(Arp, GratuitousArpWhenLinkComesUp)
{
    device->set_link_up(false);
    device->set_link_up(true);
    Bytes_ g = take_sent();
    EXPECT_EQ(
        g, ethernet(MacAddress::broadcast(), kStackMac, 0x0806, arp_packet(1, kStackMac, kStackIp, {}, kStackIp)));
}

TEST_F(Arp, MalformedPacketsAreCountedAndDropped)
{
    Bytes_ good = arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp);
    Bytes_ truncated(good.begin(), good.begin() + 27);
    Bytes_ bad_op = good;
    put16(bad_op, 6, 9);
    Bytes_ multicast_sender = arp_packet(1, MacAddress::broadcast(), kPeerIp, {}, kStackIp);
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, truncated));
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, bad_op));
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, multicast_sender));
    EXPECT_EQ(stack->counters().arp_drop_malformed, 3u);
    EXPECT_TRUE(device->sent.empty());
}

TEST_F(Arp, ShortFramesAndForeignUnicastAreDropped)
{
    inject(Bytes_(13, 0xff));
    EXPECT_EQ(stack->counters().eth_drop_short, 1u);
    inject(ethernet(kPeerMac, kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    EXPECT_EQ(stack->counters().eth_drop_not_for_us, 1u);
    inject(ethernet(kStackMac, kPeerMac, 0x86dd, Bytes_(40)));
    EXPECT_EQ(stack->counters().eth_drop_unknown_type, 1u);
    EXPECT_TRUE(device->sent.empty());
}

TEST_F(Arp, UnsolicitedReplyIsCountedAndNotLearned)
{
    inject(ethernet(kStackMac, kPeerMac, 0x0806, arp_packet(2, kPeerMac, kPeerIp, kStackMac, kStackIp)));
    ArpEntryInfo entries[4];
    EXPECT_EQ(stack->arp().snapshot(entries, 4), 0u);
    EXPECT_EQ(stack->counters().arp_unsolicited_replies, 1u);
    EXPECT_TRUE(device->sent.empty());
}

TEST_F(Arp, ForgedReplyForAKnownAddressDoesNotReplaceItsMac)
{
    // The gateway is learned from its request; then a forger claims its address, by reply and by
    // request (an "announcement"). Neither moves the entry; both are counted.
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    device->sent.clear();
    MacAddress const forger { { 0x02, 0xba, 0xdb, 0xad, 0xba, 0xd0 } };
    inject(ethernet(kStackMac, forger, 0x0806, arp_packet(2, forger, kPeerIp, kStackMac, kStackIp)));
    inject(ethernet(MacAddress::broadcast(), forger, 0x0806, arp_packet(1, forger, kPeerIp, {}, kPeerIp)));
    device->sent.clear(); // the reply to the forged request (addressed to the forger) is not what we test
    EXPECT_EQ(stack->counters().arp_conflicts_ignored, 2u);
    ArpEntryInfo entries[4];
    ASSERT_EQ(stack->arp().snapshot(entries, 4), 1u);
    EXPECT_EQ(entries[0].mac, kPeerMac);
    send_udp(kPeerIp);
    Bytes_ datagram = take_sent();
    EXPECT_EQ(Bytes_(datagram.begin(), datagram.begin() + 6), Bytes_(kPeerMac.bytes, kPeerMac.bytes + 6));
    // The same MAC refreshes the entry as before.
    inject(ethernet(kStackMac, kPeerMac, 0x0806, arp_packet(2, kPeerMac, kPeerIp, kStackMac, kStackIp)));
    EXPECT_EQ(stack->counters().arp_conflicts_ignored, 2u);
}

TEST_F(Arp, AfterExpiryANewMacIsLearned)
{
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    device->sent.clear();
    advance(ArpCache::kEntryLifetime + 1000000000ull);
    MacAddress const replaced { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x77 } };
    inject(ethernet(MacAddress::broadcast(), replaced, 0x0806, arp_packet(1, replaced, kPeerIp, {}, kStackIp)));
    device->sent.clear();
    ArpEntryInfo entries[4];
    ASSERT_EQ(stack->arp().snapshot(entries, 4), 1u);
    EXPECT_EQ(entries[0].mac, replaced);
    EXPECT_EQ(stack->counters().arp_conflicts_ignored, 0u);
}

TEST_F(Arp, UnresolvableAddressesNeverPushOutAResolvedEntry)
{
    // The gateway is known; then sends to more unresolvable addresses than the table holds (as
    // SYN-ACKs to a SYN flood's spoofed sources do). They churn among themselves, a second apart
    // (an entry whose first request is younger than that is not given up).
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    for (u32 i = 0; i < ArpCache::kEntries * 2; ++i) {
        send_udp(Ipv4Address::from_octets(10, 0, 2, static_cast<u8>(100 + i)));
        if (i + 2 == ArpCache::kEntries)
            advance(ArpCache::kRetryInterval); // the first 31 ask again: no longer fresh
    }
    device->sent.clear();
    ArpEntryInfo entries[ArpCache::kEntries];
    u32 count = stack->arp().snapshot(entries, ArpCache::kEntries);
    EXPECT_EQ(count, ArpCache::kEntries);
    bool gateway_kept = false;
    for (u32 i = 0; i < count; ++i)
        gateway_kept |= entries[i].address == kPeerIp && entries[i].mac == kPeerMac
            && entries[i].state == ArpEntryInfo::State::Reachable;
    EXPECT_TRUE(gateway_kept);
    EXPECT_EQ(stack->counters().arp_table_full, ArpCache::kEntries + 1);
    send_udp(kPeerIp);
    EXPECT_EQ(get16(take_sent(), 12), 0x0800); // sent at once, no new request
    stack->arp().flush();
}

TEST_F(Arp, AFullTableOfFreshRequestsRefusesNewcomersWithoutBroadcasting)
{
    // 31 unresolvable addresses and the gateway fill the table; 200 more addresses within the same
    // second (a SYN flood's spoofed sources): each refused, no request broadcast for any.
    inject(ethernet(MacAddress::broadcast(), kPeerMac, 0x0806, arp_packet(1, kPeerMac, kPeerIp, {}, kStackIp)));
    for (u32 i = 0; i + 1 < ArpCache::kEntries; ++i)
        send_udp(Ipv4Address::from_octets(10, 0, 2, static_cast<u8>(20 + i)));
    u64 requests = stack->counters().arp_requests_sent;
    u64 full = stack->counters().arp_table_full;
    u32 held = stack->pool().in_use(); // the 31 packets waiting for their answers
    device->sent.clear();
    for (u32 i = 0; i < 200; ++i)
        send_udp(Ipv4Address::from_octets(10, 0, 2, static_cast<u8>(52 + i)));
    EXPECT_TRUE(device->sent.empty());
    EXPECT_EQ(stack->counters().arp_requests_sent, requests);
    EXPECT_EQ(stack->counters().arp_table_full, full + 200);
    EXPECT_EQ(stack->pool().in_use(), held) << "refused packets are freed, not queued";
    // A second later the old requests are due again: a newcomer takes the place of one of them.
    advance(ArpCache::kRetryInterval);
    device->sent.clear();
    send_udp(Ipv4Address::from_octets(10, 0, 2, 253));
    EXPECT_EQ(stack->counters().arp_requests_sent, requests + ArpCache::kEntries - 1 + 1);
    // The gateway was never at risk.
    send_udp(kPeerIp);
    bool sent_to_gateway = false;
    while (!device->sent.empty())
        sent_to_gateway |= get16(take_sent(), 12) == 0x0800;
    EXPECT_TRUE(sent_to_gateway);
    stack->arp().flush();
}

} // namespace
