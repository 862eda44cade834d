// TCP's timers. Each socket keeps absolute deadlines; poll(now) runs those that are due and
// next_deadline() reports the earliest, so a test drives time by hand.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

u64 TcpLayer::socket_deadline(TcpSocket const& s) const
{
    u64 deadline = ~0ull;
    u64 const deadlines[] = { s.m_rto_deadline, s.m_delack_deadline, s.m_persist_deadline, s.m_keepalive_deadline,
        s.m_timewait_deadline };
    for (u64 d : deadlines)
        if (d)
            deadline = min(deadline, d);
    // Acknowledged buffers the NIC still holds: poll again soon to free them (release_acknowledged).
    PacketBuffer const* front = s.m_send_queue.front();
    if (front && seq_leq(front->meta.sequence + front->payload_length(), s.m_snd_una))
        deadline = min(deadline, m_stack.now() + kHeldBufferRecheck);
    return deadline;
}

void TcpLayer::arm_rto(TcpSocket& s)
{
    s.m_rto_deadline = m_stack.now() + s.m_rto;
}

// RFC 6298 §2: SRTT and RTTVAR from each sample R (alpha 1/8, beta 1/4, K = 4, clock
// granularity G = 1 ms); RTO = SRTT + max(G, 4·RTTVAR), clamped to [kMinRto, kMaxRto].
void TcpLayer::update_rtt(TcpSocket& s, u64 sample)
{
    if (!s.m_rtt_measured) {
        s.m_rtt_measured = true;
        s.m_srtt = sample;
        s.m_rttvar = sample / 2;
    } else {
        u64 delta = s.m_srtt > sample ? s.m_srtt - sample : sample - s.m_srtt;
        s.m_rttvar = (3 * s.m_rttvar + delta) / 4;
        s.m_srtt = (7 * s.m_srtt + sample) / 8;
    }
    u64 rto = s.m_srtt + max<u64>(1000000, 4 * s.m_rttvar);
    s.m_rto = min(max(rto, kMinRto), kMaxRto);
}

void TcpLayer::schedule_ack(TcpSocket& s, bool full_segment)
{
    // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: delay an ACK, but ACK at least every second full-sized
    // segment and never wait more than kDelayedAck. Inside a receive batch the ACK is owed, not
    // sent: end_input_batch() sends one for all the segments the batch brought (a receiver that
    // processes frames in batches, as Linux's GRO does, acknowledges once per batch).
    if (full_segment && ++s.m_segments_unacked >= 2) {
        if (!m_in_input_batch)
            s.m_ack_now = true;
        return;
    }
    if (!s.m_delack_deadline)
        s.m_delack_deadline = m_stack.now() + kDelayedAck;
}

void TcpLayer::end_input_batch()
{
    m_in_input_batch = false;
    for (TcpSocket& s : m_sockets) {
        if (s.m_in_use && s.m_segments_unacked >= 2 && s.m_state != TcpState::Closed && s.m_state != TcpState::SynSent
            && s.m_state != TcpState::Listen)
            send_ack(s);
    }
}

void TcpLayer::touch_keepalive(TcpSocket& s)
{
    s.m_keepalive_sent = 0;
    s.m_keepalive_deadline = s.m_options.keepalive && s.m_state == TcpState::Established
        ? m_stack.now() + s.m_options.keepalive_idle_ns
        : 0;
}

void TcpLayer::enter_time_wait(TcpSocket& s)
{
    s.m_state = TcpState::TimeWait;
    s.m_rto_deadline = s.m_persist_deadline = s.m_keepalive_deadline = 0;
    s.m_timewait_deadline = m_stack.now() + kTimeWait;
    s.m_send_queue.clear();
    s.m_send_cursor = nullptr;
    s.m_send_bytes = 0;
    wake(s);
}

void TcpLayer::on_retransmission_timeout(TcpSocket& s)
{
    ++m_stack.counters().tcp_timeouts;
    if (s.m_state == TcpState::SynSent || s.m_state == TcpState::SynReceived) {
        if (s.m_backoff >= kMaxSynRetransmits) {
            enter_closed(s, Error::TimedOut);
            return;
        }
        ++s.m_backoff;
        s.m_rto = min(s.m_rto * 2, kMaxRto);
        s.m_rtt_timing = false;
        ++s.m_stats.retransmits;
        ++m_stack.counters().tcp_retransmits;
        send_syn(s);
        return;
    }
    if (s.m_backoff >= kMaxRetransmits) {
        send_control(s, s.m_snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
        enter_closed(s, Error::TimedOut);
        return;
    }
    // RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment, back off the timer.
    // RFC 5681 §3.1: ssthresh = max(FlightSize/2, 2·SMSS), cwnd = 1 SMSS; everything after
    // snd_una is sent again as the window reopens (go-back-N; the receiver's SACK blocks help
    // it keep what it already has).
    on_timeout_congestion(s);
    clear_scoreboard(s); // RFC 6675 §5.1: after a timeout, SACK information is not relied on
    ++s.m_backoff;
    s.m_rto = min(s.m_rto * 2, kMaxRto);
    s.m_rtt_timing = false;
    s.m_snd_nxt = s.m_snd_una;
    s.m_send_cursor = nullptr;
    output(s);
    if (!s.m_rto_deadline && s.m_snd_una != s.m_snd_max)
        arm_rto(s);
}

void TcpLayer::run_timers(TcpSocket& s, u64 now)
{
    if (s.m_rto_deadline && now >= s.m_rto_deadline) {
        s.m_rto_deadline = 0;
        on_retransmission_timeout(s);
        if (!s.m_in_use || s.m_state == TcpState::Closed)
            return;
    }
    if (s.m_delack_deadline && now >= s.m_delack_deadline) {
        s.m_delack_deadline = 0;
        send_ack(s);
    }
    if (s.m_persist_deadline && now >= s.m_persist_deadline) {
        s.m_persist_deadline = 0;
        if (s.m_snd_wnd == 0 && s.m_send_queue.front()) {
            // A zero-window probe: an old sequence number makes the peer answer with an ACK
            // carrying its current window.
            send_control(s, s.m_snd_una - 1, TcpFlag::Ack);
            ++s.m_persist_backoff;
            s.m_persist_deadline = now + min(s.m_rto << min(s.m_persist_backoff, 10u), kMaxRto);
        } else {
            output(s);
        }
    }
    if (s.m_keepalive_deadline && now >= s.m_keepalive_deadline) {
        // RFC 1122 §4.2.3.6: a probe with an old sequence number; no answer after
        // keepalive_probes tries ends the connection.
        if (s.m_keepalive_sent >= s.m_options.keepalive_probes) {
            send_control(s, s.m_snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
            enter_closed(s, Error::TimedOut);
            return;
        }
        send_control(s, s.m_snd_una - 1, TcpFlag::Ack);
        ++s.m_keepalive_sent;
        s.m_keepalive_deadline = now + s.m_options.keepalive_interval_ns;
    }
    if (s.m_timewait_deadline && now >= s.m_timewait_deadline) {
        s.m_timewait_deadline = 0;
        if (s.m_state == TcpState::TimeWait || (s.m_state == TcpState::FinWait2 && s.m_user_closed))
            enter_closed(s, Error::None);
    }
}

} // namespace skiff::net
