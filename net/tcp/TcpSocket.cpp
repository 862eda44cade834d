// The BSD calls on a TCP socket. All non-blocking; see Socket.h for how the kernel glue blocks.

#include <lib/StageProfile.h>
#include <net/CopyElimination.h>
#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

void TcpSocket::reset_state()
{
    TcpLayer* layer = m_layer;
    VERIFY(m_send_queue.is_empty() && m_receive_queue.is_empty() && m_ooo_queue.is_empty());
    *this = TcpSocket {};
    m_layer = layer;
}

Result<void> TcpSocket::bind(SocketAddress local)
{
    if (m_state != TcpState::Closed || m_bound)
        return Error::InvalidArgument;
    if (local.port == 0)
        local.port = TRY(m_layer->ephemeral_port());
    else if (m_layer->port_in_use(local.port, local.address))
        return Error::AddressInUse;
    if (!local.address.is_any() && !m_layer->m_stack.is_local_address(local.address))
        return Error::AddressNotAvailable;
    m_local = local;
    m_bound = true;
    return {};
}

Result<void> TcpSocket::listen(u32 backlog)
{
    if (m_state == TcpState::Listen) {
        m_backlog = min(max(backlog, 1u), 64u);
        return {};
    }
    if (m_state != TcpState::Closed)
        return Error::InvalidArgument;
    if (!m_bound)
        TRY(bind({}));
    m_backlog = min(max(backlog, 1u), 64u);
    m_state = TcpState::Listen;
    return {};
}

Result<TcpSocket*> TcpSocket::accept(SocketAddress* peer)
{
    if (m_state != TcpState::Listen)
        return Error::InvalidArgument;
    TcpSocket* child = m_accept_head;
    if (!child)
        return Error::WouldBlock;
    m_accept_head = child->m_accept_next;
    --m_accept_count;
    child->m_accept_next = nullptr;
    child->m_accepted_pending = false;
    child->m_listener = nullptr;
    if (peer)
        *peer = child->m_remote;
    return child;
}

Result<void> TcpSocket::connect(SocketAddress remote)
{
    switch (m_state) {
    case TcpState::Closed: break;
    case TcpState::SynSent:
    case TcpState::SynReceived: return Error::InProgress;
    case TcpState::Listen: return Error::InvalidArgument;
    default: return Error::AlreadyConnected;
    }
    if (m_error != Error::None)
        return m_error;
    if (remote.address.is_any() || remote.port == 0 || m_layer->m_stack.is_broadcast_address(remote.address))
        return Error::InvalidArgument;
    Ipv4Address source = TRY(m_layer->m_stack.ipv4().source_for(remote.address));
    if (!m_bound) {
        m_local.port = TRY(m_layer->ephemeral_port());
        m_bound = true;
    }
    if (m_local.address.is_any())
        m_local.address = source;
    m_remote = remote;
    m_rcv_wscale = 0;
    while (m_rcv_wscale < 14 && (m_options.receive_buffer >> m_rcv_wscale) > 0xffff)
        ++m_rcv_wscale;
    m_iss = m_layer->initial_sequence(m_local, m_remote);
    m_snd_una = m_snd_nxt = m_snd_max = m_iss;
    m_snd_end = m_iss + 1;
    m_recover = m_iss;
    m_state = TcpState::SynSent;
    m_layer->send_syn(*this);
    return Error::InProgress;
}

Result<usize> TcpSocket::send(ReadonlyBytes data)
{
    switch (m_state) {
    case TcpState::Established:
    case TcpState::CloseWait: break;
    case TcpState::SynSent:
    case TcpState::SynReceived: return Error::WouldBlock;
    case TcpState::Closed: return m_error != Error::None ? m_error : Error::NotConnected;
    case TcpState::Listen: return Error::NotConnected;
    default: return Error::Shutdown; // our FIN is queued: EPIPE
    }
    if (m_fin_queued)
        return Error::Shutdown;
    if (data.is_empty())
        return static_cast<usize>(0);
    usize queued;
    {
        // LyraNET Fig. 5 "socket": send() up to TCP output — the copy into follow, or pinning
        // the application's pages for seg[].
        profile::ScopedStage stage(profile::Stage::SendSocket, 1, 0);
        queued = TRY(m_layer->queue_send(*this, data));
        stage.set_bytes(queued);
    }
    m_layer->output(*this);
    return queued;
}

