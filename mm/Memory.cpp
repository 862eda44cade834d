// The kernel's memory system: bring-up (frames, final page tables), the kernel virtual areas,
// the page-fault resolver (copy-on-write, demand-zero, guard pages), zero-copy buffers, DMA runs
// and MMIO windows.

#include <mm/Memory.h>

#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Panic.h>
#include <kernel/base/Print.h>
#include <lib/Verify.h>
#include <mm/VirtualRangeAllocator.h>
#include <mm/ZeroCopyPages.h>

extern "C" char __text_start[];
extern "C" char __text_end[];
extern "C" char __rodata_start[];
extern "C" char __rodata_end[];
extern "C" char __data_start[];
extern "C" char __bss_end[];
extern "C" char boot_stack_bottom[];

namespace skiff::mm {

namespace {

// The kernel virtual area (kernel/base/Layout.h), split into regions of 64 GiB, all under PML4 slot 384.
constexpr u64 kRegionSize = 64ull << 30;
constexpr uptr kGeneralAreaBase = kKernelVirtualAreaBase;            // stacks, large heap blocks
constexpr uptr kZeroCopyBase = kKernelVirtualAreaBase + kRegionSize; // zero-copy buffers
constexpr uptr kMmioBase = kKernelVirtualAreaBase + 2 * kRegionSize; // device registers
// The zero-copy region uses as much of its 64 GiB as there is RAM (every page of a zero-copy
// buffer has its own frame), at least 32 MiB: one 8-byte record per page.
constexpr u64 kMinZeroCopyPages = 8192;

using arch::InterruptDisabler;

// The architecture's TLB maintenance for the kernel table (kernel/base/Arch.h).
constexpr TlbOperations kTlbOperations { arch::flush_tlb_page, arch::flush_tlb_all, arch::publish_page_table_writes };

// All of the following are guarded by interrupts being off (one CPU).
FrameAllocator s_frames;
PageTable s_kernel_table;
VirtualRangeAllocator s_general_areas;
VirtualRangeAllocator s_zero_copy_areas;
ZeroCopyPages s_zero_copy; // the pages of s_zero_copy_areas, registered
VirtualRangeAllocator s_mmio_areas;
FaultStats s_faults;
u64 s_zero_copy_bytes = 0;
u64 s_area_bytes = 0;
// The task address space whose table is loaded now (null: the kernel's own, before any task ran).
// Kernel threads leave it as it is: the upper half is the same in every table.
UserSpace* s_active_user_space = nullptr;
UserSpace::Fault s_last_user_fault = UserSpace::Fault::Resolved;
u64 s_user_spaces = 0;
// The task spaces alive (their tables' counters join the kernel's in stats()), and the counters of
// those destroyed.
constexpr u32 kMaxLiveSpaces = 64;
UserSpace* s_live_spaces[kMaxLiveSpaces] {};
PageTableStats s_ended_paging;

void add_paging(PageTableStats& total, PageTableStats const& more)
{
    total.maps += more.maps;
    total.unmaps += more.unmaps;
    total.remaps += more.remaps;
    total.protects += more.protects;
    total.page_flushes += more.page_flushes;
    total.full_flushes += more.full_flushes;
    total.tables += more.tables;
}

void zero_frame(PhysicalAddress frame)
{
    __builtin_memset(frame_bytes(frame), 0, kFrameSize);
}

[[noreturn]] void out_of_memory_at_boot(char const* what)
{
    kprintln("mm: out of memory while {}", what);
    PANIC("mm: not enough memory to boot");
}

// Flags of a present leaf entry, as a PageFlags value to write back (no address, no A/D).
PageFlags entry_flags(u64 entry)
{
    return entry & pte::kFlagsMask & ~(pte::kPresent | pte::kAccessed | pte::kDirty);
}

void map_image_range(char const* start, char const* end, PageFlags flags)
{
    for (uptr page = align_down(reinterpret_cast<uptr>(start), kFrameSize); page < reinterpret_cast<uptr>(end);
         page += kFrameSize) {
        if (s_kernel_table.map(page, page - kKernelImageBase, flags).is_error())
            out_of_memory_at_boot("mapping the kernel image");
    }
}

bool resolve_copy_on_write(uptr page, u64 entry)
{
    PhysicalAddress old_frame = entry & pte::kAddressMask;
    PageFlags writable = (entry_flags(entry) & ~pte::kCopyOnWrite) | pte::kWritable;
    if (s_frames.refcount(old_frame) == 1) {
        // Sole owner: nobody else can see the frame, so it need not be copied (the "COW fault that
        // does not copy" of membench).
        MUST(s_kernel_table.protect(page, writable)); // the page is present: checked by the caller
        ++s_faults.cow_reclaims;
        return true;
    }
    auto fresh = s_frames.allocate();
    if (fresh.is_error())
        return false; // out of memory: reported as an unresolved fault
    __builtin_memcpy(frame_bytes(fresh.value()), frame_bytes(old_frame), kFrameSize);
    MUST(s_kernel_table.remap(page, fresh.value(), writable)); // present: checked by the caller
    s_frames.unref(old_frame);                                 // the other holders keep the original
    ++s_faults.cow_copies;
    return true;
}

bool handle_page_fault(FaultInfo const& fault, TrapFrame const&)
{
    InterruptDisabler disabler;
    ++s_faults.faults;
    bool present = fault.present;
    bool write = fault.write;
    uptr address = fault.address;
    uptr page = align_down(address, kFrameSize);
    if (address < (1ull << 47)) {
        // The lower half is the active task's (its own access, or the kernel's on its behalf).
        ++s_faults.user_faults;
        ZeroCopyStats const& zero_copy = s_zero_copy.stats(); // a task's region counts here too
        u64 copies = zero_copy.cow_copies, reclaims = zero_copy.lazy_reclaims;
        s_last_user_fault = s_active_user_space ? s_active_user_space->resolve_fault(address, write, fault.execute)
                                                : UserSpace::Fault::NotMapped;
        if (s_last_user_fault == UserSpace::Fault::Resolved) {
            if (zero_copy.cow_copies != copies)
                ++s_faults.cow_copies;
            else if (zero_copy.lazy_reclaims != reclaims)
                ++s_faults.cow_reclaims;
            else
                ++s_faults.demand_zero;
            return true;
        }
        ++s_faults.unresolved;
        return false;
    }
    // A task touching the kernel's half is never resolved, whatever is there.
    if (fault.user) {
        s_last_user_fault = UserSpace::Fault::KernelHalf;
        ++s_faults.unresolved;
        return false;
    }
    if (PageTable::is_canonical(address)) {
        if (present && write && s_zero_copy.contains(page)) {
            // Zero-copy pages keep their own records: a write to one a send protected.
            switch (s_zero_copy.write_fault(page)) {
            case ZeroCopyPages::FaultResult::Reclaimed: ++s_faults.cow_reclaims; return true;
            case ZeroCopyPages::FaultResult::Copied: ++s_faults.cow_copies; return true;
            case ZeroCopyPages::FaultResult::OutOfMemory:
            case ZeroCopyPages::FaultResult::NotProtected: ++s_faults.unresolved; return false;
            }
        }
        u64 entry = s_kernel_table.leaf_entry(page);
        if (present && write && (entry & pte::kPresent) && (entry & pte::kCopyOnWrite))
            return resolve_copy_on_write(page, entry);
        if (!present && !(entry & pte::kPresent) && (entry & pte::kDemandZero)) {
            auto frame = s_frames.allocate();
            if (frame.is_error()) {
                ++s_faults.unresolved;
                return false;
            }
            zero_frame(frame.value());
            MUST(s_kernel_table.map(page, frame.value(), entry & pte::kFlagsMask & ~pte::kDemandZero)); // was absent
            ++s_faults.demand_zero;
            return true;
        }
    }
    ++s_faults.unresolved;
    return false;
}

void describe_address(uptr address)
{
    auto& out = console_sink();
    char const* region = "unmapped (no region)";
    if (address < 0x1000)
        region = "the null page: a null pointer dereference";
    else if (address < (1ull << 47))
        region = s_active_user_space ? "the lower half: the current task's memory" : "the lower half (no task active)";
    else if (address >= kDirectMapBase && address < kKernelVirtualAreaBase)
        region = "the direct map of physical memory";
    else if (s_general_areas.contains(address))
        region = "kernel areas (thread stacks, large heap blocks)";
    else if (s_zero_copy_areas.contains(address))
        region = "the zero-copy buffer region";
    else if (s_mmio_areas.contains(address))
        region = "the MMIO region";
    else if (address >= kKernelImageBase)
        region = "the kernel image";
    format(out, "mm: {:#x} is in {}\n", address, region);
    u64 entry = s_kernel_table.leaf_entry(align_down(address, kFrameSize));
    if (!(entry & pte::kPresent) && (entry & pte::kGuard))
        format(out, "mm: it is a GUARD page: a thread overflowed its stack (see `ps` for stack ranges)\n");
    else if ((entry & pte::kPresent) && (entry & pte::kCopyOnWrite))
        format(out, "mm: copy-on-write page, frame refcount {}\n",
            s_frames.manages(entry & pte::kAddressMask) ? s_frames.refcount(entry & pte::kAddressMask) : 0);
    if (address < (1ull << 47) && s_active_user_space) {
        format(out, "mm: {} (task table {:#x})\n", UserSpace::fault_name(s_last_user_fault),
            s_active_user_space->table().root());
        s_active_user_space->table().describe(address, out);
        return;
    }
    format(out, "mm: page-table walk (root table {:#x}):\n", s_kernel_table.root());
    s_kernel_table.describe(address, out);
}

// Unmaps `pages` pages of an area, dropping each frame's reference; absent (demand-zero, never
// touched) pages are simply cleared.
void unmap_area_pages(uptr base, u64 pages)
{
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kFrameSize;
        u64 entry = s_kernel_table.leaf_entry(page);
        if (entry & pte::kPresent)
            s_frames.unref(MUST(s_kernel_table.unmap(page))); // present: just checked
        else if (entry)
            MUST(s_kernel_table.clear_absent(page)); // a marker: just checked
    }
}

Result<void> populate(uptr base, u64 pages, PageFlags flags, bool demand_zero)
{
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kFrameSize;
        Result<void> result = {};
        if (demand_zero) {
            result = s_kernel_table.set_absent(page, pte::kDemandZero | flags);
        } else {
            auto frame = s_frames.allocate();
            if (frame.is_error()) {
                result = frame.error();
            } else {
                zero_frame(frame.value());
                result = s_kernel_table.map(page, frame.value(), flags);
                if (result.is_error())
                    s_frames.unref(frame.value());
            }
        }
        if (result.is_error()) {
            unmap_area_pages(base, i);
            return result.error();
        }
    }
    return {};
}

