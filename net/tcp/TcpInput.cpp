// Segment arrival: RFC 9293 §3.10.7, one function per step of the RFC, in its order, with the
// RFC 5961 hardening of RST, SYN and ACK handling and RFC 7323's PAWS check.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

static constexpr u16 kMinimumMss = 48;

u32 TcpLayer::initial_window(u32 mss)
{
    // RFC 5681 §3.1: IW = 2..4 segments depending on the MSS.
    if (mss > 2190)
        return 2 * mss;
    if (mss > 1095)
        return 3 * mss;
    return 4 * mss;
}

void TcpLayer::apply_syn_options(Tcb& tcb, TcpOptions const& options)
{
    // RFC 9293 §3.7.1: without an MSS option the peer takes 536; and never more than our MTU
    // allows (the MSS clamp).
    // A tiny or zero MSS is raised to kMinimumMss (as Linux's TCP_MIN_SND_MSS) so that every
    // segment still carries data after the timestamp option.
    u16 peer_mss = options.mss ? options.mss : 536;
    tcb.snd_mss = max(min(peer_mss, device_mss(tcb)), kMinimumMss);
    // RFC 7323 §2.2: window scaling only if both SYNs carry the option.
    tcb.ws_enabled = options.has_window_scale;
    tcb.snd_wscale = options.has_window_scale ? options.window_scale : 0;
    if (!tcb.ws_enabled)
        tcb.rcv_wscale = 0;
    tcb.ts_enabled = options.has_timestamps;
    if (tcb.ts_enabled) {
        tcb.ts_recent = options.ts_value;
        tcb.snd_mss = max(static_cast<u16>(tcb.snd_mss - 12), kMinimumMss); // NOP NOP TS on every segment
    }
    tcb.sack_enabled = options.sack_permitted;
}

void TcpLayer::send_challenge_ack(Tcb& tcb)
{
    // RFC 5961 §7: challenge ACKs are rate limited so they cannot be turned into a flood.
    Instant now = this->now();
    if (now - m_challenge_window_start >= Duration::from_s(1)) {
        m_challenge_window_start = now;
        m_challenge_count = 0;
    }
    if (m_challenge_count >= kChallengeAcksPerSecond)
        return;
    ++m_challenge_count;
    ++m_stack.counters().tcp_challenge_acks;
    send_ack(tcb);
}

void TcpLayer::input_listen(Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options)
{
    // RFC 9293 §3.10.7.2: in LISTEN, a RST is ignored, an ACK is answered with a RST, and only
    // a SYN opens a connection.
    if (seg.has(TcpFlag::Rst))
        return;
    if (seg.has(TcpFlag::Ack)) {
        send_reset_for(packet, seg);
        return;
    }
    if (!seg.has(TcpFlag::Syn) || seg.has(TcpFlag::Fin))
        return;
    // A bounded backlog: not-yet-accepted connections up to the backlog (a SYN beyond it is
    // dropped silently: the peer's retransmission tries again once the application accepts),
    // half-open ones up to the backlog too. A SYN that finds the half-open queue (or the socket
    // table) full is answered with a SYN cookie and nothing is kept (TcpSynCookies.cpp), so a
    // flood of SYNs from addresses that never answer cannot shut real clients out. (Before
    // cookies, half-open connections whose SYN-ACK had timed out gave way to new SYNs; with
    // cookies that is not needed, and it cost a walk of the socket table per SYN in a flood.)
    if (listener.accept_count >= listener.backlog) {
        ++m_stack.counters().tcp_backlog_full;
        return;
    }
    Tcb* child = listener.embryonic_count < listener.backlog ? allocate_tcb() : nullptr;
    if (!child) {
        if (m_syn_cookies)
            send_syn_cookie(listener, packet, seg, options);
        else
            ++m_stack.counters().tcp_backlog_full;
        return;
    }
    child->bound = true;
    child->local = { packet.meta.destination, seg.destination_port() };
    child->remote = { packet.meta.source, seg.source_port() };
    child->options = listener.options;
    child->listener = &listener;
    ++listener.embryonic_count;
    child->irs = seg.sequence();
    child->rcv_nxt = seg.sequence() + 1;
    child->rcv_adv = child->rcv_nxt;
    child->rcv_wscale = listener_window_scale(listener);
    apply_syn_options(*child, options);
    child->iss = initial_sequence(child->local, child->remote);
    child->snd_una = child->snd_nxt = child->snd_max = child->iss;
    child->snd_end = child->iss + 1;
    child->recover = child->iss;
    child->snd_wnd = seg.window(); // RFC 7323 §2.2: the window in a SYN is never scaled
    child->snd_wl1 = seg.sequence();
    child->snd_wl2 = child->iss;
    child->state = TcpState::SynReceived;
    send_syn(*child);
}

