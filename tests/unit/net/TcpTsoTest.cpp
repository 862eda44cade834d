// TCP segmentation offload: TCP hands a TSO device units (a head with the headers chaining up to
// 64 KiB of send-queue buffers) and the SimDevice cuts them as QEMU's e1000 does. Units from
// pinned and copied pieces, their limits (windows, the device's bytes and pieces, MSS), partial
// ACKs inside a unit, retransmission of a middle range with SACK, a peer with a tiny MSS, a
// device without TSO, and whole transfers over a lossy wire.

#include "HostPort.h"
#include "TcpHarness.h"

#include <net/tcp/TcpLayer.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

class TcpTso : public TcpHarness {
protected:
    TcpTso() { device_tso = true; }

    // Every frame sent so far as a parsed segment; checks each is at most `mss` of payload.
    std::vector<Segment> take_all(u32 mss)
    {
        std::vector<Segment> all;
        while (has_sent()) {
            Segment s = take_segment();
            EXPECT_LE(s.payload.size(), mss);
            all.push_back(s);
        }
        return all;
    }
};

// Sends `count` bytes of pattern() and returns the data.
Bytes_ send_pattern(TcpSocket* s, u32 count)
{
    Bytes_ data = pattern(count);
    u32 sent = 0;
    while (sent < count) {
        auto n = s->send({ data.data() + sent, count - sent });
        if (n.is_error())
            break;
        sent += static_cast<u32>(n.value());
    }
    EXPECT_EQ(sent, count);
    return data;
}

TEST_F(TcpTso, FirstFlightIsOneUnitOfTheInitialWindowCutIntoMssSegments)
{
    TcpSocket* s = establish_passive();
    Bytes_ data = send_pattern(s, 20000);
    // RFC 5681 IW: 3 segments of 1460; one unit, three wire segments carrying the bytes in order.
    ASSERT_EQ(device->units.size(), 1u);
    EXPECT_EQ(device->units[0].payload, 3u * 1460);
    EXPECT_EQ(device->units[0].mss, 1460);
    EXPECT_EQ(device->units[0].sequence, m_iss + 1);
    std::vector<Segment> wire = take_all(1460);
    ASSERT_EQ(wire.size(), 3u);
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(wire[i].seq, m_iss + 1 + i * 1460);
        EXPECT_TRUE(std::equal(wire[i].payload.begin(), wire[i].payload.end(), data.begin() + i * 1460));
        EXPECT_FALSE(wire[i].has(TcpFlag::Psh)); // more is queued behind the unit
    }
    EXPECT_EQ(stack->counters().tcp_tso_units, 1u);
    EXPECT_EQ(stack->counters().tcp_tx, 3u + 1); // and the SYN,ACK
    finish(s);
}

TEST_F(TcpTso, UnitsGrowWithTheWindowAndNeverPassIt)
{
    TcpSocket* s = establish_passive(4000); // the peer's window: 4000 bytes
    send_pattern(s, 30000);
    // Two whole buffers fit in 4000 bytes; the third would pass the window.
    ASSERT_EQ(device->units.size(), 1u);
    EXPECT_EQ(device->units[0].payload, 2u * 1460);
    take_all(1460);
    // The peer acknowledges everything and opens its window to 60000: the congestion window
    // (now 3 + 2 segments) limits the next unit.
    send_segment(kPeerIss + 1, m_iss + 1 + 2 * 1460, TcpFlag::Ack, 60000);
    ASSERT_EQ(device->units.size(), 2u);
    EXPECT_LE(device->units[1].payload, s->congestion_window());
    EXPECT_EQ(device->units[1].payload % 1460, 0u);
    EXPECT_EQ(device->units[1].sequence, m_iss + 1 + 2 * 1460);
    take_all(1460);
    finish(s);
}

