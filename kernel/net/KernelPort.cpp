#include <kernel/Time.h>
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

Result<net::PortPage> KernelPort::allocate_pages(u32 count)
{
    // Physically contiguous frames are contiguous in the direct map too.
    mm::PhysicalAddress first = TRY(mm::allocate_frames(count));
    return net::PortPage { mm::frame_bytes(first), first };
}

void KernelPort::ref_page(u64 phys)
{
    mm::ref_frame(phys);
}

void KernelPort::ref_pages(u64 phys, u32 count)
{
    // One interrupt-masked section for all of them: each mm::ref_frame() inside finds interrupts
    // already off and leaves them so. Under TCG re-enabling interrupts ends a translation block,
    // and a sendfile range took that cost once per piece (mm::ref_frame was 15-19% of the guest's
    // time serving a 16 MiB file, `sample`).
    arch::InterruptDisabler disabler;
    while (count--)
        mm::ref_frame(phys);
}

void KernelPort::unref_page(u64 phys)
{
    mm::unref_frame(phys);
}

void KernelPort::unref_pages(Span<u64 const> frames)
{
    mm::unref_frames(frames);
}

Result<net::PortPage> KernelPort::pin_user_page(void const* virt, u32 count)
{
    // The stack reads the pinned frame through the direct map (Port.h): that address stays valid
    // and unchanged for as long as the pin's reference is held, whatever happens to the
    // application's mapping (a COW copy, free_zero_copy_buffer, a remap).
    mm::PhysicalAddress frame = TRY(mm::pin_page(reinterpret_cast<uptr>(virt), count));
    return net::PortPage { mm::frame_bytes(frame), frame };
}

void KernelPort::unpin_user_page(u64 phys, u32 count)
{
    mm::unpin_page(phys, count);
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

usize KernelPort::remap_pages(Span<net::PortRemap> remaps)
{
    // mm::remap_pages does every PTE write first and the invalidations together at the end.
    constexpr usize kMost = 32;
    mm::PageExchange exchanges[kMost];
    usize count = min(remaps.size(), kMost);
    for (usize i = 0; i < count; ++i)
        exchanges[i] = { reinterpret_cast<uptr>(remaps[i].app_page), remaps[i].received.phys };
    u32 done = mm::remap_pages({ exchanges, count });
    for (u32 i = 0; i < done; ++i)
        remaps[i].received = net::PortPage { mm::frame_bytes(exchanges[i].frame), exchanges[i].frame };
    return done;
}

Result<u8*> KernelPort::posted_destination(void* owner, void* virt, usize length)
{
    uptr address = reinterpret_cast<uptr>(virt);
    VERIFY(length > 0 && (address & (net::kPageSize - 1)) + length <= net::kPageSize);
    // The frame under the application's page, through the direct map: the same bytes as the
    // application's address, reachable from the network thread in any address space. A task's
    // buffer (the Receive system call posts it with the task's address space as the owner) is
    // looked up in that space's zero-copy pages, not in whichever space is loaded now.
    mm::PhysicalAddress frame = TRY(owner ? mm::writable_zero_copy_frame(*static_cast<mm::UserSpace*>(owner), address)
                                          : mm::writable_zero_copy_frame(address));
    return mm::frame_bytes(frame) + (address & (net::kPageSize - 1));
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

namespace {

ZeroCopyThreshold s_threshold; // written at boot and by the console, read by `zc stats`

constexpr u32 kRounds = 21;

u64 median_of(u64* samples)
{
    for (u32 i = 1; i < kRounds; ++i)
        for (u32 k = i; k > 0 && samples[k] < samples[k - 1]; --k)
            swap(samples[k], samples[k - 1]);
    return samples[kRounds / 2];
}

// Copies `size` bytes at the payload's usual offset (a timestamped segment's, 68) from a received
// page into an application page, as recv does without remapping.
u64 copy_cycles(u8* to, u8 const* from, u32 size)
{
    u64 samples[kRounds];
    for (u32 r = 0; r < kRounds; ++r) {
        u64 start = arch::cycle_counter_ordered();
        __builtin_memcpy(to + 68, from + 68, size);
        samples[r] = arch::cycle_counter_ordered() - start;
    }
    return median_of(samples);
}

} // namespace

ZeroCopyThreshold measure_zero_copy_threshold()
{
    ZeroCopyThreshold result;
    u64 started = arch::cycle_counter_ordered();
    auto buffer = mm::allocate_zero_copy_buffer(net::kPageSize);
    auto frame = mm::allocate_zeroed_frame();
    if (buffer.is_error() || frame.is_error()) {
        if (!buffer.is_error())
            mm::free_zero_copy_buffer(buffer.value(), net::kPageSize);
        if (!frame.is_error())
            mm::unref_frame(frame.value());
        return result; // not measured: the caller keeps the stack's default
    }
    u8* page = buffer.value();
    mm::PhysicalAddress spare = frame.value();
    u64 samples[kRounds];
    // The remap as recv does it, and the application's first read of its data, which refills the
    // translation the invlpg dropped. The same two frames swap back and forth.
    for (u32 r = 0; r < kRounds; ++r) {
        u64 start = arch::cycle_counter_ordered();
        mm::PhysicalAddress old = MUST(mm::remap_page(reinterpret_cast<uptr>(page), spare)); // sole owner
        (void)*static_cast<u8 volatile*>(page + 68);
        samples[r] = arch::cycle_counter_ordered() - start;
        spare = old;
    }
    result.remap_cycles = median_of(samples);
    // memcpy's cost is close to linear in the size: two sizes give its slope and start-up.
    constexpr u32 kSmall = 256, kLarge = 2048;
    u8 const* from = mm::frame_bytes(spare);
    u64 small = copy_cycles(page, from, kSmall);
    u64 large = copy_cycles(page, from, kLarge);
    u64 per_kib = large > small ? (large - small) * 1024 / (kLarge - kSmall) : 1;
    u64 fixed = small > per_kib * kSmall / 1024 ? small - per_kib * kSmall / 1024 : 0;
    // Break-even: fixed + n * per_kib / 1024 = remap. Above a page no piece qualifies: recv copies.
    u64 bytes = result.remap_cycles > fixed ? (result.remap_cycles - fixed) * 1024 / max<u64>(per_kib, 1) : 0;
    result.bytes = static_cast<u32>(min<u64>(max<u64>(bytes, 64), net::kPageSize + 1));
    result.copy_cycles_per_kib = per_kib;
    result.copy_fixed_cycles = fixed;
    result.measured = true;
    mm::free_zero_copy_buffer(page, net::kPageSize);
    mm::unref_frame(spare);
    result.measurement_cycles = arch::cycle_counter_ordered() - started;
    return result;
}

ZeroCopyThreshold const& zero_copy_threshold()
{
    return s_threshold;
}

void set_zero_copy_threshold(ZeroCopyThreshold const& threshold)
{
    s_threshold = threshold;
}

} // namespace skiff::knet