void TcpLayer::input_syn_sent(Tcb& tcb, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options)
{
    // RFC 9293 §3.10.7.3.
    bool ack_ok = false;
    if (seg.has(TcpFlag::Ack)) {
        if (seq_leq(seg.acknowledgment(), tcb.iss) || seq_gt(seg.acknowledgment(), tcb.snd_max)) {
            send_reset_for(packet, seg);
            return;
        }
        ack_ok = true;
    }
    if (seg.has(TcpFlag::Rst)) {
        // RFC 5961 §3.2 keeps this rule for SYN-SENT: a RST is believed only with a good ACK.
        if (ack_ok)
            enter_closed(tcb, Error::ConnectionRefused);
        return;
    }
    if (!seg.has(TcpFlag::Syn))
        return;
    tcb.irs = seg.sequence();
    tcb.rcv_nxt = seg.sequence() + 1;
    tcb.rcv_adv = tcb.rcv_nxt;
    apply_syn_options(tcb, options);
    tcb.snd_wnd = seg.window();
    tcb.max_snd_wnd = tcb.snd_wnd;
    tcb.snd_wl1 = seg.sequence();
    tcb.snd_wl2 = seg.acknowledgment();
    if (ack_ok) {
        tcb.snd_una = seg.acknowledgment();
        tcb.state = TcpState::Established;
        tcb.cwnd = initial_window(tcb.snd_mss);
        tcb.rto_deadline = Instant {};
        if (tcb.rtt_timing && tcb.backoff == 0)
            update_rtt(tcb, now() - tcb.rtt_start);
        tcb.rtt_timing = false;
        tcb.backoff = 0;
        touch_keepalive(tcb);
        send_ack(tcb);
        output(tcb);
        wake(tcb);
        return;
    }
    // Simultaneous open (RFC 9293 Figure 7): both sent SYNs; answer with SYN,ACK.
    tcb.state = TcpState::SynReceived;
    send_syn(tcb);
}

// RFC 9293 §3.10.7.4, SYN-RECEIVED through TIME-WAIT: the steps in the RFC's order (the third,
// security, does not apply: no IPv4 security option is used).
void TcpLayer::input_synchronized(Tcb& tcb, PacketRef& packet, TcpView const& seg, TcpOptions const& options)
{
    if (!check_sequence_number(tcb, seg, options) || !check_rst(tcb, seg) || !check_syn(tcb, seg)
        || !check_ack(tcb, *packet, seg, options))
        return;
    check_urg(tcb, seg);
    if (!process_segment_text(tcb, packet, seg))
        check_fin(tcb, seg);
    if (tcb.in_use && tcb.state != TcpState::Closed)
        output(tcb);
}