TEST_F(TcpTso, PartialAckInsideAUnitFreesWhatItCoversAndRetransmitsFromThere)
{
    TcpSocket* s = establish_passive();
    send_pattern(s, 3 * 1460);
    ASSERT_EQ(device->units.size(), 1u);
    take_all(1460);
    u32 queued = s->send_queued_bytes();
    // ACK the first segment and half of the second.
    u32 acked = m_iss + 1 + 1460 + 730;
    send_segment(kPeerIss + 1, acked, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_queued_bytes(), queued - 1460); // only the buffer wholly covered is freed
    EXPECT_EQ(s->tcb().snd_una, acked);
    // The rest is lost: the timeout resends from the start of the partly acknowledged buffer, one
    // segment (the loss window), then the rest as the window reopens.
    advance(s->retransmission_timeout().ns());
    Segment again = take_segment();
    EXPECT_EQ(again.seq, m_iss + 1 + 1460);
    EXPECT_EQ(again.payload.size(), 1460u);
    EXPECT_FALSE(has_sent());
    send_segment(kPeerIss + 1, m_iss + 1 + 2 * 1460, TcpFlag::Ack, 65535);
    Segment last = take_segment();
    EXPECT_EQ(last.seq, m_iss + 1 + 2 * 1460);
    EXPECT_TRUE(last.has(TcpFlag::Psh));
    send_segment(kPeerIss + 1, m_iss + 1 + 3 * 1460, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    finish(s);
}

TEST_F(TcpTso, SackOverUnitsRetransmitsTheMissingMiddleSegmentAlone)
{
    TcpSocket* s = MUST(stack->tcp().open());
    MUST(s->bind({ {}, kStackPort }));
    (void)s->connect({ kPeerIp, kPeerPort });
    Segment syn = take_segment();
    m_iss = syn.seq;
    Bytes_ options = mss_option(1460);
    options.insert(options.end(), { 1, 1, 4, 2 }); // SACK permitted
    send_segment(kPeerIss, m_iss + 1, TcpFlag::Syn | TcpFlag::Ack, 65535, options);
    take_segment();
    ASSERT_EQ(s->state(), TcpState::Established);
    s->set_nodelay(true);
    // Open the congestion window: two rounds.
    u32 base = m_iss + 1;
    send_pattern(s, 3 * 1460);
    take_all(1460);
    send_segment(kPeerIss + 1, base + 3 * 1460, TcpFlag::Ack, 65535);
    base += 3 * 1460;
    send_pattern(s, 20 * 1460);
    std::vector<Segment> wire = take_all(1460);
    ASSERT_GE(wire.size(), 5u);
    u32 flight = static_cast<u32>(wire.size());
    ASSERT_GE(device->units.size(), 2u);
    // Segment 2 of the unit is lost; the peer acknowledges 0-1 and SACKs 3.. in three duplicates.
    u32 hole = base + 2 * 1460;
    for (u32 k = 0; k < 3; ++k) {
        Bytes_ sack = { 1, 1, 5, 10 };
        u32 left = hole + 1460;
        u32 right = hole + (k + 2) * 1460;
        for (u32 v : { left, right })
            sack.insert(sack.end(),
                { static_cast<u8>(v >> 24), static_cast<u8>(v >> 16), static_cast<u8>(v >> 8), static_cast<u8>(v) });
        send_segment(kPeerIss + 1, hole, TcpFlag::Ack, 65535, sack);
    }
    // Fast retransmit: the missing segment alone, an MSS-sized single segment (no unit).
    bool found = false;
    u64 units = device->units.size();
    while (has_sent()) {
        Segment r = take_segment();
        if (r.seq == hole) {
            found = true;
            EXPECT_EQ(r.payload.size(), 1460u);
        }
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(device->units.size(), units); // the retransmission was not a unit
    EXPECT_EQ(stack->counters().tcp_fast_retransmits, 1u);
    send_segment(kPeerIss + 1, base + flight * 1460, TcpFlag::Ack, 65535);
    device->sent.clear();
    finish(s);
}

TEST_F(TcpTso, APeerWithATinyMssGetsSmallCorrectUnits)
{
    m_listener = listen_socket();
    send_segment(kPeerIss, 0, TcpFlag::Syn, 65535, mss_option(100));
    Segment syn_ack = take_segment();
    m_iss = syn_ack.seq;
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535);
    TcpSocket* s = MUST(m_listener->accept());
    EXPECT_EQ(s->send_mss(), 100);
    Bytes_ data = send_pattern(s, 1000);
    ASSERT_FALSE(device->units.empty());
    for (auto const& unit : device->units)
        EXPECT_EQ(unit.mss, 100);
    std::vector<Segment> wire = take_all(100);
    u32 offset = 0;
    for (auto const& seg : wire) {
        EXPECT_EQ(seg.seq, m_iss + 1 + offset);
        EXPECT_TRUE(std::equal(seg.payload.begin(), seg.payload.end(), data.begin() + offset));
        offset += static_cast<u32>(seg.payload.size());
    }
    EXPECT_EQ(offset, 4u * 100); // the initial window: 4 segments of a small MSS
    finish(s);
}

TEST_F(TcpTso, APeerWithATinyWindowGetsSingleSegmentsNotUnits)
{
    TcpSocket* s = establish_passive(1000);
    Bytes_ data = send_pattern(s, 10000);
    // Nothing in flight and a window narrower than one segment: one segment goes anyway (the
    // receiver keeps what fits), never a unit; then nothing until the window opens.
    EXPECT_TRUE(device->units.empty());
    std::vector<Segment> wire = take_all(1460);
    ASSERT_EQ(wire.size(), 1u);
    EXPECT_EQ(wire[0].payload, Bytes_(data.begin(), data.begin() + 1460));
    // The peer takes 1000 bytes and keeps its window at 1000: the rest of that segment is resent
    // from its start when the timer fires, still a single segment.
    send_segment(kPeerIss + 1, m_iss + 1 + 1000, TcpFlag::Ack, 1000);
    EXPECT_FALSE(has_sent());
    EXPECT_TRUE(device->units.empty());
    finish(s);
}

TEST_F(TcpTso, ADeviceUnitHasAtMostItsPieces)
{
    device->tso_max_pieces = 4; // before the stack reads the capabilities: a fresh stack
    stack->shutdown();
    delete stack;
    stack = new NetStack(*port);
    PoolSizes sizes;
    sizes.transmit = 64;
    sizes.receive = 128;
    MUST(stack->initialize(sizes));
    MUST(stack->attach(*device, NetConfig {}));
    MUST(stack->arp().add_static(0, kPeerIp, kPeerMac));
    device->set_link_up(true);
    device->sent.clear();
    TcpSocket* s = establish_passive();
    send_pattern(s, 3 * 1460);
    // Headers + three copied payloads would be four pieces: a unit of at most that.
    ASSERT_FALSE(device->units.empty());
    for (auto const& unit : device->units)
        EXPECT_LE(unit.pieces, 4u);
    take_all(1460);
    finish(s);
}

TEST_F(TcpTso, TsoSwitchedOffSendsSingleSegmentsAndOnAgainUnits)
{
    ASSERT_TRUE(stack->tso_available());
    stack->set_tso(false);
    EXPECT_EQ(stack->tso_max_bytes(), 0u);
    TcpSocket* s = establish_passive();
    Bytes_ data = send_pattern(s, 20000);
    // The initial window goes out as three single segments: no unit reaches the device.
    EXPECT_TRUE(device->units.empty());
    std::vector<Segment> wire = take_all(1460);
    ASSERT_EQ(wire.size(), 3u);
    for (u32 i = 0; i < 3; ++i)
        EXPECT_TRUE(std::equal(wire[i].payload.begin(), wire[i].payload.end(), data.begin() + i * 1460));
    EXPECT_EQ(stack->counters().tcp_tso_units, 0u);
    // On again: the next flight, after the peer acknowledges the first, is one unit.
    stack->set_tso(true);
    EXPECT_NE(stack->tso_max_bytes(), 0u);
    send_segment(kPeerIss + 1, m_iss + 1 + 3 * 1460, TcpFlag::Ack, 60000);
    ASSERT_EQ(device->units.size(), 1u);
    EXPECT_EQ(device->units[0].sequence, m_iss + 1 + 3 * 1460);
    EXPECT_GT(device->units[0].payload, 1460u);
    take_all(1460);
    finish(s);
}

TEST(TcpTsoDevice, ADeviceWithoutTsoGetsSegmentsFromTheSameCode)
{
    TwoStacks net({}, 9, false);
    TcpSocket* listener = MUST(net.b->tcp().open());
    MUST(listener->bind({ {}, 5001 }));
    MUST(listener->listen(1));
    TcpSocket* client = MUST(net.a->tcp().open());
    (void)client->connect({ Ipv4Address::from_octets(10, 0, 0, 2), 5001 });
    net.run_for(10000000);
    Bytes_ data = pattern(50000);
    MUST(client->send({ data.data(), data.size() }));
    net.run_for(100000000);
    EXPECT_TRUE(net.device_a.units.empty());
    EXPECT_EQ(net.a->counters().tcp_tso_units, 0u);
    client->abort();
    listener->close();
    net.run_for(200000000000ull);
}

} // namespace

