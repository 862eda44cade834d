// PCI enumeration, BAR decoding and assignment, INTx routing. See Pci.h.

#include <drivers/pci/ConfigAccess.h>
#include <drivers/pci/Pci.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Print.h>

namespace skiff::drivers::pci {

namespace {

constexpr u32 kMaxDevices = 64;
Device s_devices[kMaxDevices]; // written by initialize() at boot only
u32 s_device_count { 0 };
bool s_bus_scanned[256];
ConfigAccess* s_access = nullptr;
mm::MmioRegion s_io_space;           // the host bridge's I/O window, where I/O BARs are reached
PciHostInfo const* s_host = nullptr; // non-null: nobody assigned resources, Skiff does

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
    if (original & 1 || probe & 1) {
        // I/O BAR: bit 0 set, bits 1 reserved, the rest address bits (16 decoded on x86).
        u32 mask = probe & 0xfffffffc;
        bar.kind = Bar::Kind::Io;
        bar.address = original & 0xfffffffc;
        bar.size = (~mask + 1) & 0xffff;
        bar.assigned = bar.address != 0;
        return 1;
    }
    // Memory BAR: bits 2:1 are the type (00: 32-bit, 10: 64-bit), bit 3 prefetchable.
    bar.prefetchable = probe & 8;
    u64 mask = probe & 0xfffffff0;
    u64 base = original & 0xfffffff0;
    u32 used = 1;
    if (((probe >> 1) & 3) == 2 && index < 5) {
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
    bar.assigned = bar.address != 0;
    return used;
}

void scan_bus(u8 bus);

// The interrupt line INTx of this function arrives on: the firmware's Interrupt Line register
// (an ISA IRQ) under mechanism #1, the host bridge's interrupt-map otherwise.
u32 interrupt_line_of(Device const& device)
{
    if (device.interrupt_pin < 1 || device.interrupt_pin > 4)
        return kNoInterrupt;
    if (!s_host) {
        u8 line = read8(device.address, config::kInterruptLine);
        return line == 0 || line >= 16 ? kNoInterrupt : line;
    }
    u8 slot = device.address.device & s_host->device_mask;
    for (usize i = 0; i < s_host->route_count; ++i) {
        auto const& route = s_host->routes[i];
        if (route.device == slot && route.pin == device.interrupt_pin)
            return route.line;
    }
    kprintln("pci: {:02x}:{:02x}.{} INT{}# has no route in the host bridge's interrupt-map: no interrupt",
        device.address.bus, device.address.device, device.address.function,
        static_cast<char>('A' + device.interrupt_pin - 1));
    return kNoInterrupt;
}

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
    device.interrupt_pin = read8(address, config::kInterruptPin);
    device.interrupt_line = interrupt_line_of(device);
    if (device.header_type == 0) {
        u16 saved_command = read16(address, config::kCommand);
        write16(
            address, config::kCommand, static_cast<u16>(saved_command & ~(command::kIoSpace | command::kMemorySpace)));
        for (u32 index = 0; index < 6;)
            index += decode_bar(address, index, device.bars[index]);
        write16(address, config::kCommand, saved_command);
    } else if (device.header_type == 1) {
        // A PCI-to-PCI bridge: its secondary bus is another bus to scan (PCI-PCI Bridge 1.2 §3.2),
        // when firmware set one up. Skiff programs no bridge windows itself.
        u8 secondary = read8(address, config::kSecondaryBus);
        if (secondary != 0)
            scan_bus(secondary);
        else if (s_host)
            kprintln("pci: bridge at {:02x}:{:02x}.{} is not configured; devices behind it are not used", address.bus,
                address.device, address.function);
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

// BAR assignment from a host bridge window (no firmware ran): largest BARs first, each at the
// next address aligned to its size (BARs are naturally aligned, PCI 3.0 §6.2.5.1), so nothing is
// wasted between them. The bus address goes into the BAR; the driver gets the CPU address.
struct Allocator {
    PciHostInfo::Window window;
    u64 next; // bus address
    bool take(u64 size, u64& bus_address)
    {
        u64 start = align_up(next, size);
        if (window.size == 0 || start < next || start + size > window.bus_base + window.size || start + size < start)
            return false;
        bus_address = start;
        next = start + size;
        return true;
    }
};

void write_bar(Device const& device, u32 index, Bar const& bar, u64 bus_address)
{
    u8 offset = static_cast<u8>(config::kBar0 + index * 4);
    u32 low_flags = bar.is_io() ? 1 : ((bar.kind == Bar::Kind::Memory64 ? 4 : 0) | (bar.prefetchable ? 8 : 0));
    write32(device.address, offset, static_cast<u32>(bus_address) | low_flags);
    if (bar.kind == Bar::Kind::Memory64)
        write32(device.address, static_cast<u8>(offset + 4), static_cast<u32>(bus_address >> 32));
}

void assign_bars(PciHostInfo const& host)
{
    // Port 0 to 0xfff is where ISA devices would answer; start above it as PCI firmware does.
    Allocator memory { host.memory32, host.memory32.bus_base };
    Allocator io { host.io, max<u64>(host.io.bus_base, 0x1000) };
    for (int pass_io = 0; pass_io < 2; ++pass_io) {
        // Repeatedly take the largest BAR not yet placed.
        for (;;) {
            Device* best_device = nullptr;
            u32 best_index = 0;
            for (u32 d = 0; d < s_device_count; ++d) {
                for (u32 b = 0; b < 6; ++b) {
                    Bar& bar = s_devices[d].bars[b];
                    if (bar.kind == Bar::Kind::None || bar.assigned || bar.is_io() != (pass_io == 1)
                        || bar.address == ~0ull)
                        continue;
                    if (!best_device || bar.size > best_device->bars[best_index].size) {
                        best_device = &s_devices[d];
                        best_index = b;
                    }
                }
            }
            if (!best_device)
                break;
            Bar& bar = best_device->bars[best_index];
            Allocator& from = bar.is_io() ? io : memory;
            u64 bus_address = 0;
            bool fits = bar.size && (bar.size & (bar.size - 1)) == 0 && from.take(bar.size, bus_address)
                && (bar.kind != Bar::Kind::Memory32 || bus_address + bar.size <= (1ull << 32));
            if (!fits) {
                kprintln("pci: {:02x}:{:02x}.{} BAR{} ({} bytes of {}) cannot be assigned: the host bridge's {} "
                         "window has no room; the BAR stays off",
                    best_device->address.bus, best_device->address.device, best_device->address.function, best_index,
                    bar.size, bar.is_io() ? "I/O" : "memory", bar.is_io() ? "I/O" : "memory");
                bar.address = ~0ull; // tried: not again
                continue;
            }
            write_bar(*best_device, best_index, bar, bus_address);
            bar.assigned = true;
            bar.address = bar.is_io() ? bus_address : bus_address - from.window.bus_base + from.window.cpu_base;
        }
    }
    for (u32 d = 0; d < s_device_count; ++d) {
        for (auto& bar : s_devices[d].bars) {
            if (!bar.assigned)
                bar.address = 0;
        }
    }
}

} // namespace

u32 read32(Address address, u8 offset)
{
    return s_access ? s_access->read32(address, offset) : 0xffffffff;
}

u16 read16(Address address, u8 offset)
{
    return static_cast<u16>(read32(address, offset & ~3) >> ((offset & 2) * 8));
}

u8 read8(Address address, u8 offset)
{
    return static_cast<u8>(read32(address, offset & ~3) >> ((offset & 3) * 8));
}

void write32(Address address, u8 offset, u32 value)
{
    if (s_access)
        s_access->write32(address, offset, value);
}

void write16(Address address, u8 offset, u16 value)
{
    if (s_access)
        s_access->write16(address, offset, value);
}

void write8(Address address, u8 offset, u8 value)
{
    if (s_access)
        s_access->write8(address, offset, value);
}

void initialize(BootInfo const& info)
{
    s_device_count = 0;
    for (auto& scanned : s_bus_scanned)
        scanned = false;
    s_host = nullptr;
    s_access = nullptr;
    u8 first_bus = 0;
    if (info.pci.present) {
        auto access = ecam(info.pci);
        if (access.is_error()) {
            kprintln("pci: the host bridge's ECAM at {:#x} is unusable ({}): no PCI devices", info.pci.ecam_base,
                access.error());
            return;
        }
        s_access = access.value();
        s_host = &info.pci;
        first_bus = info.pci.bus_first;
        // I/O BARs are reached through the bridge's I/O window: map it (at most 64 KiB of ports)
        // and make it the architecture's I/O-port space.
        if (info.pci.io.size) {
            u64 size = min<u64>(info.pci.io.size, 0x10000);
            auto io = mm::MmioRegion::map(info.pci.io.cpu_base, size);
            if (io.is_error()) {
                kprintln("pci: cannot map the I/O window at {:#x} ({}): I/O BARs unusable", info.pci.io.cpu_base,
                    io.error());
            } else {
                s_io_space = io.release_value();
                arch::set_io_port_space(s_io_space.address(), size);
            }
        }
    } else {
        s_access = mechanism1();
        if (!s_access)
            return; // no PCI host bridge described, none to probe
    }
    scan_bus(first_bus);
    if (s_host)
        assign_bars(*s_host);
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

char const* access_name()
{
    return s_access ? s_access->name() : "none";
}

Result<EnabledDevice> enable(Device const& device, u16 command_bits)
{
    u16 before = read16(device.address, config::kCommand);
    u16 value = static_cast<u16>((before | command_bits) & ~command::kInterruptDisable);
    write16(device.address, config::kCommand, value);
    if ((read16(device.address, config::kCommand) & command_bits) != command_bits)
        return Error::NotSupported;
    return EnabledDevice(device.address, static_cast<u16>(command_bits & ~before));
}

EnabledDevice::~EnabledDevice()
{
    if (!m_bits)
        return;
    u16 value = read16(m_address, config::kCommand);
    write16(m_address, config::kCommand, static_cast<u16>(value & ~m_bits));
}

Result<MappedBar> map_bar(Device const& device, u32 index)
{
    if (index >= 6 || device.bars[index].kind == Bar::Kind::None)
        return Error::NotSupported;
    Bar const& bar = device.bars[index];
    if (!bar.assigned || bar.size == 0 || bar.size > 0xffffffffu) {
        kprintln("pci: {:02x}:{:02x}.{} BAR{} has no address: not usable", device.address.bus, device.address.device,
            device.address.function, index);
        return Error::NotSupported;
    }
    if (bar.is_io())
        return MappedBar { {}, IoWindow::ports(static_cast<u32>(bar.address), static_cast<u32>(bar.size)) };
    auto mapping = TRY(mm::MmioRegion::map(bar.address, bar.size));
    IoWindow window = mapping.window();
    return MappedBar { move(mapping), window };
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
