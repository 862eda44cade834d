// The BSD calls on a TCP socket. All non-blocking; see Socket.h for how the kernel glue blocks.

#include <lib/StageProfile.h>
#include <net/CopyElimination.h>
#include <net/NetStack.h>
#include <net/tcp/TcpLayer.h>

namespace skiff::net {

Result<void> TcpSocket::bind(SocketAddress local)
{
    if (m_tcb->state != TcpState::Closed || m_tcb->bound)
        return Error::InvalidArgument;
    if (local.port == 0)
        local.port = TRY(m_layer->ephemeral_port());
    else if (m_layer->port_in_use(local.port, local.address))
        return Error::AddressInUse;
    if (!local.address.is_any() && !m_layer->m_stack.is_local_address(local.address))
        return Error::AddressNotAvailable;
    m_tcb->local = local;
    m_tcb->bound = true;
    return {};
}

Result<void> TcpSocket::listen(u32 backlog)
{
    if (m_tcb->state == TcpState::Listen) {
        m_tcb->backlog = min(max(backlog, 1u), 64u);
        return {};
    }
    if (m_tcb->state != TcpState::Closed)
        return Error::InvalidArgument;
    if (!m_tcb->bound)
        TRY(bind({}));
    m_tcb->backlog = min(max(backlog, 1u), 64u);
    m_tcb->state = TcpState::Listen;
    return {};
}

Result<TcpSocket*> TcpSocket::accept(SocketAddress* peer)
{
    if (m_tcb->state != TcpState::Listen)
        return Error::InvalidArgument;
    Tcb* child = m_tcb->accept_head;
    if (!child)
        return Error::WouldBlock;
    m_tcb->accept_head = child->accept_next;
    --m_tcb->accept_count;
    child->accept_next = nullptr;
    child->accepted_pending = false;
    child->listener = nullptr;
    if (peer)
        *peer = child->remote;
    return child->socket;
}

Result<void> TcpSocket::connect(SocketAddress remote)
{
    switch (m_tcb->state) {
    case TcpState::Closed: break;
    case TcpState::SynSent:
    case TcpState::SynReceived: return Error::InProgress;
    case TcpState::Listen: return Error::InvalidArgument;
    default: return Error::AlreadyConnected;
    }
    if (m_tcb->error != Error::None)
        return m_tcb->error;
    if (remote.address.is_any() || remote.port == 0 || m_layer->m_stack.is_broadcast_address(remote.address))
        return Error::InvalidArgument;
    Ipv4Address source = TRY(m_layer->m_stack.ipv4().source_for(remote.address));
    if (!m_tcb->bound) {
        m_tcb->local.port = TRY(m_layer->ephemeral_port());
        m_tcb->bound = true;
    }
    if (m_tcb->local.address.is_any())
        m_tcb->local.address = source;
    m_tcb->remote = remote;
    m_tcb->rcv_wscale = 0;
    while (m_tcb->rcv_wscale < 14 && (m_tcb->options.receive_buffer >> m_tcb->rcv_wscale) > 0xffff)
        ++m_tcb->rcv_wscale;
    m_tcb->iss = m_layer->initial_sequence(m_tcb->local, m_tcb->remote);
    m_tcb->snd_una = m_tcb->snd_nxt = m_tcb->snd_max = m_tcb->iss;
    m_tcb->snd_end = m_tcb->iss + 1;
    m_tcb->recover = m_tcb->iss;
    m_tcb->state = TcpState::SynSent;
    m_layer->send_syn(*m_tcb);
    return Error::InProgress;
}

Result<usize> TcpSocket::send(ReadonlyBytes data)
{
    TRY(check_can_send());
    if (data.is_empty())
        return static_cast<usize>(0);
    usize queued;
    {
        // LyraNET Fig. 5 "socket": send() up to TCP output — the copy into follow, or pinning
        // the application's pages for seg[].
        profile::ScopedStage stage(profile::Stage::SendSocket, 1, 0);
        queued = TRY(m_layer->queue_send(*m_tcb, data));
        stage.set_bytes(queued);
    }
    if (m_layer->sends_on_write(*m_tcb))
        m_layer->output(*m_tcb);
    return queued;
}

Result<usize> TcpSocket::send_file(FileFrames const& file, u64 offset, u64 length)
{
    TRY(check_can_send());
    usize queued;
    {
        profile::ScopedStage stage(profile::Stage::SendSocket, 1, 0);
        queued = TRY(m_layer->queue_send_file(*m_tcb, file, offset, length));
        stage.set_bytes(queued);
    }
    if (queued && m_layer->sends_on_write(*m_tcb))
        m_layer->output(*m_tcb);
    return queued;
}

Result<void> TcpSocket::check_can_send() const
{
    switch (m_tcb->state) {
    case TcpState::Established:
    case TcpState::CloseWait: break;
    case TcpState::SynSent:
    case TcpState::SynReceived: return Error::WouldBlock;
    case TcpState::Closed: return m_tcb->error != Error::None ? m_tcb->error : Error::NotConnected;
    case TcpState::Listen: return Error::NotConnected;
    default: return Error::Shutdown; // our FIN is queued: EPIPE
    }
    if (m_tcb->fin_queued)
        return Error::Shutdown;
    return {};
}

Result<usize> TcpSocket::recv(Bytes out)
{
    return receive(out, false);
}

Result<usize> TcpSocket::recv_zero_copy(Bytes out)
{
    return receive(out, true);
}

namespace {

// The pages one recv_zero_copy() call swaps in together (Port::remap_pages): their page-table
// writes first, the TLB invalidations at the end, once per batch rather than once per page.
class RemapBatch {
public:
    static constexpr u32 kPages = 16;