// The lowest page-aligned address >= start where `length` bytes overlap no Multiboot module.
u64 skip_boot_modules(BootInfo const& info, u64 start, u64 length)
{
    for (usize pass = 0; pass <= info.module_count; ++pass) {
        bool moved = false;
        for (usize i = 0; i < info.module_count; ++i) {
            u64 module_start = align_down(info.modules[i].physical, kFrameSize);
            u64 module_end = align_up(info.modules[i].end(), kFrameSize);
            if (start < module_end && module_start < start + length) {
                start = module_end;
                moved = true;
            }
        }
        if (!moved)
            break;
    }
    return start;
}

} // namespace

void initialize(BootInfo const& info)
{
    VERIFY(info.usable_count > 0);
    // 1. Frame bookkeeping covers [lowest usable, highest usable); place it in the first usable
    //    range above the kernel image that holds it. The boot tables map the first 1 GiB at the
    //    direct-map base, so it must lie there.
    u64 lowest = ~0ull, highest = 0;
    for (usize i = 0; i < info.usable_count; ++i) {
        lowest = min(lowest, align_down(info.usable[i].base, kFrameSize));
        highest = max(highest, align_up(info.usable[i].base + info.usable[i].length, kFrameSize));
    }
    u64 frame_count = (highest - lowest) / kFrameSize;
    u64 bookkeeping = align_up(FrameAllocator::bookkeeping_bytes(frame_count), kFrameSize);
    u64 kernel_end = align_up(info.kernel_physical_end, kFrameSize);
    PhysicalAddress bookkeeping_base = 0;
    for (usize i = 0; i < info.usable_count && !bookkeeping_base; ++i) {
        u64 start = max(align_up(info.usable[i].base, kFrameSize), kernel_end);
        u64 end = align_down(info.usable[i].base + info.usable[i].length, kFrameSize);
        // Not over a Multiboot module: QEMU loads them right behind the image.
        start = skip_boot_modules(info, start, bookkeeping);
        if (start < end && end - start >= bookkeeping && start + bookkeeping <= kBootMappedPhysicalEnd)
            bookkeeping_base = start;
    }
    if (!bookkeeping_base)
        out_of_memory_at_boot("placing the frame descriptors");
    s_frames.initialize(lowest, frame_count, phys_to_virt(bookkeeping_base));
    for (usize i = 0; i < info.usable_count; ++i)
        s_frames.add_free_range(info.usable[i].base, info.usable[i].length);
    // Keep out: the real-mode IVT and BIOS data area (first 64 KiB), the image with its boot
    // tables and boot stack, and the bookkeeping itself.
    s_frames.reserve_range(0, 0x10000);
    s_frames.reserve_range(info.kernel_physical_start, kernel_end - info.kernel_physical_start);
    s_frames.reserve_range(bookkeeping_base, bookkeeping);
    // The Multiboot modules (the file archive): each frame gets refcount 1, the reference the
    // module's owner holds (kernel/fs/BootArchive.cpp keeps it, or drops it to give the memory
    // back when the archive is refused).
    for (usize i = 0; i < info.module_count; ++i)
        s_frames.reserve_range(info.modules[i].physical, info.modules[i].length);

    // 2. The final page tables. The direct map covers every 2 MiB chunk that holds usable RAM
    //    (writable, never executable); the image gets 4 KiB pages with per-section permissions,
    //    so a stray write into kernel text faults. The lower half stays empty: a null pointer
    //    faults, and user address spaces will live there.
    if (s_kernel_table.create(s_frames, PhysicalWindow { kDirectMapBase }, &kTlbOperations).is_error())
        out_of_memory_at_boot("allocating the PML4");
    constexpr u64 kChunk = PageTable::kLargePage;
    for (usize i = 0; i < info.usable_count; ++i) {
        u64 start = align_down(info.usable[i].base, kChunk);
        u64 end = align_up(info.usable[i].base + info.usable[i].length, kChunk);
        if (i == 0 && arch::kDirectMapFromZero)
            start = 0; // x86-64: low memory, including the image, is always reachable
        for (u64 chunk = start; chunk < end; chunk += kChunk) {
            auto result = s_kernel_table.map_large(kDirectMapBase + chunk, chunk, kPageWritable | kPageNoExecute);
            if (result.is_error() && result.error() != Error::AlreadyExists)
                out_of_memory_at_boot("building the direct map");
        }
    }
    // Devices the firmware described (AArch64: the UART and the GIC, which their drivers reach at
    // phys_to_virt from boot on) stay in the direct map, uncached, in 4 KiB pages: at most the
    // first 256 KiB of each register region.
    for (usize i = 0; i < info.device_count; ++i) {
        DeviceInfo const& device = info.devices[i];
        for (u32 region = 0; region < 2; ++region) {
            u64 base = align_down(region ? device.base2 : device.base, kFrameSize);
            u64 size = region ? device.size2 : device.size;
            if (!size)
                continue;
            u64 end = align_up((region ? device.base2 : device.base) + min<u64>(size, 256 * 1024), kFrameSize);
            for (u64 page = base; page < end; page += kFrameSize) {
                auto result
                    = s_kernel_table.map(kDirectMapBase + page, page, kPageWritable | kPageNoExecute | kPageUncached);
                if (result.is_error() && result.error() != Error::AlreadyExists)
                    out_of_memory_at_boot("mapping device registers");
            }
        }
    }
    map_image_range(__text_start, __text_end, 0);
    map_image_range(__rodata_start, __rodata_end, kPageNoExecute);
    map_image_range(__data_start, __bss_end, kPageWritable | kPageNoExecute);
    // The boot stack (which becomes the "main" thread's) gets a guard page like every other thread
    // stack: its lowest whole page. The frame stays reserved with the image.
    uptr boot_guard = boot_stack_guard_page();
    MUST(s_kernel_table.unmap(boot_guard));                   // mapped just above with the image
    MUST(s_kernel_table.set_absent(boot_guard, pte::kGuard)); // now absent

    s_general_areas.initialize(kGeneralAreaBase, kRegionSize);
    s_mmio_areas.initialize(kMmioBase, kRegionSize);
    // Tasks copy the kernel's top-level entries (mm/UserSpace.h): make every one the layout will
    // ever use now, and refuse new ones from here on.
    uptr const kernel_regions[] = { kDirectMapBase, kKernelVirtualAreaBase, kKernelImageBase };
    for (uptr region : kernel_regions) {
        if (s_kernel_table.reserve_top_level(region).is_error())
            out_of_memory_at_boot("making the kernel's top-level tables");
    }
    s_kernel_table.seal_top_level();

    // 3. Switch. The boot tables set global pages, so drop those too.
    {
        InterruptDisabler disabler;
        arch::activate_kernel_page_table(s_kernel_table.root());
        arch::flush_tlb_everything();
        s_kernel_table.set_active(true);
    }

    // 4. The zero-copy region and its page records (reached through the direct map, which now
    //    covers all RAM).
    u64 zero_copy_pages = max(align_up(s_frames.stats().total, 512), kMinZeroCopyPages);
    u64 record_frames = align_up(ZeroCopyPages::bookkeeping_bytes(zero_copy_pages), kFrameSize) / kFrameSize;
    auto records = s_frames.allocate_contiguous(record_frames);
    if (records.is_error())
        out_of_memory_at_boot("allocating the zero-copy page records");
    __builtin_memset(frame_bytes(records.value()), 0, record_frames * kFrameSize);
    s_zero_copy_areas.initialize(kZeroCopyBase, zero_copy_pages * kFrameSize);
    s_zero_copy.initialize(kZeroCopyBase, zero_copy_pages,
        reinterpret_cast<ZeroCopyPageRecord*>(frame_bytes(records.value())), s_kernel_table, s_frames);

    set_page_fault_resolver(handle_page_fault);
    set_fault_describer(describe_address);
    initialize_heap();

    auto frames = s_frames.stats();
    kprintln("mm: {} frames ({} KiB) usable, {} free; kernel tables use {} frames", frames.total, frames.total * 4,
        frames.free, s_kernel_table.stats().tables);
}

