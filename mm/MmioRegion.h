#pragma once

// An owned mapping of device registers: mapped uncached by map() (mm::map_mmio), unmapped by the
// destructor. Move-only, so a driver's create() can TRY one into a local and hand it to the
// driver's constructor; if anything later fails, the mapping goes away by itself.

#include <kernel/base/IoWindow.h>
#include <mm/Memory.h>

namespace skiff::mm {

class MmioRegion {
public:
    MmioRegion() = default;
    static Result<MmioRegion> map(PhysicalAddress physical, u64 length)
    {
        u8* address = TRY(map_mmio(physical, length));
        return MmioRegion(address, length);
    }
    MmioRegion(MmioRegion&& other)
        : m_address(other.m_address)
        , m_length(other.m_length)
    {
        other.m_address = nullptr;
        other.m_length = 0;
    }
    MmioRegion& operator=(MmioRegion&& other)
    {
        if (this != &other) {
            reset();
            swap(m_address, other.m_address);
            swap(m_length, other.m_length);
        }
        return *this;
    }
    MmioRegion(MmioRegion const&) = delete;
    MmioRegion& operator=(MmioRegion const&) = delete;
    ~MmioRegion() { reset(); }

    bool is_mapped() const { return m_address != nullptr; }
    u8* address() const { return m_address; }
    u64 length() const { return m_length; }
    IoWindow window() const { return IoWindow::memory(m_address, static_cast<u32>(m_length)); }

private:
    MmioRegion(u8* address, u64 length)
        : m_address(address)
        , m_length(length)
    {
    }
    void reset()
    {
        if (m_address)
            unmap_mmio(m_address, m_length);
        m_address = nullptr;
        m_length = 0;
    }

    u8* m_address { nullptr };
    u64 m_length { 0 };
};

} // namespace skiff::mm
