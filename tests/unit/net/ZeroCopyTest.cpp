// Copy elimination end to end, through the injected-segment harness (docs/zero-copy.md):
//  - send: what goes on the wire, retransmissions included, is what the buffer held at send
//    time, even when the application rewrites or frees the buffer before the ACK. The host port
//    pins without copying and does the kernel's copy-on-write when the application writes
//    (HostPort::write: the page gets a new frame, the pinned one keeps its bytes), so a stack
//    that read a pinned piece through the application's address would be caught here; and it
//    counts what it copies, so a path that claims zero copy is checked to copy nothing.
//  - receive: the receive-offset contract (TcpSocket::receive_page_offset) lets a streaming
//    receiver line its destination up with each payload, so every full segment is remapped;
//    misaligned, small or plain destinations are copied, and the bytes are right either way.
//    The `copied == 0` rule in recv (only a call's first piece is remapped) is a second line of
//    defence behind the short read, which keeps a later piece from ever qualifying.

#include "TcpHarness.h"

#include <cstdlib>
#include <cstring>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

using TcpZeroCopy = TcpHarness;

TEST_F(TcpZeroCopy, WriteBeforeAckSendsTheBytesOfSendTimeRetransmissionsIncluded)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(8192);
    for (int i = 0; i < 8192; ++i)
        user[i] = static_cast<u8>(i * 13 + 1);
    Bytes_ at_send(user + 4096 - 700, user + 4096 - 700 + 1400);
    // 1400 bytes straddling a page boundary: two pinned pieces.
    MUST(s->send({ user + 4096 - 700, 1400 }));
    EXPECT_EQ(s->stats().zero_copy_pieces, 2u);
    EXPECT_EQ(stack->counters().tcp_sent_zero_copy_bytes, 1400u);
    // The application rewrites its buffer before the ACK: a COW fault gives it private copies of
    // the two pinned pages. take_segment() also verifies the TCP checksum against the bytes sent.
    EXPECT_EQ(port->copied_bytes(), 0u);
    port->fill(user, 0xee, 8192);
    EXPECT_EQ(port->cow_copies(), 2u);
    Segment first = take_segment();
    EXPECT_EQ(first.payload, at_send);
    // The retransmission rebuilds the headers and checksum and still sends the original bytes.
    advance(s->retransmission_timeout().ns());
    Segment again = take_segment();
    EXPECT_EQ(again.seq, first.seq);
    EXPECT_EQ(again.payload, at_send);
    send_segment(kPeerIss + 1, m_iss + 1 + 1400, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    // A second send of the rewritten buffer pins the new bytes, not the old frame.
    MUST(s->send({ user + 100, 200 }));
    Segment second = take_segment();
    EXPECT_EQ(second.payload, Bytes_(200, 0xee));
    send_segment(kPeerIss + 1, m_iss + 1 + 1600, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->cow_copies(), 2u); // the second send copied nothing
    port->free_zero_copy_buffer(user, 8192);
    finish(s);
}

// Writes that are not a multiple of the MSS (1460-byte writes, 1448-byte segments with
// timestamps): the unsent tail is topped up by the next write only as far as the buffer's free
// seg[] slots reach, so copy elimination never copies a byte to save a segment, and the stream
// still arrives whole and in order.
TEST_F(TcpZeroCopy, TopUpOfAShortTailNeverCopies)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    constexpr usize kWrites = 12;
    constexpr usize kWrite = 1460;
    u8* user = port->allocate_zero_copy_buffer(kWrites * kWrite);
    for (usize i = 0; i < kWrites * kWrite; ++i)
        user[i] = static_cast<u8>(i * 7 + 3);
    usize queued = 0;
    for (usize w = 0; w < kWrites; ++w)
        queued += MUST(s->send({ user + w * kWrite, kWrite }));
    ASSERT_EQ(queued, kWrites * kWrite);
    Bytes_ received;
    usize segments = 0;
    for (int round = 0; round < 100 && received.size() < queued; ++round) {
        while (has_sent()) {
            Segment segment = take_segment();
            received.insert(received.end(), segment.payload.begin(), segment.payload.end());
            segments += segment.payload.empty() ? 0 : 1;
        }
        send_segment(kPeerIss + 1, m_iss + 1 + static_cast<u32>(received.size()), TcpFlag::Ack, 65535);
        advance(1000000);
    }
    ASSERT_EQ(received.size(), queued);
    EXPECT_EQ(0, std::memcmp(received.data(), user, queued));
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
    EXPECT_EQ(stack->counters().tcp_sent_zero_copy_bytes, queued);
    EXPECT_LT(segments, 2 * kWrites); // some tails were topped up
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    port->free_zero_copy_buffer(user, kWrites * kWrite);
    finish(s);
}

