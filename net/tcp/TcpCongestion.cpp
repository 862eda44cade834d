// Congestion control and loss recovery.
//
// Congestion control is Reno's (RFC 5681): slow start and congestion avoidance with appropriate
// byte counting (RFC 3465); a loss sets ssthresh = max(FlightSize/2, 2·SMSS).
//
// Loss recovery has four parts, each an RFC, in the shape Linux gives them:
//
// - The scoreboard. Each send-queue buffer is one segment's payload; its PacketMeta::scoreboard
//   says SACKed, Lost (to be sent again), Retransmitted (a retransmission is in flight) and
//   EverRetransmitted, and its PacketMeta::aux the time it was last sent (µs, wrapping). Marks
//   are only ever set on buffers below snd_max; new data always goes out in sequence order, and
//   snd_nxt never steps back.
//
// - Loss detection. With SACK it is RACK (RFC 8985 §6): a segment is lost once a segment sent
//   after it has been delivered and a reordering window has passed since — RACK.min_RTT/4, or
//   nothing while in recovery or once DupThresh segments are SACKed, unless the peer was seen to
//   reorder (a DSACK widens it, §6.2 step 4). It finds a lost retransmission the same way, which
//   before only the retransmission timer did. Without SACK, the third duplicate ACK (RFC 5681
//   §3.2) and each partial ACK in recovery (RFC 6582 §3.2) mark the first unacknowledged
//   segment lost.
//
// - Tail-loss probes (RFC 8985 §7). With data outstanding, nothing SACKed and no recovery under
//   way, a probe timeout PTO = 2·SRTT (+ kTlpDelayedAck when less than two full segments are in
//   flight: the receiver may be delaying its ACK), never later than the retransmission timer, sends one new
//   segment if the peer's window allows, otherwise the last segment again. Its ACK (or SACK)
//   lets RACK repair a loss at the tail, where no later segment would ever be delivered to
//   reveal it, in a few round trips instead of the 200 ms minimum RTO and a window of one.
//
// - Sending by the pipe (RFC 6675 §4): pipe = bytes outstanding − SACKed − lost and not yet
//   resent + resent. output() resends lost segments first, then new data, while pipe < cwnd.
//   During fast recovery the window is Proportional Rate Reduction's (RFC 6937, PRR-SSRB): it
//   comes down to ssthresh in step with what the ACKs say was delivered, so recovery neither
//   bursts nor stalls; recovery ends when everything outstanding at its start is acknowledged
//   (RFC 6582's "recover").
//
// A retransmission timeout (TcpTimers.cpp) collapses the window to one segment and marks
// everything not SACKed lost — keeping the SACK marks unless the peer reneged (RFC 6675 §5.1
// and its erratum 1610) — and slow start sends the holes again, RACK watching the resent ones.
//
// What this replaced, measured on the seeded simulator (1 MiB transfers, 1 ms RTT, 5% loss):
// most retransmission timeouts came from a retransmission lost again in recovery (NewReno never
// resends a segment twice), the rest from losses with fewer than three duplicate ACKs behind
// them and from losses during the go-back-N after a timeout (RFC 6582 §4.1 forbids fast
// retransmit there), whose timeouts then doubled one after the other.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

static constexpr u32 kDupThresh = 3;          // RFC 5681 §3.2 / RFC 6675 DupThresh
static constexpr u32 kReorderingPersist = 16; // RFC 8985 §6.2 step 4: recoveries a widened window lasts
static constexpr u32 kMaxReorderingMultiple = 8;
// PTO's allowance for timer granularity on top of 2·SRTT (Linux adds two ticks).
static constexpr Duration kTlpSlack = Duration::from_ms(2);

char const* tcp_loss_state_name(TcpLossState state)
{
    switch (state) {
    case TcpLossState::Open: return "open";
    case TcpLossState::Recovery: return "recovery";
    case TcpLossState::Timeout: return "timeout";
    }
    return "?";
}

static u32 end_of(PacketBuffer const& segment)
{
    return segment.meta.sequence + segment.payload_length();
}

// RFC 8985 §6.2 RACK_sent_after(): was (t1, seq1) sent after (t2, seq2)? Equal times (the
// segments of one TSO unit) are ordered by sequence.
static bool sent_after(u32 t1, u32 seq1, u32 t2, u32 seq2)
{
    i32 difference = static_cast<i32>(t1 - t2);
    return difference > 0 || (difference == 0 && seq_gt(seq1, seq2));
}

