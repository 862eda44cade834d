#include <mm/arch/aarch64/PageTable.h>

#include <lib/Verify.h>

namespace skiff::mm::aarch64 {

namespace {

// Descriptor bits (Arm ARM D5.3: table, block and page descriptors, 4 KiB granule).
namespace descriptor {
constexpr u64 kValid = 1ull << 0;
constexpr u64 kTableOrPage = 1ull << 1; // levels 0-2: a table (clear: a block); level 3: a page
constexpr u64 kAttrDevice = 1ull << 2;  // AttrIndx = 1: MAIR attribute 1, Device-nGnRE (boot/aarch64/Boot.S)
constexpr u64 kAttrMask = 7ull << 2;
constexpr u64 kEl0Access = 1ull << 6; // AP[1]
constexpr u64 kReadOnly = 1ull << 7;  // AP[2]
constexpr u64 kInnerShareable = 3ull << 8;
constexpr u64 kAccessFlag = 1ull << 10; // set up front: cortex-a72 has no hardware AF update
constexpr u64 kPrivilegedNoExecute = 1ull << 53;
constexpr u64 kUnprivilegedNoExecute = 1ull << 54;
// Bits 58:55 are ignored by the hardware, free for software (D5.3.3); in an invalid descriptor
// every bit but 0 is (D5.3.1), which lets the markers keep the flags to map with.
constexpr u64 kSoftwareCopyOnWrite = 1ull << 55;
constexpr u64 kSoftwareDemandZero = 1ull << 56;
constexpr u64 kSoftwareGuard = 1ull << 57;
constexpr u64 kAddressMask = 0x0000fffffffff000ull;
} // namespace descriptor

using namespace descriptor;

// Intermediate descriptors grant everything; the leaf decides.
constexpr u64 kTableDescriptor = kValid | kTableOrPage;

// mm/PageTableTypes.h flags -> the attribute bits of a leaf (no valid bit, no address).
u64 encode(PageFlags flags)
{
    u64 bits = kAccessFlag;
    bits |= (flags & pte::kUncached) == pte::kUncached ? kAttrDevice : kInnerShareable;
    if (!(flags & pte::kWritable))
        bits |= kReadOnly;
    if (flags & pte::kUser)
        bits |= kEl0Access | ((flags & pte::kNoExecute) ? kUnprivilegedNoExecute : 0);
    else
        bits |= kUnprivilegedNoExecute; // user mode never runs kernel pages
    // The kernel never runs a task's pages either (PXN: what x86-64's SMEP gives, always there).
    if ((flags & pte::kNoExecute) || (flags & pte::kUser))
        bits |= kPrivilegedNoExecute;
    if (flags & pte::kCopyOnWrite)
        bits |= kSoftwareCopyOnWrite;
    return bits;
}

// A descriptor (leaf or marker) -> the entry encoding of mm/PageTableTypes.h.
u64 decode(u64 native)
{
    u64 entry = 0;
    if (native & kValid)
        entry |= pte::kPresent | (native & kAddressMask);
    if (native & kSoftwareDemandZero)
        entry |= pte::kDemandZero;
    if (native & kSoftwareGuard)
        entry |= pte::kGuard;
    if (!(native & kValid) && !(native & kSoftwareDemandZero))
        return entry; // nothing, or a guard page: no flags to report
    if (!(native & kReadOnly))
        entry |= pte::kWritable;
    if (native & kEl0Access)
        entry |= pte::kUser;
    if ((native & kAttrMask) == kAttrDevice)
        entry |= pte::kUncached;
    // A task's page says whether the task may run it (UXN); the kernel's, whether the kernel may.
    if ((native & kEl0Access) ? (native & kUnprivilegedNoExecute) : (native & kPrivilegedNoExecute))
        entry |= pte::kNoExecute;
    if (native & kSoftwareCopyOnWrite)
        entry |= pte::kCopyOnWrite;
    if ((native & kValid) && (native & kAccessFlag))
        entry |= pte::kAccessed;
    return entry;
}

bool is_block(u64 native, int level)
{
    return (native & kValid) && !(native & kTableOrPage) && level > 1;
}

} // namespace

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
    FrameAllocator& frames, PhysicalWindow window, TlbOperations const* tlb, PageTable const&)
{
    TRY(create(frames, window, tlb));
    m_user = true;
    return {};
}