    RemapBatch(NetStack& stack, Tcb& tcb)
        : m_stack(stack)
        , m_tcb(tcb)
    {
    }
    ~RemapBatch() { flush(); }

    bool is_full() const { return m_count == kPages; }
    // Page `index` of `buffer` goes under `app_page`; its bytes [offset, offset + bytes) are the
    // payload recv returns there.
    void add(PacketRef buffer, u32 index, void* app_page, u32 offset, u32 bytes)
    {
        VERIFY(m_count < kPages);
        m_remaps[m_count] = { app_page, buffer->block_page(index) };
        m_pages[m_count] = { move(buffer), index, offset, bytes };
        ++m_count;
    }

    // Remaps what was added; what the port refuses (a frame still pinned by a send) is copied.
    void flush()
    {
        if (m_count == 0)
            return;
        NetCounters& counters = m_stack.counters();
        usize done = m_stack.port().remap_pages({ m_remaps, m_count });
        VERIFY(done <= m_count);
        for (u32 i = 0; i < m_count; ++i) {
            Page& page = m_pages[i];
            if (i < done) {
                page.buffer->exchange_page(page.index, m_remaps[i].received);
                ++m_tcb.stats.remapped_pages;
                ++counters.tcp_remapped_pages;
                if (page.bytes == kPageSize) {
                    ++m_tcb.stats.remapped_whole_pages;
                    ++counters.tcp_remapped_whole_pages;
                }
                m_tcb.stats.remapped_bytes += page.bytes;
                counters.tcp_remapped_bytes += page.bytes;
            } else {
                if (i == done)
                    ++counters.tcp_remap_refused; // a shared frame: copy instead
                u8* to = static_cast<u8*>(m_remaps[i].app_page) + page.offset;
                __builtin_memcpy(to, m_remaps[i].received.virt + page.offset, page.bytes);
                m_tcb.stats.copied_bytes += page.bytes;
                counters.tcp_received_copied_bytes += page.bytes;
            }
            page.buffer.reset();
        }
        if (done) {
            ++m_tcb.stats.remap_batches;
            ++counters.tcp_remap_batches;
        }
        m_count = 0;
    }

private:
    struct Page {
        PacketRef buffer;
        u32 index { 0 };
        u32 offset { 0 };
        u32 bytes { 0 };
    };
    NetStack& m_stack;
    Tcb& m_tcb;
    PortRemap m_remaps[kPages];
    Page m_pages[kPages];
    u32 m_count { 0 };
};

} // namespace

Result<usize> TcpSocket::receive(Bytes out, bool may_remap)
{
    // LyraNET Fig. 6 "socket": recv() into TCP's receive side, where the copy or the remap lives.
    profile::ScopedStage stage(profile::Stage::ReceiveSocket, 1, 0);
    if (m_tcb->state == TcpState::Listen)
        return Error::NotConnected;
    if (m_tcb->receive_queue.is_empty()) {
        if (m_tcb->fin_received)
            return static_cast<usize>(0); // end of stream
        if (m_tcb->error != Error::None)
            return m_tcb->error;
        if (m_tcb->state == TcpState::Closed)
            return Error::NotConnected;
        return Error::WouldBlock;
    }
    NetStack& stack = m_layer->m_stack;
    Port& port = stack.port();
    bool remapping = kCopyElimination && may_remap && m_tcb->options.zero_copy;
    u32 threshold = m_tcb->options.zero_copy_threshold;
    RemapBatch batch(stack, *m_tcb);
    usize copied = 0;
    while (copied < out.size()) {
        PacketBuffer* front = m_tcb->receive_queue.front();
        if (!front)
            break;
        u32 available = front->linear_length();
        u8* destination = out.data() + copied;
        u32 dest_offset = static_cast<u32>(reinterpret_cast<uptr>(destination) & (kPageSize - 1));
        u32 source_offset = static_cast<u32>(reinterpret_cast<uptr>(front->data()) & (kPageSize - 1));
        // The payload's bytes in its current receive page: to the page's end or the payload's.
        u32 span = min(available, static_cast<u32>(kPageSize) - source_offset);
        if (remapping && front->kind() == PacketBuffer::Kind::Receive) {
            // Zero-copy receive (docs/zero-copy.md): swap the receive page in under the
            // application's page at the same offset instead of copying, when the page's payload
            // pays for a remap (zero_copy_threshold), all of it goes into this call, and nothing
            // this call has written lies in front of it in that page (it starts the page, or it
            // is the call's first byte: recv_zero_copy's caller gives it the pages under `out`
            // whole). The rest of the application's page is replaced by the receive page's. With
            // the e1000's receive placement every payload starts a page, so a jumbo segment's
            // payload is whole pages and a stream of them is remapped page after page, several
            // per call, their TLB work batched.
            void* app_page = destination - dest_offset;
            if (dest_offset == source_offset) {
                if ((dest_offset == 0 || copied == 0) && span <= out.size() - copied && span >= threshold
                    && port.is_zero_copy_region(app_page, kPageSize)) {
                    if (batch.is_full())
                        batch.flush();
                    u32 index = static_cast<u32>((front->data() - front->storage()) / kPageSize);
                    PacketRef holder;
                    if (span == available) {
                        holder = m_tcb->receive_queue.pop();
                    } else {
                        holder = PacketRef::share(*front);
                        bool pulled = front->pull(span);
                        VERIFY(pulled);
                    }
                    batch.add(move(holder), index, app_page, dest_offset, span);
                    m_tcb->receive_bytes -= span;
                    copied += span;
                    continue;
                }
            } else if (copied > 0 && span >= threshold && port.is_zero_copy_region(destination, out.size() - copied)) {
                // A short read that keeps a streaming zero-copy receiver lined up: this payload
                // could be remapped but would land behind the bytes just written, in their page,
                // and be copied, and so would every segment after it (each recv would start
                // part-way into a segment). Stopping here, the next recv starts at its
                // receive_page_offset() and takes it by remap.
                break;
            }
        }
        // Copied: never into a page with a remap still pending.
        batch.flush();
        u32 count = static_cast<u32>(min<usize>(available, out.size() - copied));
        __builtin_memcpy(destination, front->data(), count);
        m_tcb->stats.copied_bytes += count;
        stack.counters().tcp_received_copied_bytes += count;
        copied += count;
        m_tcb->receive_bytes -= count;
        if (count == available) {
            m_tcb->receive_queue.drop_front();
        } else {
            bool pulled = front->pull(count);
            VERIFY(pulled);
        }
    }
    batch.flush();
    // A window update once the window has opened enough to matter (RFC 9293 §3.8.6.2.2). It goes
    // at once only when the peer may be held back: what is left of the last advertisement is half
    // the buffer or less. Otherwise it is due at the stack's next poll (the delayed-ACK deadline
    // moved to now), where it merges with the ACK for the next batch of data: sent from here for
    // every recv(), updates doubled the frames a streaming receiver sends (each one a doorbell
    // write and a host-side transmit, a quarter of the guest's time at 1.5 Gbit/s).
    if (m_tcb->state == TcpState::Established || m_tcb->state == TcpState::FinWait1
        || m_tcb->state == TcpState::FinWait2) {
        u32 buffer = m_tcb->options.receive_buffer;
        u32 free_space
            = buffer > m_tcb->receive_bytes + m_tcb->ooo_bytes ? buffer - m_tcb->receive_bytes - m_tcb->ooo_bytes : 0;
        u32 advertised = seq_gt(m_tcb->rcv_adv, m_tcb->rcv_nxt) ? m_tcb->rcv_adv - m_tcb->rcv_nxt : 0;
        if (free_space > advertised && free_space - advertised >= min(buffer / 2, 2u * m_tcb->snd_mss)) {
            Instant now = m_layer->now();
            if (advertised <= buffer / 2)
                m_layer->send_ack(*m_tcb);
            else if (!m_tcb->delack_deadline.is_set() || m_tcb->delack_deadline > now)
                m_tcb->delack_deadline = now;
        }
    }
    stage.set_bytes(copied);
    return copied;
}

Result<void> TcpSocket::post_receive(Bytes out, void* owner)
{
    bool takes_data = m_tcb->state == TcpState::Established || m_tcb->state == TcpState::FinWait1
        || m_tcb->state == TcpState::FinWait2;
    if (!kCopyElimination || !m_tcb->options.zero_copy || out.is_empty())
        return Error::NotSupported;
    if (!takes_data || m_tcb->fin_received)
        return Error::NotConnected;
    if (!m_tcb->receive_queue.is_empty() || m_tcb->posted.active)
        return Error::Busy; // recv first
    if (!m_layer->m_stack.port().is_zero_copy_region(out.data(), out.size()))
        return Error::InvalidArgument;
    m_tcb->posted = { out.data(), owner, static_cast<u32>(min<usize>(out.size(), 0xffffffffu)), 0, 0, 0, true };
    ++m_layer->m_posted_count;
    return {};
}

usize TcpSocket::take_posted()
{
    if (!m_tcb->posted.active)
        return 0;
    usize filled = m_tcb->posted.filled;
    m_layer->end_posting(*m_tcb);
    return filled;
}

u32 TcpSocket::receive_page_offset() const
{
    PacketBuffer const* front = m_tcb->receive_queue.front();
    if (!front)
        return 0;
    return static_cast<u32>(reinterpret_cast<uptr>(front->data()) & (kPageSize - 1));
}

Result<void> TcpSocket::shutdown_write()
{
    switch (m_tcb->state) {
    case TcpState::Established:
    case TcpState::SynReceived: m_tcb->state = TcpState::FinWait1; break;
    case TcpState::CloseWait: m_tcb->state = TcpState::LastAck; break;
    case TcpState::SynSent: m_layer->enter_closed(*m_tcb, Error::None); return {};
    case TcpState::Closed:
    case TcpState::Listen: return Error::NotConnected;
    default: return {}; // already shut down
    }
    m_tcb->fin_queued = true;
    m_layer->output(*m_tcb);
    return {};
}

void TcpSocket::close()
{
    if (!m_tcb->in_use)
        return;
    m_tcb->user_closed = true;
    m_layer->end_posting(*m_tcb); // the buffer is no longer the application's to give
    switch (m_tcb->state) {
    case TcpState::Closed:
    case TcpState::Listen:
    case TcpState::SynSent: m_layer->free_tcb(*m_tcb); return;
    default: break;
    }
    if (m_tcb->receive_bytes > 0 || !m_tcb->ooo_queue.is_empty()) {
        // RFC 2525 §2.17: closing with unread data resets, so the peer knows it was not read.
        abort();
        return;
    }
    (void)shutdown_write();
}

void TcpSocket::abort()
{
    if (!m_tcb->in_use)
        return;
    m_tcb->user_closed = true;
    bool synchronized = m_tcb->state != TcpState::Closed && m_tcb->state != TcpState::Listen
        && m_tcb->state != TcpState::SynSent && m_tcb->state != TcpState::TimeWait;
    if (synchronized)
        m_layer->send_control(*m_tcb, m_tcb->snd_nxt, TcpFlag::Rst | TcpFlag::Ack);
    m_layer->free_tcb(*m_tcb);
}

Instant TcpSocket::next_deadline() const
{
    return m_tcb->in_use ? m_layer->tcb_deadline(*m_tcb) : Instant::never();
}

void TcpSocket::set_keepalive(bool on)
{
    m_tcb->options.keepalive = on;
    m_layer->touch_keepalive(*m_tcb);
}

void TcpSocket::set_buffer_sizes(u32 send_bytes, u32 receive_bytes)
{
    if (send_bytes)
        m_tcb->options.send_buffer = send_bytes;
    if (receive_bytes && (m_tcb->state == TcpState::Closed || m_tcb->state == TcpState::Listen))
        m_tcb->options.receive_buffer = receive_bytes; // the window scale is fixed at the handshake
}

u32 TcpSocket::poll_events() const
{
    u32 events = 0;
    switch (m_tcb->state) {
    case TcpState::Listen: return m_tcb->accept_head ? kPollIn : 0;
    case TcpState::SynSent:
    case TcpState::SynReceived: return 0;
    case TcpState::Established:
    case TcpState::CloseWait:
        if (!m_tcb->fin_queued && m_tcb->send_bytes < m_tcb->options.send_buffer)
            events |= kPollOut;
        break;
    case TcpState::Closed: events |= kPollHup; break;
    default: break;
    }
    if (m_tcb->receive_bytes || m_tcb->fin_received)
        events |= kPollIn;
    if (m_tcb->error != Error::None)
        events |= kPollErr | kPollIn;
    return events;
}

} // namespace skiff::net