u32 TcpLayer::now_us() const
{
    return static_cast<u32>(m_stack.now() / 1000);
}

u32 TcpLayer::flight_size(Tcb const& tcb) const
{
    return tcb.snd_max - tcb.snd_una;
}

u32 TcpLayer::pipe(Tcb const& tcb) const
{
    u32 in_flight = tcb.snd_nxt - tcb.snd_una;
    if (tcb.scoreboard_marked) {
        in_flight = 0;
        for (PacketBuffer const* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next) {
            u32 end = end_of(*b);
            if (seq_leq(end, tcb.snd_una))
                continue; // acknowledged, still held by the NIC
            u8 marks = b->meta.scoreboard;
            if (marks & kScoreboardSacked)
                continue;
            u32 length = end - seq_max(b->meta.sequence, tcb.snd_una);
            if (!(marks & kScoreboardLost))
                in_flight += length;
            if (marks & kScoreboardRetransmitted)
                in_flight += length;
        }
    }
    // Without SACK each duplicate ACK stands for one segment that left the network (RFC 6675's
    // pipe has no other way to learn it; RFC 3042's limited transmit falls out of this), though
    // never for the whole flight.
    if (!tcb.sack_enabled && tcb.dupack_credit) {
        u32 most = in_flight > tcb.snd_mss ? in_flight - tcb.snd_mss : 0;
        in_flight -= min(tcb.dupack_credit, most);
    }
    return in_flight;
}

u32 TcpLayer::send_window_end(Tcb& tcb) const
{
    u32 in_pipe = pipe(tcb);
    u32 room = tcb.cwnd > in_pipe ? tcb.cwnd - in_pipe : 0;
    u32 by_peer = tcb.snd_una + tcb.snd_wnd;
    u32 by_cwnd = tcb.snd_nxt + room;
    return seq_lt(by_cwnd, by_peer) ? by_cwnd : by_peer;
}

void TcpLayer::on_segments_sent(Tcb& tcb, PacketBuffer* first, u32 count, bool retransmission)
{
    u32 sent_at = now_us();
    u32 bytes = 0;
    for (u32 i = 0; i < count && first; ++i, first = first->next) {
        first->meta.aux = sent_at;
        bytes += first->payload_length();
        if (retransmission)
            first->meta.scoreboard |= kScoreboardRetransmitted | kScoreboardEverRetransmitted;
    }
    if (retransmission)
        tcb.scoreboard_marked = true;
    if (tcb.loss_state == TcpLossState::Recovery)
        tcb.prr_out += bytes;
}

// RFC 8985 §6.2 steps 2 and 3 for one segment newly delivered (cumulatively or by SACK).
void TcpLayer::rack_update(Tcb& tcb, PacketBuffer const& segment)
{
    u32 xmit = segment.meta.aux;
    u32 end = end_of(segment);
    bool retransmitted = segment.meta.scoreboard & kScoreboardEverRetransmitted;
    Duration rtt = Duration::from_us(static_cast<u32>(now_us() - xmit));
    // An ACK of a segment sent twice may be for the first transmission: a round trip shorter
    // than any seen yet says so, and it is not the retransmission's delivery.
    if (retransmitted && !tcb.min_rtt.is_zero() && rtt < tcb.min_rtt)
        return;
    if (!tcb.rack_valid || sent_after(xmit, end, tcb.rack_xmit_us, tcb.rack_end_seq)) {
        tcb.rack_rtt = rtt;
        tcb.rack_xmit_us = xmit;
        tcb.rack_end_seq = end;
    }
    // A segment delivered below the highest delivered one, never sent twice: the path reorders.
    if (tcb.rack_valid && seq_lt(end, tcb.rack_fack)) {
        if (!retransmitted)
            tcb.rack_reordering_seen = true;
    } else {
        tcb.rack_fack = end;
    }
    tcb.rack_valid = true;
}

