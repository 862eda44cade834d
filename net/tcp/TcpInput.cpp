// Segment arrival: RFC 9293 §3.10.7, in the order the RFC gives its steps, with the RFC 5961
// hardening of RST, SYN and ACK handling and RFC 7323's PAWS check.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

static constexpr u16 kMinimumMss = 48;

static u32 initial_window(u32 mss)
{
    // RFC 5681 §3.1: IW = 2..4 segments depending on the MSS.
    if (mss > 2190)
        return 2 * mss;
    if (mss > 1095)
        return 3 * mss;
    return 4 * mss;
}

void TcpLayer::apply_syn_options(TcpSocket& s, TcpOptions const& options)
{
    // RFC 9293 §3.7.1: without an MSS option the peer takes 536; and never more than our MTU
    // allows (the MSS clamp).
    // A tiny or zero MSS is raised to kMinimumMss (as Linux's TCP_MIN_SND_MSS) so that every
    // segment still carries data after the timestamp option.
    u16 peer_mss = options.mss ? options.mss : 536;
    s.m_mss = max(min(peer_mss, advertised_mss(s)), kMinimumMss);
    // RFC 7323 §2.2: window scaling only if both SYNs carry the option.
    s.m_ws_enabled = options.has_window_scale;
    s.m_snd_wscale = options.has_window_scale ? options.window_scale : 0;
    if (!s.m_ws_enabled)
        s.m_rcv_wscale = 0;
    s.m_ts_enabled = options.has_timestamps;
    if (s.m_ts_enabled) {
        s.m_ts_recent = options.ts_value;
        s.m_mss = max(static_cast<u16>(s.m_mss - 12), kMinimumMss); // NOP NOP TS on every segment
    }
    s.m_sack_enabled = options.sack_permitted;
}

void TcpLayer::send_challenge_ack(TcpSocket& s)
{
    // RFC 5961 §7: challenge ACKs are rate limited so they cannot be turned into a flood.
    u64 now = m_stack.now();
    if (now - m_challenge_window_start >= 1000000000ull) {
        m_challenge_window_start = now;
        m_challenge_count = 0;
    }
    if (m_challenge_count >= kChallengeAcksPerSecond)
        return;
    ++m_challenge_count;
    ++m_stack.counters().tcp_challenge_acks;
    send_ack(s);
}

void TcpLayer::input_listen(TcpSocket& listener, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options)
{
    // RFC 9293 §3.10.7.2: in LISTEN, a RST is ignored, an ACK is answered with a RST, and only
    // a SYN opens a connection.
    if (tcp.has(TcpFlag::Rst)) {
        packet->release();
        return;
    }
    if (tcp.has(TcpFlag::Ack)) {
        send_reset_for(*packet, tcp);
        packet->release();
        return;
    }
    if (!tcp.has(TcpFlag::Syn) || tcp.has(TcpFlag::Fin)) {
        packet->release();
        return;
    }
    // A bounded backlog: half-open and not-yet-accepted connections each up to the backlog.
    // A SYN beyond it is dropped silently; the peer's retransmission tries again. But with the
    // half-open ones at the bound, one whose SYN-ACK already timed out at least once (its peer
    // has not answered in a whole RTO) makes room, the one that has waited longest first (as a
    // SYN cache does, RFC 4987 §3.4): otherwise a SYN flood from addresses that never answer
    // would hold the listener shut for the whole SYN-ACK retransmission schedule (about two
    // minutes) after the flood stopped. Fresh ones are kept: evicting them would answer a burst
    // of real clients' ACKs with resets.
    if (listener.m_accept_count >= listener.m_backlog) {
        ++m_stack.counters().tcp_backlog_full;
        packet->release();
        return;
    }
    if (listener.m_embryonic_count >= listener.m_backlog) {
        TcpSocket* oldest = nullptr;
        for (TcpSocket& s : m_sockets) {
            if (!s.m_in_use || s.m_listener != &listener || s.m_accepted_pending || s.m_state != TcpState::SynReceived
                || s.m_backoff == 0)
                continue;
            if (!oldest || s.m_backoff > oldest->m_backoff
                || (s.m_backoff == oldest->m_backoff && s.m_rto_deadline < oldest->m_rto_deadline))
                oldest = &s;
        }
        ++m_stack.counters().tcp_backlog_full;
        if (!oldest) {
            packet->release();
            return;
        }
        ++m_stack.counters().tcp_half_open_evicted;
        enter_closed(*oldest, Error::ConnectionReset); // a child nobody accepted: freed at once
    }
    TcpSocket* child = allocate_socket();
    if (!child) {
        ++m_stack.counters().tcp_backlog_full;
        packet->release();
        return;
    }
    child->m_bound = true;
    child->m_local = { packet->meta.destination, tcp.destination_port() };
    child->m_remote = { packet->meta.source, tcp.source_port() };
    child->m_options = listener.m_options;
    child->m_listener = &listener;
    ++listener.m_embryonic_count;
    child->m_irs = tcp.sequence();
    child->m_rcv_nxt = tcp.sequence() + 1;
    child->m_rcv_adv = child->m_rcv_nxt;
    u32 buffer = child->m_options.receive_buffer;
    while (child->m_rcv_wscale < 14 && (buffer >> child->m_rcv_wscale) > 0xffff)
        ++child->m_rcv_wscale;
    apply_syn_options(*child, options);
    child->m_iss = initial_sequence(child->m_local, child->m_remote);
    child->m_snd_una = child->m_snd_nxt = child->m_snd_max = child->m_iss;
    child->m_snd_end = child->m_iss + 1;
    child->m_recover = child->m_iss;
    child->m_snd_wnd = tcp.window(); // RFC 7323 §2.2: the window in a SYN is never scaled
    child->m_snd_wl1 = tcp.sequence();
    child->m_snd_wl2 = child->m_iss;
    child->m_state = TcpState::SynReceived;
    packet->release();
    send_syn(*child);
}

