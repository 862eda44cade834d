// Congestion control: slow start and congestion avoidance (RFC 5681 §3.1), fast retransmit
// and fast recovery with NewReno's partial-ACK handling (RFC 6582 §3.2), helped by the peer's
// SACK blocks where it sends them: a simplified RFC 6675 scoreboard marks SACKed segments, and
// a hole with at least DupThresh segments' worth of SACKed data above it is taken as lost, so
// several holes are repaired in one round trip instead of one per RTT.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

u32 TcpLayer::flight_size(Tcb const& tcb) const
{
    return tcb.snd_max - tcb.snd_una;
}

static constexpr u32 kDupThresh = 3; // RFC 5681 §3.2 / RFC 6675 DupThresh

void TcpLayer::clear_scoreboard(Tcb& tcb)
{
    for (PacketBuffer* b = tcb.send_queue.front(); b; b = b->next)
        b->meta.scoreboard = 0;
    tcb.sacked_any = false;
}

void TcpLayer::apply_sack_blocks(Tcb& tcb, TcpOptions const& options)
{
    for (u32 i = 0; i < options.sack_count; ++i) {
        SackBlock block = options.sack[i];
        // RFC 2018 §3: ignore blocks that are malformed or outside what is outstanding.
        if (!seq_gt(block.right, block.left) || !seq_gt(block.right, tcb.snd_una) || seq_gt(block.right, tcb.snd_max))
            continue;
        for (PacketBuffer* b = tcb.send_queue.front(); b; b = b->next) {
            u32 end = b->meta.sequence + b->payload_length();
            if (seq_geq(b->meta.sequence, block.right))
                break;
            if (seq_geq(b->meta.sequence, block.left) && seq_leq(end, block.right))
                b->meta.scoreboard |= kScoreboardSacked;
        }
        if (!tcb.sacked_any || seq_gt(block.right, tcb.highest_sacked))
            tcb.highest_sacked = block.right;
        tcb.sacked_any = true;
    }
}

// RFC 6675 §4 IsLost(): DupThresh discontiguous SACKed segments, or more than
// (DupThresh - 1) · SMSS SACKed bytes, lie above the segment.
bool TcpLayer::is_lost(Tcb const& tcb, PacketBuffer const& segment) const
{
    if (!tcb.sacked_any || (segment.meta.scoreboard & kScoreboardSacked))
        return false;
    u32 end = segment.meta.sequence + segment.payload_length();
    if (!seq_lt(end, tcb.highest_sacked))
        return false;
    u32 sacked_bytes = 0;
    u32 sacked_segments = 0;
    for (PacketBuffer const* b = segment.next; b; b = b->next) {
        if (!(b->meta.scoreboard & kScoreboardSacked))
            continue;
        sacked_bytes += b->payload_length();
        if (++sacked_segments >= kDupThresh || sacked_bytes > (kDupThresh - 1) * tcb.snd_mss)
            return true;
    }
    return false;
}

// One retransmission of the first lost hole not yet retransmitted in this recovery.
bool TcpLayer::retransmit_next_lost(Tcb& tcb)
{
    for (PacketBuffer* b = tcb.send_queue.front(); b; b = b->next) {
        if (!seq_lt(b->meta.sequence, tcb.snd_max))
            break;
        if (b->meta.scoreboard & (kScoreboardSacked | kScoreboardRetransmitted))
            continue;
        if (!is_lost(tcb, *b))
            return false; // holes further up are not known to be lost yet
        if (b->reference_count() > 1)
            return false;
        b->meta.scoreboard |= kScoreboardRetransmitted;
        if (transmit(tcb, b, 1, b->meta.sequence, TcpFlag::Ack).has_value()) {
            ++tcb.stats.retransmits;
            ++m_stack.counters().tcp_retransmits;
        }
        tcb.rtt_timing = false;
        return true;
    }
    return false;
}

void TcpLayer::on_new_ack(Tcb& tcb, u32 acked)
{
    u32 mss = tcb.snd_mss;
    if (tcb.in_recovery) {
        if (seq_geq(tcb.snd_una, tcb.recover)) {
            // Full acknowledgment (RFC 6582 §3.2 step 3): deflate the window and leave recovery.
            tcb.cwnd = min(tcb.ssthresh, max(flight_size(tcb), mss) + mss);
            tcb.in_recovery = false;
            tcb.dupacks = 0;
        } else {
            // Partial acknowledgment: the next hole is lost too. Retransmit it at once, deflate
            // by what was acked and add back one segment (step 4).
            PacketBuffer* front = tcb.send_queue.front();
            if (front && !(front->meta.scoreboard & kScoreboardRetransmitted))
                retransmit_first(tcb);
            else
                (void)retransmit_next_lost(tcb);
            tcb.cwnd = (tcb.cwnd > acked ? tcb.cwnd - acked : 0) + (acked >= mss ? mss : 0);
            tcb.cwnd = max(tcb.cwnd, mss);
        }
        return;
    }
    tcb.dupacks = 0;
    // Appropriate byte counting (RFC 3465): the window grows with the bytes acknowledged, not the
    // number of ACKs, so a receiver that acknowledges a whole receive batch at once (Skiff itself,
    // Linux with GRO) does not slow its sender down.
    if (tcb.cwnd < tcb.ssthresh) {
        tcb.cwnd += min(acked, 2u * mss); // slow start, RFC 5681 eq. (2) with L = 2 SMSS (RFC 3465 §2.2)
    } else {
        u64 growth = static_cast<u64>(mss) * min(acked, tcb.cwnd) / tcb.cwnd; // eq. (3), per byte acked
        tcb.cwnd += static_cast<u32>(max<u64>(1, growth));
    }
}

void TcpLayer::on_duplicate_ack(Tcb& tcb)
{
    u32 mss = tcb.snd_mss;
    ++tcb.dupacks;
    if (tcb.in_recovery) {
        tcb.cwnd += mss; // each further duplicate: one more segment has left the network
        (void)retransmit_next_lost(tcb);
        return;
    }
    // RFC 6582 §3.2 step 2: the third duplicate starts fast retransmit, unless it still covers
    // data sent before the last recovery began (avoids repeated window cuts). With SACK, a
    // first segment that IsLost() starts it too (RFC 6675 §5 step 4 (b)).
    PacketBuffer* front = tcb.send_queue.front();
    bool lost = front && is_lost(tcb, *front);
    if ((tcb.dupacks < kDupThresh && !lost) || seq_lt(tcb.snd_una, tcb.recover))
        return;
    for (PacketBuffer* b = front; b; b = b->next)
        b->meta.scoreboard &= static_cast<u8>(~kScoreboardRetransmitted);
    ++m_stack.counters().tcp_fast_retransmits;
    tcb.ssthresh = max(flight_size(tcb) / 2, 2 * mss);
    tcb.recover = tcb.snd_max;
    tcb.in_recovery = true;
    retransmit_first(tcb);
    tcb.cwnd = tcb.ssthresh + 3 * mss;
}

void TcpLayer::on_timeout_congestion(Tcb& tcb)
{
    u32 mss = tcb.snd_mss;
    tcb.ssthresh = max(flight_size(tcb) / 2, 2 * mss);
    tcb.cwnd = mss;
    tcb.in_recovery = false;
    tcb.dupacks = 0;
    tcb.recover = tcb.snd_max; // RFC 6582 §4.1: no fast retransmit for data sent before this
}

} // namespace skiff::net
