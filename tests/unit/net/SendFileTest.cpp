// sendfile (net/SendFile.h, TcpSocket::send_file): the pieces a file range is cut into (frame
// splits, offsets inside a frame, ranges past the end, a file shorter than a page, the last
// partial page, a file not starting on a frame boundary), and TCP sending them by reference —
// no byte copied, the wire carries the file's bytes, a retransmission reads the same frames, a
// range continued by the next call fills its segments, TSO units of file pieces, and every frame
// reference back when the data is acknowledged or the connection ends.

#include "HostPort.h"
#include "TcpHarness.h"

#include <net/SendFile.h>
#include <net/tcp/TcpLayer.h>

#include <algorithm>
#include <vector>

using namespace skiff;
using namespace skiff::net;
using namespace skiff::net::test;

namespace {

// A file over frames from the port, as the kernel's boot archive lays one out: `size` bytes of a
// pattern starting `lead` bytes into its first frame. The frames lie wherever the port put them
// (the host's are not contiguous), so the bytes are contiguous only up to each frame's end — the
// least FileFrames promises. The file holds one reference on each frame until drop_references().
class TestFile final : public FileFrames {
public:
    TestFile(HostPort& port, u64 size, u32 lead = 0, u32 seed = 7)
        : m_port(port)
        , m_size(size)
        , m_lead(lead)
    {
        m_bytes = pattern(size, seed);
        u64 frames = (lead + size + kPageSize - 1) / kPageSize;
        for (u64 i = 0; i < frames; ++i)
            m_frames.push_back(MUST(port.allocate_page()));
        for (u64 offset = 0; offset < size; ++offset) {
            FrameAddress at = locate(offset);
            const_cast<u8*>(at.virt)[0] = m_bytes[offset];
        }
    }
    ~TestFile() { drop_references(); }

    u64 size() const override { return m_size; }
    FrameAddress locate(u64 offset) const override
    {
        VERIFY(offset < m_size);
        u64 at = m_lead + offset;
        PortPage const& frame = m_frames[at / kPageSize];
        return { frame.virt + at % kPageSize, frame.phys + at % kPageSize };
    }

    // The owner lets go of its frames; whatever the stack still references stays alive.
    void drop_references()
    {
        for (PortPage const& frame : m_frames)
            m_port.unref_page(frame.phys);
        m_frames_dropped = m_frames.size();
        m_frames.clear();
    }
    u64 frame_count() const { return m_frames.empty() ? m_frames_dropped : m_frames.size(); }
    bool owns_frame(u64 phys) const
    {
        u64 frame = phys & ~static_cast<u64>(kPageSize - 1);
        return std::any_of(m_frames.begin(), m_frames.end(), [&](PortPage const& f) { return f.phys == frame; });
    }
    Bytes_ const& bytes() const { return m_bytes; }
    Bytes_ range(u64 offset, u64 length) const
    {
        return Bytes_(m_bytes.begin() + offset, m_bytes.begin() + offset + length);
    }

private:
    HostPort& m_port;
    u64 m_size;
    u32 m_lead;
    Bytes_ m_bytes;
    std::vector<PortPage> m_frames;
    u64 m_frames_dropped { 0 };
};

std::vector<FramePiece> pieces_of(FileFrames const& file, u64 offset, u64 length, u64* covered = nullptr)
{
    std::vector<FramePiece> out(64);
    u32 count = MUST(build_file_pieces(file, offset, length, { out.data(), out.size() }, covered));
    out.resize(count);
    return out;
}

class SendFilePieces : public ::testing::Test {
protected:
    void TearDown() override { EXPECT_EQ(port.pages_allocated(), 0u); }
    HostPort port { 3 };
};

TEST_F(SendFilePieces, AWholeFileIsCutAtFrameBoundariesWithTheLastPagePartial)
{
    TestFile file(port, 2 * kPageSize + 1808);
    u64 covered = 0;
    auto pieces = pieces_of(file, 0, file.size(), &covered);
    ASSERT_EQ(pieces.size(), 3u);
    EXPECT_EQ(covered, file.size());
    u32 lengths[] = { 4096, 4096, 1808 };
    for (u32 i = 0; i < 3; ++i) {
        EXPECT_EQ(pieces[i].length, lengths[i]);
        EXPECT_EQ(pieces[i].phys, file.locate(i * kPageSize).phys); // each starts its frame
        EXPECT_EQ(pieces[i].frame(), pieces[i].phys);
        EXPECT_TRUE(file.owns_frame(pieces[i].phys));
        EXPECT_TRUE(
            std::equal(pieces[i].virt, pieces[i].virt + pieces[i].length, file.bytes().begin() + i * kPageSize));
    }
}

TEST_F(SendFilePieces, AnOffsetInsideAFrameStartsThereAndTheNextPieceStartsTheNextFrame)
{
    TestFile file(port, 3 * kPageSize);
    auto pieces = pieces_of(file, 100, 5000);
    ASSERT_EQ(pieces.size(), 2u);
    EXPECT_EQ(pieces[0].length, 4096u - 100);
    EXPECT_EQ(pieces[0].phys, file.locate(100).phys);
    EXPECT_EQ(pieces[0].frame(), file.locate(0).phys);
    EXPECT_EQ(pieces[1].length, 5000u - (4096 - 100));
    EXPECT_EQ(pieces[1].phys, file.locate(4096).phys);
    // A range inside one frame is one piece.
    pieces = pieces_of(file, 5000, 300);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].length, 300u);
    EXPECT_EQ(pieces[0].phys, file.locate(5000).phys);
}