// §3.10.7.4 "First, check sequence number": is the segment acceptable (the four cases of the
// RCV.WND test), with RFC 7323's PAWS in front (§5.3) and its TS.Recent update behind (§4.3).
bool TcpLayer::check_sequence_number(Tcb& tcb, TcpView const& seg, TcpOptions const& options)
{
    u32 seq = seg.sequence();
    u32 seg_len = seg.payload_length() + (seg.has(TcpFlag::Syn) ? 1 : 0) + (seg.has(TcpFlag::Fin) ? 1 : 0);
    u32 window = tcb.rcv_wnd();

    // A retransmission of the SYN that opened this half-open connection: our SYN,ACK was lost.
    if (tcb.state == TcpState::SynReceived && seg.has(TcpFlag::Syn) && !seg.has(TcpFlag::Ack) && seq == tcb.irs) {
        send_syn(tcb);
        return false;
    }

    // RFC 7323 §5.3: PAWS — a timestamp older than the most recent one means an old duplicate.
    if (tcb.ts_enabled && options.has_timestamps && !seg.has(TcpFlag::Rst)
        && static_cast<i32>(options.ts_value - tcb.ts_recent) < 0) {
        send_ack(tcb);
        return false;
    }

    bool acceptable;
    if (seg_len == 0)
        acceptable = window == 0 ? seq == tcb.rcv_nxt : seq_leq(tcb.rcv_nxt, seq) && seq_lt(seq, tcb.rcv_nxt + window);
    else
        acceptable = window != 0
            && ((seq_leq(tcb.rcv_nxt, seq) && seq_lt(seq, tcb.rcv_nxt + window))
                || (seq_leq(tcb.rcv_nxt, seq + seg_len - 1) && seq_lt(seq + seg_len - 1, tcb.rcv_nxt + window)));
    // A zero window still takes pure ACKs and segments at rcv_nxt so that ACKs are processed.
    if (!acceptable && window == 0 && seq == tcb.rcv_nxt)
        acceptable = true;
    if (!acceptable) {
        if (!seg.has(TcpFlag::Rst)) {
            send_ack(tcb);
            if (tcb.state == TcpState::TimeWait && seg.has(TcpFlag::Fin))
                tcb.timewait_deadline = now() + kTimeWait; // a retransmitted FIN
        }
        return false;
    }

    // RFC 7323 §4.3: remember the peer's timestamp from segments at the left window edge.
    if (tcb.ts_enabled && options.has_timestamps && seq_leq(seq, tcb.last_ack_sent))
        tcb.ts_recent = options.ts_value;
    return true;
}

// §3.10.7.4 "Second, check the RST bit", as RFC 5961 §3.2 hardens it: only an exact match
// resets; anything else in the window gets a challenge ACK, so a blind attacker must guess the
// sequence number exactly.
bool TcpLayer::check_rst(Tcb& tcb, TcpView const& seg)
{
    if (!seg.has(TcpFlag::Rst))
        return true;
    if (seg.sequence() != tcb.rcv_nxt) {
        send_challenge_ack(tcb);
        return false;
    }
    if (tcb.state == TcpState::SynReceived && tcb.listener) {
        free_tcb(tcb); // back to LISTEN: the listener never saw this one
        return false;
    }
    bool orderly = tcb.state == TcpState::Closing || tcb.state == TcpState::LastAck || tcb.state == TcpState::TimeWait;
    enter_closed(tcb, orderly ? Error::None : Error::ConnectionReset);
    if (orderly && tcb.in_use)
        tcb.error = Error::None;
    return false;
}

// §3.10.7.4 "Fourth, check the SYN bit": a SYN in a synchronized state draws a challenge ACK
// (RFC 5961 §4.2) instead of a reset.
bool TcpLayer::check_syn(Tcb& tcb, TcpView const& seg)
{
    if (!seg.has(TcpFlag::Syn))
        return true;
    send_challenge_ack(tcb);
    return false;
}