TEST_F(TcpZeroCopy, BufferFreedBeforeAckStillSendsAndReleasesItsPins)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(8192);
    for (int i = 0; i < 8192; ++i)
        user[i] = static_cast<u8>(i * 5 + 3);
    Bytes_ at_send(user + 3000, user + 3000 + 1460);
    MUST(s->send({ user + 3000, 1460 }));
    EXPECT_EQ(take_segment().payload, at_send);
    u64 pages_with_pins = port->pages_allocated();
    // The application frees its buffer while TCP still holds the segment: its pages are
    // unmapped (a read through the application's address would fault), the pinned frames live on.
    port->free_zero_copy_buffer(user, 8192);
    EXPECT_EQ(port->pages_allocated(), pages_with_pins);
    advance(s->retransmission_timeout().ns());
    EXPECT_EQ(take_segment().payload, at_send);
    EXPECT_EQ(port->pins_held(), 2u);
    // The ACK drops the pins: the frames they kept alive go back.
    send_segment(kPeerIss + 1, m_iss + 1 + 1460, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->pages_allocated(), pages_with_pins - 2);
    finish(s);
}

// A 64 KiB write puts three or four pieces in each of its 16 pages: each page is pinned with one
// call for all of them, the pins no piece took go back as the write ends, and every piece's pin
// comes back with its ACK.
TEST_F(TcpZeroCopy, AWritePinsEachPageOnceForAllItsPieces)
{
    TcpSocket* s = establish_passive(65535, 0);
    s->set_zero_copy(true);
    constexpr u32 kBytes = 16 * kPageSize;
    u8* user = port->allocate_zero_copy_buffer(kBytes);
    for (u32 i = 0; i < kBytes; ++i)
        user[i] = static_cast<u8>(i * 7 + 1);
    u64 calls_before = port->pin_calls();
    usize queued = MUST(s->send({ user, kBytes }));
    ASSERT_GT(queued, 8 * kPageSize); // the send buffer takes most of it
    u64 pages = (queued + kPageSize - 1) / kPageSize;
    EXPECT_EQ(port->pin_calls() - calls_before, pages);
    // Held now: exactly one pin per piece, none left over from the reservations.
    EXPECT_EQ(port->pins_held(), stack->counters().tcp_zero_copy_pieces);
    EXPECT_GT(stack->counters().tcp_zero_copy_pieces, pages); // several pieces per page
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
    // The bytes on the wire are the buffer's.
    Bytes_ wire;
    while (has_sent()) {
        Segment seg = take_segment();
        wire.insert(wire.end(), seg.payload.begin(), seg.payload.end());
    }
    ASSERT_FALSE(wire.empty());
    EXPECT_TRUE(std::equal(wire.begin(), wire.end(), user));
    // Everything acknowledged: every pin is back.
    send_segment(kPeerIss + 1, m_iss + 1 + static_cast<u32>(wire.size()), TcpFlag::Ack, 65535);
    while (has_sent())
        take_segment();
    send_segment(kPeerIss + 1, s->tcb().snd_nxt, TcpFlag::Ack, 65535);
    s->abort();
    EXPECT_EQ(port->pins_held(), 0u);
    port->free_zero_copy_buffer(user, kBytes);
    finish();
}

TEST_F(TcpZeroCopy, AbortReleasesPinsOfAFreedBuffer)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(4096);
    std::memset(user, 0x42, 4096);
    MUST(s->send({ user, 4096 }));
    port->free_zero_copy_buffer(user, 4096);
    EXPECT_GT(port->pins_held(), 0u);
    s->abort();
    EXPECT_EQ(port->pins_held(), 0u);
    finish();
}