namespace {

struct TsoTransfer {
    bool complete { false };
    u64 retransmits { 0 };
    u32 largest_unit { 0 };
    u64 units { 0 };
    u64 segments { 0 };
};

// A sends `total` bytes to B through a TSO device (A's) over a faulty wire; B reads and checks
// them; everything is released at the end.
TsoTransfer tso_transfer(WireFaults faults, u64 seed, u32 total, bool zero_copy, u32 write_size)
{
    TsoTransfer result;
    TwoStacks net(faults, seed, true);
    TcpSocket* listener = MUST(net.b->tcp().open());
    MUST(listener->bind({ {}, 5001 }));
    MUST(listener->listen(4));
    TcpSocket* client = MUST(net.a->tcp().open());
    client->set_zero_copy(zero_copy);
    (void)client->connect({ Ipv4Address::from_octets(10, 0, 0, 2), 5001 });
    u8* data = net.port_a->allocate_zero_copy_buffer(total);
    for (u32 i = 0; i < total; ++i)
        data[i] = static_cast<u8>((i * 2654435761u) >> 24);
    std::vector<u8> received;
    std::vector<u8> buffer(65536);
    TcpSocket* server = nullptr;
    u32 sent = 0;
    bool closed = false;
    u64 start = net.now;
    while (net.now - start < 600000000000ull && !result.complete) {
        net.run_for(1000000);
        if (!server) {
            auto accepted = listener->accept();
            if (accepted.has_value())
                server = accepted.value();
        }
        while (sent < total) {
            auto n = client->send({ data + sent, std::min(write_size, total - sent) });
            if (n.is_error())
                break;
            sent += static_cast<u32>(n.value());
        }
        if (sent == total && !closed) {
            client->close();
            closed = true;
        }
        while (server) {
            auto n = server->recv({ buffer.data(), buffer.size() });
            if (n.is_error())
                break;
            if (n.value() == 0) {
                result.complete = received.size() == total;
                break;
            }
            received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<long>(n.value()));
        }
    }
    EXPECT_EQ(received.size(), total);
    EXPECT_TRUE(std::equal(received.begin(), received.end(), data)) << "bytes differ";
    result.retransmits = net.a->counters().tcp_retransmits;
    for (auto const& unit : net.device_a.units) {
        result.largest_unit = std::max(result.largest_unit, unit.payload);
        EXPECT_LE(unit.payload, 0xffffu - 20 - 60);
        EXPECT_LE(unit.pieces, net.device_a.tso_max_pieces);
    }
    result.units = net.device_a.units.size();
    result.segments = net.device_a.tso_segments;
    if (zero_copy)
        EXPECT_EQ(net.a->counters().tcp_copied_bytes, 0u); // page-aligned data: every byte pinned
    else
        EXPECT_EQ(net.a->counters().tcp_sent_zero_copy_bytes, 0u);
    if (server)
        server->close();
    listener->close();
    net.run_for(200000000000ull);
    EXPECT_EQ(net.a->tcp().sockets_in_use(), 0u);
    EXPECT_EQ(net.a->pool().in_use(), 0u);
    EXPECT_EQ(net.b->pool().in_use(), 0u);
    EXPECT_EQ(net.port_a->pins_held(), 0u);
    EXPECT_EQ(net.port_a->copied_bytes(), 0u);
    net.port_a->free_zero_copy_buffer(data, total);
    return result;
}