// §3.10.7.4 "Fifth, check the ACK field": SYN-RECEIVED becomes ESTABLISHED on an acceptable
// ACK; the ACK advances SND.UNA and the window (process_ack); then what each closing state does
// when our FIN is acknowledged.
bool TcpLayer::check_ack(Tcb& tcb, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options)
{
    if (!seg.has(TcpFlag::Ack)) {
        return false;
    }
    u32 peer_window = static_cast<u32>(seg.window()) << tcb.snd_wscale;
    if (tcb.state == TcpState::SynReceived) {
        if (!(seq_lt(tcb.snd_una, seg.acknowledgment()) && seq_leq(seg.acknowledgment(), tcb.snd_max))) {
            send_reset_for(packet, seg);
            return false;
        }
        tcb.state = TcpState::Established;
        tcb.cwnd = initial_window(tcb.snd_mss);
        tcb.snd_wnd = peer_window;
        tcb.max_snd_wnd = peer_window;
        tcb.snd_wl1 = seg.sequence();
        tcb.snd_wl2 = seg.acknowledgment();
        touch_keepalive(tcb);
        if (tcb.listener) {
            Tcb& listener = *tcb.listener;
            --listener.embryonic_count;
            ++listener.accept_count;
            tcb.accepted_pending = true;
            tcb.accept_next = nullptr;
            Tcb** link = &listener.accept_head;
            while (*link)
                link = &(*link)->accept_next;
            *link = &tcb;
        }
        wake(tcb);
    }
    if (!process_ack(tcb, seg, options, peer_window)) {
        return false;
    }
    bool our_fin_acked = tcb.fin_queued && seq_geq(tcb.snd_una, tcb.snd_end + 1);
    switch (tcb.state) {
    case TcpState::FinWait1:
        if (our_fin_acked) {
            tcb.state = TcpState::FinWait2;
            if (tcb.user_closed) // an orphan does not wait forever for the peer's FIN
                tcb.timewait_deadline = now() + kTimeWait;
        }
        break;
    case TcpState::Closing:
        if (our_fin_acked) {
            enter_time_wait(tcb);
            return false;
        }
        break;
    case TcpState::LastAck:
        if (our_fin_acked) {
            enter_closed(tcb, Error::None);
            return false;
        }
        break;
    case TcpState::TimeWait:
        send_ack(tcb);
        tcb.timewait_deadline = now() + kTimeWait;
        break;
    default: break;
    }
    touch_keepalive(tcb);
    return true;
}

// §3.10.7.4 "Sixth, check the URG bit": urgent data is not supported (net/README.md); the
// urgent pointer is ignored and the bytes are delivered inline, in sequence, like any other
// (RFC 6093 §6 recommends that applications not rely on it).
void TcpLayer::check_urg(Tcb&, TcpView const&) { }

