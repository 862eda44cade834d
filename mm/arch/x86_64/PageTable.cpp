#include <mm/arch/x86_64/PageTable.h>

#include <lib/Verify.h>

namespace skiff::mm::x86_64 {

// Intermediate entries grant everything; the leaf decides (SDM §4.6: the effective permission is
// the most restrictive along the walk). In the lower half that includes user access (U/S must be
// set at every level for a user page to be reachable from ring 3).
static constexpr u64 kTableEntryFlags = pte::kPresent | pte::kWritable;
static constexpr usize kFirstUpperHalfSlot = 256;

static bool is_lower_half(uptr address)
{
    return (address >> 47) == 0;
}

Result<void> PageTable::create(FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb)
{
    VERIFY(m_root == 0);
    m_frames = &frames;
    m_window = window;
    m_tlb = tlb;
    m_root = TRY(frames.allocate());
    u64* root = table(m_root);
    for (usize i = 0; i < 512; ++i)
        root[i] = 0;
    m_stats.tables = 1;
    return {};
}

Result<void> PageTable::create_user(
    FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb, PageTable const& kernel)
{
    TRY(create(frames, window, tlb));
    m_user = true;
    u64* root = table(m_root);
    u64 const* kernel_root = kernel.table(kernel.m_root);
    for (usize i = kFirstUpperHalfSlot; i < 512; ++i)
        root[i] = kernel_root[i];
    return {};
}

Result<void> PageTable::reserve_top_level(uptr address)
{
    VERIFY(!m_user && !is_lower_half(address));
    TRY(table_for(address, 3, true));
    return {};
}

void PageTable::destroy_level(PhysicalAddress table_physical, int level)
{
    if (level > 1) {
        u64* entries = table(table_physical);
        // A task's root shares the kernel's upper half: those tables are not its own.
        usize end = (level == 4 && m_user) ? kFirstUpperHalfSlot : 512;
        for (usize i = 0; i < end; ++i) {
            u64 entry = entries[i];
            if ((entry & pte::kPresent) && !(entry & pte::kHuge))
                destroy_level(entry & pte::kAddressMask, level - 1);
        }
    }
    m_frames->unref(table_physical);
    --m_stats.tables;
}

void PageTable::destroy()
{
    if (!m_root)
        return;
    destroy_level(m_root, 4);
    m_root = 0;
}

Result<u64*> PageTable::table_for(uptr address, int level, bool create)
{
    if (!is_canonical(address))
        return Error::InvalidArgument;
    PhysicalAddress current = m_root;
    for (int walk = 4; walk > level; --walk) {
        u64& entry = table(current)[index(address, walk)];
        if (!(entry & pte::kPresent)) {
            if (!create)
                return Error::NotFound;
            // A task's copy of the kernel's top level would miss an entry made now.
            VERIFY(walk != 4 || is_lower_half(address) || !m_top_level_sealed);
            VERIFY(walk != 4 || !m_user || is_lower_half(address));
            PhysicalAddress fresh = TRY(m_frames->allocate());
            u64* fresh_table = table(fresh);
            for (usize i = 0; i < 512; ++i)
                fresh_table[i] = 0;
            ++m_stats.tables;
            // No flush: the entry was not present, so no paging-structure cache holds it.
            entry = fresh | kTableEntryFlags | (is_lower_half(address) ? pte::kUser : 0);
        } else if (entry & pte::kHuge) {
            return Error::NotSupported;
        }
        current = entry & pte::kAddressMask;
    }
    return table(current);
}

u64* PageTable::existing_leaf(uptr address) const
{
    auto result = const_cast<PageTable*>(this)->table_for(address, 1, false);
    if (result.is_error())
        return nullptr;
    return &result.value()[index(address, 1)];
}

void PageTable::flush_page(uptr address)
{
    if (!m_active)
        return;
    m_tlb->flush_page(address);
    ++m_stats.page_flushes;
}

void PageTable::flush_all()
{
    if (!m_active)
        return;
    m_tlb->flush_all();
    ++m_stats.full_flushes;
}

Result<void> PageTable::map(uptr virtual_address, PhysicalAddress physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage) && is_aligned(physical, kSmallPage));
    VERIFY(!(flags & pte::kAddressMask));
    u64* pt = TRY(table_for(virtual_address, 1, true));
    u64& entry = pt[index(virtual_address, 1)];
    if (entry & pte::kPresent)
        return Error::AlreadyExists;
    // Replacing a guard or demand-zero marker needs no flush either: it was not present.
    entry = physical | (flags & ~(pte::kDemandZero | pte::kGuard)) | pte::kPresent;
    ++m_stats.maps;
    return {};
}

Result<void> PageTable::map_large(uptr virtual_address, PhysicalAddress physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kLargePage) && is_aligned(physical, kLargePage));
    u64* pd = TRY(table_for(virtual_address, 2, true));
    u64& entry = pd[index(virtual_address, 2)];
    if (entry & pte::kPresent)
        return Error::AlreadyExists;
    entry = physical | flags | pte::kHuge | pte::kPresent;
    ++m_stats.maps;
    return {};
}

Result<PhysicalAddress> PageTable::unmap(uptr virtual_address)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & pte::kPresent))
        return Error::NotFound;
    PhysicalAddress old = *entry & pte::kAddressMask;
    *entry = 0;
    flush_page(virtual_address);
    ++m_stats.unmaps;
    return old;
}

