#pragma once

// PCI Local Bus 3.0: configuration space through configuration mechanism #1 (I/O ports 0xCF8 and
// 0xCFC, PCI Local Bus Specification 3.0 §3.2.2.3.2), enumeration of every bus, device and
// function, BAR decoding (I/O, 32-bit and 64-bit memory, with sizes) and the command-register bits
// a driver needs (I/O space, memory space, bus mastering). On QEMU's pc and q35 machines SeaBIOS
// assigns every BAR and writes the ISA IRQ that INTx arrives on into the Interrupt Line register;
// drivers read both from here and never assign resources themselves.

#include <lib/Types.h>

namespace skiff::drivers::pci {

struct Address {
    u8 bus { 0 };
    u8 device { 0 };
    u8 function { 0 };
};

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
    u64 address { 0 }; // I/O port base or physical memory address
    u64 size { 0 };    // decoded from the all-ones probe (PCI 3.0 §6.2.5.1)

    bool is_io() const { return kind == Kind::Io; }
    bool is_memory() const { return kind == Kind::Memory32 || kind == Kind::Memory64; }
};

struct Device {
    Address address;
    u16 vendor_id { 0 };
    u16 device_id { 0 };
    u8 class_code { 0 };
    u8 subclass { 0 };
    u8 prog_if { 0 };
    u8 revision { 0 };
    u8 header_type { 0 };       // without the multi-function bit
    u8 interrupt_line { 0xff }; // the ISA IRQ INTx is routed to; 0xff: none
    u8 interrupt_pin { 0 };     // 0: none, 1-4: INTA#-INTD#
    Bar bars[6];
};

// Scans every bus reachable from bus 0 (following PCI-to-PCI bridges) and records each function.
// Called once at boot; the table is read-only afterwards.
void enumerate();
u32 device_count();
Device const& device(u32 index);
// The index-th function with this vendor and device ID, or nullptr.
Device const* find(u16 vendor_id, u16 device_id, u32 index = 0);

// Sets bits in the command register (and clears Interrupt Disable, so INTx works).
void enable(Device const& device, u16 command_bits);

// A short human name for a class code ("Ethernet controller"), for lspci.
char const* class_name(u8 class_code, u8 subclass);

} // namespace skiff::drivers::pci
