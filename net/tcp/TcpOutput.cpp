// Building and sending segments. Data segments are the send queue's own packet buffers: headers
// are (re)built in their headroom on every (re)transmission, the payload stays where it is —
// in the application's pinned pages (seg[]) or in follow.

#include <lib/StageProfile.h>
#include <net/CopyElimination.h>
#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

u16 TcpLayer::advertised_mss(Tcb& tcb) const
{
    return mss_for_mtu(m_stack.ipv4().mtu_for(tcb.remote.address).value_or(1500));
}

u16 TcpLayer::device_mss(Tcb& tcb) const
{
    return static_cast<u16>(m_stack.ipv4().mtu_for(tcb.remote.address).value_or(1500) - 40);
}

// RFC 9293 §3.7.1 / RFC 879: MSS = MTU - 20 (IP) - 20 (TCP), the MSS clamp to our device —
// unless the MTU lets one segment carry a whole page or more. Then the MSS is whole pages plus 12:
// the MSS option counts data only, and a sender subtracts from it the options it puts in every
// segment (RFC 9293 §3.7.1, RFC 6691 §2), which for a sender using timestamps (RFC 7323 §3, on by
// default in Linux; its tcp_current_mss() takes the 12 option bytes off the MSS it was given) are
// exactly 12 bytes: NOP NOP TS. So a full segment carries n whole pages of data, and with the
// receive placement of docs/zero-copy.md each of them fills one receive page. At MTU 9000:
// (9000 - 52) / 4096 = 2 pages, MSS 8204, 8192 bytes of data in frames of 66 + 8192 bytes;
// the 744 bytes the MTU would allow beyond are given up. A sender without timestamps sends
// 8204-byte payloads that start 12 bytes before a page: copied, as any misplaced payload is.
// RFC 9293 only bounds the MSS from above (a receiver may advertise less than the MTU allows).
// Only what we receive is shaped so: what we send is bounded by MTU - 40 (device_mss).
u16 TcpLayer::mss_for_mtu(u32 mtu)
{
    constexpr u32 kTimestampedHeaders = 20 + 20 + 12;
    u32 pages = mtu > kTimestampedHeaders ? (mtu - kTimestampedHeaders) / static_cast<u32>(kPageSize) : 0;
    if (pages == 0)
        return static_cast<u16>(mtu - 40);
    return static_cast<u16>(pages * kPageSize + 12);
}

u32 TcpLayer::write_options(Tcb& tcb, u8* out, u8 flags)
{
    u32 n = 0;
    u32 ts_value = static_cast<u32>(m_stack.now() / 1000000) + tcb.ts_offset; // a 1 ms timestamp clock
    if (flags & TcpFlag::Syn) {
        // RFC 9293 §3.1: the options end on a 32-bit boundary (the data offset counts words), so
        // every combination is laid out in whole words, in the customary aligned forms:
        //   MSS                                  [2 4 mss mss]
        //   SACK-permitted + timestamps          [4 2 8 10] [ts val] [ts ecr]
        //   NOP NOP + timestamps (no SACK)       [1 1 8 10] [ts val] [ts ecr]
        //   NOP NOP + SACK-permitted (no ts)     [1 1 4 2]
        //   NOP + window scale                   [1 3 3 shift]
        // A reply only carries what the peer offered (RFC 2018 §2, RFC 7323 §2.2 and §3.2).
        bool active = tcb.state == TcpState::SynSent;
        bool sack = active || tcb.sack_enabled;
        bool timestamps = active || tcb.ts_enabled;
        bool window_scale = active || tcb.ws_enabled;
        out[n++] = 2;
        out[n++] = 4;
        store_be16(out + n, advertised_mss(tcb));
        n += 2;
        if (timestamps) {
            out[n++] = sack ? 4 : 1;
            out[n++] = sack ? 2 : 1;
            out[n++] = 8;
            out[n++] = 10;
            store_be32(out + n, ts_value);
            store_be32(out + n + 4, tcb.ts_recent);
            n += 8;
        } else if (sack) {
            out[n++] = 1;
            out[n++] = 1;
            out[n++] = 4;
            out[n++] = 2;
        }
        if (window_scale) {
            out[n++] = 1;
            out[n++] = 3;
            out[n++] = 3;
            out[n++] = tcb.rcv_wscale;
        }
        return n;
    }
    if (tcb.ts_enabled) {
        out[n++] = 1;
        out[n++] = 1;
        out[n++] = 8;
        out[n++] = 10;
        store_be32(out + n, ts_value);
        store_be32(out + n + 4, tcb.ts_recent);
        n += 8;
    }
    return n;
}

