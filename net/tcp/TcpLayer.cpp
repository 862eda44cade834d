#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

TcpLayer::TcpLayer(NetStack& stack)
    : m_stack(stack)
{
    for (u32 i = 0; i < kMaxSockets; ++i) {
        m_tcbs[i].socket = &m_sockets[i];
        m_sockets[i].m_layer = this;
        m_sockets[i].m_tcb = &m_tcbs[i];
    }
}

Instant TcpLayer::now() const
{
    return Instant::from_ns(m_stack.now());
}

char const* tcp_state_name(TcpState state)
{
    switch (state) {
    case TcpState::Closed: return "CLOSED";
    case TcpState::Listen: return "LISTEN";
    case TcpState::SynSent: return "SYN-SENT";
    case TcpState::SynReceived: return "SYN-RECEIVED";
    case TcpState::Established: return "ESTABLISHED";
    case TcpState::FinWait1: return "FIN-WAIT-1";
    case TcpState::FinWait2: return "FIN-WAIT-2";
    case TcpState::CloseWait: return "CLOSE-WAIT";
    case TcpState::Closing: return "CLOSING";
    case TcpState::LastAck: return "LAST-ACK";
    case TcpState::TimeWait: return "TIME-WAIT";
    }
    return "?";
}

// A block fresh from its initial values, bound to the same handle, which forgets its waiter.
static Tcb* take_block(Tcb& tcb)
{
    VERIFY(tcb.send_queue.is_empty() && tcb.receive_queue.is_empty() && tcb.ooo_queue.is_empty());
    TcpSocket* socket = tcb.socket;
    tcb.~Tcb();
    new (&tcb) Tcb {};
    tcb.socket = socket;
    tcb.in_use = true;
    socket->set_waiter(nullptr);
    socket->set_nonblocking(false);
    return &tcb;
}

Tcb* TcpLayer::allocate_tcb()
{
    Tcb* oldest_time_wait = nullptr;
    for (u32 i = 0; i < kMaxSockets; ++i) {
        Tcb& tcb = m_tcbs[i];
        if (!tcb.in_use) {
            // The lowest free block: loops over the table stop at the highest ever used.
            m_tcb_limit = max(m_tcb_limit, i + 1);
            return take_block(tcb);
        }
        if (tcb.state == TcpState::TimeWait
            && (!oldest_time_wait || tcb.timewait_deadline < oldest_time_wait->timewait_deadline))
            oldest_time_wait = &tcb;
    }
    // Table full: recycle the TIME-WAIT connection closest to its end rather than refuse.
    if (!oldest_time_wait)
        return nullptr;
    free_tcb(*oldest_time_wait);
    return take_block(*oldest_time_wait);
}