Result<void> PageTable::unmap_range(
    uptr virtual_address, u64 pages, void (*release)(PhysicalAddress, void*), void* context)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    for (u64 i = 0; i < pages; ++i) {
        u64* entry = existing_leaf(virtual_address + i * kSmallPage);
        if (!entry || !(*entry & pte::kPresent))
            return Error::NotFound;
    }
    bool one_full_flush = pages > kFullFlushThreshold;
    for (u64 i = 0; i < pages; ++i) {
        uptr address = virtual_address + i * kSmallPage;
        u64* entry = existing_leaf(address);
        PhysicalAddress old = *entry & pte::kAddressMask;
        *entry = 0;
        if (!one_full_flush)
            flush_page(address);
        ++m_stats.unmaps;
        if (release)
            release(old, context);
    }
    if (one_full_flush)
        flush_all();
    return {};
}

Result<void> PageTable::protect(uptr virtual_address, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    VERIFY(!(flags & pte::kAddressMask));
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & pte::kPresent))
        return Error::NotFound;
    *entry = (*entry & pte::kAddressMask) | flags | pte::kPresent;
    // Even a change that only grants more (read-only -> writable) is flushed: otherwise the next
    // write takes a spurious fault on the stale entry (SDM §4.10.4.3).
    flush_page(virtual_address);
    ++m_stats.protects;
    return {};
}

Result<PhysicalAddress> PageTable::remap(uptr virtual_address, PhysicalAddress new_physical)
{
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & pte::kPresent))
        return Error::NotFound;
    return remap(
        virtual_address, new_physical, (*entry & pte::kFlagsMask) & ~(pte::kAccessed | pte::kDirty | pte::kPresent));
}

Result<PhysicalAddress> PageTable::remap(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags)
{
    PhysicalAddress old = TRY(remap_unflushed(virtual_address, new_physical, flags));
    // The invlpg drops the old translation from the TLB.
    flush_page(virtual_address);
    return old;
}

Result<PhysicalAddress> PageTable::remap_unflushed(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage) && is_aligned(new_physical, kSmallPage));
    VERIFY(!(flags & pte::kAddressMask));
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & pte::kPresent))
        return Error::NotFound;
    PhysicalAddress old = *entry & pte::kAddressMask;
    // One store replaces the translation.
    *entry = new_physical | flags | pte::kPresent;
    ++m_stats.remaps;
    return old;
}

Result<Translation> PageTable::translate(uptr virtual_address) const
{
    if (!is_canonical(virtual_address))
        return Error::InvalidArgument;
    PhysicalAddress current = m_root;
    for (int level = 4; level >= 1; --level) {
        u64 entry = table(current)[index(virtual_address, level)];
        if (!(entry & pte::kPresent))
            return Error::NotFound;
        if (level == 1 || ((entry & pte::kHuge) && level <= 3)) {
            u64 page_size = 1ull << (12 + 9 * (level - 1));
            // A large page's frame address has its low bits (PAT at bit 12) within the page offset.
            PhysicalAddress base = entry & pte::kAddressMask & ~(page_size - 1);
            return Translation { base + (virtual_address & (page_size - 1)), entry, page_size };
        }
        current = entry & pte::kAddressMask;
    }
    VERIFY_NOT_REACHED();
}

Result<void> PageTable::set_absent(uptr virtual_address, u64 marker)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    VERIFY(!(marker & pte::kPresent) && (marker & (pte::kGuard | pte::kDemandZero)));
    u64* pt = TRY(table_for(virtual_address, 1, true));
    u64& entry = pt[index(virtual_address, 1)];
    if (entry & pte::kPresent)
        return Error::AlreadyExists;
    entry = marker;
    return {};
}

Result<void> PageTable::clear_absent(uptr virtual_address)
{
    u64* entry = existing_leaf(virtual_address);
    if (!entry)
        return Error::NotFound;
    if (*entry & pte::kPresent)
        return Error::Busy;
    *entry = 0;
    return {};
}

u64 PageTable::leaf_entry(uptr virtual_address) const
{
    u64* entry = existing_leaf(virtual_address);
    return entry ? *entry : 0;
}

void PageTable::describe(uptr virtual_address, FormatSink& out) const
{
    static char const* const kLevelNames[] = { "", "PT  ", "PD  ", "PDPT", "PML4" };
    if (!is_canonical(virtual_address)) {
        format(out, "  {:#x} is not canonical (bits 63:47 differ)\n", virtual_address);
        return;
    }
    PhysicalAddress current = m_root;
    for (int level = 4; level >= 1; --level) {
        usize slot = index(virtual_address, level);
        u64 entry = table(current)[slot];
        format(out, "  {}[{:3}] = {:016x}", kLevelNames[level], slot, entry);
        if (!(entry & pte::kPresent)) {
            if (entry & pte::kGuard)
                format(out, "  not present: GUARD page\n");
            else if (entry & pte::kDemandZero)
                format(out, "  not present: demand-zero, not yet touched\n");
            else
                format(out, "  not present\n");
            return;
        }
        bool leaf = level == 1 || ((entry & pte::kHuge) && level <= 3);
        if (leaf) {
            format(out, "  -> frame {:#x} {}{}{}{}{}\n", entry & pte::kAddressMask,
                (entry & pte::kWritable) ? "rw" : "ro", (entry & pte::kNoExecute) ? " nx" : " x",
                (entry & pte::kCopyOnWrite) ? " cow" : "", (entry & pte::kCacheDisable) ? " uncached" : "",
                (entry & pte::kHuge) ? " large" : "");
            return;
        }
        format(out, "\n");
        current = entry & pte::kAddressMask;
    }
}

} // namespace skiff::mm::x86_64