// A streaming receiver in the paper's workload: the peer sends full segments, the application
// reads 1460-byte buffers, asking before each recv where the next byte sits in its page.
TEST_F(TcpZeroCopy, StreamingReceiverLinedUpByReceivePageOffsetRemapsEverySegment)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    u8* region = port->allocate_zero_copy_buffer(2 * kPageSize);
    Bytes_ stream = pattern(20 * 1448);
    for (u32 i = 0; i < 20; ++i) {
        Bytes_ payload(stream.begin() + i * 1448, stream.begin() + (i + 1) * 1448);
        send_segment(kPeerIss + 1 + i * 1448, m_iss + 1, TcpFlag::Ack, 65535, {}, payload);
    }
    device->sent.clear();
    Bytes_ got;
    u32 calls = 0;
    while (got.size() < stream.size()) {
        u32 offset = s->receive_page_offset();
        EXPECT_EQ(offset, (2u + 14 + 20 + 20 + got.size() % 1448) % kPageSize);
        u8* destination = region + offset;
        usize n = MUST(s->recv_zero_copy({ destination, 1460 }));
        ASSERT_GT(n, 0u);
        got.insert(got.end(), destination, destination + n);
        ++calls;
    }
    EXPECT_EQ(got, stream);
    // Each call returns exactly one segment, taken by remap: recv stops in front of the next
    // remappable segment rather than copy its start behind the bytes just placed.
    EXPECT_EQ(calls, 20u);
    EXPECT_EQ(port->remaps(), 20u);
    EXPECT_EQ(s->stats().remapped_pages, 20u);
    EXPECT_EQ(s->stats().remapped_bytes, stream.size());
    EXPECT_EQ(s->stats().copied_bytes, 0u);
    EXPECT_EQ(port->copied_bytes(), 0u); // each remap swapped frames: nothing copied anywhere
    port->free_zero_copy_buffer(region, 2 * kPageSize);
    finish(s);
}

TEST_F(TcpZeroCopy, ReceiveCopiesWhenOffMisalignedOrPlainAndStopsInFrontOfARemappableSegment)
{
    TcpSocket* s = establish_passive();
    u8* region = port->allocate_zero_copy_buffer(4 * kPageSize);
    Bytes_ data = pattern(1448);
    u32 seq = kPeerIss + 1;
    // Copy elimination off: lined up, still copied.
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    seq += 1448;
    u8* destination = region + s->receive_page_offset();
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1448 })), 1448u);
    EXPECT_EQ(Bytes_(destination, destination + 1448), data);
    EXPECT_EQ(port->remaps(), 0u);
    s->set_zero_copy(true);
    // Lined up but not in the zero-copy region: copied (transparently).
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    seq += 1448;
    u8* plain = static_cast<u8*>(std::aligned_alloc(kPageSize, kPageSize));
    destination = plain + s->receive_page_offset();
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1448 })), 1448u);
    EXPECT_EQ(Bytes_(destination, destination + 1448), data);
    EXPECT_EQ(port->remaps(), 0u);
    std::free(plain);
    // Misaligned by one byte: copied.
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    seq += 1448;
    destination = region + kPageSize + s->receive_page_offset() + 1;
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1448 })), 1448u);
    EXPECT_EQ(Bytes_(destination, destination + 1448), data);
    EXPECT_EQ(port->remaps(), 0u);
    // A small segment, then a full one: the call copies the small one and stops in front of the
    // full one (its payload would land in the page just written, and be copied); the next call,
    // lined up by receive_page_offset(), takes it by remap.
    Bytes_ small = pattern(200);
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, small);
    seq += 200;
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    seq += 1448;
    destination = region + 2 * kPageSize + s->receive_page_offset();
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1648 })), 200u);
    EXPECT_EQ(Bytes_(destination, destination + 200), small);
    EXPECT_EQ(port->remaps(), 0u);
    destination = region + 2 * kPageSize + s->receive_page_offset();
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1648 })), 1448u);
    EXPECT_EQ(Bytes_(destination, destination + 1448), data);
    EXPECT_EQ(port->remaps(), 1u);
    // With copy elimination off, one call takes both, copied.
    s->set_zero_copy(false);
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, small);
    seq += 200;
    send_segment(seq, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    seq += 1448;
    destination = region + 3 * kPageSize;
    EXPECT_EQ(MUST(s->recv_zero_copy({ destination, 1648 })), 1648u);
    EXPECT_EQ(Bytes_(destination, destination + 200), small);
    EXPECT_EQ(Bytes_(destination + 200, destination + 1648), data);
    EXPECT_EQ(port->remaps(), 1u);
    port->free_zero_copy_buffer(region, 4 * kPageSize);
    finish(s);
}

// Plain recv() never remaps, even lined up in a zero-copy buffer with copy elimination on: an
// application that keeps bytes in front of its destination in the same page (the echo service
// keeps what it has not yet sent back there) must find them intact.
TEST_F(TcpZeroCopy, PlainRecvCopiesEvenWhenLinedUpAndKeepsTheRestOfThePage)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    u8* region = port->allocate_zero_copy_buffer(kPageSize);
    std::memset(region, 0x5a, kPageSize);
    Bytes_ data = pattern(1448);
    send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535, {}, data);
    u8* destination = region + s->receive_page_offset();
    EXPECT_EQ(MUST(s->recv({ destination, 1448 })), 1448u);
    EXPECT_EQ(Bytes_(destination, destination + 1448), data);
    EXPECT_EQ(Bytes_(region, destination), Bytes_(destination - region, 0x5a));
    EXPECT_EQ(port->remaps(), 0u);
    port->free_zero_copy_buffer(region, kPageSize);
    finish(s);
}

} // namespace