// RFC 8985 §6.2 step 4.
Duration TcpLayer::rack_reordering_window(Tcb const& tcb) const
{
    if (!tcb.rack_reordering_seen) {
        if (tcb.loss_state != TcpLossState::Open)
            return {};
        u32 sacked = 0;
        for (PacketBuffer const* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next)
            if ((b->meta.scoreboard & kScoreboardSacked) && ++sacked >= kDupThresh)
                return {};
    }
    Duration window = tcb.min_rtt / 4 * tcb.rack_reo_wnd_mult;
    return tcb.rtt_measured ? min(window, tcb.srtt) : window;
}

void TcpLayer::mark_lost(Tcb& tcb, PacketBuffer& segment)
{
    if (segment.meta.scoreboard & kScoreboardRetransmitted)
        ++m_stack.counters().tcp_lost_retransmits;
    segment.meta.scoreboard = static_cast<u8>((segment.meta.scoreboard | kScoreboardLost) & ~kScoreboardRetransmitted);
    tcb.scoreboard_marked = true;
}

// RFC 8985 §6.2 step 5: marks what is lost, arms the reordering timer for what may still be.
// Returns how many segments it marked.
u32 TcpLayer::rack_detect_loss(Tcb& tcb)
{
    tcb.rack_deadline = Instant {};
    if (!tcb.rack_valid)
        return 0;
    u64 window_us = rack_reordering_window(tcb).ns() / 1000 + tcb.rack_rtt.ns() / 1000;
    u32 now_time = now_us();
    i64 longest_wait = 0;
    u32 lost = 0;
    for (PacketBuffer* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next) {
        u8 marks = b->meta.scoreboard;
        u32 end = end_of(*b);
        if (seq_leq(end, tcb.snd_una) || (marks & kScoreboardSacked))
            continue;
        if ((marks & kScoreboardLost) && !(marks & kScoreboardRetransmitted))
            continue; // already waiting to be sent again
        if (!sent_after(tcb.rack_xmit_us, tcb.rack_end_seq, b->meta.aux, end)) {
            // Sent after RACK's segment. If never resent, everything above it was sent later
            // still (new data goes out in sequence order): nothing more to find.
            if (!(marks & kScoreboardEverRetransmitted))
                break;
            continue;
        }
        i64 remaining = static_cast<i64>(static_cast<i32>(b->meta.aux - now_time)) + static_cast<i64>(window_us);
        if (remaining <= 0) {
            mark_lost(tcb, *b);
            ++lost;
        } else {
            longest_wait = max(longest_wait, remaining);
        }
    }
    if (longest_wait)
        tcb.rack_deadline = now() + Duration::from_us(static_cast<u64>(longest_wait));
    m_stack.counters().tcp_rack_lost += lost;
    return lost;
}

u32 TcpLayer::apply_sack_blocks(Tcb& tcb, TcpOptions const& options)
{
    u32 newly = 0;
    for (u32 i = 0; i < options.sack_count; ++i) {
        SackBlock block = options.sack[i];
        // RFC 2018 §3: ignore blocks that are malformed or outside what is outstanding (a DSACK
        // block below SND.UNA among them).
        if (!seq_gt(block.right, block.left) || !seq_gt(block.right, tcb.snd_una) || seq_gt(block.right, tcb.snd_max))
            continue;
        for (PacketBuffer* b = tcb.send_queue.front(); b; b = b->next) {
            u32 end = end_of(*b);
            if (seq_geq(b->meta.sequence, block.right))
                break;
            if (!seq_geq(b->meta.sequence, block.left) || !seq_leq(end, block.right) || !seq_gt(end, tcb.snd_una)
                || (b->meta.scoreboard & kScoreboardSacked))
                continue;
            b->meta.scoreboard |= kScoreboardSacked;
            tcb.scoreboard_marked = true;
            newly += b->payload_length();
            rack_update(tcb, *b);
        }
    }
    return newly;
}

u32 TcpLayer::deliver_cumulative(Tcb& tcb, u32 ack)
{
    u32 delivered = 0;
    for (PacketBuffer* b = tcb.send_queue.front(); b; b = b->next) {
        u32 end = end_of(*b);
        if (seq_gt(end, ack)) {
            // Acknowledged in part (a peer that took less than a segment).
            if (seq_lt(b->meta.sequence, ack) && !(b->meta.scoreboard & kScoreboardSacked))
                delivered += ack - seq_max(b->meta.sequence, tcb.snd_una);
            break;
        }
        if (seq_leq(end, tcb.snd_una) || (b->meta.scoreboard & kScoreboardSacked))
            continue; // acknowledged before (the NIC still holds it), or counted when SACKed
        delivered += end - seq_max(b->meta.sequence, tcb.snd_una);
        rack_update(tcb, *b);
    }
    return delivered;
}