TEST(TcpTsoTransfer, CleanWireSendsFullUnitsOfWholeSegmentsFromPinnedAndCopiedPieces)
{
    for (bool zero_copy : { false, true }) {
        TsoTransfer r = tso_transfer({}, 3, 4u << 20, zero_copy, 8192);
        EXPECT_TRUE(r.complete) << "zc=" << zero_copy;
        EXPECT_EQ(r.retransmits, 0u);
        // With timestamps the MSS is 1448: the largest unit under 64 KiB is 45 whole segments.
        // Copying fills every buffer; zero copy leaves a buffer short where a write's top-up ran
        // out of seg[] slots (a third page piece would have to be copied), so a unit may stop
        // short of 45 whole segments there — and the wire then carries one short segment.
        if (zero_copy)
            EXPECT_GE(r.largest_unit, 44u * 1448);
        else
            EXPECT_EQ(r.largest_unit, 45u * 1448);
        EXPECT_GT(r.segments, r.units * 4) << "units of several segments";
        u64 whole = (4u << 20) / 1448;
        EXPECT_LE(r.segments, whole + r.units) << "at most one short segment per unit";
        std::printf("zc=%d: %llu units, %llu segments for %llu whole ones, largest unit %u\n", zero_copy,
            static_cast<unsigned long long>(r.units), static_cast<unsigned long long>(r.segments),
            static_cast<unsigned long long>(whole), r.largest_unit);
    }
}

TEST(TcpTsoTransfer, LossReorderingAndDuplicationWithUnits)
{
    for (u64 seed = 1; seed <= 4; ++seed) {
        WireFaults faults { 5, 5, 5, 100000 };
        TsoTransfer r = tso_transfer(faults, seed, 2u << 20, seed % 2, 1460 * (seed + 1));
        EXPECT_TRUE(r.complete) << "seed " << seed;
        EXPECT_GT(r.retransmits, 0u);
        EXPECT_GT(r.units, 0u);
    }
}

TEST(TcpTsoTransfer, TwentyPercentLoss)
{
    WireFaults faults { 20, 20, 20, 100000 };
    TsoTransfer r = tso_transfer(faults, 7, 1u << 20, true, 65536);
    EXPECT_TRUE(r.complete);
}

} // namespace
