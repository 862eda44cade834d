#include "HostPort.h"

#include <cstdlib>
#include <cstring>

namespace skiff::net {

HostPort::~HostPort()
{
    for (auto& [phys, refs] : m_pages)
        std::free(reinterpret_cast<void*>(phys));
}

Result<PortPage> HostPort::allocate_page()
{
    if (m_pages.size() >= m_page_limit)
        return Error::NoMemory;
    void* page = std::aligned_alloc(kPageSize, kPageSize);
    if (!page)
        return Error::NoMemory;
    std::memset(page, 0, kPageSize);
    u64 phys = reinterpret_cast<u64>(page);
    m_pages[phys] = 1;
    return PortPage { static_cast<u8*>(page), phys };
}

void HostPort::ref_page(u64 phys)
{
    auto it = m_pages.find(phys);
    VERIFY(it != m_pages.end());
    ++it->second;
}

void HostPort::unref_page(u64 phys)
{
    auto it = m_pages.find(phys);
    VERIFY(it != m_pages.end() && it->second > 0);
    if (--it->second == 0) {
        std::free(reinterpret_cast<void*>(phys));
        m_pages.erase(it);
    }
}

Result<PortPage> HostPort::pin_user_page(void const* virt)
{
    u64 page = align_down(reinterpret_cast<u64>(virt), kPageSize);
    auto latest = m_pinned_as.find(page);
    if (latest != m_pinned_as.end() && m_pins.count(latest->second)
        && std::memcmp(reinterpret_cast<void*>(latest->second), reinterpret_cast<void*>(page), kPageSize) == 0) {
        ++m_pins[latest->second];
        ref_page(latest->second);
        return PortPage { reinterpret_cast<u8*>(latest->second), latest->second };
    }
    PortPage frame = TRY(allocate_page());
    std::memcpy(frame.virt, reinterpret_cast<void*>(page), kPageSize);
    m_pins[frame.phys] = 1;
    m_pinned_as[page] = frame.phys;
    return frame;
}

void HostPort::unpin_user_page(u64 phys)
{
    auto it = m_pins.find(phys);
    VERIFY(it != m_pins.end() && it->second > 0);
    if (--it->second == 0) {
        m_pins.erase(it);
        for (auto latest = m_pinned_as.begin(); latest != m_pinned_as.end(); ++latest) {
            if (latest->second == phys) {
                m_pinned_as.erase(latest);
                break;
            }
        }
    }
    unref_page(phys);
}

u64 HostPort::pins_held() const
{
    u64 total = 0;
    for (auto& [page, pins] : m_pins)
        total += static_cast<u64>(pins);
    return total;
}

bool HostPort::is_zero_copy_region(void const* virt, usize length)
{
    uptr start = reinterpret_cast<uptr>(virt);
    return m_region_length && start >= m_region_start && start + length <= m_region_start + m_region_length;
}

Result<PortPage> HostPort::remap_page(void* app_page, PortPage received)
{
    VERIFY(is_aligned(reinterpret_cast<u64>(app_page), kPageSize));
    std::memcpy(app_page, received.virt, kPageSize);
    ++m_remaps;
    return received;
}

u64 HostPort::random_u64()
{
    // xorshift64*: deterministic for a seed, which keeps simulations reproducible.
    m_random ^= m_random >> 12;
    m_random ^= m_random << 25;
    m_random ^= m_random >> 27;
    return m_random * 2685821657736338717ull;
}

void HostPort::wake(void*)
{
    ++m_wakes;
}

} // namespace skiff::net
