#include "NetTestHelpers.h"

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

using UdpSockets = StackHarness;

TEST_F(UdpSockets, SendtoEmitsGoldenDatagram)
{
    UdpSocket* s = MUST(stack->udp().open());
    MUST(s->bind({ {}, 5000 }));
    Bytes_ data = pattern(11);
    EXPECT_EQ(MUST(s->sendto({ data.data(), data.size() }, { kPeerIp, 6000 })), 11u);
    IpFields f;
    f.source = kStackIp;
    f.destination = kPeerIp;
    f.identification = 1;
    Bytes_ golden = ethernet(kPeerMac, kStackMac, 0x0800, ipv4(f, udp(kStackIp, kPeerIp, 5000, 6000, data)));
    EXPECT_EQ(take_sent(), golden);
    s->close();
}

TEST_F(UdpSockets, RecvfromReturnsDatagramAndSender)
{
    UdpSocket* s = MUST(stack->udp().open());
    MUST(s->bind({ kStackIp, 7 }));
    u8 out[100];
    EXPECT_EQ(s->recvfrom({ out, 100 }).error(), Error::WouldBlock);
    EXPECT_EQ(s->poll_events(), kPollOut);
    inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 3333, 7, pattern(40))));
    EXPECT_EQ(s->poll_events(), kPollOut | kPollIn);
    SocketAddress from;
    EXPECT_EQ(MUST(s->recvfrom({ out, 100 }, &from)), 40u);
    EXPECT_EQ(from.address, kPeerIp);
    EXPECT_EQ(from.port, 3333);
    EXPECT_EQ(Bytes_(out, out + 40), pattern(40));
    // A datagram larger than the buffer is truncated; recvfrom reports its real length.
    inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 3333, 7, pattern(40))));
    EXPECT_EQ(MUST(s->recvfrom({ out, 10 })), 40u);
    EXPECT_EQ(s->queued(), 0u);
    s->close();
}

TEST_F(UdpSockets, BindConflictsAndEphemeralPorts)
{
    UdpSocket* a = MUST(stack->udp().open());
    UdpSocket* b = MUST(stack->udp().open());
    MUST(a->bind({ {}, 7 }));
    EXPECT_EQ(b->bind({ {}, 7 }).error(), Error::AddressInUse);
    EXPECT_EQ(b->bind({ Ipv4Address::from_octets(1, 2, 3, 4), 8 }).error(), Error::AddressNotAvailable);
    MUST(b->bind({ {}, 0 }));
    EXPECT_GE(b->local().port, kEphemeralFirst);
    a->close();
    b->close();
}

TEST_F(UdpSockets, ConnectedSocketFiltersPeersAndSendsWithoutAddress)
{
    UdpSocket* s = MUST(stack->udp().open());
    MUST(s->bind({ {}, 7 }));
    MUST(s->connect({ kPeerIp, 3333 }));
    inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 4444, 7, pattern(5)))); // other port
    EXPECT_EQ(s->queued(), 0u);
    device->sent.clear(); // the port unreachable for it
    inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 3333, 7, pattern(5))));
    EXPECT_EQ(s->queued(), 1u);
    u8 byte = 1;
    MUST(s->send({ &byte, 1 }));
    EXPECT_EQ(load_be16(take_sent().data() + 36), 3333);
    EXPECT_EQ(s->sendto({ &byte, 1 }, { kPeerIp, 1 }).error(), Error::AlreadyConnected);
    s->close();
}

TEST_F(UdpSockets, BadLengthAndChecksumAreCountedAndDropped)
{
    UdpSocket* s = MUST(stack->udp().open());
    MUST(s->bind({ {}, 7 }));
    Bytes_ good = udp(kPeerIp, kStackIp, 1, 7, pattern(20));
    inject(frame_to_stack({}, Bytes_(good.begin(), good.begin() + 7)));
    Bytes_ long_length = good;
    put16(long_length, 4, 29);
    inject(frame_to_stack({}, long_length));
    Bytes_ short_length = good;
    put16(short_length, 4, 7);
    inject(frame_to_stack({}, short_length));
    EXPECT_EQ(stack->counters().udp_drop_malformed, 3u);
    Bytes_ bad_sum = good;
    bad_sum[12] ^= 1;
    inject(frame_to_stack({}, bad_sum));
    EXPECT_EQ(stack->counters().udp_drop_checksum, 1u);
    EXPECT_EQ(s->queued(), 0u);
    // Checksum zero means "none" and is accepted.
    Bytes_ no_sum = good;
    put16(no_sum, 6, 0);
    inject(frame_to_stack({}, no_sum));
    EXPECT_EQ(s->queued(), 1u);
    s->close();
}