TEST_F(SendFilePieces, AFileShorterThanAPageIsOnePieceAndLongerRequestsAreClippedAtItsEnd)
{
    TestFile file(port, 700);
    u64 covered = 0;
    auto pieces = pieces_of(file, 0, 4096, &covered);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].length, 700u);
    EXPECT_EQ(covered, 700u);
    pieces = pieces_of(file, 650, 1 << 20, &covered);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].length, 50u);
    EXPECT_EQ(MUST(clip_file_range(file, 650, ~0ull)), 50u); // no overflow on a huge length
}

TEST_F(SendFilePieces, ARangeStartingAtTheEndIsEmptyAndOnePastItIsRefused)
{
    TestFile file(port, 5000);
    u64 covered = 1;
    auto pieces = pieces_of(file, 5000, 10, &covered);
    EXPECT_TRUE(pieces.empty());
    EXPECT_EQ(covered, 0u);
    std::vector<FramePiece> out(4);
    auto refused = build_file_pieces(file, 5001, 1, { out.data(), out.size() });
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error(), Error::InvalidArgument);
    EXPECT_EQ(clip_file_range(file, 5001, 0).error(), Error::InvalidArgument);
    EXPECT_EQ(MUST(clip_file_range(file, 0, 0)), 0u);
}

TEST_F(SendFilePieces, AFileNotStartingOnAFrameIsSplitAtThePhysicalBoundaries)
{
    TestFile file(port, 10000, 1000);
    auto pieces = pieces_of(file, 0, 10000);
    ASSERT_EQ(pieces.size(), 3u);
    EXPECT_EQ(pieces[0].length, 3096u);
    EXPECT_EQ(pieces[1].length, 4096u);
    EXPECT_EQ(pieces[2].length, 10000u - 3096 - 4096);
    for (auto const& piece : pieces)
        EXPECT_LE((piece.phys & (kPageSize - 1)) + piece.length, kPageSize);
}

TEST_F(SendFilePieces, AFullOutputArrayStopsAtAPieceBoundaryAndSaysHowMuchItCovers)
{
    TestFile file(port, 5 * kPageSize);
    std::vector<FramePiece> out(2);
    u64 covered = 0;
    EXPECT_EQ(MUST(build_file_pieces(file, 10, 5 * kPageSize, { out.data(), out.size() }, &covered)), 2u);
    EXPECT_EQ(covered, 2 * kPageSize - 10);
}

// --- TCP -----------------------------------------------------------------------------------------