uptr boot_stack_guard_page()
{
    return align_up(reinterpret_cast<uptr>(boot_stack_bottom), kFrameSize);
}

Result<PhysicalAddress> allocate_frame()
{
    InterruptDisabler disabler;
    return s_frames.allocate();
}

Result<PhysicalAddress> allocate_frames(u64 count)
{
    InterruptDisabler disabler;
    return s_frames.allocate_run(count);
}

Result<PhysicalAddress> allocate_zeroed_frame()
{
    PhysicalAddress frame = TRY(allocate_frame());
    zero_frame(frame);
    return frame;
}

void ref_frame(PhysicalAddress frame)
{
    InterruptDisabler disabler;
    s_frames.ref(frame);
}

void unref_frame(PhysicalAddress frame)
{
    InterruptDisabler disabler;
    s_frames.unref(frame);
}

void unref_frames(Span<PhysicalAddress const> frames)
{
    InterruptDisabler disabler;
    for (PhysicalAddress frame : frames)
        s_frames.unref(frame);
}

u32 frame_refcount(PhysicalAddress frame)
{
    InterruptDisabler disabler;
    return s_frames.refcount(frame);
}

FrameStats frame_stats()
{
    InterruptDisabler disabler;
    return s_frames.stats();
}

Result<DmaRegion> allocate_dma(u64 bytes, u64 alignment)
{
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    PhysicalAddress base;
    {
        InterruptDisabler disabler;
        base = TRY(s_frames.allocate_contiguous(pages, alignment));
    }
    __builtin_memset(frame_bytes(base), 0, pages * kFrameSize);
    return DmaRegion { base, frame_bytes(base), pages };
}

