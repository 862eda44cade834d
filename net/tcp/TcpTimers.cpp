// TCP's timers. Each TCB keeps absolute deadlines; poll(now) runs those that are due and
// next_deadline() reports the earliest, so a test drives time by hand.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

Instant TcpLayer::tcb_deadline(Tcb const& tcb) const
{
    Instant deadline = Instant::never();
    Instant const deadlines[] = { tcb.rto_deadline, tcb.pto_deadline, tcb.rack_deadline, tcb.delack_deadline,
        tcb.persist_deadline, tcb.keepalive_deadline, tcb.timewait_deadline };
    for (Instant d : deadlines)
        if (d.is_set())
            deadline = min(deadline, d);
    // Acknowledged buffers the NIC still holds: poll again soon to free them (release_acknowledged).
    PacketBuffer const* front = tcb.send_queue.front();
    if ((front && seq_leq(front->meta.sequence + front->payload_length(), tcb.snd_una)) || tcb.retransmit_held)
        deadline = min(deadline, now() + kHeldBufferRecheck);
    return deadline;
}

void TcpLayer::arm_rto(Tcb& tcb)
{
    tcb.rto_deadline = now() + tcb.rto;
}

// RFC 6298 §2: SRTT and RTTVAR from each sample R (alpha 1/8, beta 1/4, K = 4, clock
// granularity G = 1 ms); RTO = SRTT + max(G, 4·RTTVAR), clamped to [kMinRto, kMaxRto].
void TcpLayer::update_rtt(Tcb& tcb, Duration sample)
{
    if (tcb.min_rtt.is_zero() || sample < tcb.min_rtt)
        tcb.min_rtt = sample;
    if (!tcb.rtt_measured) {
        tcb.rtt_measured = true;
        tcb.srtt = sample;
        tcb.rttvar = sample / 2;
    } else {
        Duration delta = tcb.srtt > sample ? tcb.srtt - sample : sample - tcb.srtt;
        tcb.rttvar = (tcb.rttvar * 3 + delta) / 4;
        tcb.srtt = (tcb.srtt * 7 + sample) / 8;
    }
    Duration rto = tcb.srtt + max(Duration::from_ms(1), tcb.rttvar * 4);
    tcb.rto = min(max(rto, kMinRto), kMaxRto);
}

void TcpLayer::schedule_ack(Tcb& tcb, bool full_segment)
{
    // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: delay an ACK, but ACK at least every second full-sized
    // segment and never wait more than kDelayedAck. Inside a receive batch the ACK is owed, not
    // sent: end_input_batch() sends one for all the segments the batch brought (a receiver that
    // processes frames in batches, as Linux's GRO does, acknowledges once per batch).
    if (full_segment && ++tcb.segments_unacked >= 2) {
        if (!m_in_input_batch)
            tcb.ack_now = true;
        return;
    }
    if (!tcb.delack_deadline.is_set())
        tcb.delack_deadline = now() + kDelayedAck;
}

void TcpLayer::end_input_batch()
{
    m_in_input_batch = false;
    for (Tcb& tcb : tcbs()) {
        if (tcb.in_use && tcb.segments_unacked >= 2 && tcb.state != TcpState::Closed && tcb.state != TcpState::SynSent
            && tcb.state != TcpState::Listen)
            send_ack(tcb);
    }
}

void TcpLayer::touch_keepalive(Tcb& tcb)
{
    tcb.keepalive_sent = 0;
    tcb.keepalive_deadline
        = tcb.options.keepalive && tcb.state == TcpState::Established ? now() + tcb.options.keepalive_idle : Instant {};
}

void TcpLayer::enter_time_wait(Tcb& tcb)
{
    tcb.state = TcpState::TimeWait;
    tcb.rto_deadline = tcb.pto_deadline = tcb.rack_deadline = Instant {};
    tcb.persist_deadline = tcb.keepalive_deadline = Instant {};
    tcb.timewait_deadline = now() + kTimeWait;
    drop_send_queue(tcb);
    wake(tcb);
}