class SendFileTcp : public TcpHarness {
protected:
    // Every frame sent so far, parsed.
    std::vector<Segment> take_all()
    {
        std::vector<Segment> all;
        while (has_sent())
            all.push_back(take_segment());
        return all;
    }
    u32 send_all(TcpSocket* s, FileFrames const& file, u64 offset, u64 length)
    {
        u64 done = 0;
        while (done < length) {
            auto n = s->send_file(file, offset + done, length - done);
            if (n.is_error() || n.value() == 0)
                break;
            done += n.value();
        }
        return static_cast<u32>(done);
    }
    // The payload of every segment in `wire`, in sequence order, from `first` on (duplicates of
    // a sequence number keep the first).
    static Bytes_ stream(std::vector<Segment> const& wire, u32 first)
    {
        Bytes_ out;
        for (Segment const& s : wire) {
            if (s.payload.empty() || s.seq - first != out.size())
                continue;
            out.insert(out.end(), s.payload.begin(), s.payload.end());
        }
        return out;
    }
    // Every payload piece on the send queue refers to one of the file's frames, held as a page.
    void expect_queue_references(TcpSocket* s, TestFile const& file)
    {
        for (PacketBuffer const* b = s->tcb().send_queue.front(); b; b = b->next) {
            EXPECT_EQ(b->follow_length(), 0u);
            for (u8 i = 0; i < b->segment_count(); ++i) {
                DataSeg const& seg = b->segment(i);
                EXPECT_EQ(seg.frame.kind, FrameKind::Page);
                EXPECT_TRUE(file.owns_frame(seg.phys));
                EXPECT_EQ(seg.frame.phys, seg.phys & ~static_cast<u64>(kPageSize - 1));
                EXPECT_LE((seg.phys & (kPageSize - 1)) + seg.length, kPageSize);
            }
        }
    }
};

TEST_F(SendFileTcp, TheFileGoesOutByReferenceWithNoByteCopied)
{
    u64 pages_before = port->pages_allocated();
    {
        TestFile file(*port, 5 * kPageSize + 333);
        TcpSocket* s = establish_passive();
        u32 sent = send_all(s, file, 0, file.size());
        EXPECT_EQ(sent, file.size());
        expect_queue_references(s, file);
        EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
        EXPECT_EQ(stack->counters().tcp_sendfile_bytes, file.size());
        EXPECT_EQ(stack->counters().tcp_sent_zero_copy_bytes, 0u); // nothing pinned either
        EXPECT_EQ(port->pins_held(), 0u);
        // Every segment a full MSS but the last: a segment spans a frame boundary in two pieces.
        u32 acked = m_iss + 1;
        std::vector<Segment> all;
        while (acked != m_iss + 1 + file.size()) {
            std::vector<Segment> wire = take_all();
            ASSERT_FALSE(wire.empty());
            for (Segment const& seg : wire) {
                EXPECT_TRUE(seg.payload.size() == 1460 || seg.seq + seg.payload.size() == m_iss + 1 + file.size());
                acked = std::max(acked, static_cast<u32>(seg.seq + seg.payload.size()));
            }
            all.insert(all.end(), wire.begin(), wire.end());
            send_segment(kPeerIss + 1, acked, TcpFlag::Ack, 65535);
        }
        EXPECT_EQ(stream(all, m_iss + 1), file.bytes());
        EXPECT_GE(stack->counters().tcp_sendfile_pieces, 6u);
        EXPECT_EQ(s->send_queued_bytes(), 0u);
        EXPECT_EQ(port->pages_allocated(), pages_before + file.frame_count()); // the stack holds none now
        finish(s);
    }
    EXPECT_EQ(port->pages_allocated(), pages_before);
}