void TcpLayer::input_syn_sent(TcpSocket& s, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options)
{
    // RFC 9293 §3.10.7.3.
    bool ack_ok = false;
    if (tcp.has(TcpFlag::Ack)) {
        if (seq_leq(tcp.acknowledgment(), s.m_iss) || seq_gt(tcp.acknowledgment(), s.m_snd_max)) {
            send_reset_for(*packet, tcp);
            packet->release();
            return;
        }
        ack_ok = true;
    }
    if (tcp.has(TcpFlag::Rst)) {
        // RFC 5961 §3.2 keeps this rule for SYN-SENT: a RST is believed only with a good ACK.
        packet->release();
        if (ack_ok)
            enter_closed(s, Error::ConnectionRefused);
        return;
    }
    if (!tcp.has(TcpFlag::Syn)) {
        packet->release();
        return;
    }
    s.m_irs = tcp.sequence();
    s.m_rcv_nxt = tcp.sequence() + 1;
    s.m_rcv_adv = s.m_rcv_nxt;
    apply_syn_options(s, options);
    s.m_snd_wnd = tcp.window();
    s.m_max_snd_wnd = s.m_snd_wnd;
    s.m_snd_wl1 = tcp.sequence();
    s.m_snd_wl2 = tcp.acknowledgment();
    packet->release();
    if (ack_ok) {
        s.m_snd_una = tcp.acknowledgment();
        s.m_state = TcpState::Established;
        s.m_cwnd = initial_window(s.m_mss);
        s.m_rto_deadline = 0;
        if (s.m_rtt_timing && s.m_backoff == 0)
            update_rtt(s, m_stack.now() - s.m_rtt_start);
        s.m_rtt_timing = false;
        s.m_backoff = 0;
        touch_keepalive(s);
        send_ack(s);
        output(s);
        wake(s);
        return;
    }
    // Simultaneous open (RFC 9293 Figure 7): both sent SYNs; answer with SYN,ACK.
    s.m_state = TcpState::SynReceived;
    send_syn(s);
}