namespace {

// `zc on|off` (TcpLayer::set_default_zero_copy) reaches listeners that never chose for themselves
// — the boot-time services — so their next connections follow it; a listener that chose keeps
// its choice, and existing connections keep theirs.
TEST_F(TcpZeroCopy, GlobalSwitchReachesListenersThatDidNotChoose)
{
    TcpSocket* service = MUST(stack->tcp().open());
    MUST(service->bind({ {}, 7 }));
    MUST(service->listen(4));
    TcpSocket* chosen = MUST(stack->tcp().open());
    chosen->set_zero_copy(false);
    MUST(chosen->bind({ {}, 9 }));
    MUST(chosen->listen(4));
    TcpSocket* accepted = establish_passive(); // on kStackPort, opened with the default (off)
    stack->tcp().set_default_zero_copy(true);
    EXPECT_TRUE(service->options().zero_copy);
    EXPECT_FALSE(chosen->options().zero_copy);
    EXPECT_FALSE(accepted->options().zero_copy);
    stack->tcp().set_default_zero_copy(false);
    EXPECT_FALSE(service->options().zero_copy);
    service->close();
    chosen->close();
    finish(accepted);
}

} // namespace

namespace {

// The completion report (TcpSocket::send_released): bytes are released in stream order once
// acknowledged and let go of by the device, with their pins; the waiter is woken; a reset
// releases everything.
TEST_F(TcpZeroCopy, CompletionReportCountsBytesAckedAndNoLongerHeldByTheDevice)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    int waiter = 0;
    s->set_waiter(&waiter);
    u8* user = port->allocate_zero_copy_buffer(3 * kPageSize);
    for (usize i = 0; i < 3 * kPageSize; ++i)
        user[i] = static_cast<u8>(i * 7);
    device->hold_transmits = true; // a DMA NIC that reclaims its ring later
    MUST(s->send({ user, 3 * 1460 }));
    EXPECT_EQ(s->send_accepted(), 3u * 1460);
    EXPECT_EQ(s->send_released(), 0u);
    EXPECT_GT(port->pins_held(), 0u);
    device->sent.clear();
    // Two segments acknowledged, but the device still holds them: nothing is released yet.
    send_segment(kPeerIss + 1, m_iss + 1 + 2 * 1460, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_released(), 0u);
    // The device lets go; the stack's next poll frees them and reports it.
    u64 wakes = port->wakes();
    device->release_held();
    advance(TcpLayer::kHeldBufferRecheck.ns());
    EXPECT_EQ(s->send_released(), 2u * 1460);
    EXPECT_GT(port->wakes(), wakes);
    // Half of the third segment acknowledged: not released (its buffer holds the other half).
    send_segment(kPeerIss + 1, m_iss + 1 + 2 * 1460 + 700, TcpFlag::Ack, 65535);
    device->release_held();
    advance(TcpLayer::kHeldBufferRecheck.ns());
    EXPECT_EQ(s->send_released(), 2u * 1460);
    // More data, then the peer resets: everything taken counts as released.
    MUST(s->send({ user + 3 * 1460, 1000 }));
    EXPECT_EQ(s->send_accepted(), 3u * 1460 + 1000);
    send_segment(kPeerIss + 1, 0, TcpFlag::Rst, 0);
    EXPECT_EQ(s->state(), TcpState::Closed);
    EXPECT_EQ(s->send_released(), s->send_accepted());
    device->release_held();
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    port->free_zero_copy_buffer(user, 3 * kPageSize);
    s->set_waiter(nullptr);
    s->close();
    finish();
}

} // namespace

namespace {

// The send side's copy fallback: what cannot be pinned is copied into follow, transparently.
TEST_F(TcpZeroCopy, APieceOutsideTheZeroCopyRegionIsCopied)
{
    TcpSocket* s = establish_passive();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    Bytes_ plain = pattern(1200); // heap memory: the kernel pins only zero-copy buffers
    MUST(s->send({ plain.data(), plain.size() }));
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(s->stats().zero_copy_pieces, 0u);
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 1200u);
    EXPECT_EQ(stack->counters().tcp_sent_zero_copy_bytes, 0u);
    EXPECT_EQ(take_segment().payload, plain);
    finish(s);
}

