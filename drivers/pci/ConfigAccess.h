#pragma once

// How configuration space is reached, one implementation per host bridge kind:
//   - Mechanism1: I/O ports 0xCF8/0xCFC (PCI Local Bus Specification 3.0 §3.2.2.3.2), what
//     QEMU's pc and q35 machines offer (x86-64);
//   - Ecam: PCI Express enhanced configuration access, every function's 4 KiB of configuration
//     space at ecam_base + (bus << 20 | device << 15 | function << 12) (PCI Express Base 4.0
//     §7.2.2), what the device tree describes on QEMU's virt machine (AArch64).

#include <drivers/pci/Address.h>
#include <kernel/base/BootInfo.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::drivers::pci {

class ConfigAccess {
public:
    virtual u32 read32(Address address, u16 offset) = 0;
    virtual void write32(Address address, u16 offset, u32 value) = 0;
    // Sub-dword writes touch only their own bytes: the write-1-to-clear Status register sits
    // beside Command and must never be written back.
    virtual void write16(Address address, u16 offset, u16 value) = 0;
    virtual void write8(Address address, u16 offset, u8 value) = 0;
    virtual char const* name() const = 0;

protected:
    ~ConfigAccess() = default;
};

// Mechanism #1 through the I/O ports; null where the machine has no such ports to try.
ConfigAccess* mechanism1();
// ECAM over the host bridge the boot information describes; maps its configuration space.
Result<ConfigAccess*> ecam(PciHostInfo const& host);

} // namespace skiff::drivers::pci