TEST_F(UdpSockets, ReceiveQueueIsBounded)
{
    UdpSocket* s = MUST(stack->udp().open());
    MUST(s->bind({ {}, 7 }));
    for (u32 i = 0; i < UdpSocket::kMaxQueuedDatagrams + 5; ++i)
        inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 1, 7, pattern(8))));
    EXPECT_EQ(s->queued(), UdpSocket::kMaxQueuedDatagrams);
    EXPECT_EQ(stack->counters().udp_queue_full, 5u);
    s->close();
}

TEST_F(UdpSockets, PollWaitsOnSeveralSocketsAndWakesTheWaiter)
{
    UdpSocket* a = MUST(stack->udp().open());
    UdpSocket* b = MUST(stack->udp().open());
    MUST(a->bind({ {}, 7 }));
    MUST(b->bind({ {}, 8 }));
    int waiter = 0;
    a->set_waiter(&waiter);
    b->set_waiter(&waiter);
    PollEntry entries[2] = { { a, kPollIn, 0 }, { b, kPollIn, 0 } };
    EXPECT_EQ(poll_sockets(entries, 2), 0u);
    u64 wakes = port->wakes();
    inject(frame_to_stack({}, udp(kPeerIp, kStackIp, 1, 8, pattern(8))));
    EXPECT_EQ(port->wakes(), wakes + 1);
    EXPECT_EQ(poll_sockets(entries, 2), 1u);
    EXPECT_EQ(entries[0].revents, 0u);
    EXPECT_EQ(entries[1].revents, kPollIn);
    a->close();
    b->close();
}

TEST(UdpOverWire, EchoRoundTripsOverLossyReorderingDuplicatingWire)
{
    for (u64 seed = 1; seed <= 8; ++seed) {
        WireFaults faults;
        faults.loss_percent = 5;
        faults.duplicate_percent = 10;
        faults.reorder_percent = 20;
        TwoStacks net(faults, seed);
        UdpSocket* server = MUST(net.b->udp().open());
        MUST(server->bind({ {}, 7 }));
        UdpSocket* client = MUST(net.a->udp().open());
        u32 echoed = 0, sent = 0;
        for (u32 i = 0; i < 40; ++i) {
            Bytes_ data = pattern(i % 4 == 0 ? 2500 : 100 + i, static_cast<u32>(i));
            // The first sends may be lost to ARP's bounded queue or the wire; both are counted.
            if (client->sendto({ data.data(), data.size() }, { Ipv4Address::from_octets(10, 0, 0, 2), 7 }).has_value())
                ++sent;
            net.run_for(5000000);
            Bytes_ buffer(4096);
            SocketAddress from;
            while (true) {
                auto n = server->recvfrom({ buffer.data(), buffer.size() }, &from);
                if (n.is_error())
                    break;
                MUST(server->sendto({ buffer.data(), n.value() }, from));
            }
            net.run_for(5000000);
            while (true) {
                auto n = client->recvfrom({ buffer.data(), buffer.size() });
                if (n.is_error())
                    break;
                // Datagrams are whole or absent: every one that arrives is byte-identical to
                // one that was sent (duplicates and reordering may repeat or shuffle them).
                u32 length = static_cast<u32>(n.value());
                bool matches = false;
                for (u32 j = 0; j <= i && !matches; ++j) {
                    Bytes_ expect = pattern(j % 4 == 0 ? 2500 : 100 + j, j);
                    matches = expect.size() == length && std::equal(expect.begin(), expect.end(), buffer.begin());
                }
                EXPECT_TRUE(matches);
                ++echoed;
            }
        }
        EXPECT_GT(sent, 35u);
        EXPECT_GT(echoed, 25u) << "seed " << seed;
        server->close();
        client->close();
        net.run_for(40000000000ull);
        EXPECT_EQ(net.a->pool().in_use(), 0u);
        EXPECT_EQ(net.b->pool().in_use(), 0u);
    }
}

} // namespace
