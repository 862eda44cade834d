// PCI configuration space access and enumeration. See Pci.h.

#include <drivers/pci/Pci.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Print.h>

namespace skiff::drivers::pci {

namespace {

// Configuration mechanism #1: write the address of a dword (enable bit 31, bus 23:16, device
// 15:11, function 10:8, register 7:2) to CONFIG_ADDRESS, then access it through CONFIG_DATA.
constexpr u16 kConfigAddress = 0xcf8;
constexpr u16 kConfigData = 0xcfc;

constexpr u32 kMaxDevices = 64;
Device s_devices[kMaxDevices]; // written by enumerate() at boot only
u32 s_device_count { 0 };
bool s_bus_scanned[256];

u32 config_address(Address address, u8 offset)
{
    return (1u << 31) | (static_cast<u32>(address.bus) << 16) | (static_cast<u32>(address.device & 31) << 11)
        | (static_cast<u32>(address.function & 7) << 8) | (offset & 0xfc);
}

// Decodes BAR `index` by writing all ones and reading back which address bits stick (PCI 3.0
// §6.2.5.1). Decoding is switched off in the command register meanwhile, so the device never
// answers at the probe address. Returns how many BAR slots this BAR used (2 for 64-bit memory).
u32 decode_bar(Address address, u32 index, Bar& bar)
{
    u8 offset = static_cast<u8>(config::kBar0 + index * 4);
    u32 original = read32(address, offset);
    write32(address, offset, 0xffffffff);
    u32 probe = read32(address, offset);
    write32(address, offset, original);
    if (probe == 0 || probe == 0xffffffff) {
        bar = {};
        return 1;
    }
    if (original & 1) {
        // I/O BAR: bit 0 set, bits 1 reserved, the rest address bits (16 decoded on x86).
        u32 mask = probe & 0xfffffffc;
        bar.kind = Bar::Kind::Io;
        bar.address = original & 0xfffffffc;
        bar.size = (~mask + 1) & 0xffff;
        return 1;
    }
    // Memory BAR: bits 2:1 are the type (00: 32-bit, 10: 64-bit), bit 3 prefetchable.
    bar.prefetchable = original & 8;
    u64 mask = probe & 0xfffffff0;
    u64 base = original & 0xfffffff0;
    u32 used = 1;
    if (((original >> 1) & 3) == 2 && index < 5) {
        u8 high_offset = static_cast<u8>(offset + 4);
        u32 high_original = read32(address, high_offset);
        write32(address, high_offset, 0xffffffff);
        u32 high_probe = read32(address, high_offset);
        write32(address, high_offset, high_original);
        mask |= static_cast<u64>(high_probe) << 32;
        base |= static_cast<u64>(high_original) << 32;
        bar.kind = Bar::Kind::Memory64;
        used = 2;
    } else {
        mask |= 0xffffffff00000000ull;
        bar.kind = Bar::Kind::Memory32;
    }
    bar.address = base;
    bar.size = ~mask + 1;
    return used;
}

void scan_bus(u8 bus);

void record_function(Address address)
{
    if (s_device_count == kMaxDevices) {
        kprintln("pci: more than {} functions; {:02x}:{:02x}.{} ignored", kMaxDevices, address.bus, address.device,
            address.function);
        return;
    }
    Device& device = s_devices[s_device_count++];
    device.address = address;
    device.vendor_id = read16(address, config::kVendorId);
    device.device_id = read16(address, config::kDeviceId);
    device.revision = read8(address, config::kRevision);
    device.prog_if = read8(address, config::kProgIf);
    device.subclass = read8(address, config::kSubclass);
    device.class_code = read8(address, config::kClass);
    device.header_type = read8(address, config::kHeaderType) & 0x7f;
    device.interrupt_line = read8(address, config::kInterruptLine);
    device.interrupt_pin = read8(address, config::kInterruptPin);
    if (device.header_type == 0) {
        u16 saved_command = read16(address, config::kCommand);
        write16(
            address, config::kCommand, static_cast<u16>(saved_command & ~(command::kIoSpace | command::kMemorySpace)));
        for (u32 index = 0; index < 6;)
            index += decode_bar(address, index, device.bars[index]);
        write16(address, config::kCommand, saved_command);
    } else if (device.header_type == 1) {
        // A PCI-to-PCI bridge: its secondary bus is another bus to scan (PCI-PCI Bridge 1.2 §3.2).
        u8 secondary = read8(address, config::kSecondaryBus);
        if (secondary != 0)
            scan_bus(secondary);
    }
}

void scan_bus(u8 bus)
{
    if (s_bus_scanned[bus])
        return;
    s_bus_scanned[bus] = true;
    for (u8 slot = 0; slot < 32; ++slot) {
        Address address { bus, slot, 0 };
        if (read16(address, config::kVendorId) == 0xffff)
            continue;
        // Header type bit 7: a multi-function device has functions 1-7 to look at too.
        u8 functions = (read8(address, config::kHeaderType) & 0x80) ? 8 : 1;
        for (u8 function = 0; function < functions; ++function) {
            address.function = function;
            if (read16(address, config::kVendorId) == 0xffff)
                continue;
            record_function(address);
        }
    }
}

} // namespace

u32 read32(Address address, u8 offset)
{
    arch::InterruptDisabler disabler;
    arch::outl(kConfigAddress, config_address(address, offset));
    return arch::inl(kConfigData);
}

u16 read16(Address address, u8 offset)
{
    return static_cast<u16>(read32(address, offset) >> ((offset & 2) * 8));
}

u8 read8(Address address, u8 offset)
{
    return static_cast<u8>(read32(address, offset) >> ((offset & 3) * 8));
}

void write32(Address address, u8 offset, u32 value)
{
    arch::InterruptDisabler disabler;
    arch::outl(kConfigAddress, config_address(address, offset));
    arch::outl(kConfigData, value);
}

// Sub-dword writes go through the matching byte lanes of CONFIG_DATA, so neighbouring registers
// (the write-1-to-clear Status beside Command) are never written back.
void write16(Address address, u8 offset, u16 value)
{
    arch::InterruptDisabler disabler;
    arch::outl(kConfigAddress, config_address(address, offset));
    arch::outw(static_cast<u16>(kConfigData + (offset & 2)), value);
}

void write8(Address address, u8 offset, u8 value)
{
    arch::InterruptDisabler disabler;
    arch::outl(kConfigAddress, config_address(address, offset));
    arch::outb(static_cast<u16>(kConfigData + (offset & 3)), value);
}

void enumerate()
{
    s_device_count = 0;
    for (auto& scanned : s_bus_scanned)
        scanned = false;
    scan_bus(0);
}

u32 device_count()
{
    return s_device_count;
}

Device const& device(u32 index)
{
    VERIFY(index < s_device_count);
    return s_devices[index];
}

Device const* find(u16 vendor_id, u16 device_id, u32 index)
{
    for (u32 i = 0; i < s_device_count; ++i) {
        if (s_devices[i].vendor_id == vendor_id && s_devices[i].device_id == device_id) {
            if (index == 0)
                return &s_devices[i];
            --index;
        }
    }
    return nullptr;
}

void enable(Device const& device, u16 command_bits)
{
    u16 value = read16(device.address, config::kCommand);
    value = static_cast<u16>((value | command_bits) & ~command::kInterruptDisable);
    write16(device.address, config::kCommand, value);
}

char const* class_name(u8 class_code, u8 subclass)
{
    switch (class_code) {
    case 0x01:
        switch (subclass) {
        case 0x01: return "IDE controller";
        case 0x06: return "SATA controller";
        default: return "Mass storage controller";
        }
    case 0x02: return subclass == 0x00 ? "Ethernet controller" : "Network controller";
    case 0x03: return "VGA compatible controller";
    case 0x06:
        switch (subclass) {
        case 0x00: return "Host bridge";
        case 0x01: return "ISA bridge";
        case 0x04: return "PCI bridge";
        case 0x80: return "Bridge";
        default: return "Bridge device";
        }
    case 0x0c:
        switch (subclass) {
        case 0x03: return "USB controller";
        case 0x05: return "SMBus";
        default: return "Serial bus controller";
        }
    default: return "Device";
    }
}

} // namespace skiff::drivers::pci
