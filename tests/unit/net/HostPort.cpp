#include "HostPort.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace skiff::net {

namespace {

constexpr u32 kFrames = 32768;                   // 128 MiB of memfd, sparse: only touched pages cost
constexpr usize kRegionBytes = 64 * 1024 * 1024; // the application's zero-copy address range

[[noreturn]] void fail(char const* what)
{
    std::perror(what);
    std::abort();
}

} // namespace

HostPort::HostPort(u64 seed)
    : m_frames(kFrames)
    , m_random(seed ? seed : 1)
{
    m_memfd = memfd_create("skiff-hostport", MFD_CLOEXEC);
    if (m_memfd < 0)
        fail("HostPort: memfd_create");
    if (ftruncate(m_memfd, static_cast<off_t>(kFrames) * kPageSize) != 0)
        fail("HostPort: ftruncate");
    void* direct = mmap(nullptr, kFrames * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, m_memfd, 0);
    if (direct == MAP_FAILED)
        fail("HostPort: mmap of the frames");
    m_direct = static_cast<u8*>(direct);
    void* region = mmap(nullptr, kRegionBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
        fail("HostPort: mmap of the zero-copy range");
    m_region = static_cast<u8*>(region);
    m_free.assign(kFrames, true);
}

HostPort::~HostPort()
{
    munmap(m_region, kRegionBytes);
    munmap(m_direct, kFrames * kPageSize);
    close(m_memfd);
}

u8* HostPort::frame_address(u32 frame) const
{
    return m_direct + static_cast<usize>(frame) * kPageSize;
}

u32 HostPort::frame_of(u64 phys) const
{
    u64 base = reinterpret_cast<u64>(m_direct);
    VERIFY(phys >= base && phys < base + u64 { kFrames } * kPageSize && (phys - base) % kPageSize == 0);
    return static_cast<u32>((phys - base) / kPageSize);
}

Result<u32> HostPort::take_frame()
{
    return take_run(1);
}

// `count` free frames in a row, next fit from where the last search ended.
Result<u32> HostPort::take_run(u32 count)
{
    if (count == 0 || m_frames_in_use + count > m_page_limit)
        return Error::NoMemory;
    for (u32 tried = 0; tried < kFrames;) {
        u32 first = (m_next_free + tried) % kFrames;
        if (first + count > kFrames) {
            tried += kFrames - first;
            continue;
        }
        u32 run = 0;
        while (run < count && m_free[first + run])
            ++run;
        if (run < count) {
            tried += run + 1;
            continue;
        }
        for (u32 i = 0; i < count; ++i) {
            m_free[first + i] = false;
            m_frames[first + i] = { 1, 0, 0 };
        }
        m_frames_in_use += count;
        m_next_free = (first + count) % kFrames;
        std::memset(frame_address(first), 0, count * kPageSize);
        return first;
    }
    return Error::NoMemory;
}

void HostPort::drop_reference(u32 frame)
{
    Frame& f = m_frames[frame];
    VERIFY(f.references > 0);
    if (--f.references == 0) {
        VERIFY(f.pins == 0 && f.mapped_at == 0);
        m_free[frame] = true;
        --m_frames_in_use;
    }
}

void HostPort::map_at(uptr page, u32 frame, bool writable)
{
    void* mapped = mmap(reinterpret_cast<void*>(page), kPageSize, PROT_READ | (writable ? PROT_WRITE : 0),
        MAP_SHARED | MAP_FIXED, m_memfd, static_cast<off_t>(frame) * kPageSize);
    if (mapped == MAP_FAILED)
        fail("HostPort: mmap of an application page");
    m_frames[frame].mapped_at = page;
    m_app_pages[page] = frame;
}

void HostPort::protect(uptr page, bool writable)
{
    if (mprotect(reinterpret_cast<void*>(page), kPageSize, PROT_READ | (writable ? PROT_WRITE : 0)) != 0)
        fail("HostPort: mprotect");
}

u32* HostPort::app_frame(uptr page)
{
    auto it = m_app_pages.find(page);
    return it == m_app_pages.end() ? nullptr : &it->second;
}

Result<PortPage> HostPort::allocate_page()
{
    u32 frame = TRY(take_frame());
    u8* address = frame_address(frame);
    return PortPage { address, reinterpret_cast<u64>(address) };
}

Result<PortPage> HostPort::allocate_pages(u32 count)
{
    u32 first = TRY(take_run(count));
    u8* address = frame_address(first);
    return PortPage { address, reinterpret_cast<u64>(address) };
}

void HostPort::ref_page(u64 phys)
{
    Frame& f = m_frames[frame_of(phys)];
    VERIFY(f.references > 0);
    ++f.references;
}

void HostPort::unref_page(u64 phys)
{
    drop_reference(frame_of(phys));
}

u8* HostPort::allocate_zero_copy_buffer(usize bytes)
{
    usize length = align_up(bytes, kPageSize);
    VERIFY(length && m_region_used + length <= kRegionBytes);
    u8* buffer = m_region + m_region_used;
    m_region_used += length;
    for (usize offset = 0; offset < length; offset += kPageSize)
        map_at(reinterpret_cast<uptr>(buffer + offset), MUST(take_frame()), true);
    return buffer;
}

void HostPort::free_zero_copy_buffer(u8* buffer, usize bytes)
{
    // As mm::free_zero_copy_buffer: the pages go; a frame a send still pins lives on until unpinned.
    for (usize offset = 0; offset < align_up(bytes, kPageSize); offset += kPageSize) {
        uptr page = reinterpret_cast<uptr>(buffer + offset);
        u32* frame = app_frame(page);
        VERIFY(frame);
        u32 which = *frame;
        m_app_pages.erase(page);
        m_frames[which].mapped_at = 0;
        void* gone = mmap(reinterpret_cast<void*>(page), kPageSize, PROT_NONE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        if (gone == MAP_FAILED)
            fail("HostPort: unmapping an application page");
        drop_reference(which);
    }
}

Result<PortPage> HostPort::pin_user_page(void const* virt, u32 count)
{
    VERIFY(count > 0);
    uptr page = align_down(reinterpret_cast<uptr>(virt), kPageSize);
    u32* mapped = app_frame(page);
    if (!mapped)
        return Error::InvalidArgument; // not a zero-copy buffer page: the stack copies
    Frame& f = m_frames[*mapped];
    f.references += count;
    ++m_pin_calls;
    bool first = f.pins == 0;
    f.pins += count;
    if (first)
        protect(page, false); // copy-on-write armed
    u8* address = frame_address(*mapped);
    return PortPage { address, reinterpret_cast<u64>(address) };
}

void HostPort::unpin_user_page(u64 phys, u32 count)
{
    u32 frame = frame_of(phys);
    Frame& f = m_frames[frame];
    VERIFY(count > 0 && f.pins >= count);
    f.pins -= count;
    if (f.pins == 0 && f.mapped_at)
        protect(f.mapped_at, true); // no send holds the page: writable again, no copy
    for (u32 i = 0; i < count; ++i)
        drop_reference(frame);
}

u64 HostPort::pins_held() const
{
    u64 total = 0;
    for (Frame const& f : m_frames)
        total += f.pins;
    return total;
}

// What the kernel's COW fault does for a store into a page whose frame someone else holds.
void HostPort::copy_on_write(uptr page)
{
    u32* mapped = app_frame(page);
    VERIFY(mapped); // the application writes only into its own buffers here
    u32 old = *mapped;
    Frame& f = m_frames[old];
    if (f.pins == 0 && f.references == 1)
        return;
    u32 fresh = MUST(take_frame());
    std::memcpy(frame_address(fresh), frame_address(old), kPageSize);
    ++m_cow_copies;
    m_copied_bytes += kPageSize;
    f.mapped_at = 0;
    map_at(page, fresh, true);
    drop_reference(old); // the mapping's reference; the pins keep the old frame
}

void HostPort::write(void* address, ReadonlyBytes bytes)
{
    u8* at = static_cast<u8*>(address);
    for (usize done = 0; done < bytes.size();) {
        uptr page = align_down(reinterpret_cast<uptr>(at + done), kPageSize);
        usize count = min<usize>(bytes.size() - done, page + kPageSize - reinterpret_cast<uptr>(at + done));
        if (app_frame(page))
            copy_on_write(page);
        std::memcpy(at + done, bytes.data() + done, count);
        done += count;
    }
}

void HostPort::fill(void* address, u8 value, usize length)
{
    std::vector<u8> bytes(length, value);
    write(address, { bytes.data(), bytes.size() });
}

bool HostPort::is_zero_copy_region(void const* virt, usize length)
{
    uptr start = reinterpret_cast<uptr>(virt);
    uptr base = reinterpret_cast<uptr>(m_region);
    return start >= base && start + length <= base + m_region_used;
}

Result<PortPage> HostPort::remap_page(void* app_page, PortPage received)
{
    uptr page = reinterpret_cast<uptr>(app_page);
    VERIFY(is_aligned(page, kPageSize));
    u32* mapped = app_frame(page);
    VERIFY(mapped);
    u32 old = *mapped;
    Frame& f = m_frames[old];
    // Never a shared frame into a ring (mm::remap_page): a pinned one would be overwritten by
    // the device while a send still needs it.
    if (f.pins || f.references > 1)
        return Error::Busy;
    // The received frame's reference passes to the mapping, the mapping's to the caller.
    f.mapped_at = 0;
    map_at(page, frame_of(received.phys), true);
    ++m_remaps;
    u8* address = frame_address(old);
    return PortPage { address, reinterpret_cast<u64>(address) };
}

usize HostPort::remap_pages(Span<PortRemap> remaps)
{
    usize done = 0;
    for (PortRemap& remap : remaps) {
        auto old = remap_page(remap.app_page, remap.received);
        if (old.is_error())
            break;
        remap.received = old.value();
        ++done;
    }
    if (done)
        ++m_remap_batches;
    return done;
}

Result<u8*> HostPort::posted_destination(void* owner, void* virt, usize length)
{
    VERIFY(owner == nullptr); // one application address space here
    uptr address = reinterpret_cast<uptr>(virt);
    VERIFY(length > 0 && (address & (kPageSize - 1)) + length <= kPageSize);
    u32* mapped = app_frame(align_down(address, kPageSize));
    if (!mapped)
        return Error::NotSupported;
    if (m_frames[*mapped].pins)
        return Error::Busy; // write-protected while a send holds it
    return frame_address(*mapped) + (address & (kPageSize - 1));
}

u64 HostPort::frame_under(void const* app_page)
{
    u32* mapped = app_frame(reinterpret_cast<uptr>(app_page));
    return mapped ? reinterpret_cast<u64>(frame_address(*mapped)) : 0;
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