// §3.10.7.4 "Seventh, process the segment text", in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2.
// Returns whether it dealt with the segment: a FIN that arrives with data is taken with it, in
// sequence (process_data, which queues out-of-order data too).
bool TcpLayer::process_segment_text(Tcb& tcb, PacketRef& packet, TcpView const& seg)
{
    bool takes_data
        = tcb.state == TcpState::Established || tcb.state == TcpState::FinWait1 || tcb.state == TcpState::FinWait2;
    if (seg.payload_length() == 0 || !takes_data)
        return false;
    if (tcb.user_closed) {
        // RFC 2525 §2.17 / §3.10.7.4: data for a closed application is answered with a reset.
        send_control(tcb, tcb.snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
        enter_closed(tcb, Error::ConnectionAborted);
        return true;
    }
    bool pulled = packet->pull(seg.header_length());
    VERIFY(pulled);
    process_data(tcb, move(packet), seg);
    return true;
}

// §3.10.7.4 "Eighth, check the FIN bit", for a segment whose text was not taken: a FIN in
// sequence closes the receive side; data after our side already saw the peer's FIN is only
// acknowledged.
void TcpLayer::check_fin(Tcb& tcb, TcpView const& seg)
{
    u32 payload = seg.payload_length();
    if (seg.has(TcpFlag::Fin) && seg.sequence() + payload == tcb.rcv_nxt && tcb.state != TcpState::TimeWait)
        process_fin(tcb);
    else if (payload)
        tcb.ack_now = true; // data after our side saw FIN: acknowledge what we have
}

// RFC 2883: a first SACK block below the cumulative ACK, or inside the second block, reports a
// segment received twice.
static bool find_dsack(u32 ack, TcpOptions const& options, SackBlock& block)
{
    if (!options.sack_count)
        return false;
    SackBlock first = options.sack[0];
    if (!seq_gt(first.right, first.left))
        return false;
    bool below = seq_leq(first.right, ack);
    bool inside = options.sack_count > 1 && seq_geq(first.left, options.sack[1].left)
        && seq_leq(first.right, options.sack[1].right);
    if (below || inside)
        block = first;
    return below || inside;
}

bool TcpLayer::process_ack(Tcb& tcb, TcpView const& seg, TcpOptions const& options, u32 peer_window)
{
    u32 ack = seg.acknowledgment();
    // RFC 9293: an ACK for something not yet sent is answered with an ACK and dropped.
    if (seq_gt(ack, tcb.snd_max)) {
        send_ack(tcb);
        return false;
    }
    // RFC 5961 §5.2: an ACK too far below snd_una is suspicious: challenge it.
    if (seq_lt(ack, tcb.snd_una - max(tcb.max_snd_wnd, 65535u))) {
        send_challenge_ack(tcb);
        return false;
    }
    bool window_changed = peer_window != tcb.snd_wnd;
    AckSample sample;
    if (tcb.sack_enabled) {
        sample.dsack = find_dsack(ack, options, sample.dsack_block);
        if (options.sack_count)
            sample.delivered += apply_sack_blocks(tcb, options);
    }
    if (seq_gt(ack, tcb.snd_una)) {
        u32 acked = ack - tcb.snd_una;
        sample.acked = acked;
        sample.delivered += deliver_cumulative(tcb, ack);
        // Free every buffer the ACK covers completely: their pages (pinned user pages on a
        // zero-copy send) go back through the port now.
        (void)free_sent(tcb, ack);
        tcb.snd_una = ack;
        if (seq_lt(tcb.snd_nxt, tcb.snd_una))
            tcb.snd_nxt = tcb.snd_una;
        tcb.stats.bytes_acked += acked;
        // RFC 6298 §3 / RFC 7323 §4: one RTT sample per ACK that advances; with timestamps the
        // echoed value gives it, otherwise the one timed segment. After a timeout (backoff >
        // 0) only an echo of the retransmission itself counts: the receiver may echo the
        // timestamp of the last segment before the hole (RFC 7323 §4.3), and that "sample" spans
        // the whole backed-off wait — under 20% loss a 6 s sample made the next RTO 3.6 s, then
        // 7 s, and a transfer stalled. The retransmission left when the backed-off timer was
        // armed: rto_deadline - rto (no ACK has advanced since, or backoff would be 0).
        u32 now_ms = static_cast<u32>(now().ms());
        u32 retransmitted_ms = static_cast<u32>((tcb.rto_deadline - tcb.rto).ms());
        bool echo_usable = tcb.backoff == 0 || static_cast<i32>(options.ts_echo - retransmitted_ms) >= 0;
        if (tcb.ts_enabled && options.has_timestamps && options.ts_echo && echo_usable) {
            u32 sample_ms = now_ms + tcb.ts_offset - options.ts_echo;
            if (sample_ms < 60000)
                update_rtt(tcb, Duration::from_ms(sample_ms) + Duration::from_us(500));
        } else if (tcb.rtt_timing && seq_gt(ack, tcb.rtt_seq)) {
            update_rtt(tcb, now() - tcb.rtt_start);
            tcb.rtt_timing = false;
        }
        tcb.backoff = 0;
        if (tcb.snd_una == tcb.snd_max)
            tcb.rto_deadline = Instant {}; // RFC 6298 §5.2
        else
            arm_rto(tcb); // §5.3
        wake(tcb);
    } else if (ack == tcb.snd_una && seg.payload_length() == 0 && !seg.has(TcpFlag::Fin)) {
        sample.pure_duplicate = !options.sack_count;
        // RFC 5681 §2: a duplicate acknowledgment.
        if (!window_changed && tcb.snd_una != tcb.snd_max) {
            sample.duplicate = true;
            ++tcb.dupacks;
        }
    }
    on_ack_congestion(tcb, sample);
    // RFC 9293 §3.10.7.4: update the send window from the newest segment only.
    if (seq_lt(tcb.snd_wl1, seg.sequence()) || (tcb.snd_wl1 == seg.sequence() && seq_leq(tcb.snd_wl2, ack))) {
        tcb.snd_wnd = peer_window;
        tcb.max_snd_wnd = max(tcb.max_snd_wnd, peer_window);
        tcb.snd_wl1 = seg.sequence();
        tcb.snd_wl2 = ack;
        if (peer_window) {
            tcb.persist_deadline = Instant {};
            tcb.persist_backoff = 0;
        }
    }
    return true;
}

PayloadDestination TcpLayer::place_payload(PacketBuffer& buffer, PacketMeta& meta, TcpView const& seg, u32 length)
{
    Tcb* found = find_connection({ meta.destination, seg.destination_port() }, { meta.source, seg.source_port() });
    if (!found || !found->posted.active)
        return {};
    Tcb& tcb = *found;
    PostedReceive& posted = tcb.posted;
    // Only a plain in-order data segment the buffer takes whole, with nothing queued in front of
    // it: everything else needs what the ordinary path does with a packet (trimming, queueing
    // out of order, a FIN, a reset, urgent data). One that fills a gap is fine: the segments
    // held out of order behind it go to the queue once it is committed (process_placed).
    bool takes_data
        = tcb.state == TcpState::Established || tcb.state == TcpState::FinWait1 || tcb.state == TcpState::FinWait2;
    u8 flags = seg.flags();
    if (!takes_data || tcb.user_closed || !(flags & TcpFlag::Ack)
        || (flags & (TcpFlag::Syn | TcpFlag::Rst | TcpFlag::Fin | TcpFlag::Urg)) || !tcb.receive_queue.is_empty()
        || seg.sequence() != tcb.rcv_nxt + posted.reserved || seq_gt(seg.sequence() + length, tcb.rcv_adv))
        return {};
    u32 at = posted.filled + posted.reserved;
    if (length > posted.length - at)
        return {};
    PayloadDestination destination;
    u8* application = posted.buffer + at;
    for (u32 left = length; left;) {
        u32 in_page = min(left, static_cast<u32>(kPageSize - (reinterpret_cast<uptr>(application) & (kPageSize - 1))));
        if (destination.count == PayloadDestination::kMaxPieces)
            return {};
        auto alias = m_stack.port().posted_destination(posted.owner, application, in_page);
        if (alias.is_error())
            return {};
        destination.piece[destination.count++] = { alias.value(), in_page };
        application += in_page;
        left -= in_page;
    }
    for (u32 i = 0; i < destination.count; ++i) {
        bool added = buffer.add_placed(destination.piece[i].data(), static_cast<u32>(destination.piece[i].size()));
        VERIFY(added);
    }
    posted.reserved += length;
    ++posted.reserved_segments;
    meta.placed_at = at;
    return destination;
}

// A segment whose payload the driver read straight into the posted buffer. It is the
// application's once TCP has accepted the segment here, in order and where it was placed;
// otherwise (a segment placed behind one that was then dropped, a posting ended meanwhile) it is
// dropped, its bytes in the buffer are not counted as received, and the peer retransmits.
void TcpLayer::process_placed(Tcb& tcb, PacketRef packet, TcpView const& seg)
{
    u32 length = packet->payload_length();
    PostedReceive& posted = tcb.posted;
    if (posted.reserved_segments) {
        --posted.reserved_segments;
        posted.reserved -= min(length, posted.reserved);
    }
    bool in_place = posted.active && seg.sequence() == tcb.rcv_nxt && packet->meta.placed_at == posted.filled
        && length <= posted.length - posted.filled && tcb.receive_queue.is_empty()
        && seq_leq(tcb.rcv_nxt + length, tcb.rcv_adv);
    if (!in_place) {
        ++m_stack.counters().tcp_placed_dropped;
        tcb.ack_now = true;
        return;
    }
    posted.filled += length;
    tcb.rcv_nxt += length;
    tcb.stats.bytes_received += length;
    tcb.stats.placed_bytes += length;
    m_stack.counters().tcp_placed_bytes += length;
    ++m_stack.counters().tcp_placed_segments;
    bool filled_gap = !tcb.ooo_queue.is_empty();
    if (filled_gap) {
        drain_out_of_order(tcb);
        tcb.ack_now = true;
    } else {
        schedule_ack(tcb, length >= tcb.snd_mss);
    }
    wake(tcb);
}

void TcpLayer::process_data(Tcb& tcb, PacketRef packet, TcpView const& seg)
{
    if (packet->payload_length()) {
        process_placed(tcb, move(packet), seg);
        return;
    }
    u32 seq = seg.sequence();
    u32 length = packet->linear_length();
    u8 flags = seg.flags();
    // Trim what we already have from the front, and what lies beyond our window from the back
    // (RFC 9293 §3.10.7.4 "segment text").
    if (seq_lt(seq, tcb.rcv_nxt)) {
        u32 duplicate = tcb.rcv_nxt - seq;
        if (duplicate >= length) {
            tcb.ack_now = true;
            return;
        }
        bool pulled = packet->pull(duplicate);
        VERIFY(pulled);
        seq = tcb.rcv_nxt;
        length -= duplicate;
    }
    if (seq_gt(seq + length, tcb.rcv_adv) && seq_gt(tcb.rcv_adv, seq)) {
        length = tcb.rcv_adv - seq;
        bool truncated = packet->truncate(length);
        VERIFY(truncated);
        flags &= static_cast<u8>(~TcpFlag::Fin);
    }
    packet->meta.sequence = seq;
    packet->meta.aux = seq + length;
    packet->meta.flags = flags;
    tcb.stats.bytes_received += length;
    if (seq != tcb.rcv_nxt) {
        // A gap: keep it (bounded) and ACK at once with SACK blocks (RFC 5681 §4.2).
        queue_out_of_order(tcb, move(packet));
        tcb.ack_now = true;
        return;
    }
    bool filled_gap = !tcb.ooo_queue.is_empty();
    tcb.receive_queue.push(move(packet));
    tcb.receive_bytes += length;
    tcb.rcv_nxt += length;
    if (filled_gap)
        drain_out_of_order(tcb);
    if (flags & TcpFlag::Fin)
        process_fin(tcb);
    if (filled_gap)
        tcb.ack_now = true; // RFC 5681 §4.2: ACK at once when a gap is filled
    else
        schedule_ack(tcb, length >= tcb.snd_mss);
    wake(tcb);
}

void TcpLayer::process_fin(Tcb& tcb)
{
    if (tcb.fin_received)
        return;
    tcb.fin_received = true;
    tcb.rcv_nxt += 1;
    tcb.ack_now = true;
    bool our_fin_acked = tcb.fin_queued && seq_geq(tcb.snd_una, tcb.snd_end + 1);
    switch (tcb.state) {
    case TcpState::SynReceived:
    case TcpState::Established: tcb.state = TcpState::CloseWait; break;
    case TcpState::FinWait1:
        if (our_fin_acked) {
            enter_time_wait(tcb);
        } else {
            tcb.state = TcpState::Closing;
        }
        break;
    case TcpState::FinWait2: enter_time_wait(tcb); break;
    default: break;
    }
    wake(tcb);
}

} // namespace skiff::net
