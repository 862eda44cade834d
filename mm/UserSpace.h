#pragma once

// A task's address space: the lower half, its own page table (the kernel's half shared above it),
// and what is mapped there, region by region, each counted against the task's memory limit.
//
//   0x0000000000000000  never mapped: a null pointer (and anything below 64 KiB) faults
//   0x0000000000010000  the program's segments, as its ELF file asks (up to 1 GiB)
//   0x0000100000000000  anonymous memory (MapMemory): zeroed pages, faulted in on first touch
//   0x0000200000000000  zero-copy buffers (ZeroCopyAllocate), registered as the kernel's are
//   0x0000300000000000  packet rings (RingMap)
//   0x00007fff00000000  thread stacks, one slot of kStackSlotBytes each, the first at the top;
//                       each stack faulted in on touch, with a guard page below it
//   0x00007ffffffff000  the end: everything above is not the task's
//
// The kernel touches a task's memory in two ways only: fault-safe copies (arch::copy_from_user),
// and, for the network stack's send and receive, after prepare_access() has checked every page of
// the range and made it present (and writable, for a receive), so nothing the stack does to it can
// fault. Every user pointer the kernel gets is checked by is_user_range() first.
//
// Not locked: the kernel calls it with interrupts off (mm/Memory.h's user-space functions), and a
// task's mutex keeps its threads from changing the regions under a call that uses them.
// Host-tested over the simulated page tables (tests/unit/mm/UserSpaceTest.cpp).

#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/FrameAllocator.h>
#include <mm/PageTable.h>
#include <mm/VirtualRangeAllocator.h>
#include <mm/ZeroCopyPages.h>

namespace skiff::mm {

constexpr uptr kUserProgramBase = 0x10000;
constexpr uptr kUserProgramEnd = 0x40000000;
constexpr uptr kUserAnonymousBase = 0x0000100000000000ull;
constexpr u64 kUserAnonymousSize = 64ull << 30;
constexpr uptr kUserZeroCopyBase = 0x0000200000000000ull;
constexpr uptr kUserRingBase = 0x0000300000000000ull;
constexpr u64 kUserRingSize = 1ull << 30;
constexpr uptr kUserStackSlotsBase = 0x00007fff00000000ull;
constexpr uptr kUserTop = 0x00007ffffffff000ull;
constexpr u64 kStackSlotBytes = 1ull << 20; // a guard page and the stack, with unused space below
constexpr u32 kStackSlots = static_cast<u32>((kUserTop - kUserStackSlotsBase) / kStackSlotBytes);

// Is [address, address + length) entirely a task's? (A zero length is, anywhere: nothing is touched.)
constexpr bool is_user_range(uptr address, u64 length)
{
    if (length == 0)
        return true;
    uptr end = address + length;
    return end > address && address >= kUserProgramBase && end <= kUserTop;
}

class UserSpace {
public:
    enum class RegionKind : u8 { Program, Stack, Anonymous, ZeroCopy, Ring };
    struct Region {
        uptr base { 0 };
        u64 pages { 0 };
        RegionKind kind { RegionKind::Program };
        PageFlags flags { 0 }; // of its pages when present
        u32 slot { 0 };        // stacks: the slot
        u64 charged { 0 };     // pages counted against the limit (a stack's guard page is not)
    };
    static constexpr u32 kMaxRegions = 64;

    // What a fault on a task's address means (resolve_fault, prepare_access).
    enum class Fault : u8 {
        Resolved,      // faulted in (demand zero) or made writable (a zero-copy page): go on
        NotMapped,     // nothing there
        NullPage,      // below the program area: a null pointer
        Guard,         // the guard page below a stack: the stack overflowed
        ReadOnly,      // a write to a page that is not writable
        NotExecutable, // an instruction fetch from data
        OutOfMemory,   // no frame to fault in
        Spurious,      // present and allowed: nothing the tables can fix (SMAP, a stale entry)
        KernelHalf,    // the kernel's half of the address space, which tasks may not touch
    };
    static char const* fault_name(Fault fault);

    UserSpace() = default;
    UserSpace(UserSpace const&) = delete;
    UserSpace& operator=(UserSpace const&) = delete;

    // A fresh space over `kernel`'s upper half, allowed `max_bytes` of memory in all its regions.
    Result<void> create(FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb,
        PageTable const& kernel, u64 max_bytes);
    // Unmaps every region (each frame loses the mapping's reference: frames pinned by sends live
    // on until unpinned) and frees the tables. The space must not be active.
    void destroy();

    PageTable& table() { return m_table; }
    PageTable const& table() const { return m_table; }
    u64 max_bytes() const { return m_max_bytes; }
    u64 reserved_bytes() const { return m_reserved_pages * kPageSize; } // every region's pages
    u64 resident_pages() const { return m_resident_pages; }             // present now
    u32 region_count() const { return m_region_count; }
    Region const& region(u32 index) const { return m_regions[index]; }

