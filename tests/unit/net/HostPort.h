#pragma once

// The port interface implemented for host programs (unit tests, the fuzzers and the tap runner).
//
// Frames are the 4 KiB pages of one memory file (memfd), mapped once as the "direct map": a
// frame's "physical" address is its address there, so physical and virtual addresses are the same
// number, as the stack's DMA-less tests expect. Frames have reference counts; allocate_pages()
// finds contiguous runs as the kernel's frame allocator does. Freed frames are poisoned for
// AddressSanitizer, so a stack that touches a page after giving it back is caught.
//
// Zero-copy receive remaps for real, without copying: map_zero_copy_region() maps frames of the
// memory file under a range of the process's own address space (the application's zero-copy
// buffer), and remap_page()/remap_pages() put another frame under one of its pages with
// mmap(MAP_FIXED) — the host's equivalent of the kernel's PTE write — handing back the old frame.
// What the application then reads there is the received frame itself. (A region given with
// set_zero_copy_region() instead is ordinary memory: remaps into it copy, and say so in
// remap_copies().)
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
#include <set>
#include <vector>

namespace skiff::net {

class HostPort final : public Port {
public:
    explicit HostPort(u64 seed = 1);
    ~HostPort();
    HostPort(HostPort const&) = delete;
    HostPort& operator=(HostPort const&) = delete;

    Result<PortPage> allocate_page() override;
    Result<PortPage> allocate_pages(u32 count) override;
    void ref_page(u64 phys) override;
    void unref_page(u64 phys) override;
    Result<PortPage> pin_user_page(void const* virt) override;
    void unpin_user_page(u64 phys) override;
    bool is_zero_copy_region(void const* virt, usize length) override;
    Result<PortPage> remap_page(void* app_page, PortPage received) override;
    usize remap_pages(Span<PortRemap> remaps) override;
    Result<u8*> posted_destination(void* virt, usize length) override;
    u64 random_u64() override;
    void wake(void* waiter) override;

    // A zero-copy buffer of `pages` pages whose pages can really be remapped, each backed by a
    // zeroed frame of its own (counted in pages_allocated()); it becomes the zero-copy region.
    u8* map_zero_copy_region(usize pages);
    void unmap_zero_copy_region();
    // The frame under a page of that region now (0 elsewhere).
    u64 frame_under(void const* app_page) const;
    // Ordinary memory as the zero-copy region: remaps into it copy (remap_copies()).
    void set_zero_copy_region(void const* start, usize length)
    {
        m_region_start = reinterpret_cast<uptr>(start);
        m_region_length = length;
    }
    // Refuse remapping this application page, as the kernel does while a send pins its frame.
    void refuse_remap(void const* app_page) { m_refused.insert(reinterpret_cast<uptr>(app_page)); }

    void set_page_limit(u64 limit) { m_page_limit = limit; }
    u64 pages_allocated() const { return m_pages.size(); }
    u64 pins_held() const;
    u64 remaps() const { return m_remaps; }
    u64 remap_copies() const { return m_remap_copies; }
    u64 remap_batches() const { return m_remap_batches; }
    u64 wakes() const { return m_wakes; }

private:
    Result<PortPage> take_frames(u32 count);
    u64 frame_address(u64 index) const { return reinterpret_cast<u64>(m_arena) + index * kPageSize; }
    u64 frame_index(u64 phys) const { return (phys - reinterpret_cast<u64>(m_arena)) / kPageSize; }

    int m_fd { -1 };
    u8* m_arena { nullptr };        // the memory file, mapped whole: the "direct map"
    std::vector<bool> m_frame_used; // per frame of the arena
    u64 m_next_frame { 0 };         // where the next single-frame search starts
    std::map<u64, int> m_pages;     // phys -> references
    std::map<u64, int> m_pins;      // pinned frame (the copy) -> pins
    std::map<u64, u64> m_pinned_as; // application page -> its latest pinned frame
    std::map<uptr, u64> m_mapped;   // page of map_zero_copy_region()'s region -> frame under it
    std::set<uptr> m_refused;
    u64 m_random;
    uptr m_region_start { 0 };
    usize m_region_length { 0 };
    bool m_region_mapped { false };
    u64 m_page_limit { ~0ull };
    u64 m_remaps { 0 };
    u64 m_remap_copies { 0 };
    u64 m_remap_batches { 0 };
    u64 m_wakes { 0 };
};

} // namespace skiff::net