void free_dma(DmaRegion const& region)
{
    InterruptDisabler disabler;
    s_frames.free_contiguous(region.physical, region.pages);
}

Result<u8*> map_mmio(PhysicalAddress physical, u64 length)
{
    VERIFY(length > 0);
    PhysicalAddress first = align_down(physical, kFrameSize);
    u64 pages = (align_up(physical + length, kFrameSize) - first) / kFrameSize;
    InterruptDisabler disabler;
    uptr base = TRY(s_mmio_areas.allocate(pages * kFrameSize));
    for (u64 i = 0; i < pages; ++i) {
        auto result = s_kernel_table.map(
            base + i * kFrameSize, first + i * kFrameSize, kPageWritable | kPageNoExecute | kPageUncached);
        if (result.is_error()) {
            for (u64 j = 0; j < i; ++j)
                MUST(s_kernel_table.unmap(base + j * kFrameSize)); // mapped just above
            s_mmio_areas.free(base, pages * kFrameSize);
            return result.error();
        }
    }
    return reinterpret_cast<u8*>(base + (physical - first));
}

void unmap_mmio(u8* address, u64 length)
{
    uptr base = align_down(reinterpret_cast<uptr>(address), kFrameSize);
    u64 pages = (align_up(reinterpret_cast<uptr>(address) + length, kFrameSize) - base) / kFrameSize;
    InterruptDisabler disabler;
    VERIFY(s_mmio_areas.contains(base));
    // Device memory is not RAM: nothing to release.
    MUST(s_kernel_table.unmap_range(base, pages, nullptr, nullptr)); // mapped by map_mmio
    s_mmio_areas.free(base, pages * kFrameSize);
}