void PageTable::destroy_level(PhysicalAddress table_physical, int level)
{
    if (level > 1) {
        u64* entries = table(table_physical);
        for (usize i = 0; i < 512; ++i) {
            u64 entry = entries[i];
            if ((entry & kValid) && (entry & kTableOrPage))
                destroy_level(entry & kAddressMask, level - 1);
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

void PageTable::publish()
{
    if (m_tlb && m_tlb->publish)
        m_tlb->publish();
}

Result<u64*> PageTable::table_for(uptr address, int level, bool create)
{
    if (!covers(address))
        return Error::InvalidArgument;
    PhysicalAddress current = m_root;
    for (int walk = 4; walk > level; --walk) {
        u64& entry = table(current)[index(address, walk)];
        if (!(entry & kValid)) {
            if (!create)
                return Error::NotFound;
            PhysicalAddress fresh = TRY(m_frames->allocate());
            u64* fresh_table = table(fresh);
            for (usize i = 0; i < 512; ++i)
                fresh_table[i] = 0;
            ++m_stats.tables;
            // The new table's zeroes must be visible before the descriptor that points at it.
            publish();
            entry = fresh | kTableDescriptor;
        } else if (!(entry & kTableOrPage)) {
            return Error::NotSupported; // a block
        }
        current = entry & kAddressMask;
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
    if (m_active) {
        m_tlb->flush_page(address);
        ++m_stats.page_flushes;
    }
    if (m_pending_count && complete_pending(address))
        publish();
}

void PageTable::flush_all()
{
    if (m_active) {
        m_tlb->flush_all();
        ++m_stats.full_flushes;
    }
    if (m_pending_count && complete_pending(0))
        publish();
}

bool PageTable::complete_pending(uptr address)
{
    bool any = false;
    for (usize i = 0; i < m_pending_count;) {
        if (address == 0 || m_pending[i].address == address) {
            *m_pending[i].entry = m_pending[i].descriptor;
            m_pending[i] = m_pending[--m_pending_count];
            any = true;
        } else {
            ++i;
        }
    }
    return any;
}

Result<void> PageTable::map(uptr virtual_address, PhysicalAddress physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage) && is_aligned(physical, kSmallPage));
    VERIFY(!(flags & pte::kAddressMask));
    u64* pt = TRY(table_for(virtual_address, 1, true));
    u64& entry = pt[index(virtual_address, 1)];
    if (entry & kValid)
        return Error::AlreadyExists;
    // Replacing a guard or demand-zero marker needs no TLB maintenance either: it was invalid.
    entry = physical | encode(flags & ~(pte::kDemandZero | pte::kGuard)) | kValid | kTableOrPage;
    publish();
    ++m_stats.maps;
    return {};
}

Result<void> PageTable::map_large(uptr virtual_address, PhysicalAddress physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kLargePage) && is_aligned(physical, kLargePage));
    u64* pd = TRY(table_for(virtual_address, 2, true));
    u64& entry = pd[index(virtual_address, 2)];
    if (entry & kValid)
        return Error::AlreadyExists;
    entry = physical | encode(flags) | kValid; // a level-2 block: bit 1 clear
    publish();
    ++m_stats.maps;
    return {};
}

Result<PhysicalAddress> PageTable::unmap(uptr virtual_address)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & kValid))
        return Error::NotFound;
    PhysicalAddress old = *entry & kAddressMask;
    *entry = 0;
    flush_page(virtual_address); // DSB ISHST before the TLBI is part of the flush
    ++m_stats.unmaps;
    return old;
}

Result<void> PageTable::unmap_range(
    uptr virtual_address, u64 pages, void (*release)(PhysicalAddress, void*), void* context)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    for (u64 i = 0; i < pages; ++i) {
        u64* entry = existing_leaf(virtual_address + i * kSmallPage);
        if (!entry || !(*entry & kValid))
            return Error::NotFound;
    }
    bool one_full_flush = pages > kFullFlushThreshold;
    for (u64 i = 0; i < pages; ++i) {
        uptr address = virtual_address + i * kSmallPage;
        u64* entry = existing_leaf(address);
        PhysicalAddress old = *entry & kAddressMask;
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
    if (!entry || !(*entry & kValid))
        return Error::NotFound;
    u64 updated = (*entry & kAddressMask) | encode(flags) | kValid | kTableOrPage;
    if (((updated ^ *entry) & kAttrMask) != 0) {
        // A change of memory type needs break-before-make (D5.10.1); permissions alone do not.
        *entry = 0;
        flush_page(virtual_address);
        *entry = updated;
        publish();
    } else {
        *entry = updated;
        // Even a change that only grants more is flushed: the TLB may hold the old permissions
        // and the next write would fault on them.
        flush_page(virtual_address);
    }
    ++m_stats.protects;
    return {};
}

Result<PhysicalAddress> PageTable::remap(uptr virtual_address, PhysicalAddress new_physical)
{
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & kValid))
        return Error::NotFound;
    return remap(virtual_address, new_physical,
        decode(*entry) & pte::kFlagsMask & ~(pte::kAccessed | pte::kDirty | pte::kPresent));
}

Result<PhysicalAddress> PageTable::remap(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage) && is_aligned(new_physical, kSmallPage));
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & kValid))
        return Error::NotFound;
    PhysicalAddress old = *entry & kAddressMask;
    // Break-before-make (D5.10.1): a live descriptor may not change its output address in one
    // store. Invalid first, the old translation flushed (the one counted flush, as x86-64's
    // invlpg), then the new descriptor.
    *entry = 0;
    flush_page(virtual_address);
    *entry = new_physical | encode(flags) | kValid | kTableOrPage;
    publish();
    ++m_stats.remaps;
    return old;
}

