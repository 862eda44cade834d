#pragma once

// An owned run of DMA memory (mm::allocate_dma: physically contiguous, zeroed), freed by the
// destructor. Move-only, like MmioRegion: a driver's create() TRYs its rings into locals and
// nothing is leaked when a later step fails.

#include <mm/Memory.h>

namespace skiff::mm {

class DmaBuffer {
public:
    DmaBuffer() = default;
    static Result<DmaBuffer> allocate(u64 bytes, u64 alignment = kFrameSize)
    {
        return DmaBuffer(TRY(allocate_dma(bytes, alignment)));
    }
    DmaBuffer(DmaBuffer&& other)
        : m_region(other.m_region)
    {
        other.m_region = {};
    }
    DmaBuffer& operator=(DmaBuffer&& other)
    {
        if (this != &other) {
            reset();
            swap(m_region, other.m_region);
        }
        return *this;
    }
    DmaBuffer(DmaBuffer const&) = delete;
    DmaBuffer& operator=(DmaBuffer const&) = delete;
    ~DmaBuffer() { reset(); }

    // What goes into a descriptor or a base-address register.
    PhysicalAddress physical() const { return m_region.physical; }
    // Where the CPU reaches it (the direct map, cached: DMA is cache-coherent on both machines).
    u8* bytes() const { return m_region.virtual_address; }
    u64 size() const { return m_region.pages * kFrameSize; }

private:
    explicit DmaBuffer(DmaRegion region)
        : m_region(region)
    {
    }
    void reset()
    {
        if (m_region.pages)
            free_dma(m_region);
        m_region = {};
    }

    DmaRegion m_region {};
};

} // namespace skiff::mm
