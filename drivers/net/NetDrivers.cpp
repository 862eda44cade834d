// The explicit driver table (no global constructors): which NICs Skiff knows and how each is
// found. PCI must have been enumerated first.

#include <drivers/net/E1000.h>
#include <drivers/net/Ne2000.h>
#include <drivers/net/NicDriver.h>
#include <drivers/pci/Pci.h>
#include <kernel/base/Print.h>

namespace skiff::drivers {

namespace {

struct PciNic {
    u16 vendor_id;
    u16 device_id;
    NicDriver* (*create)(pci::Device const&);
};

NicDriver* create_e1000(pci::Device const& device)
{
    auto result = E1000::create(device);
    if (result.is_error()) {
        kprintln("e1000: not started: {}", result.error());
        return nullptr;
    }
    return result.value();
}

NicDriver* create_ne2000_pci(pci::Device const& device)
{
    auto result = Ne2000::probe_pci(device);
    if (result.is_error()) {
        kprintln("ne2k-pci: not started: {}", result.error());
        return nullptr;
    }
    return result.value();
}

constexpr PciNic kPciNics[] = {
    { 0x8086, 0x100e, create_e1000 },      // Intel 82540EM (QEMU e1000)
    { 0x10ec, 0x8029, create_ne2000_pci }, // Realtek RTL8029 (QEMU ne2k_pci)
};

} // namespace

u32 probe_network_cards(NicDriver** out, u32 capacity)
{
    u32 found = 0;
    for (auto const& nic : kPciNics) {
        for (u32 index = 0; found < capacity; ++index) {
            pci::Device const* device = pci::find(nic.vendor_id, nic.device_id, index);
            if (!device)
                break;
            if (NicDriver* driver = nic.create(*device))
                out[found++] = driver;
        }
    }
    if (found < capacity) {
        auto isa = Ne2000::probe_isa();
        if (!isa.is_error())
            out[found++] = isa.value();
    }
    return found;
}

} // namespace skiff::drivers