Result<uptr> allocate_area(u64 bytes, AreaOptions options)
{
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    u64 guard = options.guard_below ? kFrameSize : 0;
    PageFlags flags = kPageWritable | (options.executable ? 0 : kPageNoExecute);
    InterruptDisabler disabler;
    uptr start = TRY(s_general_areas.allocate(pages * kFrameSize + guard));
    uptr base = start + guard;
    if (guard)
        MUST(s_kernel_table.set_absent(start, pte::kGuard)); // fresh range: nothing mapped there
    auto result = populate(base, pages, flags, options.demand_zero);
    if (result.is_error()) {
        if (guard)
            MUST(s_kernel_table.clear_absent(start)); // set just above
        s_general_areas.free(start, pages * kFrameSize + guard);
        return result.error();
    }
    s_area_bytes += pages * kFrameSize;
    return base;
}

void free_area(uptr base, u64 bytes, AreaOptions options)
{
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    u64 guard = options.guard_below ? kFrameSize : 0;
    InterruptDisabler disabler;
    VERIFY(s_general_areas.contains(base));
    unmap_area_pages(base, pages);
    if (guard)
        MUST(s_kernel_table.clear_absent(base - guard)); // the guard set by allocate_area
    s_general_areas.free(base - guard, pages * kFrameSize + guard);
    s_area_bytes -= pages * kFrameSize;
}

