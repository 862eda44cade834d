#include "HostPort.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SKIFF_HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIFF_HOST_ASAN 1
#endif
#endif
#ifdef SKIFF_HOST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace skiff::net {

namespace {

// 256 MiB of address space for frames; the memory file only uses what is touched.
constexpr u64 kArenaFrames = 65536;

void poison(void const* address, usize length)
{
#ifdef SKIFF_HOST_ASAN
    ASAN_POISON_MEMORY_REGION(address, length);
#else
    (void)address;
    (void)length;
#endif
}

void unpoison(void const* address, usize length)
{
#ifdef SKIFF_HOST_ASAN
    ASAN_UNPOISON_MEMORY_REGION(address, length);
#else
    (void)address;
    (void)length;
#endif
}

[[noreturn]] void fail(char const* what)
{
    std::perror(what);
    std::abort();
}

} // namespace

HostPort::HostPort(u64 seed)
    : m_random(seed ? seed : 1)
{
    m_fd = memfd_create("skiff-hostport", MFD_CLOEXEC);
    if (m_fd < 0)
        fail("HostPort: memfd_create");
    if (ftruncate(m_fd, static_cast<off_t>(kArenaFrames * kPageSize)) != 0)
        fail("HostPort: ftruncate");
    void* arena = mmap(nullptr, kArenaFrames * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
    if (arena == MAP_FAILED)
        fail("HostPort: mmap");
    m_arena = static_cast<u8*>(arena);
    m_frame_used.assign(kArenaFrames, false);
    poison(m_arena, kArenaFrames * kPageSize);
}

HostPort::~HostPort()
{
    unmap_zero_copy_region();
    unpoison(m_arena, kArenaFrames * kPageSize);
    munmap(m_arena, kArenaFrames * kPageSize);
    close(m_fd);
}

// `count` free frames in a row, next-fit from where the last search ended.
Result<PortPage> HostPort::take_frames(u32 count)
{
    if (count == 0 || m_pages.size() + count > m_page_limit)
        return Error::NoMemory;
    for (u64 tried = 0; tried < kArenaFrames; ++tried) {
        u64 first = (m_next_frame + tried) % kArenaFrames;
        if (first + count > kArenaFrames)
            continue;
        u32 free = 0;
        while (free < count && !m_frame_used[first + free])
            ++free;
        if (free < count) {
            tried += free;
            continue;
        }
        for (u32 i = 0; i < count; ++i) {
            m_frame_used[first + i] = true;
            m_pages[frame_address(first + i)] = 1;
        }
        m_next_frame = (first + count) % kArenaFrames;
        u8* virt = m_arena + first * kPageSize;
        unpoison(virt, count * kPageSize);
        std::memset(virt, 0, count * kPageSize);
        return PortPage { virt, frame_address(first) };
    }
    return Error::NoMemory;
}

Result<PortPage> HostPort::allocate_page()
{
    return take_frames(1);
}

Result<PortPage> HostPort::allocate_pages(u32 count)
{
    return take_frames(count);
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
        m_pages.erase(it);
        m_frame_used[frame_index(phys)] = false;
        poison(reinterpret_cast<void*>(phys), kPageSize);
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

u8* HostPort::map_zero_copy_region(usize pages)
{
    unmap_zero_copy_region();
    void* range = mmap(nullptr, pages * kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (range == MAP_FAILED)
        fail("HostPort: mmap of the zero-copy region");
    u8* base = static_cast<u8*>(range);
    for (usize i = 0; i < pages; ++i) {
        PortPage frame = MUST(allocate_page());
        void* page = mmap(base + i * kPageSize, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m_fd,
            static_cast<off_t>(frame_index(frame.phys) * kPageSize));
        if (page == MAP_FAILED)
            fail("HostPort: mmap of a zero-copy page");
        m_mapped[reinterpret_cast<uptr>(page)] = frame.phys;
    }
    m_region_start = reinterpret_cast<uptr>(base);
    m_region_length = pages * kPageSize;
    m_region_mapped = true;
    return base;
}

void HostPort::unmap_zero_copy_region()
{
    if (!m_region_mapped)
        return;
    for (auto& [page, frame] : m_mapped)
        unref_page(frame);
    m_mapped.clear();
    munmap(reinterpret_cast<void*>(m_region_start), m_region_length);
    m_region_start = 0;
    m_region_length = 0;
    m_region_mapped = false;
    m_refused.clear();
}

u64 HostPort::frame_under(void const* app_page) const
{
    auto it = m_mapped.find(reinterpret_cast<uptr>(app_page));
    return it == m_mapped.end() ? 0 : it->second;
}

Result<PortPage> HostPort::remap_page(void* app_page, PortPage received)
{
    PortRemap remap { app_page, received };
    if (remap_pages({ &remap, 1 }) == 0)
        return Error::Busy;
    return remap.received;
}

usize HostPort::remap_pages(Span<PortRemap> remaps)
{
    usize done = 0;
    for (PortRemap& remap : remaps) {
        uptr page = reinterpret_cast<uptr>(remap.app_page);
        VERIFY(is_aligned(page, kPageSize));
        if (m_refused.count(page))
            break;
        auto mapped = m_mapped.find(page);
        if (mapped == m_mapped.end()) {
            // Ordinary memory given as the region: the bytes can only be copied.
            VERIFY(is_zero_copy_region(remap.app_page, kPageSize));
            std::memcpy(remap.app_page, remap.received.virt, kPageSize);
            ++m_remap_copies;
        } else {
            // The host's PTE write: the received frame itself goes under the application's page.
            VERIFY(m_pages.count(remap.received.phys));
            void* at = mmap(remap.app_page, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m_fd,
                static_cast<off_t>(frame_index(remap.received.phys) * kPageSize));
            if (at == MAP_FAILED)
                fail("HostPort: remap");
            u64 old = mapped->second;
            mapped->second = remap.received.phys;
            remap.received = PortPage { reinterpret_cast<u8*>(old), old };
        }
        ++m_remaps;
        ++done;
    }
    if (done)
        ++m_remap_batches;
    return done;
}

Result<u8*> HostPort::posted_destination(void* virt, usize length)
{
    uptr address = reinterpret_cast<uptr>(virt);
    VERIFY(length > 0 && (address & (kPageSize - 1)) + length <= kPageSize);
    if (!is_zero_copy_region(virt, length))
        return Error::NotSupported;
    if (m_refused.count(align_down(address, kPageSize)))
        return Error::Busy; // as a page the kernel keeps write-protected for a send
    // The frame under a page of a mapped region, through the arena (the "direct map"); ordinary
    // memory given as the region is its own alias.
    if (u64 frame = frame_under(reinterpret_cast<void*>(align_down(address, kPageSize))))
        return reinterpret_cast<u8*>(frame) + (address & (kPageSize - 1));
    return static_cast<u8*>(virt);
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
