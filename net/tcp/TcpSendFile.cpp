// send_file: the send queue filled from a read-only file's frames (net/SendFile.h). The buffers
// are the ones send() makes — one segment's payload each, transmitted, chained into TSO units,
// retransmitted and freed by the same code — only their seg[] pieces point at the file's frames,
// each holding a reference (FrameKind::Page) that the buffer drops when it is freed. Nothing is
// copied and nothing is pinned: nobody writes these frames.

#include <lib/StageProfile.h>
#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

namespace {

// Whether `tail`, the last buffer of the send queue, can take more file bytes: not sent yet,
// held by no one else, short of an MSS, and no copied bytes in follow (they go on the wire after
// seg[], so file bytes cannot follow them).
bool can_top_up(Tcb const& tcb, PacketBuffer const* tail, u32 mss)
{
    return tail && seq_geq(tail->meta.sequence, tcb.snd_max) && tail->reference_count() == 1
        && tail->payload_length() < mss && tail->follow_length() == 0;
}

} // namespace

Result<usize> TcpLayer::queue_send_file(Tcb& tcb, FileFrames const& file, u64 offset, u64 length)
{
    u64 wanted = TRY(clip_file_range(file, offset, length));
    if (wanted == 0)
        return static_cast<usize>(0);
    u32 space = tcb.options.send_buffer > tcb.send_bytes ? tcb.options.send_buffer - tcb.send_bytes : 0;
    u32 total = static_cast<u32>(min<u64>(wanted, space));
    if (total == 0)
        return Error::WouldBlock;
    Port& port = m_stack.port();
    NetCounters& counters = m_stack.counters();
    u32 mss = tcb.snd_mss;
    u32 done = 0;
    PacketBuffer const* full = nullptr; // a tail that turned out to have no piece to spare
    // Frame references are taken per run of pieces sharing a frame (Port::ref_pages), before this
    // call returns: nothing releases a buffer in between.
    u64 pending_frame = 0;
    u32 pending = 0;
    auto take_reference = [&](u64 frame) {
        if (pending && frame != pending_frame) {
            port.ref_pages(pending_frame, pending);
            pending = 0;
        }
        pending_frame = frame;
        ++pending;
    };
    while (done < total) {
        PacketBuffer* buffer = tcb.send_queue.back();
        bool fresh_buffer = buffer == full || !can_top_up(tcb, buffer, mss);
        if (fresh_buffer) {
            // The last few transmit buffers stay free for the heads that carry headers.
            if (m_stack.pool().transmit_available() <= kTransmitReserve)
                break;
            PacketRef fresh = m_stack.pool().allocate_transmit();
            if (!fresh)
                break;
            fresh->meta.sequence = tcb.snd_end;
            buffer = fresh.get();
            tcb.send_queue.push(move(fresh));
        }
        // Up to an MSS in this buffer, in at most its two seg[] pieces; a piece continuing the
        // last one in the same frame lengthens it instead. A segment whose bytes need a third
        // piece (an MSS larger than a page, or crossing two frame boundaries) ends short: the
        // next buffer takes the rest, never a copy.
        u32 room = mss - buffer->payload_length();
        u32 before = done;
        while (room && done < total) {
            FramePiece piece = file_piece(file, offset + done, min(room, total - done));
            if (!buffer->extend_last_segment(piece.virt, piece.phys, piece.length)) {
                if (buffer->segment_count() == 2)
                    break;
                take_reference(piece.frame());
                bool added
                    = buffer->add_segment({ piece.virt, piece.phys, piece.length, { piece.frame(), FrameKind::Page } });
                VERIFY(added);
                ++counters.tcp_sendfile_pieces;
            }
            room -= piece.length;
            done += piece.length;
        }
        u32 taken = done - before;
        if (taken == 0) {
            VERIFY(!fresh_buffer); // a fresh buffer always takes a piece
            full = buffer;
            continue;
        }
        tcb.snd_end += taken;
        tcb.send_bytes += taken;
    }
    if (pending)
        port.ref_pages(pending_frame, pending);
    if (done == 0)
        return Error::WouldBlock; // no packet buffer free: wait for ACKs to free some
    counters.tcp_sendfile_bytes += done;
    return static_cast<usize>(done);
}

} // namespace skiff::net