TEST_F(SendFileTcp, ARetransmissionReadsTheSameFramesEvenAfterTheOwnerLetGo)
{
    u64 pages_before = port->pages_allocated();
    TestFile file(*port, 3000, 3000); // the first segment crosses the first frame's end
    TcpSocket* s = establish_passive();
    device->piece_addresses.clear();
    ASSERT_EQ(send_all(s, file, 0, file.size()), 3000u);
    std::vector<Segment> first = take_all();
    ASSERT_EQ(first.size(), 2u); // 1460 + 1460; Nagle holds the last 80 bytes for an ACK
    ASSERT_EQ(device->piece_addresses.size(), 2u);
    std::vector<std::vector<u64>> first_pieces = device->piece_addresses;
    ASSERT_EQ(first_pieces[0].size(), 1u + 2); // headers, then the two frames' pieces
    EXPECT_EQ(first_pieces[0][1], file.locate(0).phys);
    EXPECT_EQ(first_pieces[0][2], file.locate(kPageSize - 3000).phys);
    // The owner drops its references: the stack's keep the frames, and their bytes.
    u64 frames = file.frame_count();
    file.drop_references();
    EXPECT_EQ(port->pages_allocated(), pages_before + frames);
    // Nothing acknowledged: the retransmission timer sends the first segment again.
    device->piece_addresses.clear();
    run_for(TcpLayer::kInitialRto.ns() + 1000000);
    std::vector<Segment> again = take_all();
    ASSERT_FALSE(again.empty());
    EXPECT_EQ(again[0].seq, m_iss + 1);
    EXPECT_EQ(again[0].payload, file.range(0, again[0].payload.size()));
    ASSERT_FALSE(device->piece_addresses.empty());
    std::vector<u64> const& retransmitted = device->piece_addresses[0];
    ASSERT_EQ(retransmitted.size(), first_pieces[0].size());
    for (usize i = 1; i < retransmitted.size(); ++i)
        EXPECT_EQ(retransmitted[i], first_pieces[0][i]) << "piece " << i; // the same frames, not copies
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
    EXPECT_GE(stack->counters().tcp_retransmits, 1u);
    // Acknowledged in full: the buffers go, and with them the last references on the frames.
    send_segment(kPeerIss + 1, m_iss + 1 + 2920, TcpFlag::Ack, 65535);
    std::vector<Segment> last = take_all(); // the 80 bytes Nagle held
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].payload, file.range(2920, 80));
    send_segment(kPeerIss + 1, m_iss + 1 + 3000, TcpFlag::Ack, 65535);
    EXPECT_EQ(s->send_queued_bytes(), 0u);
    EXPECT_EQ(port->pages_allocated(), pages_before);
    finish(s);
}

TEST_F(SendFileTcp, FrameReferencesComeBackWhenTheConnectionEndsWithDataUnacknowledged)
{
    u64 pages_before = port->pages_allocated();
    u32 pool_before = stack->pool().in_use();
    {
        TestFile file(*port, 40000);
        TcpSocket* s = establish_passive();
        u32 sent = send_all(s, file, 0, file.size());
        EXPECT_GT(sent, 20000u);
        EXPECT_GT(stack->pool().in_use(), pool_before);
        file.drop_references();
        EXPECT_GT(port->pages_allocated(), pages_before); // the queue still holds frames
        s->abort();
        EXPECT_EQ(port->pages_allocated(), pages_before);
        finish();
    }
    EXPECT_EQ(stack->pool().in_use(), pool_before);
    EXPECT_EQ(port->pages_allocated(), pages_before);
}

TEST_F(SendFileTcp, ARangeContinuedByTheNextCallFillsItsSegment)
{
    TestFile file(*port, 4 * kPageSize);
    TcpSocket* s = establish_passive(1000); // the peer's window holds everything back
    u32 done = 0;
    for (u32 chunk : { 1000u, 300u, 2000u, 7u, 4000u }) {
        auto n = s->send_file(file, done, chunk);
        ASSERT_FALSE(n.is_error());
        ASSERT_EQ(n.value(), chunk);
        done += chunk;
    }
    // The first buffer went out (a window of 1000); the rest is queued in MSS-sized buffers,
    // continued pieces merged: nothing short of an MSS but the last.
    PacketBuffer const* b = s->tcb().send_queue.front();
    ASSERT_NE(b, nullptr);
    for (b = b->next; b && b->next; b = b->next) {
        EXPECT_EQ(b->payload_length(), 1460u);
        EXPECT_LE(b->segment_count(), 2);
    }
    expect_queue_references(s, file);
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
    EXPECT_EQ(stack->counters().tcp_sendfile_bytes, done);
    finish(s);
}

TEST_F(SendFileTcp, AHeadSentByCopyThenTheFileByReferenceMakeOneStream)
{
    TestFile file(*port, 5000);
    TcpSocket* s = establish_passive();
    Bytes_ head = pattern(200, 99);
    ASSERT_EQ(MUST(s->send({ head.data(), head.size() })), 200u);
    ASSERT_EQ(send_all(s, file, 0, file.size()), 5000u);
    std::vector<Segment> wire = take_all();
    Bytes_ expected = head;
    expected.insert(expected.end(), file.bytes().begin(), file.bytes().end());
    Bytes_ got = stream(wire, m_iss + 1);
    EXPECT_EQ(got.size(), std::min<usize>(got.size(), expected.size()));
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin()));
    EXPECT_GT(got.size(), 200u);
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 200u); // the head only
    EXPECT_EQ(stack->counters().tcp_sendfile_bytes, 5000u);
    finish(s);
}