static u32 sack_option(SackBlock const* blocks, u32 count, u32 room, u8* out)
{
    // RFC 2018 §3: kind 5, length 2 + 8n, preceded by two NOPs for alignment.
    u32 fit = room >= 12 ? (room - 4) / 8 : 0;
    count = min(count, fit);
    if (!count)
        return 0;
    out[0] = 1;
    out[1] = 1;
    out[2] = 5;
    out[3] = static_cast<u8>(2 + 8 * count);
    for (u32 i = 0; i < count; ++i) {
        store_be32(out + 4 + 8 * i, blocks[i].left);
        store_be32(out + 8 + 8 * i, blocks[i].right);
    }
    return 4 + 8 * count;
}

u32 TcpLayer::receive_window(Tcb& tcb)
{
    u32 buffer = tcb.options.receive_buffer;
    u32 used = tcb.receive_bytes + tcb.ooo_bytes;
    u32 space = used < buffer ? buffer - used : 0;
    // Every segment occupies a receive page: do not invite more than the pool can hold.
    u32 pages = m_stack.pool().receive_available();
    u32 by_pages = pages > 16 ? (pages - 16) * tcb.snd_mss : 0;
    space = min(space, by_pages);
    u32 current = seq_gt(tcb.rcv_adv, tcb.rcv_nxt) ? tcb.rcv_adv - tcb.rcv_nxt : 0;
    u32 window = space;
    // Never shrink the window (RFC 9293 §3.8.6.2.2 calls it "strongly discouraged"), and
    // receiver-side silly window avoidance: open it only in steps of min(buffer/2, MSS).
    if (window < current || window - current < min(buffer / 2, static_cast<u32>(tcb.snd_mss)))
        window = current;
    if (space >= current && current == 0 && space >= tcb.snd_mss)
        window = space;
    u8 shift = tcb.ws_enabled ? tcb.rcv_wscale : 0;
    u32 scaled = (window + (1u << shift) - 1) >> shift;
    if (scaled > 0xffff)
        scaled = 0xffff;
    u32 advertised = scaled << shift;
    if (seq_gt(tcb.rcv_nxt + advertised, tcb.rcv_adv))
        tcb.rcv_adv = tcb.rcv_nxt + advertised;
    return scaled;
}

