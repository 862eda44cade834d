#include <mm/ZeroCopyPages.h>

#include <lib/Verify.h>

namespace skiff::mm {

void ZeroCopyPages::initialize(uptr base, u64 pages, ZeroCopyPageRecord* records, PageTable& table,
    FrameAllocator& frames, PageFlags extra_flags, ZeroCopyStats* shared_stats)
{
    VERIFY(is_aligned(base, kFrameSize) && records);
    m_base = base;
    m_pages = pages;
    m_records = records;
    m_table = &table;
    m_frames = &frames;
    m_writable = kWritable | extra_flags;
    m_protected = kProtected | extra_flags;
    m_counters = shared_stats ? shared_stats : &m_own_stats;
}

ZeroCopyPageRecord* ZeroCopyPages::record(uptr page)
{
    if (!contains(page))
        return nullptr;
    return &m_records[(page - m_base) / kFrameSize];
}

ZeroCopyPageRecord const* ZeroCopyPages::record(uptr page) const
{
    return const_cast<ZeroCopyPages*>(this)->record(page);
}

Result<void> ZeroCopyPages::map_buffer(uptr base, u64 pages)
{
    VERIFY(is_aligned(base, kFrameSize) && contains(base) && contains(base + (pages - 1) * kFrameSize));
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kFrameSize;
        auto frame = m_frames->allocate();
        Result<void> mapped = {};
        if (frame.is_error()) {
            mapped = frame.error();
        } else {
            __builtin_memset(m_table->window().at<u8>(frame.value()), 0, kFrameSize);
            mapped = m_table->map(page, frame.value(), m_writable);
            if (mapped.is_error())
                m_frames->unref(frame.value());
        }
        if (mapped.is_error()) {
            unmap_buffer(base, i);
            return mapped.error();
        }
        *record(page) = { static_cast<u32>(frame.value() >> kFrameShift), 0, {} };
        ++m_counters->registered_pages;
    }
    return {};
}

void ZeroCopyPages::unmap_buffer(uptr base, u64 pages)
{
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kFrameSize;
        ZeroCopyPageRecord* r = record(page);
        VERIFY(r && r->frame_number);
        // A send may still pin the frame: its reference keeps the frame, and unpin() needs no page.
        m_frames->unref(MUST(m_table->unmap(page))); // registered, so mapped
        if (r->write_protected)
            --m_counters->protected_pages;
        *r = {};
        --m_counters->registered_pages;
    }
}

Result<PhysicalAddress> ZeroCopyPages::pin(uptr address, u32 count)
{
    uptr page = align_down(address, kFrameSize);
    ZeroCopyPageRecord* r = record(page);
    if (!r)
        return Error::NotSupported;
    if (!r->frame_number)
        return Error::Fault;
    PhysicalAddress frame = static_cast<PhysicalAddress>(r->frame_number) << kFrameShift;
    if (!r->write_protected)
        TRY(protect(page));
    u32 pins = m_frames->add_pin(frame, count);
    if (pins == 0) {
        ++m_counters->pins_refused;
        return Error::Busy;
    }
    if (pins == count)
        ++m_counters->pinned_frames;
    m_counters->pins += count;
    return frame;
}

void ZeroCopyPages::unpin(PhysicalAddress frame, u32 count)
{
    // The page stays write-protected (lifted lazily: write_fault, release); the frame may no
    // longer be mapped at all (COW gave the page a copy, or the buffer was freed).
    if (m_frames->drop_pin(frame, count) == 0)
        --m_counters->pinned_frames;
    m_counters->unpins += count;
}

Result<void> ZeroCopyPages::protect(uptr page)
{
    ZeroCopyPageRecord* r = record(page);
    if (!r || !r->frame_number)
        return Error::NotFound;
    if (r->write_protected)
        return {};
    u64 flushes = m_table->stats().page_flushes;
    TRY(m_table->protect(page, m_protected));
    ++m_counters->send_pte_writes;
    m_counters->send_invlpgs += m_table->stats().page_flushes - flushes;
    r->write_protected = 1;
    ++m_counters->protected_pages;
    return {};
}

void ZeroCopyPages::unprotect(uptr page, ZeroCopyPageRecord& r)
{
    u64 flushes = m_table->stats().page_flushes;
    MUST(m_table->protect(page, m_writable)); // registered, so mapped
    ++m_counters->send_pte_writes;
    m_counters->send_invlpgs += m_table->stats().page_flushes - flushes;
    r.write_protected = 0;
    --m_counters->protected_pages;
}