void TcpLayer::input_synchronized(TcpSocket& s, PacketBuffer* packet, TcpView const& tcp, TcpOptions const& options)
{
    u32 payload = static_cast<u32>(tcp.payload().size());
    u32 seq = tcp.sequence();
    u32 segment_length = payload + (tcp.has(TcpFlag::Syn) ? 1 : 0) + (tcp.has(TcpFlag::Fin) ? 1 : 0);
    u32 window = seq_gt(s.m_rcv_adv, s.m_rcv_nxt) ? s.m_rcv_adv - s.m_rcv_nxt : 0;

    // A retransmission of the SYN that opened this half-open connection: our SYN,ACK was lost.
    if (s.m_state == TcpState::SynReceived && tcp.has(TcpFlag::Syn) && !tcp.has(TcpFlag::Ack) && seq == s.m_irs) {
        packet->release();
        send_syn(s);
        return;
    }

    // RFC 7323 §5.3: PAWS — a timestamp older than the most recent one means an old duplicate.
    if (s.m_ts_enabled && options.has_timestamps && !tcp.has(TcpFlag::Rst)
        && static_cast<i32>(options.ts_value - s.m_ts_recent) < 0) {
        send_ack(s);
        packet->release();
        return;
    }

    // First: is the segment acceptable (RFC 9293 §3.10.7.4, the four cases)?
    bool acceptable;
    if (segment_length == 0)
        acceptable = window == 0 ? seq == s.m_rcv_nxt : seq_leq(s.m_rcv_nxt, seq) && seq_lt(seq, s.m_rcv_nxt + window);
    else
        acceptable = window != 0
            && ((seq_leq(s.m_rcv_nxt, seq) && seq_lt(seq, s.m_rcv_nxt + window))
                || (seq_leq(s.m_rcv_nxt, seq + segment_length - 1)
                    && seq_lt(seq + segment_length - 1, s.m_rcv_nxt + window)));
    // A zero window still takes pure ACKs and segments at rcv_nxt so that ACKs are processed.
    if (!acceptable && window == 0 && seq == s.m_rcv_nxt)
        acceptable = true;
    if (!acceptable) {
        if (!tcp.has(TcpFlag::Rst)) {
            send_ack(s);
            if (s.m_state == TcpState::TimeWait && tcp.has(TcpFlag::Fin))
                s.m_timewait_deadline = m_stack.now() + kTimeWait; // a retransmitted FIN
        }
        packet->release();
        return;
    }

    // RFC 7323 §4.3: remember the peer's timestamp from segments at the left window edge.
    if (s.m_ts_enabled && options.has_timestamps && seq_leq(seq, s.m_last_ack_sent))
        s.m_ts_recent = options.ts_value;

    // Second: RST (RFC 5961 §3.2): only an exact match resets; anything else in the window
    // gets a challenge ACK, so a blind attacker must guess the sequence number exactly.
    if (tcp.has(TcpFlag::Rst)) {
        packet->release();
        if (seq != s.m_rcv_nxt) {
            send_challenge_ack(s);
            return;
        }
        if (s.m_state == TcpState::SynReceived && s.m_listener) {
            free_socket(s); // back to LISTEN: the listener never saw this one
            return;
        }
        bool orderly
            = s.m_state == TcpState::Closing || s.m_state == TcpState::LastAck || s.m_state == TcpState::TimeWait;
        enter_closed(s, orderly ? Error::None : Error::ConnectionReset);
        if (orderly && s.m_in_use)
            s.m_error = Error::None;
        return;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK.
    if (tcp.has(TcpFlag::Syn)) {
        packet->release();
        send_challenge_ack(s);
        return;
    }

    // Fifth: the ACK field.
    if (!tcp.has(TcpFlag::Ack)) {
        packet->release();
        return;
    }
    u32 peer_window = static_cast<u32>(tcp.window()) << s.m_snd_wscale;
    if (s.m_state == TcpState::SynReceived) {
        if (!(seq_lt(s.m_snd_una, tcp.acknowledgment()) && seq_leq(tcp.acknowledgment(), s.m_snd_max))) {
            send_reset_for(*packet, tcp);
            packet->release();
            return;
        }
        s.m_state = TcpState::Established;
        s.m_cwnd = initial_window(s.m_mss);
        s.m_snd_wnd = peer_window;
        s.m_max_snd_wnd = peer_window;
        s.m_snd_wl1 = seq;
        s.m_snd_wl2 = tcp.acknowledgment();
        touch_keepalive(s);
        if (s.m_listener) {
            TcpSocket& listener = *s.m_listener;
            --listener.m_embryonic_count;
            ++listener.m_accept_count;
            s.m_accepted_pending = true;
            s.m_accept_next = nullptr;
            TcpSocket** link = &listener.m_accept_head;
            while (*link)
                link = &(*link)->m_accept_next;
            *link = &s;
        }
        wake(s);
    }
    if (!process_ack(s, tcp, options, peer_window)) {
        packet->release();
        return;
    }
    bool our_fin_acked = s.m_fin_queued && seq_geq(s.m_snd_una, s.m_snd_end + 1);
    switch (s.m_state) {
    case TcpState::FinWait1:
        if (our_fin_acked) {
            s.m_state = TcpState::FinWait2;
            if (s.m_user_closed) // an orphan does not wait forever for the peer's FIN
                s.m_timewait_deadline = m_stack.now() + kTimeWait;
        }
        break;
    case TcpState::Closing:
        if (our_fin_acked) {
            enter_time_wait(s);
            packet->release();
            return;
        }
        break;
    case TcpState::LastAck:
        if (our_fin_acked) {
            packet->release();
            enter_closed(s, Error::None);
            return;
        }
        break;
    case TcpState::TimeWait:
        send_ack(s);
        s.m_timewait_deadline = m_stack.now() + kTimeWait;
        break;
    default: break;
    }
    touch_keepalive(s);

    // Seventh: segment text; eighth: FIN.
    bool takes_data
        = s.m_state == TcpState::Established || s.m_state == TcpState::FinWait1 || s.m_state == TcpState::FinWait2;
    if (payload && takes_data) {
        if (s.m_user_closed) {
            // RFC 2525 §2.17 / RFC 9293 §3.10.7.4: data for a closed application is answered
            // with a reset.
            packet->release();
            send_control(s, s.m_snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
            enter_closed(s, Error::ConnectionAborted);
            return;
        }
        bool pulled = packet->pull(tcp.header_length());
        VERIFY(pulled);
        process_data(s, packet, tcp);
    } else {
        if (tcp.has(TcpFlag::Fin) && seq + payload == s.m_rcv_nxt && s.m_state != TcpState::TimeWait)
            process_fin(s);
        else if (payload)
            s.m_ack_now = true; // data after our side saw FIN: acknowledge what we have
        packet->release();
    }
    if (s.m_in_use && s.m_state != TcpState::Closed)
        output(s);
}

bool TcpLayer::process_ack(TcpSocket& s, TcpView const& tcp, TcpOptions const& options, u32 peer_window)
{
    u32 ack = tcp.acknowledgment();
    // RFC 9293: an ACK for something not yet sent is answered with an ACK and dropped.
    if (seq_gt(ack, s.m_snd_max)) {
        send_ack(s);
        return false;
    }
    // RFC 5961 §5.2: an ACK too far below snd_una is suspicious: challenge it.
    if (seq_lt(ack, s.m_snd_una - max(s.m_max_snd_wnd, 65535u))) {
        send_challenge_ack(s);
        return false;
    }
    bool window_changed = peer_window != s.m_snd_wnd;
    if (s.m_sack_enabled && options.sack_count)
        apply_sack_blocks(s, options);
    if (seq_gt(ack, s.m_snd_una)) {
        u32 acked = ack - s.m_snd_una;
        // Free every buffer the ACK covers completely: their pages (pinned user pages on a
        // zero-copy send) go back through the port now.
        while (PacketBuffer* front = s.m_send_queue.front()) {
            u32 end = front->meta.sequence + front->payload_length();
            if (seq_gt(end, ack) || front->reference_count() > 1)
                break;
            s.m_send_bytes -= front->payload_length();
            if (s.m_send_cursor == front)
                s.m_send_cursor = nullptr;
            s.m_send_queue.pop()->release();
        }
        s.m_snd_una = ack;
        if (seq_lt(s.m_snd_nxt, s.m_snd_una))
            s.m_snd_nxt = s.m_snd_una;
        s.m_stats.bytes_acked += acked;
        // RFC 6298 §3 / RFC 7323 §4: one RTT sample per ACK that advances; with timestamps the
        // echoed value gives it, otherwise the one timed segment. After a timeout (m_backoff >
        // 0) only an echo of the retransmission itself counts: the receiver may echo the
        // timestamp of the last segment before the hole (RFC 7323 §4.3), and that "sample" spans
        // the whole backed-off wait — under 20% loss a 6 s sample made the next RTO 3.6 s, then
        // 7 s, and a transfer stalled. The retransmission left when the backed-off timer was
        // armed: m_rto_deadline - m_rto (no ACK has advanced since, or m_backoff would be 0).
        u32 now_ms = static_cast<u32>(m_stack.now() / 1000000);
        u32 retransmitted_ms = static_cast<u32>((s.m_rto_deadline - s.m_rto) / 1000000);
        bool echo_usable = s.m_backoff == 0 || static_cast<i32>(options.ts_echo - retransmitted_ms) >= 0;
        if (s.m_ts_enabled && options.has_timestamps && options.ts_echo && echo_usable) {
            u32 sample_ms = now_ms - options.ts_echo;
            if (sample_ms < 60000)
                update_rtt(s, static_cast<u64>(sample_ms) * 1000000ull + 500000);
        } else if (s.m_rtt_timing && seq_gt(ack, s.m_rtt_seq)) {
            update_rtt(s, m_stack.now() - s.m_rtt_start);
            s.m_rtt_timing = false;
        }
        s.m_backoff = 0;
        on_new_ack(s, acked);
        if (s.m_snd_una == s.m_snd_max)
            s.m_rto_deadline = 0; // RFC 6298 §5.2
        else
            arm_rto(s); // §5.3
        wake(s);
    } else if (ack == s.m_snd_una && tcp.payload().is_empty() && !tcp.has(TcpFlag::Fin) && !window_changed
        && s.m_snd_una != s.m_snd_max) {
        // RFC 5681 §2: a duplicate acknowledgment.
        on_duplicate_ack(s);
    }
    // RFC 9293 §3.10.7.4: update the send window from the newest segment only.
    if (seq_lt(s.m_snd_wl1, tcp.sequence()) || (s.m_snd_wl1 == tcp.sequence() && seq_leq(s.m_snd_wl2, ack))) {
        s.m_snd_wnd = peer_window;
        s.m_max_snd_wnd = max(s.m_max_snd_wnd, peer_window);
        s.m_snd_wl1 = tcp.sequence();
        s.m_snd_wl2 = ack;
        if (peer_window) {
            s.m_persist_deadline = 0;
            s.m_persist_backoff = 0;
        }
    }
    return true;
}

void TcpLayer::process_data(TcpSocket& s, PacketBuffer* packet, TcpView const& tcp)
{
    u32 seq = tcp.sequence();
    u32 length = packet->linear_length();
    u8 flags = tcp.flags();
    // Trim what we already have from the front, and what lies beyond our window from the back
    // (RFC 9293 §3.10.7.4 "segment text").
    if (seq_lt(seq, s.m_rcv_nxt)) {
        u32 duplicate = s.m_rcv_nxt - seq;
        if (duplicate >= length) {
            packet->release();
            s.m_ack_now = true;
            return;
        }
        bool pulled = packet->pull(duplicate);
        VERIFY(pulled);
        seq = s.m_rcv_nxt;
        length -= duplicate;
    }
    if (seq_gt(seq + length, s.m_rcv_adv) && seq_gt(s.m_rcv_adv, seq)) {
        length = s.m_rcv_adv - seq;
        bool truncated = packet->truncate(length);
        VERIFY(truncated);
        flags &= static_cast<u8>(~TcpFlag::Fin);
    }
    packet->meta.sequence = seq;
    packet->meta.aux = seq + length;
    packet->meta.flags = flags;
    s.m_stats.bytes_received += length;
    if (seq != s.m_rcv_nxt) {
        // A gap: keep it (bounded) and ACK at once with SACK blocks (RFC 5681 §4.2).
        queue_out_of_order(s, packet);
        s.m_ack_now = true;
        return;
    }
    bool filled_gap = !s.m_ooo_queue.is_empty();
    s.m_receive_queue.push(packet);
    s.m_receive_bytes += length;
    s.m_rcv_nxt += length;
    if (filled_gap)
        drain_out_of_order(s);
    if (flags & TcpFlag::Fin)
        process_fin(s);
    if (filled_gap)
        s.m_ack_now = true; // RFC 5681 §4.2: ACK at once when a gap is filled
    else
        schedule_ack(s, length >= s.m_mss);
    wake(s);
}

void TcpLayer::process_fin(TcpSocket& s)
{
    if (s.m_fin_received)
        return;
    s.m_fin_received = true;
    s.m_rcv_nxt += 1;
    s.m_ack_now = true;
    bool our_fin_acked = s.m_fin_queued && seq_geq(s.m_snd_una, s.m_snd_end + 1);
    switch (s.m_state) {
    case TcpState::SynReceived:
    case TcpState::Established: s.m_state = TcpState::CloseWait; break;
    case TcpState::FinWait1:
        if (our_fin_acked) {
            enter_time_wait(s);
        } else {
            s.m_state = TcpState::Closing;
        }
        break;
    case TcpState::FinWait2: enter_time_wait(s); break;
    default: break;
    }
    wake(s);
}

} // namespace skiff::net