Result<usize> TcpSocket::recv(Bytes out)
{
    return receive(out, false);
}

Result<usize> TcpSocket::recv_zero_copy(Bytes out)
{
    return receive(out, true);
}

Result<usize> TcpSocket::receive(Bytes out, bool may_remap)
{
    // LyraNET Fig. 6 "socket": recv() into TCP's receive side, where the copy or the remap lives.
    profile::ScopedStage stage(profile::Stage::ReceiveSocket, 1, 0);
    if (m_state == TcpState::Listen)
        return Error::NotConnected;
    if (m_receive_queue.is_empty()) {
        if (m_fin_received)
            return static_cast<usize>(0); // end of stream
        if (m_error != Error::None)
            return m_error;
        if (m_state == TcpState::Closed)
            return Error::NotConnected;
        return Error::WouldBlock;
    }
    Port& port = m_layer->m_stack.port();
    usize copied = 0;
    while (copied < out.size()) {
        PacketBuffer* front = m_receive_queue.front();
        if (!front)
            break;
        u32 available = front->linear_length();
        u32 count = static_cast<u32>(min<usize>(available, out.size() - copied));
        u8* destination = out.data() + copied;
        // A short read that keeps a streaming zero-copy receiver lined up (docs/zero-copy.md):
        // with copy elimination on and a zero-copy destination, stop in front of a segment that
        // could be remapped whole. Read on, its payload would land behind the bytes just
        // written, in their page, and be copied, and so would every segment after it (each recv
        // would start part-way into a segment); stopping here, the next recv starts at the
        // segment's receive_page_offset() and takes it by remap.
        if (may_remap && copied > 0 && m_options.zero_copy && front->kind() == PacketBuffer::Kind::Receive
            && available >= m_options.zero_copy_threshold && port.is_zero_copy_region(destination, out.size() - copied))
            break;
        u64 dest_offset = reinterpret_cast<uptr>(destination) & (kPageSize - 1);
        u64 source_offset = reinterpret_cast<uptr>(front->data()) & (kPageSize - 1);
        // Zero-copy receive (docs/zero-copy.md): when the whole rest of this payload goes to the same
        // offset of a zero-copy buffer page, swap the page in instead of copying. The rest of
        // that application page is overwritten, which is why only recv_zero_copy() does this:
        // its caller gives the pages under `out` to recv whole. Only
        // the first piece of a call can be remapped: the page under any later piece also holds
        // the bytes this call has just written in front of it (a payload never starts at
        // offset 0 of its page, the headers are there), and the remap would throw them away.
        void* app_page = reinterpret_cast<void*>(align_down(reinterpret_cast<uptr>(destination), kPageSize));
        if (kCopyElimination && may_remap && m_options.zero_copy && copied == 0
            && front->kind() == PacketBuffer::Kind::Receive && count == available
            && count >= m_options.zero_copy_threshold && dest_offset == source_offset
            && port.is_zero_copy_region(app_page, kPageSize)) {
            auto old_page = port.remap_page(app_page, front->page());
            if (old_page.has_value()) {
                front->exchange_page(old_page.value());
                ++m_stats.remapped_pages;
                ++m_layer->m_stack.counters().tcp_remapped_pages;
                m_stats.remapped_bytes += count;
                m_layer->m_stack.counters().tcp_remapped_bytes += count;
                m_receive_queue.pop()->release();
                m_receive_bytes -= count;
                copied += count;
                continue;
            }
            ++m_layer->m_stack.counters().tcp_remap_refused; // a shared frame: copy instead
        }
        __builtin_memcpy(destination, front->data(), count);
        m_stats.copied_bytes += count;
        m_layer->m_stack.counters().tcp_received_copied_bytes += count;
        copied += count;
        m_receive_bytes -= count;
        if (count == available) {
            m_receive_queue.pop()->release();
        } else {
            bool pulled = front->pull(count);
            VERIFY(pulled);
        }
    }
    // A window update once the window has opened enough to matter (RFC 9293 §3.8.6.2.2). It goes
    // at once only when the peer may be held back: what is left of the last advertisement is half
    // the buffer or less. Otherwise it is due at the stack's next poll (the delayed-ACK deadline
    // moved to now), where it merges with the ACK for the next batch of data: sent from here for
    // every recv(), updates doubled the frames a streaming receiver sends (each one a doorbell
    // write and a host-side transmit, a quarter of the guest's time at 1.5 Gbit/s).
    if (m_state == TcpState::Established || m_state == TcpState::FinWait1 || m_state == TcpState::FinWait2) {
        u32 buffer = m_options.receive_buffer;
        u32 free_space = buffer > m_receive_bytes + m_ooo_bytes ? buffer - m_receive_bytes - m_ooo_bytes : 0;
        u32 advertised = seq_gt(m_rcv_adv, m_rcv_nxt) ? m_rcv_adv - m_rcv_nxt : 0;
        if (free_space > advertised && free_space - advertised >= min(buffer / 2, 2u * m_mss)) {
            u64 now = m_layer->m_stack.now();
            if (advertised <= buffer / 2)
                m_layer->send_ack(*this);
            else if (!m_delack_deadline || m_delack_deadline > now)
                m_delack_deadline = now;
        }
    }
    stage.set_bytes(copied);
    return copied;
}