Result<u8*> allocate_zero_copy_buffer(u64 bytes)
{
    VERIFY(bytes > 0);
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    InterruptDisabler disabler;
    uptr base = TRY(s_zero_copy_areas.allocate(pages * kFrameSize));
    auto result = s_zero_copy.map_buffer(base, pages);
    if (result.is_error()) {
        s_zero_copy_areas.free(base, pages * kFrameSize);
        return result.error();
    }
    s_zero_copy_bytes += pages * kFrameSize;
    return reinterpret_cast<u8*>(base);
}

void free_zero_copy_buffer(u8* buffer, u64 bytes)
{
    uptr base = reinterpret_cast<uptr>(buffer);
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    InterruptDisabler disabler;
    VERIFY(is_aligned(base, kFrameSize) && s_zero_copy_areas.contains(base));
    // Frames still pinned by TCP or sitting in a ring keep their other references and live on.
    s_zero_copy.unmap_buffer(base, pages);
    s_zero_copy_areas.free(base, pages * kFrameSize);
    s_zero_copy_bytes -= pages * kFrameSize;
}

// The network stack hands mm/ the application's addresses; a lower-half one is the current task's
// (the stack runs its send and receive on the task's own thread, in its address space).
ZeroCopyPages* user_zero_copy(uptr address)
{
    if (address >> 47 || !s_active_user_space)
        return nullptr;
    return s_active_user_space->zero_copy();
}

