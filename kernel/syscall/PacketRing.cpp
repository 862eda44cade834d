#include <kernel/syscall/PacketRing.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Layout.h>
#include <kernel/net/Network.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>
#include <net/NetStack.h>
#include <net/ethernet/FrameTap.h>

namespace skiff::syscall {

using arch::InterruptDisabler;

class PacketRing {
public:
    task::Task* task { nullptr };
    u32 slots { 0 };
    u16 ether_type { 0 }; // 0: capture
    uptr receive_descriptors { 0 };
    uptr receive_frames { 0 };
    uptr transmit_descriptors { 0 };
    uptr transmit_frames { 0 };
    mm::PhysicalAddress receive_descriptor_frame { 0 };
    mm::PhysicalAddress transmit_descriptor_frame { 0 };
    mm::PhysicalAddress transmit_frame[abi::kMaxRingSlots] {};
    u32 next_fill { 0 };     // the receive slot the next frame goes to
    u32 next_release { 0 };  // the receive slot RingRelease hands back next
    u32 next_transmit { 0 }; // the transmit slot RingTransmit sends next
    u64 sequence { 0 };
    abi::RingStats stats {};
    knet::NetWaiter* waiter { nullptr };

    // The descriptors through their frames: the task sees the same memory read only (receive)
    // or writable (transmit).
    abi::RingDescriptor* receive_descriptor(u32 slot)
    {
        return reinterpret_cast<abi::RingDescriptor*>(mm::frame_bytes(receive_descriptor_frame)) + slot;
    }
    abi::RingDescriptor volatile* transmit_descriptor(u32 slot)
    {
        return reinterpret_cast<abi::RingDescriptor volatile*>(mm::frame_bytes(transmit_descriptor_frame)) + slot;
    }
};

namespace {

// The stack's one frame tap, serving every task's rings. Guarded by the stack lock.
class RingTap final : public net::FrameTap {
public:
    static constexpr u32 kMaxRings = 8;

    bool claims(u16 ether_type) const override { return find(ether_type) != nullptr; }
    bool capturing() const override { return find(0) != nullptr; }

    void take(u8, net::PacketRef packet) override
    {
        PacketRing* ring = find(load_ether_type(*packet));
        if (!ring)
            return;
        deliver(*ring, packet, true);
    }

    void observe(u8, net::PacketBuffer const& frame) override
    {
        for (auto* ring : m_rings) {
            if (ring && ring->ether_type == 0)
                deliver_copy(*ring, frame);
        }
    }

    Result<void> add(PacketRing* ring)
    {
        for (auto* other : m_rings) {
            if (other && other->ether_type == ring->ether_type && ring->ether_type != 0)
                return Error::AddressInUse; // one ring per EtherType
        }
        for (auto*& slot : m_rings) {
            if (!slot) {
                slot = ring;
                if (!m_registered) {
                    knet::stack().set_frame_tap(this);
                    m_registered = true;
                }
                return {};
            }
        }
        return Error::LimitReached;
    }

    void remove(PacketRing* ring)
    {
        bool any = false;
        for (auto*& slot : m_rings) {
            if (slot == ring)
                slot = nullptr;
            any |= slot != nullptr;
        }
        if (!any && m_registered) {
            knet::stack().set_frame_tap(nullptr);
            m_registered = false;
        }
    }

private:
    static u16 load_ether_type(net::PacketBuffer const& packet)
    {
        u8 const* frame = packet.data();
        return static_cast<u16>((frame[12] << 8) | frame[13]);
    }

    PacketRing* find(u16 ether_type) const
    {
        for (auto* ring : m_rings) {
            if (ring && ring->ether_type == ether_type)
                return ring;
        }
        return nullptr;
    }

    // The next slot, if it is empty: its descriptor says so (the task handed it back).
    static abi::RingDescriptor* empty_slot(PacketRing& ring)
    {
        abi::RingDescriptor* descriptor = ring.receive_descriptor(ring.next_fill);
        if (descriptor->state != abi::kSlotEmpty) {
            ++ring.stats.dropped;
            return nullptr;
        }
        return descriptor;
    }

    static void publish(PacketRing& ring, abi::RingDescriptor* descriptor, u32 offset, u32 length)
    {
        descriptor->offset = offset;
        descriptor->length = length;
        descriptor->sequence = ring.sequence++;
        descriptor->timestamp_ns = time::monotonic_ns();
        __atomic_signal_fence(__ATOMIC_SEQ_CST); // the frame and the fields before the state (one CPU)
        descriptor->state = abi::kSlotFull;
        ring.next_fill = (ring.next_fill + 1) % ring.slots;
        ++ring.stats.delivered;
        ring.waiter->wake();
    }