void TcpLayer::enter_recovery(Tcb& tcb)
{
    ++m_stack.counters().tcp_fast_retransmits;
    tcb.ssthresh = max(flight_size(tcb) / 2, 2u * tcb.snd_mss);
    tcb.recover = tcb.snd_max;
    tcb.loss_state = TcpLossState::Recovery;
    tcb.prr_delivered = 0;
    tcb.prr_out = 0;
    tcb.recover_fs = max(flight_size(tcb), 1u);
    tcb.pto_deadline = Instant {};
}

// RFC 6937 §3: the window during fast recovery, from what this ACK delivered.
static void prr_update(Tcb& tcb, u32 pipe, u32 delivered, bool force_one)
{
    i64 mss = tcb.snd_mss;
    tcb.prr_delivered += delivered;
    i64 send_count;
    if (pipe > tcb.ssthresh) {
        // Proportional: ssthresh/RecoverFS of what was delivered, less what went out already.
        u64 target = (static_cast<u64>(tcb.prr_delivered) * tcb.ssthresh + tcb.recover_fs - 1) / tcb.recover_fs;
        send_count = static_cast<i64>(target) - tcb.prr_out;
    } else {
        // Slow-start reduction bound: catch up towards ssthresh, at most one segment beyond what
        // was delivered.
        i64 limit = max(static_cast<i64>(tcb.prr_delivered) - tcb.prr_out, static_cast<i64>(delivered)) + mss;
        send_count = min(static_cast<i64>(tcb.ssthresh) - pipe, limit);
    }
    send_count = max<i64>(send_count, 0);
    if (force_one && tcb.prr_out == 0)
        send_count = max(send_count, mss); // the fast retransmit itself always goes
    tcb.cwnd = pipe + static_cast<u32>(send_count);
}

// Window growth outside fast recovery: slow start and congestion avoidance with appropriate byte
// counting (RFC 3465), so a receiver that acknowledges a whole batch at once (Skiff itself, Linux
// with GRO) does not slow its sender down.
void TcpLayer::on_new_ack(Tcb& tcb, u32 acked)
{
    u32 mss = tcb.snd_mss;
    if (tcb.cwnd < tcb.ssthresh) {
        tcb.cwnd += min(acked, 2u * mss); // slow start, RFC 5681 eq. (2) with L = 2 SMSS (RFC 3465 §2.2)
    } else {
        u64 growth = static_cast<u64>(mss) * min(acked, tcb.cwnd) / tcb.cwnd; // eq. (3), per byte acked
        tcb.cwnd += static_cast<u32>(max<u64>(1, growth));
    }
}