void TcpLayer::free_tcb(Tcb& tcb)
{
    if (tcb.listener) {
        Tcb& listener = *tcb.listener;
        if (tcb.accepted_pending) {
            Tcb** link = &listener.accept_head;
            while (*link && *link != &tcb)
                link = &(*link)->accept_next;
            if (*link)
                *link = tcb.accept_next;
            --listener.accept_count;
        } else {
            --listener.embryonic_count;
        }
        tcb.listener = nullptr;
    }
    if (tcb.state == TcpState::Listen) {
        // Children of a closing listener are reset: nobody will accept them.
        for (Tcb& child : tcbs()) {
            if (child.in_use && child.listener == &tcb) {
                child.listener = nullptr;
                if (child.state != TcpState::Closed)
                    send_control(child, child.snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
                child.send_queue.clear();
                child.receive_queue.clear();
                child.ooo_queue.clear();
                child.in_use = false;
                child.state = TcpState::Closed;
            }
        }
    }
    tcb.send_queue.clear();
    tcb.send_cursor = nullptr;
    tcb.receive_queue.clear();
    tcb.ooo_queue.clear();
    tcb.in_use = false;
    tcb.state = TcpState::Closed;
}

void TcpLayer::abort_all()
{
    for (Tcb& tcb : tcbs())
        if (tcb.in_use)
            free_tcb(tcb);
}

u32 TcpLayer::sockets_in_use() const
{
    u32 n = 0;
    for (Tcb const& tcb : tcbs())
        n += tcb.in_use ? 1 : 0;
    return n;
}

Result<TcpSocket*> TcpLayer::open()
{
    Tcb* tcb = allocate_tcb();
    if (!tcb)
        return Error::NoMemory;
    tcb->options.zero_copy = m_default_zero_copy;
    tcb->options.zero_copy_threshold = m_default_zero_copy_threshold;
    return tcb->socket;
}

void TcpLayer::set_default_zero_copy(bool on)
{
    m_default_zero_copy = on;
    // A listener hands its options to every connection it accepts (TcpInput); one that never
    // chose for itself (a boot-time service) follows the global switch, so `zc on` reaches the
    // echo, discard and sink services' next connections too.
    for (Tcb& tcb : tcbs()) {
        if (tcb.in_use && tcb.state == TcpState::Listen && !tcb.options.zero_copy_chosen)
            tcb.options.zero_copy = on;
    }
}

Tcb* TcpLayer::find_connection(SocketAddress local, SocketAddress remote)
{
    for (Tcb& tcb : tcbs()) {
        if (!tcb.in_use || tcb.state == TcpState::Closed || tcb.state == TcpState::Listen)
            continue;
        if (tcb.local == local && tcb.remote == remote)
            return &tcb;
    }
    return nullptr;
}

Tcb* TcpLayer::find_listener(SocketAddress local)
{
    Tcb* wildcard = nullptr;
    for (Tcb& tcb : tcbs()) {
        if (!tcb.in_use || tcb.state != TcpState::Listen || tcb.local.port != local.port)
            continue;
        if (tcb.local.address == local.address)
            return &tcb;
        if (tcb.local.address.is_any())
            wildcard = &tcb;
    }
    return wildcard;
}

bool TcpLayer::port_in_use(u16 port, Ipv4Address address) const
{
    for (Tcb const& tcb : tcbs()) {
        if (!tcb.in_use || !tcb.bound || tcb.local.port != port)
            continue;
        if (tcb.local.address.is_any() || address.is_any() || tcb.local.address == address)
            return true;
    }
    return false;
}

Result<u16> TcpLayer::ephemeral_port()
{
    return choose_ephemeral_port(
        m_stack.port().random_u64(), [this](u16 port) { return port_in_use(port, Ipv4Address::any()); });
}

// SipHash-2-4 (Aumasson & Bernstein), the keyed hash RFC 6528 §3 asks for as F().
static u64 rotl(u64 x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static u64 siphash(u64 const key[2], u64 const* words, u32 count)
{
    u64 v0 = 0x736f6d6570736575ull ^ key[0];
    u64 v1 = 0x646f72616e646f6dull ^ key[1];
    u64 v2 = 0x6c7967656e657261ull ^ key[0];
    u64 v3 = 0x7465646279746573ull ^ key[1];
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    for (u32 i = 0; i < count; ++i) {
        v3 ^= words[i];
        round();
        round();
        v0 ^= words[i];
    }
    u64 last = static_cast<u64>(count * 8) << 56;
    v3 ^= last;
    round();
    round();
    v0 ^= last;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

u32 TcpLayer::initial_sequence(SocketAddress local, SocketAddress remote)
{
    // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
    // a timer ticking every 4 µs and F a keyed hash with a secret chosen at start.
    if (!m_isn_key[0] && !m_isn_key[1]) {
        m_isn_key[0] = m_stack.port().random_u64();
        m_isn_key[1] = m_stack.port().random_u64() | 1;
    }
    u64 words[2] = { (static_cast<u64>(local.address.value) << 32) | remote.address.value,
        (static_cast<u64>(local.port) << 16) | remote.port };
    u32 m = static_cast<u32>(m_stack.now() / 4000); // 4 µs ticks
    return m + static_cast<u32>(siphash(m_isn_key, words, 2));
}

void TcpLayer::wake(Tcb& tcb)
{
    if (tcb.socket->waiter())
        m_stack.port().wake(tcb.socket->waiter());
    if (tcb.listener && tcb.listener->socket->waiter())
        m_stack.port().wake(tcb.listener->socket->waiter());
}

void TcpLayer::enter_closed(Tcb& tcb, Error error)
{
    tcb.state = TcpState::Closed;
    if (error != Error::None)
        tcb.error = error;
    tcb.rto_deadline = tcb.pto_deadline = tcb.rack_deadline = Instant {};
    tcb.delack_deadline = tcb.persist_deadline = Instant {};
    tcb.keepalive_deadline = tcb.timewait_deadline = Instant {};
    drop_send_queue(tcb);
    tcb.ooo_queue.clear();
    if (error != Error::None) {
        tcb.receive_queue.clear();
        tcb.receive_bytes = 0;
    }
    wake(tcb);
    // Nobody holds a handle (closed by the application, or a child never accepted): forget it.
    if (tcb.user_closed || tcb.listener)
        free_tcb(tcb);
}

// RFC 9293 §3.10.7.1: a segment for no connection is answered with a reset, unless it is one.
void TcpLayer::send_reset_for(PacketBuffer const& packet, TcpView const& tcp)
{
    if (tcp.has(TcpFlag::Rst))
        return;
    PacketRef reply = m_stack.pool().allocate_transmit();
    if (!reply)
        return;
    u32 sequence = 0;
    u32 ack = 0;
    u8 flags = TcpFlag::Rst;
    if (tcp.has(TcpFlag::Ack)) {
        sequence = tcp.acknowledgment();
    } else {
        u32 length = static_cast<u32>(tcp.payload().size()) + (tcp.has(TcpFlag::Syn) ? 1 : 0)
            + (tcp.has(TcpFlag::Fin) ? 1 : 0);
        ack = tcp.sequence() + length;
        flags |= TcpFlag::Ack;
    }
    u8* h = reply->push_header(TcpView::kMinimumHeader);
    store_be16(h, tcp.destination_port());
    store_be16(h + 2, tcp.source_port());
    store_be32(h + 4, sequence);
    store_be32(h + 8, ack);
    h[12] = 5 << 4;
    h[13] = flags;
    store_be16(h + 14, 0);
    store_be16(h + 16, 0);
    store_be16(h + 18, 0);
    ChecksumAccumulator sum;
    add_pseudo_header(
        sum, packet.meta.destination, packet.meta.source, static_cast<u8>(IpProtocol::Tcp), TcpView::kMinimumHeader);
    sum.add({ h, TcpView::kMinimumHeader });
    store_be16(h + 16, sum.finish());
    ++m_stack.counters().tcp_resets_sent;
    ++m_stack.counters().tcp_tx;
    (void)m_stack.ipv4().send(move(reply), packet.meta.destination, packet.meta.source, IpProtocol::Tcp);
}

void TcpLayer::input(PacketRef packet)
{
    NetCounters& counters = m_stack.counters();
    ++counters.tcp_rx;
    auto parsed = TcpView::parse(packet->linear());
    if (parsed.is_error()) {
        ++counters.tcp_drop_malformed;
        return;
    }
    TcpView tcp = parsed.value();
    ChecksumAccumulator sum;
    add_pseudo_header(sum, packet->meta.source, packet->meta.destination, static_cast<u8>(IpProtocol::Tcp),
        static_cast<u16>(packet->linear_length()));
    sum.add(packet->linear());
    if (sum.finish() != 0) {
        ++counters.tcp_drop_checksum;
        return;
    }
    TcpOptions options;
    // TCP is unicast only; a malformed option list makes the whole segment suspect.
    if (!tcp.parse_options(options) || packet->meta.link_broadcast
        || m_stack.is_broadcast_address(packet->meta.destination) || packet->meta.destination.is_multicast()) {
        ++counters.tcp_drop_malformed;
        return;
    }
    packet->meta.sequence = tcp.sequence();
    packet->meta.flags = tcp.flags();
    SocketAddress local { packet->meta.destination, tcp.destination_port() };
    SocketAddress remote { packet->meta.source, tcp.source_port() };
    Tcb* tcb = find_connection(local, remote);
    // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN above the old connection's sequence space may
    // reopen a connection still in TIME-WAIT.
    if (tcb && tcb->state == TcpState::TimeWait && tcp.has(TcpFlag::Syn) && !tcp.has(TcpFlag::Ack)
        && seq_gt(tcp.sequence(), tcb->rcv_nxt) && find_listener(local)) {
        free_tcb(*tcb);
        tcb = nullptr;
    }
    if (tcb) {
        ++tcb->stats.segments_received;
        if (tcb->state == TcpState::SynSent)
            input_syn_sent(*tcb, *packet, tcp, options);
        else
            input_synchronized(*tcb, packet, tcp, options);
        return;
    }
    if (Tcb* listener = find_listener(local)) {
        input_listen(*listener, *packet, tcp, options);
        return;
    }
    ++counters.tcp_drop_no_socket;
    send_reset_for(*packet, tcp);
}

// An ACK frees the buffers it covers, but not one the NIC still holds (a transmit, often a
// retransmission, not yet reclaimed from its ring): the ACK loop stops there. If no later ACK
// advances — the last one of a transfer — nothing else would free them, send_queued_bytes()
// would never reach zero, and a sender waiting for its data to drain waits forever (a 50 MiB
// guest->host transfer at 5% loss: 186,880 bytes "unacknowledged" for 30 s, then reset). So
// poll() frees them as the NIC lets go, and tcb_deadline() asks to be polled again meanwhile.
void TcpLayer::release_acknowledged(Tcb& tcb)
{
    if (free_sent(tcb, tcb.snd_una))
        wake(tcb);
}

// The buffers at the front of the send queue that `acked` covers and nobody else holds (a
// device's ring or ARP's queue, through a head) are freed, in order: their pins are dropped
// here, and the completion report (send_released) moves past their bytes.
bool TcpLayer::free_sent(Tcb& tcb, u32 acked)
{
    bool freed = false;
    while (PacketBuffer* front = tcb.send_queue.front()) {
        u32 length = front->payload_length();
        if (seq_gt(front->meta.sequence + length, acked) || front->reference_count() > 1)
            break;
        tcb.send_bytes -= length;
        tcb.send_released += length;
        if (tcb.send_cursor == front)
            tcb.send_cursor = nullptr;
        tcb.send_queue.drop_front();
        freed = true;
    }
    return freed;
}

// The connection will send nothing more. TCP's references go now; a device still transmitting
// one of these buffers keeps it (and its pins) until it is done, so the pinned frames stay as
// they were and an application that rewrites its buffer meanwhile takes a COW fault.
void TcpLayer::drop_send_queue(Tcb& tcb)
{
    tcb.send_queue.clear();
    tcb.send_cursor = nullptr;
    tcb.send_bytes = 0;
    tcb.send_released = tcb.send_accepted;
}

void TcpLayer::poll(u64 now_ns)
{
    for (Tcb& tcb : tcbs()) {
        if (tcb.in_use && tcb.state != TcpState::Closed && tcb.state != TcpState::Listen) {
            release_acknowledged(tcb);
            run_timers(tcb, Instant::from_ns(now_ns));
        }
    }
}

u64 TcpLayer::next_deadline() const
{
    Instant deadline = Instant::never();
    for (Tcb const& tcb : tcbs())
        if (tcb.in_use)
            deadline = min(deadline, tcb_deadline(tcb));
    return deadline.ns();
}

} // namespace skiff::net
