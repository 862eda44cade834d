#include <mm/FrameAllocator.h>

#include <lib/Verify.h>

namespace skiff::mm {

u64 FrameAllocator::bookkeeping_bytes(u64 frame_count)
{
    return frame_count * sizeof(FrameDescriptor) + align_up(frame_count, 64) / 8;
}

void FrameAllocator::initialize(PhysicalAddress base, u64 frame_count, void* storage)
{
    VERIFY(is_aligned(base, kFrameSize));
    m_base = base;
    m_frame_count = frame_count;
    m_descriptors = static_cast<FrameDescriptor*>(storage);
    m_bitmap = reinterpret_cast<u64*>(m_descriptors + frame_count);
    m_bitmap_words = align_up(frame_count, 64) / 64;
    for (u64 i = 0; i < frame_count; ++i)
        m_descriptors[i] = { 0, 0, 0 };
    for (u64 i = 0; i < m_bitmap_words; ++i)
        m_bitmap[i] = 0;
    m_next_fit_word = 0;
    m_next_run = 0;
    m_usable = m_free = m_shared = 0;
    m_allocations = m_releases = m_failed = 0;
}

void FrameAllocator::add_free_range(PhysicalAddress base, u64 length)
{
    u64 start = align_up(base, kFrameSize);
    u64 end = align_down(base + length, kFrameSize);
    u64 limit = m_base + m_frame_count * kFrameSize;
    if (start < m_base)
        start = m_base;
    if (end > limit)
        end = limit;
    for (u64 address = start; address < end; address += kFrameSize) {
        u64 index = (address - m_base) >> kFrameShift;
        FrameDescriptor& frame = m_descriptors[index];
        if (frame.flags & FrameDescriptor::kUsable)
            continue; // overlapping ranges from the loader: count each frame once
        frame.flags |= FrameDescriptor::kUsable;
        frame.refcount = 0;
        set_free(index);
        ++m_usable;
        ++m_free;
    }
}

void FrameAllocator::reserve_range(PhysicalAddress base, u64 length)
{
    u64 start = align_down(base, kFrameSize);
    u64 end = align_up(base + length, kFrameSize);
    for (u64 address = start; address < end; address += kFrameSize) {
        if (!manages(address))
            continue;
        u64 index = (address - m_base) >> kFrameShift;
        if (is_free(index))
            take(index);
    }
}

FrameDescriptor& FrameAllocator::descriptor(PhysicalAddress frame)
{
    VERIFY(manages(frame));
    VERIFY(is_aligned(frame, kFrameSize));
    return m_descriptors[(frame - m_base) >> kFrameShift];
}

FrameDescriptor const& FrameAllocator::descriptor(PhysicalAddress frame) const
{
    VERIFY(manages(frame));
    VERIFY(is_aligned(frame, kFrameSize));
    return m_descriptors[(frame - m_base) >> kFrameShift];
}

bool FrameAllocator::manages(PhysicalAddress address) const
{
    if (address < m_base || address >= m_base + m_frame_count * kFrameSize)
        return false;
    return m_descriptors[(address - m_base) >> kFrameShift].flags & FrameDescriptor::kUsable;
}

void FrameAllocator::take(u64 index)
{
    VERIFY(is_free(index));
    VERIFY(m_descriptors[index].refcount == 0);
    clear_free(index);
    m_descriptors[index].refcount = 1;
    --m_free;
}

Result<PhysicalAddress> FrameAllocator::allocate()
{
    // Next fit over the bitmap a word at a time: at 16 MiB the whole map is 64 words.
    for (u64 step = 0; step < m_bitmap_words; ++step) {
        u64 word_index = (m_next_fit_word + step) % m_bitmap_words;
        u64 word = m_bitmap[word_index];
        if (!word)
            continue;
        u64 index = word_index * 64 + static_cast<u64>(__builtin_ctzll(word));
        take(index);
        m_next_fit_word = word_index;
        ++m_allocations;
        return m_base + (index << kFrameShift);
    }
    ++m_failed;
    return Error::NoMemory;
}

Result<PhysicalAddress> FrameAllocator::allocate_contiguous(u64 count, u64 alignment)
{
    VERIFY(count > 0);
    VERIFY(alignment >= kFrameSize && (alignment & (alignment - 1)) == 0);
    // First fit, from low addresses: runs are allocated early (rings at driver start) and
    // keeping them low leaves the high frames for the next-fit single-frame traffic.
    u64 index = 0;
    while (index + count <= m_frame_count) {
        u64 address = m_base + (index << kFrameShift);
        if (!is_aligned(address, alignment)) {
            index = (align_up(address, alignment) - m_base) >> kFrameShift;
            continue;
        }
        if (!is_free(index) && m_bitmap[index / 64] == 0 && index % 64 == 0) {
            index += 64; // a whole word in use
            continue;
        }
        u64 run = 0;
        while (run < count && is_free(index + run))
            ++run;
        if (run == count) {
            for (u64 i = 0; i < count; ++i)
                take(index + i);
            m_allocations += count;
            return address;
        }
        index += run + 1;
    }
    ++m_failed;
    return Error::NoMemory;
}

Result<PhysicalAddress> FrameAllocator::allocate_run(u64 count)
{
    VERIFY(count > 0 && count <= 64);
    if (count > m_frame_count) {
        ++m_failed;
        return Error::NoMemory;
    }
    u64 index = m_next_run < m_frame_count ? m_next_run : 0;
    // Every frame is looked at (or skipped with its word) at most about twice before giving up.
    for (u64 scanned = 0; scanned < 2 * m_frame_count + 64;) {
        if (index + count > m_frame_count) {
            scanned += m_frame_count - index;
            index = 0;
            continue;
        }
        u64 word = m_bitmap[index / 64] >> (index % 64);
        if (!word) {
            u64 next = align_up(index + 1, 64); // nothing free up to the end of this word
            scanned += next - index;
            index = next;
            continue;
        }
        u64 skip = static_cast<u64>(__builtin_ctzll(word)); // to the next free frame
        index += skip;
        scanned += skip;
        if (index + count > m_frame_count)
            continue;
        u64 run = 1;
        while (run < count && is_free(index + run))
            ++run;
        if (run == count) {
            for (u64 i = 0; i < count; ++i)
                take(index + i);
            m_allocations += count;
            m_next_run = index + count;
            return m_base + (index << kFrameShift);
        }
        index += run + 1;
        scanned += run + 1;
    }
    ++m_failed;
    return Error::NoMemory;
}

void FrameAllocator::free_contiguous(PhysicalAddress base, u64 count)
{
    for (u64 i = 0; i < count; ++i)
        unref(base + i * kFrameSize);
}

void FrameAllocator::ref(PhysicalAddress frame)
{
    FrameDescriptor& descriptor = this->descriptor(frame);
    VERIFY(descriptor.refcount > 0); // a free frame has no owner to share it
    if (++descriptor.refcount == 2)
        ++m_shared;
}

bool FrameAllocator::unref(PhysicalAddress frame)
{
    FrameDescriptor& descriptor = this->descriptor(frame);
    VERIFY(descriptor.refcount > 0); // double free
    if (--descriptor.refcount == 1)
        --m_shared;
    if (descriptor.refcount > 0)
        return false;
    set_free((frame - m_base) >> kFrameShift);
    ++m_free;
    ++m_releases;
    return true;
}

u32 FrameAllocator::refcount(PhysicalAddress frame) const
{
    return descriptor(frame).refcount;
}

u32 FrameAllocator::add_pin(PhysicalAddress frame, u32 count)
{
    FrameDescriptor& descriptor = this->descriptor(frame);
    if (count == 0 || descriptor.pins + count > 0xffff)
        return 0;
    for (u32 i = 0; i < count; ++i)
        ref(frame);
    descriptor.pins = static_cast<u16>(descriptor.pins + count);
    return descriptor.pins;
}

u32 FrameAllocator::drop_pin(PhysicalAddress frame, u32 count)
{
    FrameDescriptor& descriptor = this->descriptor(frame);
    VERIFY(count > 0 && descriptor.pins >= count); // an unpin without its pin
    descriptor.pins = static_cast<u16>(descriptor.pins - count);
    u32 left = descriptor.pins;
    for (u32 i = 0; i < count; ++i)
        unref(frame); // the last reference frees the frame (the buffer was freed meanwhile)
    return left;
}

u32 FrameAllocator::pins(PhysicalAddress frame) const
{
    return descriptor(frame).pins;
}

FrameStats FrameAllocator::stats() const
{
    FrameStats stats;
    stats.total = m_usable;
    stats.free = m_free;
    stats.used = m_usable - m_free;
    stats.shared = m_shared;
    stats.allocations = m_allocations;
    stats.releases = m_releases;
    stats.failed = m_failed;
    return stats;
}

} // namespace skiff::mm