bool is_zero_copy_buffer(void const* address, u64 length)
{
    uptr start = reinterpret_cast<uptr>(address);
    if (!(start >> 47)) {
        InterruptDisabler disabler;
        return s_active_user_space && s_active_user_space->is_zero_copy(start, length);
    }
    return length > 0 && s_zero_copy_areas.contains(start) && s_zero_copy_areas.contains(start + length - 1);
}

namespace {

Result<PhysicalAddress> writable_frame_in(ZeroCopyPages& pages, uptr address)
{
    uptr page = align_down(address, kFrameSize);
    if (!pages.contains(page))
        return Error::NotSupported;
    PhysicalAddress frame = pages.frame_at(page);
    if (!frame)
        return Error::NotSupported;
    if (pages.is_write_protected(page))
        return Error::Busy;
    return frame;
}

} // namespace

Result<PhysicalAddress> writable_zero_copy_frame(uptr address)
{
    InterruptDisabler disabler;
    return writable_frame_in(s_zero_copy, address);
}

Result<PhysicalAddress> writable_zero_copy_frame(UserSpace& space, uptr address)
{
    InterruptDisabler disabler;
    ZeroCopyPages* pages = space.zero_copy();
    if (!pages || address >> 47)
        return Error::NotSupported;
    return writable_frame_in(*pages, address);
}

Result<uptr> allocate_user_zero_copy_buffer(UserSpace& space, u64 bytes)
{
    InterruptDisabler disabler;
    return space.allocate_zero_copy(bytes, s_zero_copy.counters());
}

u64 release_zero_copy_buffer(u8 const* buffer, u64 bytes)
{
    uptr base = reinterpret_cast<uptr>(buffer);
    u64 pages = align_up(bytes, kFrameSize) / kFrameSize;
    InterruptDisabler disabler;
    VERIFY(is_aligned(base, kFrameSize) && s_zero_copy.contains(base));
    return s_zero_copy.release(base, pages);
}

Result<PhysicalAddress> remap_page(uptr page, PhysicalAddress new_frame)
{
    InterruptDisabler disabler;
    if (!(page >> 47)) {
        ZeroCopyPages* region = user_zero_copy(page);
        return region ? region->remap(page, new_frame) : Result<PhysicalAddress>(Error::NotSupported);
    }
    return s_zero_copy.remap(page, new_frame);
}

u32 remap_pages(Span<PageExchange> exchanges)
{
    InterruptDisabler disabler;
    if (!exchanges.is_empty() && !(exchanges[0].page >> 47)) {
        ZeroCopyPages* region = user_zero_copy(exchanges[0].page);
        return region ? region->remap_pages(exchanges) : 0;
    }
    return s_zero_copy.remap_pages(exchanges);
}

Result<PhysicalAddress> pin_page(uptr address, u32 count)
{
    // Only zero-copy buffers (ZeroCopyPages::pin says NotSupported elsewhere): write-protecting a
    // page of a thread stack would turn the next push onto it into a double fault (the CPU cannot
    // push the page-fault frame onto a read-only page), and the direct map and the image use pages
    // that must never become read-only. The network stack copies whatever cannot be pinned.
    InterruptDisabler disabler;
    if (!(address >> 47)) {
        ZeroCopyPages* region = user_zero_copy(address);
        return region ? region->pin(address, count) : Result<PhysicalAddress>(Error::NotSupported);
    }
    return s_zero_copy.pin(address, count);
}

