#include <net/PacketBuffer.h>
#include <net/PacketPool.h>

namespace skiff::net {

u8* PacketBuffer::push_header(u32 length)
{
    VERIFY(length <= m_head);
    m_head -= length;
    return m_base + m_head;
}

bool PacketBuffer::pull(u32 length)
{
    if (length > linear_length())
        return false;
    m_head += length;
    return true;
}

bool PacketBuffer::truncate(u32 length)
{
    if (length > linear_length())
        return false;
    m_tail = m_head + length;
    return true;
}

void PacketBuffer::reset_headers()
{
    VERIFY(m_kind == Kind::Transmit);
    m_head = kHeadroom;
    m_tail = kHeadroom;
}

void PacketBuffer::set_linear(u32 offset, u32 length)
{
    VERIFY(offset <= m_capacity && length <= m_capacity - offset);
    m_head = offset;
    m_tail = offset + length;
}

bool PacketBuffer::add_segment(DataSeg const& segment)
{
    if (m_segment_count == 2 || m_kind != Kind::Transmit)
        return false;
    m_segments[m_segment_count++] = segment;
    m_segments_length += segment.length;
    return true;
}

bool PacketBuffer::extend_last_segment(u8 const* virt, u64 phys, u32 length)
{
    if (m_segment_count == 0 || m_follow_length != 0)
        return false;
    DataSeg& last = m_segments[m_segment_count - 1];
    u64 end = last.phys + last.length;
    u64 in_frame = end & (kPageSize - 1);
    if (phys != end || virt != last.virt + last.length || last.frame.kind == FrameKind::None
        || end - in_frame != last.frame.phys || in_frame + length > kPageSize)
        return false;
    last.length += length;
    m_segments_length += length;
    return true;
}

DataSeg const& PacketBuffer::segment(u8 index) const
{
    VERIFY(index < m_segment_count);
    return m_segments[index];
}

u32 PacketBuffer::follow_space() const
{
    return m_kind == Kind::Transmit ? kFollowCapacity - m_follow_length : 0;
}

u32 PacketBuffer::append_follow(ReadonlyBytes bytes)
{
    u32 count = min(static_cast<u32>(bytes.size()), follow_space());
    __builtin_memcpy(follow_data() + m_follow_length, bytes.data(), count);
    m_follow_length += count;
    return count;
}

u8* PacketBuffer::extend_follow(u32 count)
{
    VERIFY(count <= follow_space());
    u8* where = follow_data() + m_follow_length;
    m_follow_length += count;
    return where;
}

void PacketBuffer::chain(PacketRef owned)
{
    VERIFY(m_kind == Kind::Transmit && owned && owned.get() != this);
    PacketBuffer* payload = owned.leak();
    VERIFY(!payload->m_chain_next && !payload->m_chain_first);
    if (m_chain_last)
        m_chain_last->m_chain_next = payload;
    else
        m_chain_first = payload;
    m_chain_last = payload;
    m_chain_length += payload->payload_length();
    ++m_chain_count;
}

u32 PacketBuffer::piece_count() const
{
    u32 count = 0;
    for_each_piece([&](BufferPiece const&) {
        ++count;
        return true;
    });
    return count;
}

BufferPiece PacketBuffer::piece(u32 index) const
{
    BufferPiece found;
    bool seen = false;
    for_each_piece([&](BufferPiece const& piece) {
        if (index-- == 0) {
            found = piece;
            seen = true;
            return false;
        }
        return true;
    });
    VERIFY(seen);
    return found;
}

void PacketBuffer::copy_to(u32 offset, Bytes out) const
{
    VERIFY(offset <= total_length() && out.size() <= total_length() - offset);
    usize written = 0;
    for_each_piece([&](BufferPiece const& p) {
        if (written == out.size())
            return false;
        if (offset >= p.length) {
            offset -= p.length;
            return true;
        }
        u32 count = min(static_cast<u32>(out.size() - written), p.length - offset);
        __builtin_memcpy(out.data() + written, p.virt + offset, count);
        written += count;
        offset = 0;
        return true;
    });
}

void PacketBuffer::exchange_page(PortPage page)
{
    VERIFY(m_kind == Kind::Receive);
    m_base = page.virt;
    m_phys = page.phys;
}

void PacketBuffer::release()
{
    VERIFY(m_references > 0);
    if (--m_references == 0)
        m_pool->give_back(this);
}

PacketQueue& PacketQueue::operator=(PacketQueue&& other)
{
    clear();
    m_head = other.m_head;
    m_tail = other.m_tail;
    m_size = other.m_size;
    other.m_head = other.m_tail = nullptr;
    other.m_size = 0;
    return *this;
}

void PacketQueue::push(PacketRef owned)
{
    PacketBuffer* packet = owned.leak();
    packet->next = nullptr;
    if (m_tail)
        m_tail->next = packet;
    else
        m_head = packet;
    m_tail = packet;
    ++m_size;
}

PacketRef PacketQueue::pop()
{
    PacketBuffer* packet = m_head;
    if (!packet)
        return {};
    m_head = packet->next;
    if (!m_head)
        m_tail = nullptr;
    packet->next = nullptr;
    --m_size;
    return PacketRef(packet);
}

void PacketQueue::drop_front()
{
    PacketRef front = pop();
    VERIFY(front);
}

void PacketQueue::clear()
{
    while (m_head)
        drop_front();
}

} // namespace skiff::net
