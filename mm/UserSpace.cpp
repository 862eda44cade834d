#include <mm/UserSpace.h>

#include <lib/Verify.h>

namespace skiff::mm {

namespace {

constexpr u64 kPage = 4096;
constexpr PageFlags kUserData = kPageUser | kPageWritable | kPageNoExecute;

} // namespace

char const* UserSpace::fault_name(Fault fault)
{
    switch (fault) {
    case Fault::Resolved: return "resolved";
    case Fault::NotMapped: return "nothing is mapped there";
    case Fault::NullPage: return "a null pointer (nothing is ever mapped below 64 KiB)";
    case Fault::Guard: return "the guard page below a stack: the stack overflowed";
    case Fault::ReadOnly: return "a write to a read-only page";
    case Fault::NotExecutable: return "an instruction fetch from memory that is not executable";
    case Fault::OutOfMemory: return "no free frame to fault the page in";
    case Fault::Spurious: return "a fault the page tables do not explain";
    case Fault::KernelHalf: return "the kernel's half of the address space, which tasks may not touch";
    }
    return "?";
}

Result<void> UserSpace::create(
    FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb, PageTable const& kernel, u64 max_bytes)
{
    m_frames = &frames;
    m_max_bytes = max_bytes;
    m_anonymous.initialize(kUserAnonymousBase, kUserAnonymousSize);
    m_ring_areas.initialize(kUserRingBase, kUserRingSize);
    return m_table.create_user(frames, window, tlb, kernel);
}

void UserSpace::destroy()
{
    VERIFY(!m_table.is_active());
    while (m_region_count) {
        unmap_region_pages(m_regions[m_region_count - 1]);
        remove_region(m_region_count - 1);
    }
    VERIFY(m_resident_pages == 0 && m_reserved_pages == 0);
    delete m_zero_copy;
    delete[] m_zero_copy_records;
    m_zero_copy = nullptr;
    m_zero_copy_records = nullptr;
    m_table.destroy();
}

void UserSpace::unmap_region_pages(Region const& region)
{
    if (region.kind == RegionKind::ZeroCopy) {
        // Frames a send still pins live on: the pins hold them, and unpin needs no page.
        m_zero_copy->unmap_buffer(region.base, region.pages);
        m_resident_pages -= region.pages;
        return;
    }
    unmap_pages(region.base, region.pages);
}

Result<uptr> UserSpace::allocate_zero_copy(u64 bytes, ZeroCopyStats* shared_stats)
{
    if (bytes == 0)
        return Error::InvalidArgument;
    if (bytes > m_max_bytes)
        return Error::LimitReached;
    u64 pages = align_up(bytes, kPage) / kPage;
    if (m_reserved_pages + pages > m_max_bytes / kPage)
        return Error::LimitReached;
    if (!m_zero_copy) {
        // One record per page the limit allows: a task's buffers can never need more.
        u64 records = m_max_bytes / kPage;
        m_zero_copy_records = new (std::nothrow) ZeroCopyPageRecord[records];
        m_zero_copy = new (std::nothrow) ZeroCopyPages;
        if (!m_zero_copy_records || !m_zero_copy) {
            delete[] m_zero_copy_records;
            delete m_zero_copy;
            m_zero_copy_records = nullptr;
            m_zero_copy = nullptr;
            return Error::NoMemory;
        }
        m_zero_copy->initialize(
            kUserZeroCopyBase, records, m_zero_copy_records, m_table, *m_frames, kPageUser, shared_stats);
        m_zero_copy_areas.initialize(kUserZeroCopyBase, records * kPage);
    }
    uptr base = TRY(m_zero_copy_areas.allocate(pages * kPage));
    auto added
        = add_region(Region { base, pages, RegionKind::ZeroCopy, kPageUser | ZeroCopyPages::kWritable, 0, pages });
    if (added.is_error()) {
        m_zero_copy_areas.free(base, pages * kPage);
        return added.error();
    }
    if (auto mapped = m_zero_copy->map_buffer(base, pages); mapped.is_error()) {
        remove_region(m_region_count - 1);
        m_zero_copy_areas.free(base, pages * kPage);
        return mapped.error();
    }
    m_resident_pages += pages;
    return base;
}

Result<uptr> UserSpace::map_ring(u64 pages, bool writable, PhysicalAddress* frames)
{
    if (pages == 0)
        return Error::InvalidArgument;
    if (m_reserved_pages + pages > m_max_bytes / kPage)
        return Error::LimitReached;
    uptr base = TRY(m_ring_areas.allocate(pages * kPage));
    PageFlags flags = kPageUser | kPageNoExecute | (writable ? kPageWritable : 0);
    auto added = add_region(Region { base, pages, RegionKind::Ring, flags, 0, pages });
    if (added.is_error()) {
        m_ring_areas.free(base, pages * kPage);
        return added.error();
    }
    for (u64 i = 0; i < pages; ++i) {
        auto frame = m_frames->allocate();
        Result<void> mapped = Error::NoMemory;
        if (!frame.is_error()) {
            __builtin_memset(m_table.window().at<u8>(frame.value()), 0, kPage);
            mapped = m_table.map(base + i * kPage, frame.value(), flags);
            if (mapped.is_error())
                m_frames->unref(frame.value());
        }
        if (mapped.is_error()) {
            unmap_pages(base, i);
            remove_region(m_region_count - 1);
            m_ring_areas.free(base, pages * kPage);
            return mapped.error();
        }
        frames[i] = frame.value();
        ++m_resident_pages;
    }
    return base;
}

Result<PhysicalAddress> UserSpace::exchange_ring_page(uptr page, PhysicalAddress new_frame)
{
    auto const* region = find_region(page);
    if (!region || region->kind != RegionKind::Ring || !is_aligned(page, kPage))
        return Error::InvalidArgument;
    u64 entry = m_table.leaf_entry(page);
    if (!(entry & pte::kPresent))
        return Error::NotFound;
    if (m_frames->refcount(entry & pte::kAddressMask) != 1)
        return Error::Busy;
    return m_table.remap(page, new_frame);
}

Result<void> UserSpace::free_zero_copy(uptr base, u64 bytes)
{
    return unmap(base, bytes, RegionKind::ZeroCopy);
}

Result<u64> UserSpace::release_zero_copy(uptr base, u64 bytes)
{
    u64 pages = align_up(bytes, kPage) / kPage;
    auto const* region = find_region(base);
    if (!region || region->kind != RegionKind::ZeroCopy || bytes == 0
        || base + pages * kPage > region->base + region->pages * kPage || !is_aligned(base, kPage))
        return Error::InvalidArgument;
    return m_zero_copy->release(base, pages);
}

bool UserSpace::is_zero_copy(uptr address, u64 length) const
{
    if (!m_zero_copy || length == 0 || !is_user_range(address, length))
        return false;
    auto const* region = find_region(address);
    return region && region->kind == RegionKind::ZeroCopy && address + length <= region->base + region->pages * kPage;
}

UserSpace::Fault UserSpace::zero_copy_write(uptr page)
{
    if (!m_zero_copy || !m_zero_copy->contains(page))
        return Fault::ReadOnly;
    switch (m_zero_copy->write_fault(page)) {
    case ZeroCopyPages::FaultResult::Reclaimed:
    case ZeroCopyPages::FaultResult::Copied: return Fault::Resolved;
    case ZeroCopyPages::FaultResult::OutOfMemory: return Fault::OutOfMemory;
    case ZeroCopyPages::FaultResult::NotProtected: return Fault::ReadOnly;
    }
    return Fault::ReadOnly;
}

Result<void> UserSpace::reserve(u64 pages)
{
    if (pages > m_max_bytes / kPage || m_reserved_pages + pages > m_max_bytes / kPage)
        return Error::LimitReached;
    m_reserved_pages += pages;
    return {};
}

bool UserSpace::overlaps(uptr base, u64 pages) const
{
    uptr end = base + pages * kPage;
    for (u32 i = 0; i < m_region_count; ++i) {
        auto const& region = m_regions[i];
        if (base < region.base + region.pages * kPage && region.base < end)
            return true;
    }
    return false;
}

Result<void> UserSpace::add_region(Region const& region)
{
    if (m_region_count == kMaxRegions)
        return Error::LimitReached;
    if (overlaps(region.base, region.pages))
        return Error::InvalidArgument;
    TRY(reserve(region.charged));
    m_regions[m_region_count++] = region;
    return {};
}

void UserSpace::remove_region(u32 index)
{
    VERIFY(index < m_region_count);
    VERIFY(m_reserved_pages >= m_regions[index].charged);
    m_reserved_pages -= m_regions[index].charged;
    m_regions[index] = m_regions[--m_region_count];
}

UserSpace::Region const* UserSpace::find_region(uptr address) const
{
    for (u32 i = 0; i < m_region_count; ++i) {
        auto const& region = m_regions[i];
        if (address >= region.base && address - region.base < region.pages * kPage)
            return &region;
    }
    return nullptr;
}

void UserSpace::unmap_pages(uptr base, u64 pages)
{
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kPage;
        u64 entry = m_table.leaf_entry(page);
        if (entry & pte::kPresent) {
            m_frames->unref(MUST(m_table.unmap(page))); // present: just checked
            --m_resident_pages;
        } else if (entry) {
            MUST(m_table.clear_absent(page)); // a marker: just checked
        }
    }
}