u64 ZeroCopyPages::release(uptr base, u64 pages)
{
    u64 still_held = 0;
    for (u64 i = 0; i < pages; ++i) {
        uptr page = base + i * kFrameSize;
        ZeroCopyPageRecord* r = record(page);
        if (!r || !r->frame_number || !r->write_protected)
            continue;
        PhysicalAddress frame = static_cast<PhysicalAddress>(r->frame_number) << kFrameShift;
        if (m_frames->refcount(frame) > 1) {
            ++still_held; // a send holds it: a write will copy
            continue;
        }
        unprotect(page, *r);
        ++m_counters->released_pages;
    }
    return still_held;
}

ZeroCopyPages::FaultResult ZeroCopyPages::write_fault(uptr page)
{
    ZeroCopyPageRecord* r = record(page);
    if (!r || !r->frame_number || !r->write_protected)
        return FaultResult::NotProtected;
    PhysicalAddress frame = static_cast<PhysicalAddress>(r->frame_number) << kFrameShift;
    if (m_frames->refcount(frame) == 1) {
        // Nobody but the mapping holds the frame: the sends that protected it are acknowledged.
        unprotect(page, *r);
        ++m_counters->lazy_reclaims;
        return FaultResult::Reclaimed;
    }
    // A send still holds the frame: the application gets a copy, the send keeps the original.
    auto fresh = m_frames->allocate();
    if (fresh.is_error())
        return FaultResult::OutOfMemory;
    PhysicalWindow window = m_table->window();
    __builtin_memcpy(window.at<u8>(fresh.value()), window.at<u8>(frame), kFrameSize);
    u64 flushes = m_table->stats().page_flushes;
    MUST(m_table->remap(page, fresh.value(), m_writable)); // registered, so mapped
    ++m_counters->send_pte_writes;
    m_counters->send_invlpgs += m_table->stats().page_flushes - flushes;
    m_frames->unref(frame); // the pins keep the original
    *r = { static_cast<u32>(fresh.value() >> kFrameShift), 0, {} };
    --m_counters->protected_pages;
    ++m_counters->cow_copies;
    return FaultResult::Copied;
}

bool ZeroCopyPages::can_remap(ZeroCopyPageRecord const* r) const
{
    // The old frame goes to the caller and on to a NIC's receive ring: it must have no other
    // holder. A frame a send still pins would be overwritten by the next received frame.
    return r && r->frame_number
        && m_frames->refcount(static_cast<PhysicalAddress>(r->frame_number) << kFrameShift) == 1;
}

Result<PhysicalAddress> ZeroCopyPages::remap(uptr page, PhysicalAddress new_frame)
{
    PageExchange exchange { page, new_frame };
    if (!is_aligned(page, kFrameSize) || !contains(page))
        return Error::InvalidArgument;
    if (!record(page)->frame_number)
        return Error::NotFound;
    if (remap_pages({ &exchange, 1 }) == 0)
        return Error::Busy;
    return exchange.frame;
}

u32 ZeroCopyPages::remap_pages(Span<PageExchange> exchanges)
{
    // The page-table work first, the invalidations together at the end: nothing reads these pages
    // in between (interrupts are off and the caller has not returned).
    u32 done = 0;
    for (PageExchange& exchange : exchanges) {
        ZeroCopyPageRecord* r = is_aligned(exchange.page, kFrameSize) ? record(exchange.page) : nullptr;
        if (!can_remap(r)) {
            if (r && r->frame_number)
                ++m_counters->remaps_refused;
            break;
        }
        PhysicalAddress old = MUST(m_table->remap_unflushed(exchange.page, exchange.frame, m_writable)); // registered
        if (r->write_protected)
            --m_counters->protected_pages;
        *r = { static_cast<u32>(exchange.frame >> kFrameShift), 0, {} };
        exchange.frame = old;
        ++done;
    }
    if (done == 0)
        return 0;
    m_counters->remaps += done;
    m_counters->receive_pte_writes += done;
    ++m_counters->remap_batches;
    PageTableStats const& paging = m_table->stats();
    u64 flushes = paging.page_flushes, full = paging.full_flushes;
    if (done > kFullFlushThreshold) {
        m_table->flush_all();
    } else {
        for (u32 i = 0; i < done; ++i)
            m_table->flush_page(exchanges[i].page);
    }
    m_counters->receive_invlpgs += paging.page_flushes - flushes;
    m_counters->receive_full_flushes += paging.full_flushes - full;
    return done;
}

bool ZeroCopyPages::is_write_protected(uptr page) const
{
    ZeroCopyPageRecord const* r = record(align_down(page, kFrameSize));
    return r && r->write_protected;
}

PhysicalAddress ZeroCopyPages::frame_at(uptr page) const
{
    ZeroCopyPageRecord const* r = record(align_down(page, kFrameSize));
    return r ? static_cast<PhysicalAddress>(r->frame_number) << kFrameShift : 0;
}

} // namespace skiff::mm
