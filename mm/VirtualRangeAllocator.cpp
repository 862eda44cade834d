#include <mm/VirtualRangeAllocator.h>

#include <lib/Verify.h>

namespace skiff::mm {

void VirtualRangeAllocator::initialize(uptr base, u64 size)
{
    VERIFY(is_aligned(base, 4096) && is_aligned(size, 4096) && size > 0);
    m_base = base;
    m_size = size;
    m_free[0] = { base, size };
    m_count = 1;
    m_free_bytes = size;
}

void VirtualRangeAllocator::remove_at(usize index)
{
    for (usize i = index; i + 1 < m_count; ++i)
        m_free[i] = m_free[i + 1];
    --m_count;
}

bool VirtualRangeAllocator::insert_at(usize index, Range range)
{
    if (m_count == kMaxFreeRanges)
        return false;
    for (usize i = m_count; i > index; --i)
        m_free[i] = m_free[i - 1];
    m_free[index] = range;
    ++m_count;
    return true;
}

Result<uptr> VirtualRangeAllocator::allocate(u64 size, u64 alignment)
{
    VERIFY(size > 0 && is_aligned(size, 4096));
    VERIFY(alignment >= 4096 && (alignment & (alignment - 1)) == 0);
    for (usize i = 0; i < m_count; ++i) {
        Range& range = m_free[i];
        uptr start = align_up(range.base, alignment);
        if (start - range.base >= range.size || range.size - (start - range.base) < size)
            continue;
        uptr end = start + size;
        uptr range_end = range.base + range.size;
        Range before { range.base, start - range.base };
        Range after { end, range_end - end };
        if (before.size && after.size) {
            // Splitting needs one more slot; if the table is full try the next range.
            range = before;
            if (!insert_at(i + 1, after)) {
                range = { before.base, range_end - before.base };
                continue;
            }
        } else if (before.size) {
            range = before;
        } else if (after.size) {
            range = after;
        } else {
            remove_at(i);
        }
        m_free_bytes -= size;
        return start;
    }
    return Error::NoMemory;
}

void VirtualRangeAllocator::free(uptr base, u64 size)
{
    VERIFY(is_aligned(base, 4096) && is_aligned(size, 4096) && size > 0);
    VERIFY(base >= m_base && base + size <= m_base + m_size);
    usize index = 0;
    while (index < m_count && m_free[index].base < base)
        ++index;
    // The freed range must not overlap its neighbours: that would be a double free.
    if (index > 0)
        VERIFY(m_free[index - 1].base + m_free[index - 1].size <= base);
    if (index < m_count)
        VERIFY(base + size <= m_free[index].base);
    bool joins_previous = index > 0 && m_free[index - 1].base + m_free[index - 1].size == base;
    bool joins_next = index < m_count && base + size == m_free[index].base;
    if (joins_previous && joins_next) {
        m_free[index - 1].size += size + m_free[index].size;
        remove_at(index);
    } else if (joins_previous) {
        m_free[index - 1].size += size;
    } else if (joins_next) {
        m_free[index].base = base;
        m_free[index].size += size;
    } else {
        // A full table would lose the range; 128 separate holes means something leaks.
        VERIFY(insert_at(index, { base, size }));
    }
    m_free_bytes += size;
}

} // namespace skiff::mm