void TcpLayer::on_ack_congestion(Tcb& tcb, AckSample const& ack)
{
    u32 mss = tcb.snd_mss;
    u32 delivered = ack.delivered;
    if (!tcb.sack_enabled) {
        // RFC 6937's DeliveredData without SACK: a segment per duplicate ACK, and of a later
        // advance only what the duplicates had not counted already (one segment is the hole).
        if (ack.duplicate) {
            tcb.dupack_credit += mss;
            delivered += mss;
        } else if (ack.acked) {
            u32 counted = min(tcb.dupack_credit, ack.acked > mss ? ack.acked - mss : 0u);
            tcb.dupack_credit -= counted;
            delivered = ack.acked - counted;
        }
    }
    bool dsack_explained = process_loss_probe_ack(tcb, ack);
    if (ack.dsack && !dsack_explained) {
        // RFC 8985 §6.2 step 4: a needless retransmission: the path reorders more than the
        // window allowed. Widen it, at most once a round trip, for the next 16 recoveries.
        if (!tcb.rack_dsack_round_valid || seq_geq(tcb.snd_una, tcb.rack_dsack_round)) {
            tcb.rack_dsack_round_valid = true;
            tcb.rack_dsack_round = tcb.snd_max;
            tcb.rack_reo_wnd_mult = min(tcb.rack_reo_wnd_mult + 1, kMaxReorderingMultiple);
            tcb.rack_reo_wnd_persist = kReorderingPersist;
        }
    }

    // Find what is lost.
    u32 newly_lost = 0;
    if (tcb.sack_enabled) {
        if (tcb.scoreboard_marked || tcb.loss_state != TcpLossState::Open)
            newly_lost = rack_detect_loss(tcb);
    } else if (PacketBuffer* front = tcb.send_queue.front(); front && seq_lt(front->meta.sequence, tcb.snd_max)) {
        while (front && seq_leq(end_of(*front), tcb.snd_una))
            front = front->next; // acknowledged, still held by the NIC
        bool third_duplicate = tcb.loss_state == TcpLossState::Open && ack.duplicate && tcb.dupacks >= kDupThresh;
        bool partial = tcb.loss_state == TcpLossState::Recovery && ack.acked && seq_lt(tcb.snd_una, tcb.recover);
        if (front && (third_duplicate || partial)
            && !(front->meta.scoreboard & (kScoreboardLost | kScoreboardRetransmitted))) {
            mark_lost(tcb, *front);
            newly_lost = 1;
        }
    }

    // Recovery ends when everything outstanding at its start is acknowledged.
    bool ended_recovery = false;
    if (tcb.loss_state != TcpLossState::Open && ack.acked && seq_geq(tcb.snd_una, tcb.recover)) {
        ended_recovery = tcb.loss_state == TcpLossState::Recovery;
        if (tcb.loss_state == TcpLossState::Recovery) {
            tcb.cwnd = tcb.ssthresh; // RFC 6937: the reduction is complete
            if (tcb.rack_reo_wnd_persist && --tcb.rack_reo_wnd_persist == 0)
                tcb.rack_reo_wnd_mult = 1;
        }
        tcb.loss_state = TcpLossState::Open;
        tcb.dupacks = 0;
        tcb.dupack_credit = 0;
        tcb.fin_lost = false;
    } else if (tcb.loss_state == TcpLossState::Open && ack.acked) {
        tcb.dupacks = 0;
        tcb.dupack_credit = 0;
    }

    bool entered = false;
    if (newly_lost && tcb.loss_state == TcpLossState::Open) {
        enter_recovery(tcb);
        entered = true;
    }
    if (tcb.loss_state == TcpLossState::Recovery)
        prr_update(tcb, pipe(tcb), delivered, entered);
    else if (ack.acked && !ended_recovery)
        on_new_ack(tcb, ack.acked);

    if (ack.acked)
        schedule_loss_probe(tcb);
    else if (tcb.loss_state != TcpLossState::Open)
        tcb.pto_deadline = Instant {};
}

// One retransmission per lost segment, lowest first, while the pipe leaves room in the window;
// then the FIN if a timeout lost it too.
void TcpLayer::retransmit_lost(Tcb& tcb)
{
    tcb.retransmit_held = false;
    if (!tcb.scoreboard_marked && !tcb.fin_lost)
        return;
    u32 in_pipe = pipe(tcb);
    bool pending = false;
    for (PacketBuffer* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next) {
        u8 marks = b->meta.scoreboard;
        if (!(marks & kScoreboardLost) || (marks & (kScoreboardSacked | kScoreboardRetransmitted))
            || seq_leq(end_of(*b), tcb.snd_una))
            continue;
        u32 length = b->payload_length();
        if (in_pipe + length > tcb.cwnd) {
            pending = true;
            break;
        }
        if (b->reference_count() > 1) {
            // The NIC still holds its last transmission: poll again soon (tcb_deadline).
            tcb.retransmit_held = true;
            pending = true;
            break;
        }
        u8 flags = TcpFlag::Ack | (b->next == nullptr ? TcpFlag::Psh : 0);
        if (transmit(tcb, b, 1, b->meta.sequence, flags).is_error()) {
            pending = true;
            break;
        }
        on_segments_sent(tcb, b, 1, true);
        ++tcb.stats.retransmits;
        ++m_stack.counters().tcp_retransmits;
        tcb.rtt_timing = false; // Karn: never time a retransmitted segment
        in_pipe += length;
    }
    if (tcb.fin_lost && !pending && in_pipe < tcb.cwnd) {
        tcb.fin_lost = false;
        send_control(tcb, tcb.snd_end, TcpFlag::Fin | TcpFlag::Ack);
        ++tcb.stats.retransmits;
        ++m_stack.counters().tcp_retransmits;
    }
    if (!tcb.rto_deadline.is_set() && tcb.snd_una != tcb.snd_max)
        arm_rto(tcb);
}

