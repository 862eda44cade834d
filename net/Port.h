#pragma once

// The port interface: everything net/ needs from the operating system, and nothing more
// (LyraNET's "kernel support functions", LyraNET §3.5; lwIP's sys_arch). The kernel implements
// it in kernel/ or mm/; host programs implement it in tests/unit/net/HostPort.cpp.
//
// What is deliberately absent: a clock (time is passed into NetStack::poll(now_ns)), sleeping
// (socket calls never block; the kernel glue blocks on top of them using the wake-up below), and
// locks (the stack is driven by one network thread).

#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>

namespace skiff::net {

static constexpr usize kPageSize = 4096;

// One 4 KiB frame as the stack sees it: where the CPU reaches it and where a DMA engine does.
struct PortPage {
    u8* virt { nullptr };
    u64 phys { 0 };
};

// One page of a batched zero-copy receive (Port::remap_pages): the received frame to swap in under
// the application's page-aligned `app_page`; on return, for each page remapped, the frame that was
// there before (the stack's now).
struct PortRemap {
    void* app_page { nullptr };
    PortPage received;
};

class Port {
public:
    // Frames with reference counts. allocate_page() returns a frame whose count is 1;
    // unref_page() frees it when the count reaches zero.
    virtual Result<PortPage> allocate_page() = 0;
    virtual void ref_page(u64 phys) = 0;
    virtual void unref_page(u64 phys) = 0;
    // `count` physically contiguous frames, reachable by the CPU as one contiguous range from the
    // first's `virt`, each with a count of 1 (unref_page() each): a receive buffer that a NIC
    // fills by DMA across page boundaries (PacketPool's receive blocks). Contents undefined.
    virtual Result<PortPage> allocate_pages(u32 count) = 0;
    // unref_page() for each, at once (a receive block's pages when it is re-made).
    virtual void unref_pages(Span<u64 const> frames)
    {
        for (u64 frame : frames)
            unref_page(frame);
    }

    // `count` references on one frame, as `count` ref_page() calls (sendfile: the consecutive
    // pieces of a range that share a frame take theirs together). A kernel whose ref_page() pays for
    // masking interrupts each time pays once here.
    virtual void ref_pages(u64 phys, u32 count)
    {
        while (count--)
            ref_page(phys);
    }

    // Zero-copy send (docs/zero-copy.md): pin the page of application memory holding `virt`. Takes a
    // reference on the frame mapped there now and returns that frame as a PortPage: `virt` is the
    // frame's own kernel address (the direct map), `phys` its DMA address. The kernel
    // write-protects the application's page and marks it copy-on-write for as long as any pin is
    // held, so an application that writes before the ACK gets a private copy and TCP keeps the
    // original frame.
    //
    // Everything the stack reads of a pinned piece (the checksum, a PIO or copying driver, a
    // retransmission) must go through the returned address, never through the application's
    // mapping: after a COW fault or a free_zero_copy_buffer() that mapping shows other bytes or
    // nothing at all, while the frame behind the pin stays as it was at send time for as long as
    // the pin's reference is held.
    //
    // `count` pins at once (TCP pins a page once for all the pieces of one write that lie in it);
    // each piece gives its pin back on its own, `unpin_user_page(phys, 1)`, and pins taken but not
    // used go back together.
    virtual Result<PortPage> pin_user_page(void const* virt, u32 count) = 0;
    virtual void unpin_user_page(u64 phys, u32 count) = 0;

    // Zero-copy receive: is [virt, virt+length) inside the page-aligned zero-copy buffer region?
    virtual bool is_zero_copy_region(void const* virt, usize length) = 0;
    // Swap `received` in under the application's page-aligned `app_page` (remap + TLB flush) and
    // hand back the frame that was there before; it becomes a receive buffer of the stack. Fails
    // (and changes nothing) when that old frame is shared — still pinned by a zero-copy send, or
    // held by anyone else — because a frame a NIC may write into must have no other holder; the
    // caller then copies.
    virtual Result<PortPage> remap_page(void* app_page, PortPage received) = 0;
    // The same for several pages at once, with the TLB work of the batch done together at the end
    // (one invalidation each, or one flush of everything for a large batch): remaps in order up to
    // the first page that cannot be (its frame shared, or not a zero-copy page) and returns how
    // many were. Each remapped entry's `received` is then the old frame, which the caller now
    // owns; the entries from the first refused one on are unchanged, and the caller copies them.
    // Nothing is said about address spaces: `app_page` is the application's address, whichever
    // space the port resolves it in.
    virtual usize remap_pages(Span<PortRemap> remaps) = 0;

    // Header-first receive (NetDevice::place_payload): where the stack may write the bytes
    // [virt, virt + length) of an application's posted zero-copy buffer (inside one page) from
    // the network thread, whichever address space the application runs in — the stack's own
    // address of the frame mapped there now — or an error when the page cannot take writes that
    // way (not a zero-copy page, or write-protected: a send may still hold its frame); the stack
    // then takes the ordinary path. `owner` is what the application posted the buffer with
    // (TcpSocket::post_receive): opaque to the stack, it tells the port which address space
    // `virt` is in (null: the port's own). The port resolves it again for every segment, so a
    // buffer the application has given back since is refused, not written; the OS keeps that
    // from racing a placement in flight (docs/zero-copy.md).
    virtual Result<u8*> posted_destination(void* owner, void* virt, usize length) = 0;

    // Randomness for ISNs (RFC 6528), IP IDs, ephemeral ports.
    virtual u64 random_u64() = 0;

    // Someone may be waiting on a socket (see Socket::set_waiter). Called from inside poll() and
    // from socket calls; the kernel glue wakes the thread(s) behind `waiter`.
    virtual void wake(void* waiter) = 0;

protected:
    ~Port() = default;
};

} // namespace skiff::net