TEST_F(SendFileTcp, RangesPastTheEndAndUnconnectedSocketsAreRefused)
{
    TestFile file(*port, 5000);
    TcpSocket* unconnected = MUST(stack->tcp().open());
    EXPECT_EQ(unconnected->send_file(file, 0, 10).error(), Error::NotConnected);
    unconnected->close();
    TcpSocket* s = establish_passive();
    EXPECT_EQ(s->send_file(file, 5001, 1).error(), Error::InvalidArgument);
    EXPECT_EQ(MUST(s->send_file(file, 5000, 100)), 0u);
    EXPECT_EQ(MUST(s->send_file(file, 4990, 100)), 10u); // clipped at the end
    EXPECT_EQ(stack->counters().tcp_sendfile_bytes, 10u);
    finish(s);
}

TEST_F(SendFileTcp, ASegmentIsLengthenedOnlyByTheBytesThatFollowItInItsOwnFrame)
{
    TestFile file(*port, 2 * kPageSize);
    PacketRef b = stack->pool().allocate_transmit();
    ASSERT_TRUE(b);
    FramePiece first = file_piece(file, 4000, 50);
    port->ref_page(first.frame());
    ASSERT_TRUE(b->add_segment({ first.virt, first.phys, first.length, { first.frame(), FrameKind::Page } }));
    FrameAddress next = file.locate(4050);
    EXPECT_FALSE(b->extend_last_segment(next.virt + 1, next.phys + 1, 10)); // a gap
    EXPECT_FALSE(b->extend_last_segment(next.virt, next.phys, 47));         // past the frame's end
    EXPECT_TRUE(b->extend_last_segment(next.virt, next.phys, 46));          // to the frame's end exactly
    EXPECT_EQ(b->segment(0).length, 96u);
    EXPECT_EQ(b->payload_length(), 96u);
    FrameAddress other = file.locate(kPageSize);
    EXPECT_FALSE(b->extend_last_segment(other.virt, other.phys, 10)); // the next frame needs its own piece
    // Copied bytes in follow go on the wire after seg[]: nothing may be added to seg[] behind them.
    PacketRef c = stack->pool().allocate_transmit();
    FramePiece head = file_piece(file, 0, 10);
    port->ref_page(head.frame());
    ASSERT_TRUE(c->add_segment({ head.virt, head.phys, head.length, { head.frame(), FrameKind::Page } }));
    FrameAddress after = file.locate(10);
    u8 copied[4] = { 1, 2, 3, 4 };
    EXPECT_EQ(c->append_follow({ copied, 4 }), 4u);
    EXPECT_FALSE(c->extend_last_segment(after.virt, after.phys, 10));
    EXPECT_EQ(c->segment(0).length, 10u);
    c.reset();
    b.reset(); // the buffer's frame reference goes with it
}

// TSO: the units chain sendfile buffers like any others, within the device's piece limit.
class SendFileTso : public SendFileTcp {
protected:
    SendFileTso() { device_tso = true; }
};

TEST_F(SendFileTso, UnitsOfFilePiecesCarryTheFileBytes)
{
    TestFile file(*port, 64 * 1024);
    TcpSocket* s = establish_passive();
    ASSERT_EQ(send_all(s, file, 0, file.size()), file.size());
    u32 acked = m_iss + 1;
    std::vector<Segment> all;
    while (acked != m_iss + 1 + file.size()) {
        std::vector<Segment> wire = take_all();
        ASSERT_FALSE(wire.empty());
        for (Segment const& seg : wire)
            acked = std::max(acked, static_cast<u32>(seg.seq + seg.payload.size()));
        all.insert(all.end(), wire.begin(), wire.end());
        send_segment(kPeerIss + 1, acked, TcpFlag::Ack, 65535);
    }
    EXPECT_EQ(stream(all, m_iss + 1), file.bytes());
    ASSERT_FALSE(device->units.empty());
    u32 largest = 0;
    for (auto const& unit : device->units) {
        EXPECT_LE(unit.pieces, device->tso_max_pieces);
        largest = std::max(largest, unit.payload);
    }
    EXPECT_GT(largest, 3u * 1460); // units of several segments
    EXPECT_EQ(stack->counters().tcp_copied_bytes, 0u);
    finish(s);
}

} // namespace