void TcpLayer::on_timeout_congestion(Tcb& tcb)
{
    u32 mss = tcb.snd_mss;
    // RFC 5681 eq. (4), once per episode: a segment the timer already resent leaves it alone.
    if (tcb.backoff == 0)
        tcb.ssthresh = max(flight_size(tcb) / 2, 2 * mss);
    tcb.cwnd = mss;
    tcb.loss_state = TcpLossState::Timeout;
    tcb.recover = tcb.snd_max;
    tcb.dupacks = 0;
    tcb.dupack_credit = 0;
    tcb.tlp_outstanding = false;
    tcb.pto_deadline = Instant {};
    tcb.rack_deadline = Instant {};
    // Everything not SACKed is lost. A SACKed segment at SND.UNA means the peer reneged (it would
    // have acknowledged it): then its SACKs are forgotten too (RFC 2018 §8, RFC 6675 §5.1).
    PacketBuffer* front = tcb.send_queue.front();
    while (front && seq_leq(end_of(*front), tcb.snd_una))
        front = front->next;
    bool reneged = front && (front->meta.scoreboard & kScoreboardSacked);
    for (PacketBuffer* b = front; b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next) {
        if (reneged)
            b->meta.scoreboard &= static_cast<u8>(~kScoreboardSacked);
        if (!(b->meta.scoreboard & kScoreboardSacked))
            b->meta.scoreboard = static_cast<u8>((b->meta.scoreboard | kScoreboardLost) & ~kScoreboardRetransmitted);
    }
    tcb.scoreboard_marked = true;
    if (tcb.fin_queued && seq_gt(tcb.snd_max, tcb.snd_end))
        tcb.fin_lost = true;
}

// RFC 8985 §7.2.
void TcpLayer::schedule_loss_probe(Tcb& tcb)
{
    tcb.pto_deadline = Instant {};
    bool sends_data = tcb.state == TcpState::Established || tcb.state == TcpState::CloseWait
        || tcb.state == TcpState::FinWait1 || tcb.state == TcpState::Closing || tcb.state == TcpState::LastAck;
    if (!m_loss_probes || !tcb.sack_enabled || !sends_data || tcb.loss_state != TcpLossState::Open
        || tcb.tlp_outstanding || tcb.snd_una == tcb.snd_max)
        return;
    // Segments SACKed already: RACK's reordering timer looks after the holes below them.
    if (tcb.scoreboard_marked) {
        for (PacketBuffer const* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next)
            if ((b->meta.scoreboard & kScoreboardSacked) && seq_gt(end_of(*b), tcb.snd_una))
                return;
    }
    Duration timeout = tcb.rtt_measured ? tcb.srtt * 2 + kTlpSlack : kTlpNoRtt;
    // The RFC adds WCDelAckT when FlightSize is one segment: a receiver acknowledges every
    // second full-sized segment at once (RFC 5681 §4.2) and may hold back the ACK of a single one.
    // Skiff's receiver counts full-sized segments, so a full segment and a short one are held
    // back as well: the allowance applies to anything short of two full segments.
    if (flight_size(tcb) < 2u * tcb.snd_mss)
        timeout = timeout + kTlpDelayedAck;
    Instant deadline = now() + timeout;
    // Never later than the retransmission timer: then the probe goes at its time, in its place.
    if (tcb.rto_deadline.is_set() && deadline > tcb.rto_deadline)
        deadline = tcb.rto_deadline;
    tcb.pto_deadline = deadline;
}