Result<void> UserSpace::map_program(
    uptr base, u64 pages, bool writable, bool executable, PageFiller fill, void* context)
{
    if (pages == 0 || !is_aligned(base, kPage) || base < kUserProgramBase || base > kUserProgramEnd
        || pages > (kUserProgramEnd - base) / kPage)
        return Error::InvalidArgument;
    PageFlags flags = kPageUser | (writable ? kPageWritable : 0) | (executable ? 0 : kPageNoExecute);
    TRY(add_region(Region { base, pages, RegionKind::Program, flags, 0, pages }));
    for (u64 i = 0; i < pages; ++i) {
        auto frame = m_frames->allocate();
        Result<void> mapped = Error::NoMemory;
        if (!frame.is_error()) {
            u8* bytes = m_table.window().at<u8>(frame.value());
            __builtin_memset(bytes, 0, kPage);
            fill(i, bytes, context);
            mapped = m_table.map(base + i * kPage, frame.value(), flags);
            if (mapped.is_error())
                m_frames->unref(frame.value());
        }
        if (mapped.is_error()) {
            unmap_pages(base, i);
            remove_region(m_region_count - 1);
            return mapped.error();
        }
        ++m_resident_pages;
    }
    return {};
}

Result<uptr> UserSpace::map_stack(u32 slot, u64 bytes)
{
    u64 pages = align_up(bytes, kPage) / kPage;
    if (slot >= kStackSlots || pages == 0 || pages + 1 > kStackSlotBytes / kPage)
        return Error::InvalidArgument;
    uptr top = stack_top(slot);
    uptr guard = top - (pages + 1) * kPage;
    TRY(add_region(Region { guard, pages + 1, RegionKind::Stack, kUserData, slot, pages }));
    Result<void> result = m_table.set_absent(guard, pte::kGuard);
    for (u64 i = 0; i < pages && !result.is_error(); ++i)
        result = m_table.set_absent(guard + (i + 1) * kPage, pte::kDemandZero | kUserData);
    if (result.is_error()) {
        unmap_pages(guard, pages + 1);
        remove_region(m_region_count - 1);
        return result.error();
    }
    return top;
}

