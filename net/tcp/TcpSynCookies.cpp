// SYN cookies (RFC 4987 §3.6): when a listener's half-open queue is full (or the socket table
// is), a SYN is answered without keeping any state; what the connection needs later is encoded
// in what the peer must echo back: our initial sequence number (in its ACK's acknowledgment
// field) and, when the SYN carried timestamps, our TSval (in its TSecr).
//
// The sequence number, ISS = MAC[31..3] | index[2..0]:
//   index  which entry of kSynCookieMss is the largest not above the MSS the SYN offered (536
//          without the option, RFC 9293 §3.7.1). Eight values peers commonly send: 536, which
//          every host takes (RFC 1122: 576-byte datagrams), also for the rare SYN offering less;
//          1200, 1300, 1360, 1400, 1440 (tunnels, VPNs, PPPoE); 1460 (Ethernet); 8960 (9000-byte
//          jumbo frames). Linux's table is 536, 1300, 1440, 1460. Between entries we send less
//          than the peer offered, never more.
//   MAC    29 bits of SipHash-2-4 over the addresses, ports, the peer's ISN and the index, keyed
//          by a secret. A forged ACK is accepted with probability 2^-29 per secret tried.
// The secret rotates: every kSynCookieRotation a new random one replaces the older of two, and
// an ACK is checked against both, so a cookie is good for one to two periods (32–64 s) and no
// longer: that is its expiry (RFC 4987 asks for one; Linux allows about two minutes). Cookies are
// also only accepted on a listener that sent some within that time, so a listener that never
// overflowed cannot be opened by guessing (Linux does the same).
//
// The timestamp (as Linux lays it out, net/ipv4/syncookies.c): TSval's low six bits carry
//   bits 0-3  the peer's window scale shift (0-14), or 15 for "no window scale option"
//   bit 4     SACK permitted
//   bit 5     ECN — Skiff does not negotiate ECN, so it is always 0
// and the rest is our millisecond clock rounded down to a multiple of 64 (never ahead of it, so
// the TSvals of the connection still only grow). A SYN without timestamps has nowhere to keep
// these: its cookie SYN-ACK offers only the MSS, and the connection runs without window scaling
// and SACK (Linux does the same).
//
// What a cookie connection loses against RFC 9293's SYN-RECEIVED state: our SYN-ACK is not
// retransmitted (a lost one costs the peer a SYN retransmission, answered with a new cookie); a
// lost final ACK is only recovered if the peer sends data (whose first segment carries the same
// ACK) — a peer that waits for us to speak first waits in vain; if the final ACK and the first
// data segment are both lost, later segments cannot be checked (their sequence number is not the
// peer's ISN + 1): they are dropped without a reset (TcpLayer::input), and the peer's
// retransmission of its first segment opens the connection; the MSS is rounded down to the table;
// no RTT sample comes from the handshake. The accept queue stays bounded: a valid cookie finding
// it full is dropped as a SYN would be.

#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

u16 const kSynCookieMss[kSynCookieMssEntries] = { 536, 1200, 1300, 1360, 1400, 1440, 1460, 8960 };

u32 syn_cookie_mss_index(u16 offered_mss)
{
    u16 mss = offered_mss ? offered_mss : 536;
    u32 index = 0;
    for (u32 i = 0; i < kSynCookieMssEntries; ++i)
        if (kSynCookieMss[i] <= mss)
            index = i;
    return index;
}

u8 syn_cookie_timestamp_bits(TcpOptions const& syn)
{
    u8 bits = syn.has_window_scale ? static_cast<u8>(syn.window_scale & 0x0f) : 0x0f;
    if (syn.sack_permitted)
        bits |= 0x10;
    return bits;
}

void TcpLayer::rotate_syn_cookie_secret(Instant now)
{
    if (m_cookie_rotated.is_set() && now - m_cookie_rotated < kSynCookieRotation)
        return;
    // Long idle: both secrets are stale; otherwise the current one becomes the previous one.
    bool both = !m_cookie_rotated.is_set() || now - m_cookie_rotated >= kSynCookieRotation * 2;
    Port& port = m_stack.port();
    m_cookie_current ^= 1;
    m_cookie_key[m_cookie_current][0] = port.random_u64();
    m_cookie_key[m_cookie_current][1] = port.random_u64();
    if (both) {
        m_cookie_key[m_cookie_current ^ 1][0] = port.random_u64();
        m_cookie_key[m_cookie_current ^ 1][1] = port.random_u64();
    }
    m_cookie_rotated = now;
}

u32 TcpLayer::syn_cookie(u32 key, SocketAddress local, SocketAddress remote, u32 peer_iss, u32 index) const
{
    u64 words[3] = { (static_cast<u64>(local.address.value) << 32) | remote.address.value,
        (static_cast<u64>(local.port) << 48) | (static_cast<u64>(remote.port) << 32) | peer_iss, index };
    u32 mac = static_cast<u32>(keyed_hash(m_cookie_key[key], words, 3) >> 32);
    return (mac & ~7u) | index;
}