// RFC 8985 §7.3: the probe timeout fired.
void TcpLayer::on_loss_probe_timeout(Tcb& tcb)
{
    if (tcb.loss_state != TcpLossState::Open || tcb.tlp_outstanding || tcb.snd_una == tcb.snd_max)
        return;
    NetStack::TransmitBatch batch(m_stack);
    bool sent = false;
    // New data, if there is any and the peer's window takes it (the congestion window does not
    // count: the probe stands for the ACKs that did not come).
    PacketBuffer* next = tcb.send_cursor ? tcb.send_cursor : tcb.send_queue.front();
    while (next && seq_leq(end_of(*next), tcb.snd_nxt))
        next = next->next;
    if (next && seq_leq(end_of(*next), tcb.snd_una + tcb.snd_wnd) && next->reference_count() == 1
        && next->meta.sequence == tcb.snd_nxt) {
        u8 flags = TcpFlag::Ack | (next->next == nullptr ? TcpFlag::Psh : 0);
        if (transmit(tcb, next, 1, next->meta.sequence, flags).has_value()) {
            on_segments_sent(tcb, next, 1, false);
            tcb.snd_nxt = end_of(*next);
            tcb.snd_max = seq_max(tcb.snd_max, tcb.snd_nxt);
            tcb.tlp_is_retransmission = false;
            tcb.tlp_start_seq = next->meta.sequence;
            sent = true;
        }
    } else if (tcb.fin_queued && tcb.snd_max == tcb.snd_end + 1) {
        // The FIN was the last thing sent: it is the probe.
        send_control(tcb, tcb.snd_end, TcpFlag::Fin | TcpFlag::Ack);
        tcb.tlp_is_retransmission = true;
        tcb.tlp_start_seq = tcb.snd_end;
        sent = true;
    } else {
        // The last segment sent, once more.
        PacketBuffer* last = nullptr;
        for (PacketBuffer* b = tcb.send_queue.front(); b && seq_lt(b->meta.sequence, tcb.snd_max); b = b->next)
            last = b;
        if (last && seq_gt(end_of(*last), tcb.snd_una) && last->reference_count() == 1
            && transmit(tcb, last, 1, last->meta.sequence, TcpFlag::Ack | TcpFlag::Psh).has_value()) {
            last->meta.aux = now_us();
            last->meta.scoreboard |= kScoreboardEverRetransmitted;
            ++tcb.stats.retransmits;
            ++m_stack.counters().tcp_retransmits;
            tcb.rtt_timing = false;
            tcb.tlp_is_retransmission = true;
            tcb.tlp_start_seq = last->meta.sequence;
            sent = true;
        }
    }
    if (sent) {
        tcb.tlp_outstanding = true;
        tcb.tlp_end_seq = tcb.snd_max;
        ++m_stack.counters().tcp_loss_probes;
    }
    arm_rto(tcb); // §7.3: after a probe the retransmission timer, not another probe
}

// RFC 8985 §7.4.2: did the probe repair a loss? Returns whether this ACK's DSACK was the probe's.
bool TcpLayer::process_loss_probe_ack(Tcb& tcb, AckSample const& ack)
{
    if (!tcb.tlp_outstanding || seq_lt(tcb.snd_una, tcb.tlp_end_seq))
        return false;
    if (!tcb.tlp_is_retransmission) {
        tcb.tlp_outstanding = false; // new data: a loss before it shows as a SACK hole, for RACK
        return false;
    }
    if (ack.dsack && seq_leq(ack.dsack_block.left, tcb.tlp_start_seq)
        && seq_geq(ack.dsack_block.right, tcb.tlp_end_seq)) {
        tcb.tlp_outstanding = false; // the peer had it already: the probe was not needed
        return true;
    }
    if (seq_gt(tcb.snd_una, tcb.tlp_end_seq)) {
        // Acknowledged beyond the probe with no DSACK for it: the probe repaired a loss. Respond
        // as to a loss, a recovery begun and ended at once.
        tcb.tlp_outstanding = false;
        ++m_stack.counters().tcp_loss_probe_recoveries;
        tcb.ssthresh = max(tcb.cwnd / 2, 2u * tcb.snd_mss);
        tcb.cwnd = tcb.ssthresh;
    } else if (ack.pure_duplicate) {
        tcb.tlp_outstanding = false; // a bare duplicate: original and probe both arrived
    }
    return false;
}

void TcpLayer::on_reordering_timeout(Tcb& tcb)
{
    u32 lost = rack_detect_loss(tcb);
    if (!lost)
        return;
    if (tcb.loss_state == TcpLossState::Open) {
        enter_recovery(tcb);
        prr_update(tcb, pipe(tcb), 0, true);
    }
    output(tcb);
}

} // namespace skiff::net