Result<uptr> UserSpace::map_anonymous(u64 bytes)
{
    if (bytes == 0)
        return Error::InvalidArgument;
    if (bytes > m_max_bytes)
        return Error::LimitReached;
    u64 pages = align_up(bytes, kPage) / kPage;
    if (m_reserved_pages + pages > m_max_bytes / kPage)
        return Error::LimitReached;
    uptr base = TRY(m_anonymous.allocate(pages * kPage));
    auto added = add_region(Region { base, pages, RegionKind::Anonymous, kUserData, 0, pages });
    if (added.is_error()) {
        m_anonymous.free(base, pages * kPage);
        return added.error();
    }
    for (u64 i = 0; i < pages; ++i) {
        auto marked = m_table.set_absent(base + i * kPage, pte::kDemandZero | kUserData);
        if (marked.is_error()) {
            unmap_pages(base, i);
            remove_region(m_region_count - 1);
            m_anonymous.free(base, pages * kPage);
            return marked.error();
        }
    }
    return base;
}

Result<void> UserSpace::unmap(uptr base, u64 bytes, RegionKind kind)
{
    u64 pages = align_up(bytes, kPage) / kPage;
    for (u32 i = 0; i < m_region_count; ++i) {
        auto const& region = m_regions[i];
        if (region.base != base || region.kind != kind)
            continue;
        if (region.pages != pages || bytes == 0)
            return Error::InvalidArgument;
        unmap_region_pages(region);
        if (kind == RegionKind::Anonymous)
            m_anonymous.free(base, pages * kPage);
        if (kind == RegionKind::ZeroCopy)
            m_zero_copy_areas.free(base, pages * kPage);
        if (kind == RegionKind::Ring)
            m_ring_areas.free(base, pages * kPage);
        remove_region(i);
        return {};
    }
    return Error::InvalidArgument;
}

