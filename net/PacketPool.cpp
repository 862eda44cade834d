#include <net/PacketPool.h>

namespace skiff::net {

PacketPool::~PacketPool()
{
    destroy();
}

Result<void> PacketPool::initialize(Port& port, PoolSizes sizes)
{
    VERIFY(!m_port);
    VERIFY(sizes.transmit <= kMaxTransmit && sizes.receive <= kMaxReceive);
    m_port = &port;
    for (u32 i = 0; i < sizes.transmit; i += 2) {
        PortPage page = TRY(port.allocate_page());
        for (u32 half = 0; half < 2 && i + half < sizes.transmit; ++half) {
            PacketBuffer& buffer = m_transmit_buffers[i + half];
            buffer.m_pool = this;
            buffer.m_kind = PacketBuffer::Kind::Transmit;
            buffer.m_base = page.virt + half * PacketBuffer::kTransmitStorage;
            buffer.m_phys = page.phys + half * PacketBuffer::kTransmitStorage;
            buffer.m_capacity = PacketBuffer::kTransmitStorage;
            buffer.m_free_next = m_transmit.head;
            m_transmit.head = &buffer;
            ++m_transmit_count;
            ++m_transmit.counters.capacity;
        }
    }
    for (u32 i = 0; i < sizes.receive; ++i) {
        PortPage page = TRY(port.allocate_page());
        PacketBuffer& buffer = m_receive_buffers[i];
        buffer.m_pool = this;
        buffer.m_kind = PacketBuffer::Kind::Receive;
        buffer.m_base = page.virt;
        buffer.m_phys = page.phys;
        buffer.m_capacity = kPageSize;
        buffer.m_free_next = m_receive.head;
        m_receive.head = &buffer;
        ++m_receive_count;
        ++m_receive.counters.capacity;
    }
    for (u32 i = 0; i < kLargeCount; ++i) {
        PacketBuffer& buffer = m_large_buffers[i];
        buffer.m_pool = this;
        buffer.m_kind = PacketBuffer::Kind::Large;
        buffer.m_base = m_large_storage[i];
        buffer.m_phys = 0;
        buffer.m_capacity = PacketBuffer::kLargeStorage;
        buffer.m_free_next = m_large.head;
        m_large.head = &buffer;
        ++m_large.counters.capacity;
    }
    return {};
}

void PacketPool::destroy()
{
    if (!m_port)
        return;
    VERIFY(in_use() == 0);
    // Transmit buffers share a page pairwise; the even one names the page.
    for (u32 i = 0; i < m_transmit_count; i += 2)
        m_port->unref_page(m_transmit_buffers[i].m_phys);
    for (u32 i = 0; i < m_receive_count; ++i)
        m_port->unref_page(m_receive_buffers[i].m_phys);
    m_transmit = {};
    m_receive = {};
    m_large = {};
    m_transmit_count = m_receive_count = 0;
    m_port = nullptr;
}

PacketBuffer* PacketPool::take(FreeList& list)
{
    PacketBuffer* buffer = list.head;
    if (!buffer) {
        ++list.counters.failures;
        return nullptr;
    }
    list.head = buffer->m_free_next;
    buffer->m_free_next = nullptr;
    buffer->m_references = 1;
    buffer->m_segment_count = 0;
    buffer->m_segments_length = 0;
    buffer->m_follow_length = 0;
    buffer->m_chain_first = buffer->m_chain_last = buffer->m_chain_next = nullptr;
    buffer->m_chain_length = 0;
    buffer->m_chain_count = 0;
    buffer->next = nullptr;
    buffer->meta = {};
    ++list.counters.allocations;
    if (++list.counters.in_use > list.counters.high_water)
        list.counters.high_water = list.counters.in_use;
    return buffer;
}

PacketRef PacketPool::allocate_transmit()
{
    PacketBuffer* buffer = take(m_transmit);
    if (buffer)
        buffer->m_head = buffer->m_tail = PacketBuffer::kHeadroom;
    return PacketRef(buffer);
}

PacketRef PacketPool::allocate_receive()
{
    PacketBuffer* buffer = take(m_receive);
    if (buffer)
        buffer->m_head = buffer->m_tail = 0;
    return PacketRef(buffer);
}

PacketRef PacketPool::allocate_large()
{
    PacketBuffer* buffer = take(m_large);
    if (buffer)
        buffer->m_head = buffer->m_tail = 0;
    return PacketRef(buffer);
}

void PacketPool::drop_frame(FrameRef const& frame)
{
    switch (frame.kind) {
    case FrameKind::None: break;
    case FrameKind::Page: m_port->unref_page(frame.phys); break;
    case FrameKind::Pinned: m_port->unpin_user_page(frame.phys); break;
    }
}

void PacketPool::give_back(PacketBuffer* buffer)
{
    for (u8 i = 0; i < buffer->m_segment_count; ++i)
        drop_frame(buffer->m_segments[i].frame);
    buffer->m_segment_count = 0;
    // A head lets go of its chain: each payload buffer goes back to its other holder (TCP).
    PacketBuffer* payload = buffer->m_chain_first;
    buffer->m_chain_first = buffer->m_chain_last = nullptr;
    while (payload) {
        PacketBuffer* following = payload->m_chain_next;
        payload->m_chain_next = nullptr;
        payload->release();
        payload = following;
    }
    FreeList& list = buffer->m_kind == PacketBuffer::Kind::Transmit
        ? m_transmit
        : (buffer->m_kind == PacketBuffer::Kind::Receive ? m_receive : m_large);
    buffer->m_free_next = list.head;
    list.head = buffer;
    --list.counters.in_use;
}

} // namespace skiff::net