class TcpZeroCopyJumbo : public TcpHarness {
protected:
    TcpZeroCopyJumbo() { device_mtu = 9000; }

    // A connection whose peer offers an MSS of 8960 (no timestamps): segments of three pages.
    TcpSocket* establish_jumbo()
    {
        m_listener = listen_socket();
        send_segment(kPeerIss, 0, TcpFlag::Syn, 65535, mss_option(8960));
        m_iss = take_segment().seq;
        send_segment(kPeerIss + 1, m_iss + 1, TcpFlag::Ack, 65535);
        TcpSocket* s = MUST(m_listener->accept());
        EXPECT_EQ(s->send_mss(), 8960);
        return s;
    }
};

TEST_F(TcpZeroCopyJumbo, AThirdPieceIsCopiedIntoFollow)
{
    TcpSocket* s = establish_jumbo();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(3 * kPageSize);
    for (usize i = 0; i < 3 * kPageSize; ++i)
        user[i] = static_cast<u8>(i * 11 + 5);
    // 8500 bytes from 100 bytes into the first page, one segment: seg[0] 3996 bytes, seg[1] the
    // whole second page, and the 408 bytes in the third page copied into follow.
    u8 const* start = user + 100;
    MUST(s->send({ start, 8500 }));
    EXPECT_EQ(s->stats().zero_copy_pieces, 2u);
    EXPECT_EQ(stack->counters().tcp_sent_zero_copy_bytes, 3996u + 4096u);
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 408u);
    Segment segment = take_segment();
    EXPECT_EQ(segment.payload, Bytes_(start, start + 8500));
    send_segment(kPeerIss + 1, m_iss + 1 + 8500, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    EXPECT_EQ(port->copied_bytes(), 0u);
    port->free_zero_copy_buffer(user, 3 * kPageSize);
    finish(s);
}

TEST_F(TcpZeroCopyJumbo, AThirdPieceLargerThanFollowEndsTheBufferAndTheNextTakesTheRest)
{
    TcpSocket* s = establish_jumbo();
    s->set_zero_copy(true);
    s->set_nodelay(true);
    u8* user = port->allocate_zero_copy_buffer(4 * kPageSize);
    for (usize i = 0; i < 4 * kPageSize; ++i)
        user[i] = static_cast<u8>(i * 3 + 1);
    // From 4000 bytes into the first page: seg[0] 96, seg[1] 4096, and 4768 more would be the
    // third piece of an 8960-byte segment; follow takes 1920 of them, the next buffer the rest.
    u8 const* start = user + 4000;
    MUST(s->send({ start, 8960 }));
    EXPECT_EQ(s->send_queued_bytes(), 8960u);
    Bytes_ wire;
    while (has_sent()) {
        Segment segment = take_segment();
        EXPECT_LE(segment.payload.size(), 8960u);
        wire.insert(wire.end(), segment.payload.begin(), segment.payload.end());
    }
    // The second buffer (the rest: 8960 - 6112 bytes) may wait for the first one's ACK (Nagle
    // does not apply with nodelay; the congestion window may).
    send_segment(kPeerIss + 1, m_iss + 1 + static_cast<u32>(wire.size()), TcpFlag::Ack, 65535);
    while (has_sent()) {
        Segment segment = take_segment();
        wire.insert(wire.end(), segment.payload.begin(), segment.payload.end());
    }
    EXPECT_EQ(wire, Bytes_(start, start + 8960));
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 1920u); // only what follow held; the rest pinned
    send_segment(kPeerIss + 1, m_iss + 1 + 8960, TcpFlag::Ack, 65535);
    EXPECT_EQ(port->pins_held(), 0u);
    port->free_zero_copy_buffer(user, 4 * kPageSize);
    finish(s);
}

TEST_F(TcpZeroCopyJumbo, CopyModeCutsAJumboSegmentIntoBuffersFollowCanHold)
{
    TcpSocket* s = establish_jumbo();
    s->set_nodelay(true);
    Bytes_ data = pattern(8960);
    MUST(s->send({ data.data(), data.size() }));
    Bytes_ wire;
    for (int round = 0; round < 10 && wire.size() < data.size(); ++round) {
        while (has_sent()) {
            Segment segment = take_segment();
            EXPECT_LE(segment.payload.size(), PacketBuffer::kFollowCapacity);
            wire.insert(wire.end(), segment.payload.begin(), segment.payload.end());
        }
        send_segment(kPeerIss + 1, m_iss + 1 + static_cast<u32>(wire.size()), TcpFlag::Ack, 65535);
    }
    EXPECT_EQ(wire, data);
    finish(s);
}

} // namespace