Result<PhysicalAddress> PageTable::remap_unflushed(uptr virtual_address, PhysicalAddress new_physical, PageFlags flags)
{
    VERIFY(is_aligned(virtual_address, kSmallPage) && is_aligned(new_physical, kSmallPage));
    VERIFY(!(flags & pte::kAddressMask));
    u64 descriptor = new_physical | encode(flags) | kValid | kTableOrPage;
    // The same page twice in one batch: it is already broken; only the descriptor to make changes.
    for (usize i = 0; i < m_pending_count; ++i) {
        if (m_pending[i].address == virtual_address) {
            PhysicalAddress old = m_pending[i].descriptor & kAddressMask;
            m_pending[i].descriptor = descriptor;
            ++m_stats.remaps;
            return old;
        }
    }
    u64* entry = existing_leaf(virtual_address);
    if (!entry || !(*entry & kValid))
        return Error::NotFound;
    if (m_pending_count == kMaxPending)
        flush_all(); // a batch this long: one full flush completes what is pending
    PhysicalAddress old = *entry & kAddressMask;
    *entry = 0; // break; the make comes with the caller's flush
    m_pending[m_pending_count++] = { virtual_address, entry, descriptor };
    ++m_stats.remaps;
    return old;
}

Result<Translation> PageTable::translate(uptr virtual_address) const
{
    if (!covers(virtual_address))
        return Error::InvalidArgument;
    PhysicalAddress current = m_root;
    for (int level = 4; level >= 1; --level) {
        u64 entry = table(current)[index(virtual_address, level)];
        if (!(entry & kValid))
            return Error::NotFound;
        if (level == 1 || (is_block(entry, level) && level <= 3)) {
            u64 page_size = 1ull << (12 + 9 * (level - 1));
            PhysicalAddress base = entry & kAddressMask & ~(page_size - 1);
            return Translation { base + (virtual_address & (page_size - 1)), decode(entry), page_size };
        }
        current = entry & kAddressMask;
    }
    VERIFY_NOT_REACHED();
}

Result<void> PageTable::set_absent(uptr virtual_address, u64 marker)
{
    VERIFY(is_aligned(virtual_address, kSmallPage));
    VERIFY(!(marker & pte::kPresent) && (marker & (pte::kGuard | pte::kDemandZero)));
    u64* pt = TRY(table_for(virtual_address, 1, true));
    u64& entry = pt[index(virtual_address, 1)];
    if (entry & kValid)
        return Error::AlreadyExists;
    u64 native = (marker & pte::kGuard) ? kSoftwareGuard : kSoftwareDemandZero | encode(marker & ~pte::kDemandZero);
    entry = native & ~kValid;
    return {};
}

Result<void> PageTable::clear_absent(uptr virtual_address)
{
    u64* entry = existing_leaf(virtual_address);
    if (!entry)
        return Error::NotFound;
    if (*entry & kValid)
        return Error::Busy;
    *entry = 0;
    return {};
}

u64 PageTable::leaf_entry(uptr virtual_address) const
{
    u64* entry = existing_leaf(virtual_address);
    return entry ? decode(*entry) : 0;
}

void PageTable::describe(uptr virtual_address, FormatSink& out) const
{
    static char const* const kLevelNames[] = { "", "L3", "L2", "L1", "L0" };
    if (!covers(virtual_address)) {
        format(out, "  {:#x} is in the lower half (TTBR0_EL1), where nothing is mapped\n", virtual_address);
        return;
    }
    PhysicalAddress current = m_root;
    for (int level = 4; level >= 1; --level) {
        usize slot = index(virtual_address, level);
        u64 entry = table(current)[slot];
        format(out, "  {}[{:3}] = {:016x}", kLevelNames[level], slot, entry);
        if (!(entry & kValid)) {
            if (entry & kSoftwareGuard)
                format(out, "  invalid: GUARD page\n");
            else if (entry & kSoftwareDemandZero)
                format(out, "  invalid: demand-zero, not yet touched\n");
            else
                format(out, "  invalid\n");
            return;
        }
        bool leaf = level == 1 || is_block(entry, level);
        if (leaf) {
            format(out, "  -> frame {:#x} {}{}{}{}{}\n", entry & kAddressMask, (entry & kReadOnly) ? "ro" : "rw",
                (entry & kPrivilegedNoExecute) ? " nx" : " x", (entry & kSoftwareCopyOnWrite) ? " cow" : "",
                (entry & kAttrMask) == kAttrDevice ? " device" : "", level > 1 ? " block" : "");
            return;
        }
        format(out, "\n");
        current = entry & kAddressMask;
    }
}

} // namespace skiff::mm::aarch64
