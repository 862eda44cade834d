#pragma once

// PCI Local Bus 3.0 / PCI Express: enumeration of every device and function, BAR decoding (I/O,
// 32-bit and 64-bit memory, with sizes), BAR assignment where no firmware did it, INTx routing,
// and the command-register bits a driver needs (I/O space, memory space, bus mastering).
//
// Configuration space is reached through a ConfigAccess (ConfigAccess.h): mechanism #1 on QEMU's
// pc and q35, where SeaBIOS assigned every BAR and wrote the ISA IRQ that INTx arrives on into the
// Interrupt Line register; ECAM on QEMU's virt, whose device tree gives the host bridge's windows
// and interrupt-map, and where Skiff assigns the BARs itself (-kernel boots without firmware).
// Drivers ask for a BAR's window (map_bar) and the device's interrupt line, never for how either
// was found.

#include <drivers/pci/Address.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/IoWindow.h>
#include <lib/Result.h>
#include <lib/Types.h>
#include <mm/MmioRegion.h>

namespace skiff::drivers::pci {

// Configuration space registers (PCI 3.0 §6.1, type 0 header).
namespace config {
constexpr u8 kVendorId = 0x00;
constexpr u8 kDeviceId = 0x02;
constexpr u8 kCommand = 0x04;
constexpr u8 kStatus = 0x06;
constexpr u8 kRevision = 0x08;
constexpr u8 kProgIf = 0x09;
constexpr u8 kSubclass = 0x0a;
constexpr u8 kClass = 0x0b;
constexpr u8 kHeaderType = 0x0e;
constexpr u8 kBar0 = 0x10;
constexpr u8 kSecondaryBus = 0x19; // type 1 (PCI-to-PCI bridge) header
constexpr u8 kInterruptLine = 0x3c;
constexpr u8 kInterruptPin = 0x3d;
} // namespace config

// Command register bits (PCI 3.0 §6.2.2).
namespace command {
constexpr u16 kIoSpace = 1 << 0;
constexpr u16 kMemorySpace = 1 << 1;
constexpr u16 kBusMaster = 1 << 2;
constexpr u16 kInterruptDisable = 1 << 10;
} // namespace command

u32 read32(Address address, u8 offset);
u16 read16(Address address, u8 offset);
u8 read8(Address address, u8 offset);
void write32(Address address, u8 offset, u32 value);
void write16(Address address, u8 offset, u16 value);
void write8(Address address, u8 offset, u8 value);

struct Bar {
    enum class Kind : u8 { None, Io, Memory32, Memory64 };
    Kind kind { Kind::None };
    bool prefetchable { false };
    bool assigned { false }; // has an address the bridge forwards (false: size known, no room found)
    u64 address { 0 };       // I/O port number, or the CPU physical address of memory
    u64 size { 0 };          // decoded from the all-ones probe (PCI 3.0 §6.2.5.1)

    bool is_io() const { return kind == Kind::Io; }
    bool is_memory() const { return kind == Kind::Memory32 || kind == Kind::Memory64; }
};

constexpr u32 kNoInterrupt = 0xffffffff;

struct Device {
    Address address;
    u16 vendor_id { 0 };
    u16 device_id { 0 };
    u8 class_code { 0 };
    u8 subclass { 0 };
    u8 prog_if { 0 };
    u8 revision { 0 };
    u8 header_type { 0 };                // without the multi-function bit
    u8 interrupt_pin { 0 };              // 0: none, 1-4: INTA#-INTD#
    u32 interrupt_line { kNoInterrupt }; // the interrupt-controller line INTx arrives on
    Bar bars[6];

    bool has_interrupt() const { return interrupt_line != kNoInterrupt; }
};

// Chooses the configuration access (ECAM when the boot information describes a host bridge,
// mechanism #1 otherwise), scans every bus reachable from the first (following PCI-to-PCI bridges
// that firmware configured), records each function, and — on a bridge nobody configured — assigns
// BARs from the bridge's windows and interrupt lines from its INTx routing. Problems (a BAR that
// does not fit, a pin with no route) are printed, one line each, and leave that BAR or interrupt
// unusable; the rest goes on. Called once at boot; the table is read-only afterwards.
void initialize(BootInfo const& info);
u32 device_count();
Device const& device(u32 index);
// The index-th function with this vendor and device ID, or nullptr.
Device const* find(u16 vendor_id, u16 device_id, u32 index = 0);
// How configuration space was reached ("ECAM", "configuration mechanism #1 ..."), for lspci.
char const* access_name();

// Bits a driver set in the command register, given back when the owner goes: the driver holds
// one for as long as it drives the device, so a failed create() leaves no bus mastering on.
class EnabledDevice {
public:
    EnabledDevice() = default;
    EnabledDevice(Address address, u16 bits)
        : m_address(address)
        , m_bits(bits)
    {
    }
    EnabledDevice(EnabledDevice&& other)
        : m_address(other.m_address)
        , m_bits(other.m_bits)
    {
        other.m_bits = 0;
    }
    EnabledDevice& operator=(EnabledDevice&&) = delete;
    EnabledDevice(EnabledDevice const&) = delete;
    EnabledDevice& operator=(EnabledDevice const&) = delete;
    ~EnabledDevice();

private:
    Address m_address {};
    u16 m_bits { 0 }; // the bits this owner set; 0: nothing to give back
};

// Sets bits in the command register (and clears Interrupt Disable, so INTx works).
Result<EnabledDevice> enable(Device const& device, u16 command_bits);

// A BAR's registers as an I/O window; for a memory BAR it owns the uncached mapping.
struct MappedBar {
    mm::MmioRegion mapping; // empty for an I/O BAR
    IoWindow window;
};
// NotSupported when the BAR does not exist or was not assigned (the message says why).
Result<MappedBar> map_bar(Device const& device, u32 index);

// A short human name for a class code ("Ethernet controller"), for lspci.
char const* class_name(u8 class_code, u8 subclass);

} // namespace skiff::drivers::pci