// The SYN-ACK for a SYN that found no room: the cookie as ISS, nothing remembered.
void TcpLayer::send_syn_cookie(Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options)
{
    Instant now = this->now();
    rotate_syn_cookie_secret(now);
    listener.syn_cookie_sent = now;
    // A scratch block, only for building the segment: what transmit() reads from a connection.
    Tcb reply;
    reply.state = TcpState::SynReceived;
    reply.local = { packet.meta.destination, seg.destination_port() };
    reply.remote = { packet.meta.source, seg.source_port() };
    reply.options = listener.options;
    reply.irs = seg.sequence();
    reply.rcv_nxt = seg.sequence() + 1;
    u32 index = syn_cookie_mss_index(options.mss);
    reply.iss = syn_cookie(m_cookie_current, reply.local, reply.remote, seg.sequence(), index);
    if (options.has_timestamps) {
        // Window scale and SACK as the SYN offered them; their choice rides in our TSval.
        reply.ts_enabled = true;
        reply.ts_recent = options.ts_value;
        reply.sack_enabled = options.sack_permitted;
        reply.ws_enabled = options.has_window_scale;
        reply.rcv_wscale = listener_window_scale(listener);
        u32 clock = static_cast<u32>(now.ms());
        u32 tsval = (clock & ~0x3fu) | syn_cookie_timestamp_bits(options);
        if (static_cast<i32>(tsval - clock) > 0)
            tsval -= 64;
        reply.ts_offset = tsval - clock;
    }
    ++m_stack.counters().tcp_syncookies_sent;
    send_control(reply, reply.iss, TcpFlag::Syn | TcpFlag::Ack);
}

// An ACK arriving at a listener: does it carry a cookie we issued? If so, the connection the
// SYN would have opened, ESTABLISHED, on the accept queue; otherwise null.
Tcb* TcpLayer::accept_syn_cookie(
    Tcb& listener, PacketBuffer const& packet, TcpView const& seg, TcpOptions const& options, bool& checked)
{
    Instant now = this->now();
    if (!m_syn_cookies || !listener.syn_cookie_sent.is_set()
        || now - listener.syn_cookie_sent >= kSynCookieRotation * 2)
        return nullptr;
    checked = true;
    rotate_syn_cookie_secret(now);
    SocketAddress local { packet.meta.destination, seg.destination_port() };
    SocketAddress remote { packet.meta.source, seg.source_port() };
    u32 cookie = seg.acknowledgment() - 1;
    u32 peer_iss = seg.sequence() - 1;
    u32 index = cookie & 7;
    bool valid = syn_cookie(m_cookie_current, local, remote, peer_iss, index) == cookie
        || syn_cookie(m_cookie_current ^ 1, local, remote, peer_iss, index) == cookie;
    if (!valid) {
        ++m_stack.counters().tcp_syncookies_failed;
        return nullptr;
    }
    if (listener.accept_count >= listener.backlog) {
        ++m_stack.counters().tcp_backlog_full;
        return &listener; // valid, but no room: dropped, as its SYN would have been
    }
    Tcb* child = allocate_tcb();
    if (!child) {
        ++m_stack.counters().tcp_backlog_full;
        return &listener;
    }
    ++m_stack.counters().tcp_syncookies_validated;
    child->bound = true;
    child->local = local;
    child->remote = remote;
    child->options = listener.options;
    child->listener = &listener;
    child->irs = peer_iss;
    child->rcv_nxt = seg.sequence();
    child->rcv_adv = child->rcv_nxt;
    child->rcv_wscale = listener_window_scale(listener);
    // The SYN's options, as far as the cookie kept them.
    TcpOptions syn;
    syn.mss = kSynCookieMss[index];
    if (options.has_timestamps) {
        u8 bits = static_cast<u8>(options.ts_echo & 0x3f);
        syn.has_timestamps = true;
        syn.ts_value = options.ts_value;
        syn.sack_permitted = bits & 0x10;
        syn.has_window_scale = (bits & 0x0f) != 0x0f;
        syn.window_scale = syn.has_window_scale ? min<u8>(bits & 0x0f, 14) : 0;
    }
    apply_syn_options(*child, syn);
    child->iss = cookie;
    child->snd_una = child->snd_nxt = child->snd_max = child->snd_end = cookie + 1;
    child->recover = cookie;
    child->snd_wl1 = peer_iss;
    child->snd_wl2 = cookie;
    // RFC 9293 §3.10.7.4 for SYN-RECEIVED on an acceptable ACK, as if the state had been kept.
    u32 peer_window = static_cast<u32>(seg.window()) << child->snd_wscale;
    child->snd_wnd = child->max_snd_wnd = peer_window;
    child->snd_wl1 = seg.sequence();
    child->snd_wl2 = seg.acknowledgment();
    child->state = TcpState::Established;
    child->cwnd = initial_window(child->snd_mss);
    touch_keepalive(*child);
    ++listener.accept_count;
    child->accepted_pending = true;
    Tcb** link = &listener.accept_head;
    while (*link)
        link = &(*link)->accept_next;
    *link = child;
    wake(*child);
    return child;
}

} // namespace skiff::net
