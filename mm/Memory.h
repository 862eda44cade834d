#pragma once

// The kernel's memory system, as the rest of the kernel, the drivers and the network port call it.
// Everything here is safe to call from threads and from interrupt handlers: each call holds
// interrupts off for its duration (one CPU).
//
// Ownership of frames follows one rule: whoever holds a physical address obtained from here holds
// one reference on it and drops it with unref_frame(). Mapping a frame hands that reference to the
// mapping; unmapping or remapping hands the old frame's reference back.

#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>
#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>
#include <mm/Heap.h>
#include <mm/PageTable.h>
#include <mm/UserSpace.h>
#include <mm/ZeroCopyPages.h>

namespace skiff::mm {

// Frames, the final page tables (CR3 switch), the kernel virtual areas, the page-fault resolver
// and the heap. After this, `new` works.
void initialize(BootInfo const& info);
// The lowest whole page of the boot stack, which initialize() turns into its guard page; the boot
// thread's usable stack starts one page above.
uptr boot_stack_guard_page();

// --- Physical frames -------------------------------------------------------------------------
Result<PhysicalAddress> allocate_frame();        // refcount 1, contents undefined
Result<PhysicalAddress> allocate_zeroed_frame(); // refcount 1, zero-filled
// `count` (up to 64) physically contiguous frames, each refcount 1 (unref_frame() each), contents
// undefined, found next fit (FrameAllocator::allocate_run): the network stack's receive blocks,
// which a NIC fills across page boundaries and which are re-made all the time.
Result<PhysicalAddress> allocate_frames(u64 count);
void ref_frame(PhysicalAddress frame);
void unref_frame(PhysicalAddress frame);               // frees the frame when the count reaches 0
void unref_frames(Span<PhysicalAddress const> frames); // the same for several, interrupts off once
u32 frame_refcount(PhysicalAddress frame);
// The frame's bytes through the direct map (cached, writable, never copy-on-write).
inline u8* frame_bytes(PhysicalAddress frame)
{
    return reinterpret_cast<u8*>(frame + kDirectMapBase);
}
FrameStats frame_stats();

// --- DMA memory: physically contiguous runs (descriptor rings, NE2000-free bounce buffers) ----
struct DmaRegion {
    PhysicalAddress physical { 0 };  // what goes into a descriptor or a base-address register
    u8* virtual_address { nullptr }; // where the CPU reaches it (the direct map, cached: x86 DMA is
                                     // cache-coherent)
    u64 pages { 0 };
};
// Zeroed, `alignment` a power of two >= 4096 (the e1000 wants rings on 16-byte boundaries, so the
// default page alignment is plenty).
Result<DmaRegion> allocate_dma(u64 bytes, u64 alignment = kFrameSize);
void free_dma(DmaRegion const& region);

// --- MMIO: device registers, mapped uncached (PCD|PWT, SDM §11.12.3) -------------------------
// Returns the virtual address of `physical` (page offset kept). The range is not RAM and not
// refcounted.
Result<u8*> map_mmio(PhysicalAddress physical, u64 length);
void unmap_mmio(u8* address, u64 length);

// --- Kernel virtual areas of 4 KiB pages (thread stacks, large heap blocks) ------------------
struct AreaOptions {
    bool guard_below { false }; // a not-present guard page under the area (stacks grow down into it)
    bool demand_zero { false }; // frames are faulted in, zeroed, on first touch
    bool executable { false };
};
Result<uptr> allocate_area(u64 bytes, AreaOptions options = {});
void free_area(uptr base, u64 bytes, AreaOptions options = {});

// --- Zero-copy buffers (LyraNET §3.3's "special system call") --------------------------------
// Page-aligned, whole 4 KiB pages, each backed by its own zeroed frame, in a dedicated region
// whose pages are registered once (mm/ZeroCopyPages.h): sending from them and receiving into them
// finds the frame by index, without walking the page table. Only these take the zero-copy paths.
Result<u8*> allocate_zero_copy_buffer(u64 bytes);
// Frames a send still pins live on until unpinned.
void free_zero_copy_buffer(u8* buffer, u64 bytes);
bool is_zero_copy_buffer(void const* address, u64 length);
// The application is about to write the buffer: make writable now, without a fault each, the
// pages sends protected and no longer hold. Returns how many pages stay protected because a send
// still holds them (a write to those takes a private copy).
u64 release_zero_copy_buffer(u8 const* buffer, u64 bytes);

// The frame mapped now under the page holding `address` of a zero-copy buffer, when that page is
// writable (not write-protected for a send); NotSupported elsewhere, Busy when protected. Writing
// the frame through frame_bytes() is then writing the application's page: the network stack's
// header-first receive does it from the network thread.
Result<PhysicalAddress> writable_zero_copy_frame(uptr address);
// The same for a task's zero-copy buffer at `address` in `space`, loaded or not.
Result<PhysicalAddress> writable_zero_copy_frame(UserSpace& space, uptr address);

// Swap `new_frame` in under the page at `page` (inside a zero-copy buffer) with one invlpg; the
// mapping takes over the caller's reference on new_frame, the caller receives the reference on
// the returned old frame. Error::Busy (nothing changed) when the frame mapped there now is shared
// (pinned by a zero-copy send, or held by anyone else): the caller copies instead.
Result<PhysicalAddress> remap_page(uptr page, PhysicalAddress new_frame);
// The same for several pages, the PTE writes first and the invalidations together at the end (one
// invlpg each, or one CR3 reload for a large batch). Remaps in order up to the first page that
// cannot be (Busy or not a zero-copy page) and returns how many were; each remapped entry's frame
// is then the old one, the caller's.
u32 remap_pages(Span<PageExchange> exchanges);

// Zero-copy send: take a reference on the frame under `address` for the caller (an O(1) pin: the
// frame is found in the page's record). The first send of a page write-protects it (copy-on-write:
// one PTE write and one invlpg); it stays protected after the ACK, so sending it again costs no
// page-table work. A write to the page while a send holds it faults and gets a private copy; TCP
// keeps the original. A write when no send holds it faults once and makes it writable again, no
// copy (or release_zero_copy_buffer() does that ahead). Only pages of zero-copy buffers can be
// pinned (Error::NotSupported elsewhere: the caller copies instead). `count` pins at once, one per
// piece of a send that lies in the page: one call, one masked section, for all of them.
Result<PhysicalAddress> pin_page(uptr address, u32 count = 1);
// Drops a pin's reference, nothing else: the page keeps its protection. The page may meanwhile
// have been written (COW gave it another frame), remapped, or unmapped by free_zero_copy_buffer:
// the pin's reference kept the frame alive (freed now if it was the last). Read a pinned frame
// through frame_bytes(frame), never through the application's address.
void unpin_page(PhysicalAddress frame, u32 count = 1);

// --- The kernel address space ----------------------------------------------------------------
PageTable& kernel_page_table();
Result<Translation> translate(uptr address);
// Marks a present page copy-on-write (read-only, COW bit) / restores it writable.
Result<void> mark_copy_on_write(uptr page);
Result<void> unmark_copy_on_write(uptr page);

// --- Task address spaces (mm/UserSpace.h) ----------------------------------------------------
// A fresh space for a task, allowed `max_bytes` in all its regions. Call its methods with interrupts
// off (arch::InterruptDisabler), as everything here does.
Result<UserSpace*> create_user_space(u64 max_bytes);
// Unmaps and frees everything of it (switching to the kernel's table first if it is loaded).
void destroy_user_space(UserSpace* space);
// The scheduler, switching to a task's thread (interrupts off): load its table unless it is
// loaded. Kernel threads do not switch: the kernel's half is in every table.
void activate_user_space(UserSpace* space);
UserSpace* active_user_space();
// What the last unresolved fault in the lower half hit, for the task's fault report.
UserSpace::Fault last_user_fault();
// A task's zero-copy buffer (UserSpace::allocate_zero_copy), its work counted with the kernel's
// in stats().zero_copy. The functions above that take an application address (pin_page,
// remap_page, remap_pages, is_zero_copy_buffer) serve a lower-half address from the current
// task's region: the network stack runs a task's send and receive on the task's own thread.
Result<uptr> allocate_user_zero_copy_buffer(UserSpace& space, u64 bytes);

struct FaultStats {
    u64 faults { 0 };       // page faults seen by the resolver
    u64 user_faults { 0 };  // of those, in the lower half (a task's, or the kernel's on its behalf)
    u64 cow_copies { 0 };   // COW faults that copied (frame shared)
    u64 cow_reclaims { 0 }; // COW faults that only made the page writable (sole owner)
    u64 demand_zero { 0 };  // demand-zero pages faulted in
    u64 unresolved { 0 };   // kernel bugs reported
};

struct MemoryStats {
    FrameStats frames;
    PageTableStats paging; // the kernel's table and every task's (those that ended included)
    FaultStats faults;
    HeapStats heap;
    u64 zero_copy_bytes { 0 }; // zero-copy buffers currently allocated, the kernel's and the tasks'
    u64 pinned_frames { 0 };   // frames with a zero-copy send pin
    ZeroCopyStats zero_copy;   // pins, remaps and the page-table work of both (mm/ZeroCopyPages.h)
    u64 area_bytes { 0 };      // kernel virtual areas in use (stacks, large heap blocks)
    u64 user_spaces { 0 };     // task address spaces now
};
MemoryStats stats();

// Frames in use that a test can expect back after it cleans up: excludes page-table frames and
// heap slab pages, which are kept for reuse.
u64 frames_in_use_for_tests();

} // namespace skiff::mm