    // A claimed frame: its page goes under the slot's, the slot's old page to the stack's pool.
    static void deliver(PacketRing& ring, net::PacketRef& packet, bool)
    {
        abi::RingDescriptor* descriptor = empty_slot(ring);
        if (!descriptor)
            return;
        // A slot is one page. A receive buffer may be a block of several (the e1000's receive
        // placement puts a frame's headers at the end of the first page so that its payload starts
        // the next): the page that holds the whole frame is swapped in, at the frame's offset in
        // it; a frame across two pages (a full-sized one there, a jumbo frame) is copied instead.
        u32 index = packet->linear_offset() / 4096;
        u32 offset = packet->linear_offset() % 4096;
        u32 length = packet->linear_length();
        if (index >= packet->block_pages() || offset + length > 4096) {
            deliver_copy(ring, *packet);
            return;
        }
        mm::PhysicalAddress page = packet->block_page(index).phys;
        uptr slot_page = ring.receive_frames + u64 { ring.next_fill } * 4096;
        auto old = [&] {
            InterruptDisabler disabler;
            return ring.task->space().exchange_ring_page(slot_page, page);
        }();
        if (old.is_error()) {
            // The slot's page has another holder (it should not): copy into it instead.
            deliver_copy(ring, *packet);
            return;
        }
        packet->exchange_page(index, net::PortPage { mm::frame_bytes(old.value()), old.value() });
        ++ring.stats.remapped;
        publish(ring, descriptor, offset, length);
    }

    // A copy into the slot's current page (capture, or a page that could not be swapped).
    static void deliver_copy(PacketRing& ring, net::PacketBuffer const& frame)
    {
        abi::RingDescriptor* descriptor = empty_slot(ring);
        if (!descriptor)
            return;
        uptr slot_page = ring.receive_frames + u64 { ring.next_fill } * 4096;
        auto translation = [&] {
            InterruptDisabler disabler;
            return ring.task->space().table().translate(slot_page);
        }();
        if (translation.is_error())
            return;
        u32 length = min<u32>(frame.linear_length(), 4096);
        __builtin_memcpy(mm::frame_bytes(translation.value().physical), frame.data(), length);
        ++ring.stats.copied;
        publish(ring, descriptor, 0, length);
    }

