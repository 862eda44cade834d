// The two ways of reaching configuration space. See ConfigAccess.h.

#include <drivers/pci/ConfigAccess.h>
#include <kernel/base/Arch.h>
#include <kernel/base/IoWindow.h>
#include <kernel/base/Print.h>
#include <mm/MmioRegion.h>

namespace skiff::drivers::pci {

namespace {

// Configuration mechanism #1: write the address of a dword (enable bit 31, bus 23:16, device
// 15:11, function 10:8, register 7:2) to CONFIG_ADDRESS, then access it through CONFIG_DATA. Only
// the first 256 bytes of each function are reachable this way.
class Mechanism1 final : public ConfigAccess {
public:
    static constexpr u32 kConfigAddress = 0xcf8;
    static constexpr u32 kConfigData = 0xcfc - kConfigAddress; // offset in the window

    u32 read32(Address address, u16 offset) override
    {
        if (offset >= 256)
            return 0xffffffff;
        arch::InterruptDisabler disabler;
        m_ports.write32(0, config_address(address, offset));
        return m_ports.read32(kConfigData);
    }
    void write32(Address address, u16 offset, u32 value) override
    {
        if (offset >= 256)
            return;
        arch::InterruptDisabler disabler;
        m_ports.write32(0, config_address(address, offset));
        m_ports.write32(kConfigData, value);
    }
    // Through the matching byte lanes of CONFIG_DATA.
    void write16(Address address, u16 offset, u16 value) override
    {
        if (offset >= 256)
            return;
        arch::InterruptDisabler disabler;
        m_ports.write32(0, config_address(address, offset));
        m_ports.write16(kConfigData + (offset & 2), value);
    }
    void write8(Address address, u16 offset, u8 value) override
    {
        if (offset >= 256)
            return;
        arch::InterruptDisabler disabler;
        m_ports.write32(0, config_address(address, offset));
        m_ports.write8(kConfigData + (offset & 3), value);
    }
    char const* name() const override { return "configuration mechanism #1 (I/O 0xcf8)"; }

private:
    static u32 config_address(Address address, u16 offset)
    {
        return (1u << 31) | (static_cast<u32>(address.bus) << 16) | (static_cast<u32>(address.device & 31) << 11)
            | (static_cast<u32>(address.function & 7) << 8) | (offset & 0xfc);
    }

    IoWindow m_ports { IoWindow::ports(kConfigAddress, 8) };
};

// ECAM: plain loads and stores of the access's width (a device-memory mapping: each access
// reaches the device exactly once, in order).
class Ecam final : public ConfigAccess {
public:
    Ecam(mm::MmioRegion region, u8 bus_first, u8 bus_last)
        : m_region(move(region))
        , m_window(m_region.window())
        , m_bus_first(bus_first)
        , m_bus_last(bus_last)
    {
    }
    u32 read32(Address address, u16 offset) override
    {
        if (!reachable(address, offset))
            return 0xffffffff;
        return m_window.read32(config_offset(address, offset & 0xffc));
    }
    void write32(Address address, u16 offset, u32 value) override
    {
        if (reachable(address, offset))
            m_window.write32(config_offset(address, offset & 0xffc), value);
    }
    void write16(Address address, u16 offset, u16 value) override
    {
        if (reachable(address, offset))
            m_window.write16(config_offset(address, offset & 0xffe), value);
    }
    void write8(Address address, u16 offset, u8 value) override
    {
        if (reachable(address, offset))
            m_window.write8(config_offset(address, offset), value);
    }
    char const* name() const override { return "ECAM"; }

private:
    bool reachable(Address address, u16 offset) const
    {
        return address.bus >= m_bus_first && address.bus <= m_bus_last && offset < 4096;
    }
    u32 config_offset(Address address, u16 offset) const
    {
        return (static_cast<u32>(address.bus - m_bus_first) << 20) | (static_cast<u32>(address.device & 31) << 15)
            | (static_cast<u32>(address.function & 7) << 12) | offset;
    }

    mm::MmioRegion m_region;
    IoWindow m_window;
    u8 m_bus_first;
    u8 m_bus_last;
};

} // namespace

ConfigAccess* mechanism1()
{
    if (!arch::kHasIsaBus)
        return nullptr;
    static Mechanism1 s_mechanism1;
    return &s_mechanism1;
}

Result<ConfigAccess*> ecam(PciHostInfo const& host)
{
    if (host.bus_last < host.bus_first)
        return Error::InvalidArgument;
    // Skiff programs no bridges, so only the first bus is reachable: map its 1 MiB, not the whole
    // window (256 MiB of 4 KiB pages would cost half a megabyte of page tables).
    constexpr u64 kBusBytes = 1 << 20;
    if (host.ecam_size < kBusBytes) {
        kprintln("pci: ECAM window of {:#x} bytes is smaller than one bus", host.ecam_size);
        return Error::InvalidArgument;
    }
    auto region = TRY(mm::MmioRegion::map(host.ecam_base, kBusBytes));
    auto* access = new (std::nothrow) Ecam(move(region), host.bus_first, host.bus_first);
    if (!access)
        return Error::NoMemory;
    return static_cast<ConfigAccess*>(access);
}

} // namespace skiff::drivers::pci
