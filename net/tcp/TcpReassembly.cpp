// Out-of-order data (RFC 9293 §3.10.7.4 allows keeping it; RFC 5681 §4.2 asks for an immediate
// ACK) and the SACK blocks that describe it to the sender (RFC 2018 §4).

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

void TcpLayer::queue_out_of_order(Tcb& tcb, PacketRef packet)
{
    u32 seq = packet->meta.sequence;
    u32 end = packet->meta.aux;
    // Insert sorted by sequence; a segment already wholly held is a duplicate.
    PacketQueue sorted;
    bool inserted = false;
    bool duplicate = false;
    while (PacketRef held = tcb.ooo_queue.pop()) {
        if (!inserted && !duplicate) {
            if (seq_leq(held->meta.sequence, seq) && seq_geq(held->meta.aux, end)
                && (held->meta.flags & TcpFlag::Fin) >= (packet->meta.flags & TcpFlag::Fin)) {
                duplicate = true;
            } else if (seq_lt(seq, held->meta.sequence)) {
                sorted.push(move(packet));
                inserted = true;
            }
        }
        sorted.push(move(held));
    }
    tcb.ooo_queue = move(sorted);
    if (duplicate)
        return;
    if (!inserted)
        tcb.ooo_queue.push(move(packet));
    tcb.ooo_bytes += end - seq;
    ++m_stack.counters().tcp_ooo_segments;
    // Bounded: beyond kMaxOutOfOrder segments, drop the one furthest ahead (the sender will
    // retransmit it; the data nearest rcv_nxt is the most useful to keep).
    if (tcb.ooo_queue.size() > kMaxOutOfOrder) {
        PacketQueue kept;
        u32 keep = kMaxOutOfOrder;
        while (PacketRef held = tcb.ooo_queue.pop()) {
            if (keep) {
                kept.push(move(held));
                --keep;
            } else {
                tcb.ooo_bytes -= held->meta.aux - held->meta.sequence;
                ++m_stack.counters().tcp_ooo_dropped;
            }
        }
        tcb.ooo_queue = move(kept);
    }
    // RFC 2018 §4: the first block reports the segment that just arrived.
    update_sack_blocks(tcb);
    for (u32 i = 0; i < tcb.sack_count; ++i) {
        if (seq_leq(tcb.sack_blocks[i].left, seq) && seq_geq(tcb.sack_blocks[i].right, end)) {
            SackBlock first = tcb.sack_blocks[i];
            for (u32 j = i; j > 0; --j)
                tcb.sack_blocks[j] = tcb.sack_blocks[j - 1];
            tcb.sack_blocks[0] = first;
            break;
        }
    }
}

void TcpLayer::drain_out_of_order(Tcb& tcb)
{
    while (PacketBuffer* front = tcb.ooo_queue.front()) {
        if (seq_gt(front->meta.sequence, tcb.rcv_nxt))
            break;
        PacketRef segment = tcb.ooo_queue.pop();
        u32 seq = segment->meta.sequence;
        u32 end = segment->meta.aux;
        tcb.ooo_bytes -= end - seq;
        bool fin = segment->meta.flags & TcpFlag::Fin;
        if (seq_lt(seq, tcb.rcv_nxt)) {
            u32 overlap = tcb.rcv_nxt - seq;
            if (overlap >= end - seq)
                continue;
            bool pulled = segment->pull(overlap);
            VERIFY(pulled);
            segment->meta.sequence = tcb.rcv_nxt;
        }
        u32 length = end - segment->meta.sequence;
        tcb.receive_queue.push(move(segment));
        tcb.receive_bytes += length;
        tcb.rcv_nxt = end;
        if (fin)
            process_fin(tcb);
    }
    update_sack_blocks(tcb);
}

void TcpLayer::update_sack_blocks(Tcb& tcb)
{
    tcb.sack_count = 0;
    SackBlock current {};
    bool open = false;
    for (PacketBuffer* b = tcb.ooo_queue.front(); b; b = b->next) {
        if (open && seq_leq(b->meta.sequence, current.right)) {
            current.right = seq_max(current.right, b->meta.aux);
            continue;
        }
        if (open && tcb.sack_count < 4)
            tcb.sack_blocks[tcb.sack_count++] = current;
        current = { b->meta.sequence, b->meta.aux };
        open = true;
    }
    if (open && tcb.sack_count < 4)
        tcb.sack_blocks[tcb.sack_count++] = current;
}

} // namespace skiff::net