UserSpace::Fault UserSpace::fault_in(uptr page, u64 entry)
{
    auto frame = m_frames->allocate();
    if (frame.is_error())
        return Fault::OutOfMemory;
    __builtin_memset(m_table.window().at<u8>(frame.value()), 0, kPage);
    // Was absent, so nothing to flush.
    MUST(m_table.map(page, frame.value(), entry & pte::kFlagsMask & ~(pte::kDemandZero | pte::kPresent)));
    ++m_resident_pages;
    return Fault::Resolved;
}

UserSpace::Fault UserSpace::resolve_fault(uptr address, bool write, bool execute)
{
    if (address < kUserProgramBase)
        return Fault::NullPage;
    if (address >= kUserTop)
        return Fault::NotMapped;
    uptr page = align_down(address, kPage);
    u64 entry = m_table.leaf_entry(page);
    if (!(entry & pte::kPresent)) {
        if (entry & pte::kGuard)
            return Fault::Guard;
        if (entry & pte::kDemandZero)
            return fault_in(page, entry);
        return Fault::NotMapped;
    }
    if (execute && (entry & pte::kNoExecute))
        return Fault::NotExecutable;
    if (write && !(entry & pte::kWritable))
        return (entry & pte::kCopyOnWrite) ? zero_copy_write(page) : Fault::ReadOnly;
    return Fault::Spurious;
}

Result<void> UserSpace::prepare_access(uptr address, u64 length, bool write)
{
    if (!is_user_range(address, length))
        return Error::Fault;
    if (length == 0)
        return {};
    uptr end = align_up(address + length, kPage);
    for (uptr page = align_down(address, kPage); page < end; page += kPage) {
        u64 entry = m_table.leaf_entry(page);
        if (!(entry & pte::kPresent)) {
            if (!(entry & pte::kDemandZero))
                return Error::Fault;
            if (fault_in(page, entry) != Fault::Resolved)
                return Error::NoMemory;
            entry = m_table.leaf_entry(page);
        }
        if (!(entry & pte::kUser))
            return Error::Fault;
        if (write && !(entry & pte::kWritable)) {
            // A zero-copy page a send protected: writable now (or a private copy), as the task's
            // own write would make it, so the stack's write cannot fault.
            auto resolved = (entry & pte::kCopyOnWrite) ? zero_copy_write(page) : Fault::ReadOnly;
            if (resolved == Fault::OutOfMemory)
                return Error::NoMemory;
            if (resolved != Fault::Resolved)
                return Error::Fault;
        }
    }
    return {};
}

} // namespace skiff::mm