void unpin_page(PhysicalAddress frame, u32 count)
{
    InterruptDisabler disabler;
    s_zero_copy.unpin(frame, count);
}

PageTable& kernel_page_table()
{
    return s_kernel_table;
}

Result<Translation> translate(uptr address)
{
    InterruptDisabler disabler;
    return s_kernel_table.translate(address);
}

Result<void> mark_copy_on_write(uptr page)
{
    InterruptDisabler disabler;
    if (s_zero_copy.contains(page))
        return s_zero_copy.protect(page);
    u64 entry = s_kernel_table.leaf_entry(page);
    if (!(entry & pte::kPresent))
        return Error::NotFound;
    return s_kernel_table.protect(page, (entry_flags(entry) & ~pte::kWritable) | pte::kCopyOnWrite);
}

Result<void> unmark_copy_on_write(uptr page)
{
    InterruptDisabler disabler;
    if (s_zero_copy.contains(page)) {
        if (s_zero_copy.release(page, 1) > 0)
            return Error::Busy; // a send holds it
        return {};
    }
    u64 entry = s_kernel_table.leaf_entry(page);
    if (!(entry & pte::kPresent))
        return Error::NotFound;
    return s_kernel_table.protect(page, (entry_flags(entry) & ~pte::kCopyOnWrite) | pte::kWritable);
}

MemoryStats stats()
{
    MemoryStats result;
    {
        InterruptDisabler disabler;
        result.frames = s_frames.stats();
        // Every table's work: the kernel's, each task's alive, and those of tasks that ended.
        result.paging = s_kernel_table.stats();
        add_paging(result.paging, s_ended_paging);
        for (auto* space : s_live_spaces) {
            if (space)
                add_paging(result.paging, space->table().stats());
        }
        result.faults = s_faults;
        result.zero_copy = s_zero_copy.stats();
        // The kernel's buffers and every task's (their regions count into the same counters).
        result.zero_copy_bytes = result.zero_copy.registered_pages * kFrameSize;
        result.pinned_frames = result.zero_copy.pinned_frames;
        result.area_bytes = s_area_bytes;
        result.user_spaces = s_user_spaces;
    }
    result.heap = heap_stats();
    return result;
}

Result<UserSpace*> create_user_space(u64 max_bytes)
{
    auto* space = new (std::nothrow) UserSpace;
    if (!space)
        return Error::NoMemory;
    InterruptDisabler disabler;
    auto created
        = space->create(s_frames, PhysicalWindow { kDirectMapBase }, &kTlbOperations, s_kernel_table, max_bytes);
    if (created.is_error()) {
        delete space;
        return created.error();
    }
    ++s_user_spaces;
    return space;
}

void destroy_user_space(UserSpace* space)
{
    {
        InterruptDisabler disabler;
        if (s_active_user_space == space) {
            // Never free the tables the CPU is walking: back to the kernel's own.
            arch::activate_kernel_page_table(s_kernel_table.root());
            space->table().set_active(false);
            s_active_user_space = nullptr;
        }
        space->destroy();
        PageTableStats ended = space->table().stats();
        ended.tables = 0; // freed with it
        add_paging(s_ended_paging, ended);
        for (auto& slot : s_live_spaces) {
            if (slot == space)
                slot = nullptr;
        }
        --s_user_spaces;
    }
    delete space;
}

void activate_user_space(UserSpace* space)
{
    VERIFY(!arch::interrupts_enabled());
    if (space == s_active_user_space)
        return;
    if (s_active_user_space)
        s_active_user_space->table().set_active(false);
    arch::activate_user_page_table(space->table().root());
    space->table().set_active(true);
    s_active_user_space = space;
}

UserSpace* active_user_space()
{
    return s_active_user_space;
}

UserSpace::Fault last_user_fault()
{
    return s_last_user_fault;
}

u64 frames_in_use_for_tests()
{
    InterruptDisabler disabler;
    return s_frames.stats().used - s_kernel_table.stats().tables - heap_stats().slab_pages;
}

} // namespace skiff::mm