// One segment or one TSO unit: the headers go into a head buffer of their own, which chains the
// `count` send-queue buffers from `first` on (none for a control segment) and goes down the stack;
// the send-queue buffers stay TCP's, referenced by the head until the device is done with it.
Result<void> TcpLayer::transmit(Tcb& tcb, PacketBuffer* first, u32 count, u32 sequence, u8 flags)
{
    PacketRef head = m_stack.pool().allocate_transmit();
    if (!head) {
        ++m_stack.counters().ip_no_buffer;
        return Error::NoMemory;
    }
    PacketBuffer* payload_buffer = first;
    for (u32 i = 0; i < count; ++i, payload_buffer = payload_buffer->next)
        head->chain(PacketRef::share(*payload_buffer));
    u32 payload = head->chain_length();
    // A unit when it is more than one segment's payload (the device cuts it, NetDevice.h).
    u32 mss = tcb.snd_mss;
    bool unit = payload > mss;
    u32 segments = unit ? (payload + mss - 1) / mss : 1;
    // LyraNET Fig. 5 "protocol": TCP output down to the driver (whose time is its own stage).
    profile::ScopedStage stage(profile::Stage::SendProtocol, segments, payload);
    u8 options[40];
    u32 option_length = write_options(tcb, options, flags);
    if (tcb.sack_enabled && tcb.sack_count && !(flags & TcpFlag::Syn)) {
        // Only as many SACK blocks as fit in the option space and in the MTU beside the payload
        // (of each segment of a unit: they all carry the same options).
        u32 limit = device_mss(tcb);
        u32 used = option_length + (unit ? mss : payload);
        u32 room = used < limit ? min(40 - option_length, limit - used) : 0;
        option_length += sack_option(tcb.sack_blocks, tcb.sack_count, room, options + option_length);
    }
    u32 header_length = TcpView::kMinimumHeader + option_length;
    u16 window
        = static_cast<u16>((flags & TcpFlag::Syn) ? min<u32>(tcb.options.receive_buffer, 0xffff) : receive_window(tcb));
    if (flags & TcpFlag::Syn)
        tcb.rcv_adv = tcb.rcv_nxt + window;
    u8* h = head->push_header(header_length);
    store_be16(h, tcb.local.port);
    store_be16(h + 2, tcb.remote.port);
    store_be32(h + 4, sequence);
    store_be32(h + 8, (flags & TcpFlag::Ack) ? tcb.rcv_nxt : 0);
    h[12] = static_cast<u8>((header_length / 4) << 4);
    h[13] = flags;
    store_be16(h + 14, window);
    store_be16(h + 16, 0);
    store_be16(h + 18, 0);
    __builtin_memcpy(h + TcpView::kMinimumHeader, options, option_length);
    u32 tcp_length = header_length + payload;
    ChecksumAccumulator sum;
    if (unit) {
        // TSO: the device adds each segment's TCP length into the sum it starts from, so the
        // field holds the pseudo-header's sum without the length (docs/hardware.md).
        add_pseudo_header(sum, tcb.local.address, tcb.remote.address, static_cast<u8>(IpProtocol::Tcp), 0);
        store_be16(h + 16, static_cast<u16>(~sum.finish()));
        head->meta.l4_checksum_offset = 16;
        head->meta.tso_mss = static_cast<u16>(mss);
        ++m_stack.counters().tcp_tso_units;
    } else if (m_stack.transmit_checksum_offload()) {
        // The device sums header and payload into the field (PacketMeta::l4_checksum_offset);
        // it starts from the pseudo-header's sum, stored uncomplemented. Under TCG this saves
        // summing every payload byte in the guest: the host does it natively.
        add_pseudo_header(
            sum, tcb.local.address, tcb.remote.address, static_cast<u8>(IpProtocol::Tcp), static_cast<u16>(tcp_length));
        store_be16(h + 16, static_cast<u16>(~sum.finish()));
        head->meta.l4_checksum_offset = 16;
    } else {
        add_pseudo_header(
            sum, tcb.local.address, tcb.remote.address, static_cast<u8>(IpProtocol::Tcp), static_cast<u16>(tcp_length));
        sum.add_packet(*head, 0, tcp_length);
        store_be16(h + 16, sum.finish());
    }
    if (flags & TcpFlag::Ack) {
        tcb.last_ack_sent = tcb.rcv_nxt;
        tcb.delack_deadline = Instant {};
        tcb.segments_unacked = 0;
        tcb.ack_now = false;
    }
    tcb.stats.segments_sent += segments;
    m_stack.counters().tcp_tx += segments;
    Ipv4SendOptions ip;
    ip.dont_fragment = true;
    return m_stack.ipv4().send(move(head), tcb.local.address, tcb.remote.address, IpProtocol::Tcp, ip);
}

void TcpLayer::send_control(Tcb& tcb, u32 sequence, u8 flags)
{
    if (flags & TcpFlag::Rst)
        ++m_stack.counters().tcp_resets_sent;
    (void)transmit(tcb, nullptr, 0, sequence, flags);
}

void TcpLayer::send_syn(Tcb& tcb)
{
    u8 flags = TcpFlag::Syn | (tcb.state == TcpState::SynReceived ? TcpFlag::Ack : 0);
    bool retransmission = tcb.snd_max != tcb.iss;
    send_control(tcb, tcb.iss, flags);
    tcb.snd_nxt = tcb.iss + 1;
    tcb.snd_max = tcb.iss + 1;
    if (!retransmission) {
        tcb.rtt_timing = true;
        tcb.rtt_seq = tcb.iss;
        tcb.rtt_start = now();
    }
    arm_rto(tcb);
}

// A write's bytes go out from send() itself only when no ACK is coming to clock them out
// (nothing in flight), when the application asked for no delay, or when a whole unit is waiting.
// Otherwise the next ACK's output() sends them, together with whatever else the application wrote
// meanwhile. Sending each write at once made a TSO unit, a header, a device doorbell — and, under
// QEMU, a synchronous pass over the transmit ring — per write: with 8 KiB writes the guest spent
// most of its time in doorbells, a third of the 64 KiB writes' rate. Nagle's rule (RFC 9293
// §3.7.4), which holds back a short segment while data is unacknowledged, applied to the unit a
// device cuts: without TSO the unit is one segment, and this is what send() always did.
bool TcpLayer::sends_on_write(Tcb const& tcb) const
{
    if (tcb.snd_nxt == tcb.snd_una || tcb.options.nodelay || tcb.fin_queued)
        return true;
    u32 unit = m_stack.tso_max_bytes() ? min(m_stack.tso_max_bytes(), 0xffffu - 20 - 60) : tcb.snd_mss;
    return tcb.snd_end - tcb.snd_nxt >= unit;
}

