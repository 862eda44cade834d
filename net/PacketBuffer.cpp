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

u32 PacketBuffer::payload_length() const
{
    u32 total = m_follow_length;
    for (u8 i = 0; i < m_segment_count; ++i)
        total += m_segments[i].length;
    return total;
}

u32 PacketBuffer::piece_count() const
{
    u32 count = linear_length() ? 1 : 0;
    for (u8 i = 0; i < m_segment_count; ++i)
        count += m_segments[i].length ? 1 : 0;
    return count + (m_follow_length ? 1 : 0);
}

BufferPiece PacketBuffer::piece(u32 index) const
{
    if (linear_length()) {
        if (index == 0)
            return { data(), linear_phys(), linear_length() };
        --index;
    }
    for (u8 i = 0; i < m_segment_count; ++i) {
        if (!m_segments[i].length)
            continue;
        if (index == 0)
            return { m_segments[i].virt, m_segments[i].phys, m_segments[i].length };
        --index;
    }
    VERIFY(index == 0 && m_follow_length);
    return { follow_data(), m_phys ? m_phys + kHeadroom : 0, m_follow_length };
}

void PacketBuffer::copy_to(u32 offset, Bytes out) const
{
    VERIFY(offset <= total_length() && out.size() <= total_length() - offset);
    usize written = 0;
    u32 pieces = piece_count();
    for (u32 i = 0; i < pieces && written < out.size(); ++i) {
        BufferPiece p = piece(i);
        if (offset >= p.length) {
            offset -= p.length;
            continue;
        }
        u32 count = min(static_cast<u32>(out.size() - written), p.length - offset);
        __builtin_memcpy(out.data() + written, p.virt + offset, count);
        written += count;
        offset = 0;
    }
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