    // --- Regions ---------------------------------------------------------------------------------
    // The program's segment [base, base + pages * 4096): `fill(page_index, frame_bytes)` writes
    // each page's contents into a zeroed frame before it is mapped. LimitReached beyond the limit,
    // InvalidArgument outside the program area or over another region.
    using PageFiller = void (*)(u64 page_index, u8* frame_bytes, void* context);
    Result<void> map_program(uptr base, u64 pages, bool writable, bool executable, PageFiller fill, void* context);
    // A thread's stack in `slot`: `bytes` of demand-zero pages ending at the slot's top, a guard
    // page below. Returns the top (the first address above the stack).
    Result<uptr> map_stack(u32 slot, u64 bytes);
    static uptr stack_top(u32 slot) { return kUserTop - u64 { slot } * kStackSlotBytes; }
    // Zeroed, writable memory faulted in on first touch, somewhere in the anonymous area.
    Result<uptr> map_anonymous(u64 bytes);
    // Removes a region: [base, base + bytes) must be exactly one region of that kind.
    Result<void> unmap(uptr base, u64 bytes, RegionKind kind);
    // The region holding `address`, or null.
    Region const* find_region(uptr address) const;

    // --- Faults and the kernel's access ----------------------------------------------------------
    // A fault on `address` (the task's own access, or the kernel's on its behalf).
    Fault resolve_fault(uptr address, bool write, bool execute);
    // Before the kernel reads (or writes) [address, address + length) directly: every page must be
    // mapped with the access allowed; demand-zero pages are faulted in now and, for a write,
    // write-protected zero-copy pages are made writable (or copied) now, so the access itself
    // cannot fault. Fault when a page is not the task's or refuses the access, NoMemory when a
    // page could not be faulted in.
    Result<void> prepare_access(uptr address, u64 length, bool write);

    // --- Zero-copy buffers (LyraNET's "special system call", for a task) -------------------------
    // Whole pages in the zero-copy area, each with its own zeroed frame, registered once in the
    // space's ZeroCopyPages (made on first use, a record per page the limit allows) exactly as the
    // kernel's are (mm/ZeroCopyPages.h): O(1) send pins, protection on first send and lifted
    // lazily, receive remaps — in this space's page table. Counted into `shared_stats`.
    Result<uptr> allocate_zero_copy(u64 bytes, ZeroCopyStats* shared_stats);
    Result<void> free_zero_copy(uptr base, u64 bytes);
    // Makes writable the pages no send holds (mm::release_zero_copy_buffer); returns how many stay
    // protected.
    Result<u64> release_zero_copy(uptr base, u64 bytes);
    ZeroCopyPages* zero_copy() { return m_zero_copy; }
    bool is_zero_copy(uptr address, u64 length) const;

    // --- Packet rings (kernel/syscall/PacketRing.h) --------------------------------------------
    // `pages` pages in the ring area, each with its own zeroed frame, readable by the task and
    // writable only when asked, never executable; `frames[i]` receives page i's frame (the kernel
    // reaches a ring through the direct map). Removed with unmap(.., RegionKind::Ring).
    Result<uptr> map_ring(u64 pages, bool writable, PhysicalAddress* frames);
    // Swaps `new_frame` in under a ring page (the caller's reference on it goes to the mapping)
    // and returns the frame that was there (its reference now the caller's). Busy when that frame
    // has another holder. One invalidation if the space is loaded; none otherwise (its next load
    // flushes everything).
    Result<PhysicalAddress> exchange_ring_page(uptr page, PhysicalAddress new_frame);

    Result<void> add_region(Region const& region);
    void remove_region(u32 index);

private:
    static constexpr u64 kPageSize = 4096;
    Result<void> reserve(u64 pages);
    bool overlaps(uptr base, u64 pages) const;
    void unmap_pages(uptr base, u64 pages);
    Fault fault_in(uptr page, u64 entry);

    // A write to a write-protected zero-copy page: Resolved (writable again, or a private copy),
    // OutOfMemory, or ReadOnly when it is not one.
    Fault zero_copy_write(uptr page);
    void unmap_region_pages(Region const& region);

    PageTable m_table;
    FrameAllocator* m_frames { nullptr };
    ZeroCopyPages* m_zero_copy { nullptr };
    ZeroCopyPageRecord* m_zero_copy_records { nullptr };
    VirtualRangeAllocator m_zero_copy_areas;
    VirtualRangeAllocator m_ring_areas;
    VirtualRangeAllocator m_anonymous;
    Region m_regions[kMaxRegions] {};
    u32 m_region_count { 0 };
    u64 m_max_bytes { 0 };
    u64 m_reserved_pages { 0 };
    u64 m_resident_pages { 0 };
};

} // namespace skiff::mm
