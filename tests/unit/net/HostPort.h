#pragma once

// The port interface implemented for host programs (unit tests and the tap runner). "Physical"
// addresses are the virtual ones; frames are 4 KiB aligned_alloc blocks with reference counts;
// remap copies (a host process cannot swap pages under itself cheaply) but counts what the kernel
// would have remapped.
//
// Pinning simulates the kernel's copy-on-write (mm/Memory.h pin_page): a host process cannot
// write-protect its own heap, so the pin hands out a separate frame holding a copy of the
// application's page as it is now, and the application's memory plays the part of the private
// copy a COW fault would give it. Whatever the application does to its buffer after send (writes
// it, frees it), the pinned frame keeps the bytes of send time — and a stack that still read
// through the application's address would be caught sending the new bytes. Pinning the same page
// again while its bytes are unchanged returns the same frame, as the kernel does.

#include <net/Port.h>

#include <cstdint>
#include <map>

namespace skiff::net {

class HostPort final : public Port {
public:
    explicit HostPort(u64 seed = 1)
        : m_random(seed ? seed : 1)
    {
    }
    ~HostPort();

    Result<PortPage> allocate_page() override;
    void ref_page(u64 phys) override;
    void unref_page(u64 phys) override;
    Result<PortPage> pin_user_page(void const* virt) override;
    void unpin_user_page(u64 phys) override;
    bool is_zero_copy_region(void const* virt, usize length) override;
    Result<PortPage> remap_page(void* app_page, PortPage received) override;
    u64 random_u64() override;
    void wake(void* waiter) override;

    void set_zero_copy_region(void const* start, usize length)
    {
        m_region_start = reinterpret_cast<uptr>(start);
        m_region_length = length;
    }
    void set_page_limit(u64 limit) { m_page_limit = limit; }
    u64 pages_allocated() const { return m_pages.size(); }
    u64 pins_held() const;
    u64 remaps() const { return m_remaps; }
    u64 wakes() const { return m_wakes; }

private:
    std::map<u64, int> m_pages;     // phys -> references
    std::map<u64, int> m_pins;      // pinned frame (the copy) -> pins
    std::map<u64, u64> m_pinned_as; // application page -> its latest pinned frame
    u64 m_random;
    uptr m_region_start { 0 };
    usize m_region_length { 0 };
    u64 m_page_limit { ~0ull };
    u64 m_remaps { 0 };
    u64 m_wakes { 0 };
};

} // namespace skiff::net