u32 TcpLayer::unit_count(Tcb& tcb, PacketBuffer* first, u32 window_end) const
{
    u32 max_bytes = m_stack.tso_max_bytes();
    if (!max_bytes)
        return 1; // no TSO: one segment at a time
    // The unit's IPv4 datagram must fit its 16-bit total length, with the largest TCP header.
    max_bytes = min(max_bytes, 0xffffu - 20 - 60);
    u32 max_pieces = m_stack.tso_max_pieces();
    u32 count = 1;
    u32 bytes = first->payload_length();
    u32 pieces = 1 + first->piece_count(); // the headers, then the payload's
    for (PacketBuffer* b = first->next; b; b = b->next) {
        u32 length = b->payload_length();
        u32 b_pieces = b->piece_count();
        if (seq_gt(b->meta.sequence + length, window_end) || b->reference_count() > 1 || bytes + length > max_bytes
            || pieces + b_pieces > max_pieces)
            break;
        ++count;
        bytes += length;
        pieces += b_pieces;
    }
    (void)tcb;
    return count;
}

void TcpLayer::output(Tcb& tcb)
{
    // Every segment this run sends shares one doorbell (NetDevice::flush).
    NetStack::TransmitBatch batch(m_stack);
    bool sends_data = tcb.state == TcpState::Established || tcb.state == TcpState::CloseWait
        || tcb.state == TcpState::FinWait1 || tcb.state == TcpState::Closing || tcb.state == TcpState::LastAck;
    // Lost segments go first (TcpCongestion.cpp), then new data while the window has room.
    if (sends_data)
        retransmit_lost(tcb);
    // The peer's window, and the congestion window over the pipe (RFC 6675 §4: what SACKs and
    // duplicate ACKs say has left the network makes room, RFC 3042's limited transmit). New data
    // adds to the pipe what it moves snd_nxt, so the end stays where it is for this whole run.
    u32 window_end = sends_data ? send_window_end(tcb) : 0;
    bool sent_new = false;
    while (sends_data) {
        PacketBuffer* next = tcb.send_cursor ? tcb.send_cursor : tcb.send_queue.front();
        while (next && seq_leq(next->meta.sequence + next->payload_length(), tcb.snd_nxt))
            next = next->next;
        tcb.send_cursor = next;
        if (!next) {
            // All data is out; the FIN follows it (it takes no window).
            if (tcb.fin_queued && tcb.snd_nxt == tcb.snd_end) {
                send_control(tcb, tcb.snd_end, TcpFlag::Fin | TcpFlag::Ack);
                tcb.snd_nxt = tcb.snd_end + 1;
                tcb.snd_max = seq_max(tcb.snd_max, tcb.snd_nxt);
                if (!tcb.rto_deadline.is_set())
                    arm_rto(tcb);
                sent_new = true;
            }
            break;
        }
        u32 length = next->payload_length();
        u32 end = next->meta.sequence + length;
        u32 in_flight = tcb.snd_nxt - tcb.snd_una;
        if (seq_gt(end, window_end)) {
            if (in_flight != 0)
                break;
            if (tcb.snd_wnd == 0) {
                // RFC 9293 §3.8.6.1: probe a zero window, backing off.
                if (!tcb.persist_deadline.is_set())
                    tcb.persist_deadline = now() + min(tcb.rto * (1ull << min(tcb.persist_backoff, 10u)), kMaxRto);
                break;
            }
            // A window narrower than the next segment and nothing in flight: send it anyway;
            // the receiver keeps what fits and the rest is retransmitted.
        }
        // Nagle (RFC 9293 §3.7.4): a short segment waits while data is unacknowledged.
        if (length < tcb.snd_mss && in_flight != 0 && !tcb.options.nodelay && next->next == nullptr && !tcb.fin_queued)
            break;
        if (next->reference_count() > 1)
            break; // the previous transmission is still in a driver's ring or ARP's queue
        // With TSO, the buffers behind it that the windows allow go with it as one unit.
        u32 count = unit_count(tcb, next, window_end);
        PacketBuffer* last = next;
        for (u32 i = 1; i < count; ++i)
            last = last->next;
        end = last->meta.sequence + last->payload_length();
        bool retransmission = seq_lt(next->meta.sequence, tcb.snd_max);
        u8 flags = TcpFlag::Ack | (last->next == nullptr ? TcpFlag::Psh : 0);
        if (transmit(tcb, next, count, next->meta.sequence, flags).is_error()) {
            if (!tcb.rto_deadline.is_set())
                arm_rto(tcb); // lost on the way out: the timer recovers it
            break;
        }
        on_segments_sent(tcb, next, count, retransmission);
        if (retransmission) {
            ++tcb.stats.retransmits;
            ++m_stack.counters().tcp_retransmits;
            tcb.rtt_timing = false;
        } else if (!tcb.rtt_timing) {
            tcb.rtt_timing = true;
            tcb.rtt_seq = next->meta.sequence;
            tcb.rtt_start = now();
        }
        tcb.snd_nxt = end;
        tcb.snd_max = seq_max(tcb.snd_max, end);
        if (!tcb.rto_deadline.is_set())
            arm_rto(tcb);
        sent_new = true;
    }
    // RFC 8985 §7.2: new data (re)starts the probe timer.
    if (sent_new)
        schedule_loss_probe(tcb);
    if (tcb.ack_now && tcb.state != TcpState::Closed && tcb.state != TcpState::SynSent)
        send_ack(tcb);
}

