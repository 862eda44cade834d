#include <kernel/base/Arch.h>
#include <kernel/net/KernelPort.h>
#include <kernel/net/NetWaiter.h>
#include <mm/Memory.h>

namespace skiff::knet {

Result<net::PortPage> KernelPort::allocate_page()
{
    mm::PhysicalAddress frame = TRY(mm::allocate_frame());
    return net::PortPage { mm::frame_bytes(frame), frame };
}

void KernelPort::ref_page(u64 phys)
{
    mm::ref_frame(phys);
}

void KernelPort::unref_page(u64 phys)
{
    mm::unref_frame(phys);
}

Result<net::PortPage> KernelPort::pin_user_page(void const* virt)
{
    // The stack reads the pinned frame through the direct map (Port.h): that address stays valid
    // and unchanged for as long as the pin's reference is held, whatever happens to the
    // application's mapping (a COW copy, free_zero_copy_buffer, a remap).
    mm::PhysicalAddress frame = TRY(mm::pin_page(reinterpret_cast<uptr>(virt)));
    return net::PortPage { mm::frame_bytes(frame), frame };
}

void KernelPort::unpin_user_page(u64 phys)
{
    mm::unpin_page(phys);
}

bool KernelPort::is_zero_copy_region(void const* virt, usize length)
{
    return mm::is_zero_copy_buffer(virt, length);
}

Result<net::PortPage> KernelPort::remap_page(void* app_page, net::PortPage received)
{
    mm::PhysicalAddress old = TRY(mm::remap_page(reinterpret_cast<uptr>(app_page), received.phys));
    return net::PortPage { mm::frame_bytes(old), old };
}

// SplitMix64 (Steele, Lea, Flood 2014) over a state stirred with the TSC on every call: not a
// cryptographic generator, but unpredictable enough from the wire for RFC 6528 ISNs mixed by the
// stack and for ephemeral ports.
u64 KernelPort::random_u64()
{
    m_random_state += 0x9e3779b97f4a7c15ull ^ arch::cycle_counter();
    u64 z = m_random_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void KernelPort::wake(void* waiter)
{
    if (waiter)
        static_cast<NetWaiter*>(waiter)->wake();
}

} // namespace skiff::knet
