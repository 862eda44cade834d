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
    m_receive_pages = sizes.receive_pages ? sizes.receive_pages : sizes.receive;
    m_blocks = {};
    for (u32 i = 0; i < sizes.receive; ++i) {
        PacketBuffer& buffer = m_receive_buffers[i];
        buffer.m_pool = this;
        buffer.m_kind = PacketBuffer::Kind::Receive;
        buffer.m_free_next = m_receive_spare;
        m_receive_spare = &buffer;
        ++m_receive_count;
    }
    m_receive.counters.capacity = min(m_receive_count, m_receive_pages);
    if (refill_receive() < m_receive.counters.capacity)
        return Error::NoMemory;
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
        free_block(m_receive_buffers[i]);
    m_transmit = {};
    m_receive = {};
    m_receive_spare = nullptr;
    m_live_blocks = 0;
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
    if (m_receive.counters.in_use >= m_receive.counters.capacity) {
        ++m_receive.counters.failures;
        return {};
    }
    if (!m_receive.head)
        refill_receive(); // blocks that could not be made before: try again
    PacketBuffer* buffer = take(m_receive);
    if (buffer)
        buffer->m_head = buffer->m_tail = 0;
    return PacketRef(buffer);
}

void PacketPool::set_receive_block_pages(u32 pages)
{
    VERIFY(pages >= 1 && pages <= PacketBuffer::kMaxBlockPages);
    m_blocks.block_pages = pages;
    m_receive.counters.capacity = min(m_receive_count, m_receive_pages / pages);
    // Free buffers with blocks of another size give them up now; buffers in use, when they come
    // back. Then as many blocks of the new size as the page budget allows are made at once, so
    // that the frames the pool holds do not grow with its high-water mark later.
    PacketBuffer* keep = nullptr;
    while (PacketBuffer* buffer = m_receive.head) {
        m_receive.head = buffer->m_free_next;
        if (buffer->m_block_pages == pages) {
            buffer->m_free_next = keep;
            keep = buffer;
        } else {
            free_block(*buffer);
            buffer->m_free_next = m_receive_spare;
            m_receive_spare = buffer;
        }
    }
    m_receive.head = keep;
    refill_receive();
}

// Makes blocks for spare buffers while the page budget allows; returns the blocks in existence.
u32 PacketPool::refill_receive()
{
    while (m_receive_spare && m_live_blocks < m_receive.counters.capacity) {
        PacketBuffer* buffer = m_receive_spare;
        if (!make_block(*buffer))
            break;
        m_receive_spare = buffer->m_free_next;
        buffer->m_free_next = m_receive.head;
        m_receive.head = buffer;
    }
    return m_live_blocks;
}

// A block of the current size for a buffer that has none.
bool PacketPool::make_block(PacketBuffer& buffer)
{
    VERIFY(buffer.m_block_pages == 0);
    u32 pages = m_blocks.block_pages;
    auto block = pages == 1 ? m_port->allocate_page() : m_port->allocate_pages(pages);
    if (block.is_error()) {
        ++m_blocks.block_failures;
        return false;
    }
    buffer.m_base = block.value().virt;
    buffer.m_phys = block.value().phys;
    buffer.m_capacity = pages * static_cast<u32>(kPageSize);
    buffer.m_block_pages = static_cast<u8>(pages);
    ++m_blocks.made;
    ++m_live_blocks;
    return true;
}

// Gives every page of the buffer's block back to the port: the block's own, and the frames that
// zero-copy receive exchanged for some of them.
void PacketPool::free_block(PacketBuffer& buffer)
{
    if (buffer.m_block_pages)
        --m_live_blocks;
    u64 frames[PacketBuffer::kMaxBlockPages];
    for (u32 i = 0; i < buffer.m_block_pages; ++i) {
        bool exchanged = buffer.m_exchanged_mask & (1u << i);
        frames[i] = exchanged ? buffer.m_exchanged[i] : buffer.m_phys + i * kPageSize;
    }
    if (buffer.m_block_pages == 1)
        m_port->unref_page(frames[0]);
    else if (buffer.m_block_pages)
        m_port->unref_pages({ frames, buffer.m_block_pages });
    buffer.m_block_pages = 0;
    buffer.m_exchanged_mask = 0;
    buffer.m_base = nullptr;
    buffer.m_phys = 0;
    buffer.m_capacity = 0;
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
    case FrameKind::Pinned: m_port->unpin_user_page(frame.phys, 1); break;
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
    if (buffer->m_kind == PacketBuffer::Kind::Receive) {
        // A block broken by zero-copy receive, or of a size no longer made, is freed and a new
        // one made at once (while the budget allows: it may have shrunk); failing that, the
        // buffer waits without one until a later allocation can make it.
        if (buffer->is_broken())
            ++m_blocks.broken;
        if (buffer->is_broken() || buffer->m_block_pages != m_blocks.block_pages)
            free_block(*buffer);
        --m_receive.counters.in_use;
        if (buffer->m_block_pages == 0 && (m_live_blocks >= m_receive.counters.capacity || !make_block(*buffer))) {
            buffer->m_free_next = m_receive_spare;
            m_receive_spare = buffer;
            return;
        }
        buffer->m_free_next = m_receive.head;
        m_receive.head = buffer;
        return;
    }
    FreeList& list = buffer->m_kind == PacketBuffer::Kind::Transmit
        ? m_transmit
        : (buffer->m_kind == PacketBuffer::Kind::Receive ? m_receive : m_large);
    buffer->m_free_next = list.head;
    list.head = buffer;
    --list.counters.in_use;
}

} // namespace skiff::net
