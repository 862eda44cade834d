#include <user/runtime/Ring.h>
#include <user/runtime/Socket.h>
#include <user/runtime/System.h>

namespace skiff::user {

Result<PacketRing> PacketRing::map(u32 slots, u16 ether_type)
{
    PacketRing ring;
    ring.m_setup.slots = slots;
    ring.m_setup.ether_type = ether_type;
    ring.m_descriptor = static_cast<i64>(TRY(result_of(system_call(abi::Call::RingMap, word(&ring.m_setup)))));
    return ring;
}

abi::RingDescriptor const* PacketRing::next_received() const
{
    auto const* descriptors = reinterpret_cast<abi::RingDescriptor const volatile*>(m_setup.receive_descriptors);
    auto const volatile* descriptor = descriptors + m_next_receive;
    if (descriptor->state != abi::kSlotFull)
        return nullptr;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); // the state before the rest
    return const_cast<abi::RingDescriptor const*>(descriptor);
}

ReadonlyBytes PacketRing::frame(abi::RingDescriptor const& descriptor) const
{
    auto const* page = reinterpret_cast<u8 const*>(m_setup.receive_frames) + u64 { m_next_receive } * 4096;
    u32 offset = min<u32>(descriptor.offset, 4096);
    return { page + offset, min<u32>(descriptor.length, 4096 - offset) };
}

Result<u32> PacketRing::release(u32 count)
{
    u32 released
        = static_cast<u32>(TRY(result_of(system_call(abi::Call::RingRelease, static_cast<u64>(m_descriptor), count))));
    m_next_receive = (m_next_receive + released) % m_setup.slots;
    return released;
}

Result<u32> PacketRing::wait(i64 timeout_ms)
{
    return static_cast<u32>(
        TRY(result_of(system_call(abi::Call::RingWait, static_cast<u64>(m_descriptor), static_cast<u64>(timeout_ms)))));
}

u8* PacketRing::transmit_slot()
{
    auto* descriptors = reinterpret_cast<abi::RingDescriptor volatile*>(m_setup.transmit_descriptors);
    if (descriptors[m_next_transmit].state != abi::kSlotEmpty) {
        // Slots the NIC has let go of are marked empty by the kernel's next look.
        (void)result_of(system_call(abi::Call::RingTransmit, static_cast<u64>(m_descriptor), 0));
        if (descriptors[m_next_transmit].state != abi::kSlotEmpty)
            return nullptr;
    }
    return reinterpret_cast<u8*>(m_setup.transmit_frames) + u64 { m_next_transmit } * 4096;
}

Result<u32> PacketRing::send(u32 length)
{
    auto* descriptor = reinterpret_cast<abi::RingDescriptor volatile*>(m_setup.transmit_descriptors) + m_next_transmit;
    descriptor->offset = 0;
    descriptor->length = length;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    descriptor->state = abi::kSlotFull;
    m_next_transmit = (m_next_transmit + 1) % m_setup.slots;
    return static_cast<u32>(TRY(result_of(system_call(abi::Call::RingTransmit, static_cast<u64>(m_descriptor), 1))));
}

Result<abi::RingStats> PacketRing::statistics() const
{
    abi::RingStats stats {};
    TRY(result_of(system_call(abi::Call::RingStatistics, static_cast<u64>(m_descriptor), word(&stats))));
    return stats;
}

void PacketRing::close()
{
    if (m_descriptor >= 0)
        (void)user::close(m_descriptor);
    m_descriptor = -1;
}

} // namespace skiff::user
