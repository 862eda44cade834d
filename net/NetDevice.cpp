#include <net/NetDevice.h>
#include <net/NetStack.h>

namespace skiff::net {

PacketBuffer* NetDevice::allocate_receive_buffer()
{
    VERIFY(m_stack);
    return m_stack->device_allocate_receive_buffer(*this);
}

void NetDevice::set_receive_extent(u32 offset, u32 bytes)
{
    VERIFY(m_stack);
    m_stack->device_set_receive_extent(*this, offset, bytes);
}

PayloadDestination NetDevice::place_payload(PacketBuffer& buffer, u32 offset, u32 frame_length)
{
    VERIFY(m_stack);
    return m_stack->device_place_payload(*this, buffer, offset, frame_length);
}

void NetDevice::deliver(PacketBuffer* buffer, u32 offset, u32 length)
{
    VERIFY(m_stack);
    m_stack->device_deliver(*this, buffer, offset, length);
}

void NetDevice::set_link_up(bool up)
{
    bool was = m_link_up;
    m_link_up = up;
    if (m_stack && up != was)
        m_stack->device_link_changed(*this, up);
}

} // namespace skiff::net