// Appends up to `count` application bytes at `cursor` to `buffer`'s payload and returns how many
// it took. With copy elimination the bytes are referenced through pinned pages (seg[], at most
// two pieces); anything else — copy mode, a third piece, a page that cannot be pinned (outside the
// zero-copy region), or any byte after copied ones (the wire order is seg[0], seg[1], follow) — is
// copied into follow, as far as follow has room.
//
// Pins are taken a page at a time: the first piece of a write in a page pins it once for every
// piece the write will put there (a piece never crosses a page, and after this buffer each takes
// an MSS: this piece, then one per MSS of the write's bytes left in the page); the next pieces in
// that page take one of those pins each without calling the port, and end_pin_run() gives back
// any a piece did not take (one copied into follow instead, or a write cut short). Under TCG a call into
// mm/ masks interrupts, and re-enabling them ends a translation block: one per piece made the pin
// a fifth of the guest's time on a zero-copy send (`sample`), one per page a third of that.
u32 TcpLayer::append_payload(
    Tcb& tcb, PacketBuffer& buffer, u8 const* cursor, u32 count, u8 const* write_end, bool zero_copy)
{
    Port& port = m_stack.port();
    u32 taken = 0;
    while (count) {
        // DMA page-boundary splitting (LyraNET §3.4): a piece never crosses a page.
        u64 address = reinterpret_cast<uptr>(cursor);
        u32 to_page_end = static_cast<u32>(kPageSize - (address & (kPageSize - 1)));
        u32 piece = min(count, to_page_end);
        bool pinned = false;
        if (zero_copy && buffer.segment_count() < 2 && buffer.follow_length() == 0) {
            uptr page_address = align_down(address, kPageSize);
            if (m_pin_run.unused == 0 || m_pin_run.page != page_address) {
                end_pin_run();
                // This piece, and one for each MSS-sized buffer that the rest of the write's
                // bytes in this page go to.
                u32 in_write = static_cast<u32>(min<u64>(to_page_end, static_cast<u64>(write_end - cursor)));
                u32 mss = max<u32>(tcb.snd_mss, 1);
                u32 pins = 1 + (in_write - piece + mss - 1) / mss;
                auto page = port.pin_user_page(cursor, pins);
                if (page.is_error() && page.error() == Error::Busy) {
                    // The frame's pin count is nearly saturated: one at a time.
                    auto single = port.pin_user_page(cursor, 1);
                    if (single.has_value())
                        m_pin_run = { page_address, single.value(), 1 };
                } else if (page.has_value()) {
                    m_pin_run = { page_address, page.value(), pins };
                }
            }
            if (m_pin_run.unused && m_pin_run.page == page_address) {
                --m_pin_run.unused;
                // The piece is recorded through the pinned frame's own address, not the
                // application's: checksums, PIO drivers and retransmissions then read what the
                // buffer held at send time even if the application writes (COW gives it a new
                // frame) or frees its buffer before the ACK (Port.h).
                u32 in_page = static_cast<u32>(address & (kPageSize - 1));
                PortPage frame = m_pin_run.frame;
                bool added = buffer.add_segment(
                    { frame.virt + in_page, frame.phys + in_page, piece, { frame.phys, FrameKind::Pinned } });
                VERIFY(added);
                pinned = true;
                ++tcb.stats.zero_copy_pieces;
                ++m_stack.counters().tcp_zero_copy_pieces;
                m_stack.counters().tcp_sent_zero_copy_bytes += piece;
            }
        }
        if (!pinned) {
            // follow holds 1920 bytes: all of an MSS at MTU 1500, part of a jumbo one (the
            // buffer then carries less than an MSS, and the next buffer the rest).
            piece = buffer.append_follow({ cursor, piece });
            if (!piece)
                break;
            tcb.stats.copied_bytes += piece;
            m_stack.counters().tcp_copied_bytes += piece;
        }
        cursor += piece;
        count -= piece;
        taken += piece;
    }
    return taken;
}