u32 TcpSocket::receive_page_offset() const
{
    PacketBuffer const* front = m_receive_queue.front();
    if (!front)
        return 0;
    return static_cast<u32>(reinterpret_cast<uptr>(front->data()) & (kPageSize - 1));
}

Result<void> TcpSocket::shutdown_write()
{
    switch (m_state) {
    case TcpState::Established:
    case TcpState::SynReceived: m_state = TcpState::FinWait1; break;
    case TcpState::CloseWait: m_state = TcpState::LastAck; break;
    case TcpState::SynSent: m_layer->enter_closed(*this, Error::None); return {};
    case TcpState::Closed:
    case TcpState::Listen: return Error::NotConnected;
    default: return {}; // already shut down
    }
    m_fin_queued = true;
    m_layer->output(*this);
    return {};
}

void TcpSocket::close()
{
    if (!m_in_use)
        return;
    m_user_closed = true;
    switch (m_state) {
    case TcpState::Closed:
    case TcpState::Listen:
    case TcpState::SynSent: m_layer->free_socket(*this); return;
    default: break;
    }
    if (m_receive_bytes > 0 || !m_ooo_queue.is_empty()) {
        // RFC 2525 §2.17: closing with unread data resets, so the peer knows it was not read.
        abort();
        return;
    }
    (void)shutdown_write();
}

void TcpSocket::abort()
{
    if (!m_in_use)
        return;
    m_user_closed = true;
    bool synchronized = m_state != TcpState::Closed && m_state != TcpState::Listen && m_state != TcpState::SynSent
        && m_state != TcpState::TimeWait;
    if (synchronized)
        m_layer->send_control(*this, m_snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
    m_layer->free_socket(*this);
}

void TcpSocket::set_keepalive(bool on)
{
    m_options.keepalive = on;
    m_layer->touch_keepalive(*this);
}

void TcpSocket::set_buffer_sizes(u32 send_bytes, u32 receive_bytes)
{
    if (send_bytes)
        m_options.send_buffer = send_bytes;
    if (receive_bytes && (m_state == TcpState::Closed || m_state == TcpState::Listen))
        m_options.receive_buffer = receive_bytes; // the window scale is fixed at the handshake
}

u32 TcpSocket::poll_events() const
{
    u32 events = 0;
    switch (m_state) {
    case TcpState::Listen: return m_accept_head ? kPollIn : 0;
    case TcpState::SynSent:
    case TcpState::SynReceived: return 0;
    case TcpState::Established:
    case TcpState::CloseWait:
        if (!m_fin_queued && m_send_bytes < m_options.send_buffer)
            events |= kPollOut;
        break;
    case TcpState::Closed: events |= kPollHup; break;
    default: break;
    }
    if (m_receive_bytes || m_fin_received)
        events |= kPollIn;
    if (m_error != Error::None)
        events |= kPollErr | kPollIn;
    return events;
}

} // namespace skiff::net