void TcpLayer::on_retransmission_timeout(Tcb& tcb)
{
    ++m_stack.counters().tcp_timeouts;
    if (tcb.state == TcpState::SynSent || tcb.state == TcpState::SynReceived) {
        if (tcb.backoff >= kMaxSynRetransmits) {
            enter_closed(tcb, Error::TimedOut);
            return;
        }
        ++tcb.backoff;
        tcb.rto = min(tcb.rto * 2, kMaxRto);
        tcb.rtt_timing = false;
        ++tcb.stats.retransmits;
        ++m_stack.counters().tcp_retransmits;
        send_syn(tcb);
        return;
    }
    if (tcb.backoff >= kMaxRetransmits) {
        send_control(tcb, tcb.snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
        enter_closed(tcb, Error::TimedOut);
        return;
    }
    // RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment, back off the timer.
    // RFC 5681 §3.1: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = 1 SMSS; everything not SACKed
    // is marked lost and sent again as the window reopens (TcpCongestion.cpp).
    on_timeout_congestion(tcb);
    ++tcb.backoff;
    tcb.rto = min(tcb.rto * 2, kMaxRto);
    tcb.rtt_timing = false;
    output(tcb);
    if (!tcb.rto_deadline.is_set() && tcb.snd_una != tcb.snd_max)
        arm_rto(tcb);
}

void TcpLayer::run_timers(Tcb& tcb, Instant now)
{
    if (tcb.retransmit_held)
        output(tcb); // a lost segment the NIC held: is it free now?
    if (tcb.rack_deadline.is_set() && now >= tcb.rack_deadline) {
        tcb.rack_deadline = Instant {};
        on_reordering_timeout(tcb);
    }
    // The probe first: when it is due with the retransmission timer, it goes in its place
    // (RFC 8985 §7.2) and re-arms the timer.
    if (tcb.pto_deadline.is_set() && now >= tcb.pto_deadline) {
        tcb.pto_deadline = Instant {};
        on_loss_probe_timeout(tcb);
    }
    if (tcb.rto_deadline.is_set() && now >= tcb.rto_deadline) {
        tcb.rto_deadline = Instant {};
        on_retransmission_timeout(tcb);
        if (!tcb.in_use || tcb.state == TcpState::Closed)
            return;
    }
    if (tcb.delack_deadline.is_set() && now >= tcb.delack_deadline) {
        tcb.delack_deadline = Instant {};
        send_ack(tcb);
    }
    if (tcb.persist_deadline.is_set() && now >= tcb.persist_deadline) {
        tcb.persist_deadline = Instant {};
        if (tcb.snd_wnd == 0 && tcb.send_queue.front()) {
            // A zero-window probe: an old sequence number makes the peer answer with an ACK
            // carrying its current window.
            send_control(tcb, tcb.snd_una - 1, TcpFlag::Ack);
            ++tcb.persist_backoff;
            tcb.persist_deadline = now + min(tcb.rto * (1ull << min(tcb.persist_backoff, 10u)), kMaxRto);
        } else {
            output(tcb);
        }
    }
    if (tcb.keepalive_deadline.is_set() && now >= tcb.keepalive_deadline) {
        // RFC 1122 §4.2.3.6: a probe with an old sequence number; no answer after
        // keepalive_probes tries ends the connection.
        if (tcb.keepalive_sent >= tcb.options.keepalive_probes) {
            send_control(tcb, tcb.snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
            enter_closed(tcb, Error::TimedOut);
            return;
        }
        send_control(tcb, tcb.snd_una - 1, TcpFlag::Ack);
        ++tcb.keepalive_sent;
        tcb.keepalive_deadline = now + tcb.options.keepalive_interval;
    }
    if (tcb.timewait_deadline.is_set() && now >= tcb.timewait_deadline) {
        tcb.timewait_deadline = Instant {};
        if (tcb.state == TcpState::TimeWait || (tcb.state == TcpState::FinWait2 && tcb.user_closed))
            enter_closed(tcb, Error::None);
    }
}

} // namespace skiff::net