    PacketRing* m_rings[kMaxRings] {};
    bool m_registered { false };
};

RingTap s_tap;

// Transmit slots whose frame the device has let go of (only the mapping holds it) are empty again.
void reclaim_sent(PacketRing& ring)
{
    for (u32 slot = 0; slot < ring.slots; ++slot) {
        auto volatile* descriptor = ring.transmit_descriptor(slot);
        if (descriptor->state == abi::kSlotSending && mm::frame_refcount(ring.transmit_frame[slot]) == 1)
            descriptor->state = abi::kSlotEmpty;
    }
}

} // namespace

Result<PacketRing*> map_packet_ring(task::Task& task, abi::RingSetup& setup, knet::NetWaiter& waiter)
{
    if (!knet::is_running())
        return Error::NetworkUnreachable;
    if (setup.slots == 0 || setup.slots > abi::kMaxRingSlots)
        return Error::InvalidArgument;
    auto* ring = new (std::nothrow) PacketRing;
    if (!ring)
        return Error::NoMemory;
    ring->task = &task;
    ring->slots = setup.slots;
    ring->ether_type = setup.ether_type;
    ring->waiter = &waiter;
    mm::PhysicalAddress receive_frames[abi::kMaxRingSlots];
    auto mapped = [&]() -> Result<void> {
        sync::MutexLocker locker(task.memory_lock());
        InterruptDisabler disabler;
        auto& space = task.space();
        ring->receive_descriptors = TRY(space.map_ring(1, false, &ring->receive_descriptor_frame));
        ring->receive_frames = TRY(space.map_ring(setup.slots, false, receive_frames));
        ring->transmit_descriptors = TRY(space.map_ring(1, true, &ring->transmit_descriptor_frame));
        ring->transmit_frames = TRY(space.map_ring(setup.slots, true, ring->transmit_frame));
        return {};
    }();
    if (!mapped.is_error()) {
        knet::StackLocker locker;
        mapped = s_tap.add(ring);
        if (!mapped.is_error())
            __builtin_memcpy(setup.mac, knet::stack().interface(0).mac.bytes, 6);
    }
    if (mapped.is_error()) {
        close_packet_ring(ring);
        return mapped.error();
    }
    setup.receive_descriptors = ring->receive_descriptors;
    setup.receive_frames = ring->receive_frames;
    setup.transmit_descriptors = ring->transmit_descriptors;
    setup.transmit_frames = ring->transmit_frames;
    return ring;
}

void close_packet_ring(PacketRing* ring)
{
    {
        knet::StackLocker locker;
        s_tap.remove(ring);
    }
    {
        sync::MutexLocker locker(ring->task->memory_lock());
        InterruptDisabler disabler;
        auto& space = ring->task->space();
        using Kind = mm::UserSpace::RegionKind;
        if (ring->receive_descriptors)
            (void)space.unmap(ring->receive_descriptors, 4096, Kind::Ring);
        if (ring->receive_frames)
            (void)space.unmap(ring->receive_frames, u64 { ring->slots } * 4096, Kind::Ring);
        if (ring->transmit_descriptors)
            (void)space.unmap(ring->transmit_descriptors, 4096, Kind::Ring);
        // Frames still on their way out keep the references their packets hold.
        if (ring->transmit_frames)
            (void)space.unmap(ring->transmit_frames, u64 { ring->slots } * 4096, Kind::Ring);
    }
    delete ring;
}

Result<u32> release_ring_slots(PacketRing& ring, u32 count)
{
    knet::StackLocker locker;
    u32 released = 0;
    while (released < count) {
        abi::RingDescriptor* descriptor = ring.receive_descriptor(ring.next_release);
        if (descriptor->state != abi::kSlotFull)
            break;
        descriptor->state = abi::kSlotEmpty;
        ring.next_release = (ring.next_release + 1) % ring.slots;
        ++released;
    }
    return released;
}

Result<u32> transmit_ring_slots(PacketRing& ring, u32 count)
{
    u32 sent = 0;
    {
        knet::StackLocker locker;
        auto& stack = knet::stack();
        reclaim_sent(ring);
        net::NetStack::TransmitBatch batch(stack);
        while (sent < count) {
            u32 slot = ring.next_transmit;
            auto volatile* descriptor = ring.transmit_descriptor(slot);
            if (descriptor->state != abi::kSlotFull)
                break;
            // Read once: the task may change its descriptor meanwhile; the kernel checks what it
            // uses.
            u32 offset = descriptor->offset;
            u32 length = descriptor->length;
            if (length < abi::kMinFrameLength || length > abi::kMaxFrameLength || offset > 4096 - length) {
                ++ring.stats.transmit_errors;
                descriptor->state = abi::kSlotEmpty;
                ring.next_transmit = (slot + 1) % ring.slots;
                return sent ? Result<u32>(sent) : Result<u32>(Error::InvalidArgument);
            }
            net::PacketRef packet = stack.pool().allocate_transmit();
            if (!packet)
                break; // no transmit buffer: the slot stays full for the next call
            // The Ethernet header as the packet's own header, the rest straight from the slot's
            // page (a reference on its frame for as long as the packet holds it).
            mm::PhysicalAddress frame = ring.transmit_frame[slot];
            u8 const* bytes = mm::frame_bytes(frame) + offset;
            __builtin_memcpy(packet->push_header(14), bytes, 14);
            stack.port().ref_page(frame);
            net::DataSeg segment { bytes + 14, frame + offset + 14, length - 14, { frame, net::FrameKind::Page } };
            bool added = packet->add_segment(segment);
            VERIFY(added); // a fresh buffer has room for a segment
            descriptor->state = abi::kSlotSending;
            ring.next_transmit = (slot + 1) % ring.slots;
            if (stack.transmit_raw(0, move(packet)).is_error())
                ++ring.stats.transmit_errors;
            else
                ++ring.stats.transmitted;
            ++sent;
        }
    }
    knet::wake_network_thread();
    return sent;
}

u32 ring_full_slots(PacketRing& ring)
{
    knet::StackLocker locker;
    reclaim_sent(ring);
    u32 full = 0;
    for (u32 slot = 0; slot < ring.slots; ++slot)
        full += ring.receive_descriptor(slot)->state == abi::kSlotFull;
    return full;
}

abi::RingStats ring_statistics(PacketRing& ring)
{
    knet::StackLocker locker;
    reclaim_sent(ring);
    return ring.stats;
}

} // namespace skiff::syscall
