#pragma once

// The port interface implemented for host programs (unit tests, fuzzers and the tap runner),
// with the memory model of the kernel's mm/ and nothing copied where the kernel copies nothing:
//
// - Frames are 4 KiB pages of one memfd, all mapped once at a "direct map"; a frame's "physical"
//   address is its direct-map address. allocate_page() hands out frames with reference counts.
// - The application's zero-copy buffers (allocate_zero_copy_buffer, as mm::allocate_zero_copy_buffer)
//   are pages of a reserved address range, each mapping a frame of its own (a second mapping of
//   the memfd). Only they can be pinned or remapped; other memory makes pin_user_page fail, and
//   the stack copies (the kernel's rule).
// - pin_user_page() takes a reference on the frame mapped at the page and write-protects the
//   page (mprotect): no copy. An application write goes through write() or fill(), which do what
//   the kernel's COW fault does: a page whose frame is pinned or shared gets a new frame, a copy
//   of the old, mapped in its place; the pinned frame keeps the bytes of send time. A direct
//   store into a pinned page faults (SIGSEGV): a test that forgets write() fails loudly.
// - remap_page() maps the received frame at the application's page and hands the old frame back:
//   no copy. It refuses (Error::Busy) when the old frame is pinned or shared, as mm::remap_page.
//   remap_pages() does several in order, up to the first refused (remap_batches() counts them).
// - allocate_pages() finds runs of contiguous frames (receive blocks), next fit as the kernel's
//   FrameAllocator::allocate_run does.
// - posted_destination() is the frame under a writable zero-copy page through the direct map, as
//   the kernel's; a page write-protected for a send says no.
// - copied_bytes() counts every byte the port copied (the COW copies): a test of a path that
//   claims zero copy asserts it stays 0, beside the stack's own copy counters.

#include <net/Port.h>

#include <lib/Span.h>

#include <map>
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
    Result<PortPage> pin_user_page(void const* virt, u32 count) override;
    void unpin_user_page(u64 phys, u32 count) override;
    bool is_zero_copy_region(void const* virt, usize length) override;
    Result<PortPage> remap_page(void* app_page, PortPage received) override;
    usize remap_pages(Span<PortRemap> remaps) override;
    Result<u8*> posted_destination(void* owner, void* virt, usize length) override;
    u64 random_u64() override;
    void wake(void* waiter) override;

    // The application's side.
    u8* allocate_zero_copy_buffer(usize bytes); // whole pages, zeroed
    void free_zero_copy_buffer(u8* buffer, usize bytes);
    void write(void* address, ReadonlyBytes bytes); // a store by the application (COW first)
    void fill(void* address, u8 value, usize length);
    // The frame mapped at an application page now (its direct-map address), 0 if none.
    u64 frame_under(void const* app_page);

    void set_page_limit(u64 limit) { m_page_limit = limit; }
    u64 pages_allocated() const { return m_frames_in_use; }
    u64 pins_held() const;
    u64 pin_calls() const { return m_pin_calls; } // pin_user_page calls (each for `count` pins)
    u64 remaps() const { return m_remaps; }
    u64 remap_batches() const { return m_remap_batches; }
    u64 wakes() const { return m_wakes; }
    u64 cow_copies() const { return m_cow_copies; }
    u64 copied_bytes() const { return m_copied_bytes; }

private:
    struct Frame {
        u32 references { 0 };
        u32 pins { 0 };
        uptr mapped_at { 0 }; // the application page mapping it, 0: none
    };
    u32 frame_of(u64 phys) const;
    u8* frame_address(u32 frame) const;
    Result<u32> take_frame();
    Result<u32> take_run(u32 count);
    void drop_reference(u32 frame);
    void map_at(uptr page, u32 frame, bool writable);
    void protect(uptr page, bool writable);
    void copy_on_write(uptr page);
    u32* app_frame(uptr page); // the frame mapped at an application page, or null

    int m_memfd { -1 };
    u8* m_direct { nullptr };
    std::vector<Frame> m_frames;
    std::vector<bool> m_free; // per frame
    u32 m_next_free { 0 };    // where the next search for free frames starts
    u64 m_frames_in_use { 0 };
    u8* m_region { nullptr }; // the reserved application range
    usize m_region_used { 0 };
    std::map<uptr, u32> m_app_pages; // application page -> frame
    u64 m_random;
    u64 m_page_limit { ~0ull };
    u64 m_remaps { 0 };
    u64 m_remap_batches { 0 };
    u64 m_pin_calls { 0 };
    u64 m_wakes { 0 };
    u64 m_cow_copies { 0 };
    u64 m_copied_bytes { 0 };
};

} // namespace skiff::net