void TcpLayer::end_pin_run()
{
    if (m_pin_run.unused)
        m_stack.port().unpin_user_page(m_pin_run.frame.phys, m_pin_run.unused);
    m_pin_run = {};
}

// Cut the application's bytes into segment-sized buffers on the send queue. One code path for
// both modes; only where a piece of payload comes from differs.
Result<usize> TcpLayer::queue_send(Tcb& tcb, ReadonlyBytes data)
{
    u32 space = tcb.options.send_buffer > tcb.send_bytes ? tcb.options.send_buffer - tcb.send_bytes : 0;
    u32 total = static_cast<u32>(min<usize>(data.size(), space));
    if (total == 0)
        return Error::WouldBlock;
    u32 mss = tcb.snd_mss;
    u32 offset = 0;
    bool zero_copy = kCopyElimination && tcb.options.zero_copy; // constant false when compiled out
    while (offset < total) {
        // Top up the last buffer while it is unsent and short of an MSS: a write that is not a
        // multiple of the MSS would otherwise leave a runt segment behind each write (1460-byte
        // writes with timestamps: 1448 + 12 bytes, twice the segments). With copy elimination
        // only as far as the buffer's free seg[] slots reach.
        PacketBuffer* tail = tcb.send_queue.back();
        if (tail && seq_geq(tail->meta.sequence, tcb.snd_max) && tail->reference_count() == 1
            && tail->payload_length() < mss) {
            u32 count = min(mss - tail->payload_length(), total - offset);
            if (!zero_copy) {
                count = min(count, tail->follow_space());
            } else if (tail->follow_length() != 0 || tail->segment_count() == 2) {
                count = 0; // no seg[] slot left: a top-up would copy, so start a new segment
            } else {
                // Only what the free seg[] slots can reference: the rest of the source page, and
                // the next page too if both slots are free. Copy elimination never copies to
                // save a segment.
                u64 address = reinterpret_cast<uptr>(data.data() + offset);
                u32 to_page_end = static_cast<u32>(kPageSize - (address & (kPageSize - 1)));
                u32 reach = tail->segment_count() == 0 ? to_page_end + static_cast<u32>(kPageSize) : to_page_end;
                count = min(count, reach);
            }
            if (count) {
                count = append_payload(tcb, *tail, data.data() + offset, count, data.data() + total, zero_copy);
                offset += count;
                tcb.snd_end += count;
                tcb.send_bytes += count;
                tcb.send_accepted += count;
                if (count)
                    continue;
            }
        }
        // The last few transmit buffers stay free for the heads that carry headers (transmit()):
        // a send queue that took them all could never be sent.
        if (m_stack.pool().transmit_available() <= kTransmitReserve)
            break;
        PacketRef buffer = m_stack.pool().allocate_transmit();
        if (!buffer)
            break;
        buffer->meta.sequence = tcb.snd_end;
        u32 chunk = append_payload(
            tcb, *buffer, data.data() + offset, min(mss, total - offset), data.data() + total, zero_copy);
        tcb.send_queue.push(move(buffer));
        tcb.snd_end += chunk;
        tcb.send_bytes += chunk;
        tcb.send_accepted += chunk;
        offset += chunk;
    }
    end_pin_run();
    if (offset == 0)
        return Error::WouldBlock; // no packet buffer free: wait for ACKs to free some
    return static_cast<usize>(offset);
}

} // namespace skiff::net
