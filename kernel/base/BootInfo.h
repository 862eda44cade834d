#pragma once

// What the machine told the kernel at boot, in one architecture-neutral form. The architecture
// fills it from what its loader left (kernel/arch/x86_64/Multiboot.cpp: the Multiboot 1
// information; kernel/arch/aarch64/DeviceTree.cpp: the flattened device tree), copied into kernel
// memory before anything else runs, so that nothing later depends on where the loader put its
// tables.

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff {

struct MemoryRange {
    u64 base;
    u64 length;
};

// A file the loader placed in memory beside the kernel (a Multiboot module, an initrd), for an
// in-memory archive. The kernel reserves its frames.
struct BootModule {
    u64 physical { 0 };
    u64 length { 0 };
    char name[64] {}; // the loader's string for it (Multiboot: the module's command line)

    u64 end() const { return physical + length; }
};

// A device the firmware described (the device tree on AArch64; nothing on x86-64, where the
// devices sit at their ISA addresses and PCI describes itself). Matched by `compatible`.
struct DeviceInfo {
    char compatible[40] {};
    u64 base { 0 }; // first `reg` region
    u64 size { 0 };
    u64 base2 { 0 }; // second `reg` region (a GIC's CPU interface or redistributors), 0: none
    u64 size2 { 0 };
    u32 interrupt { 0 }; // the first interrupt as an interrupt-controller line; 0: none
};

// A PCI host bridge whose configuration space is memory-mapped (PCIe ECAM) and whose BARs nobody
// assigned. On x86-64 with SeaBIOS, `present` is false: configuration mechanism #1 reaches the
// bus and the firmware assigned BARs and interrupt lines.
struct PciHostInfo {
    bool present { false };
    u64 ecam_base { 0 };
    u64 ecam_size { 0 };
    u8 bus_first { 0 };
    u8 bus_last { 0 };
    // Windows the bridge forwards: CPU address -> bus address, `size` bytes. Zero size: none.
    struct Window {
        u64 cpu_base { 0 };
        u64 bus_base { 0 };
        u64 size { 0 };
    };
    Window memory32; // non-prefetchable memory below 4 GiB: where memory BARs go
    Window io;       // the I/O-port space (bus addresses are port numbers)
    // INTx routing (the device tree's interrupt-map): device number (masked by `device_mask`)
    // and pin (1-4, INTA#-INTD#) -> interrupt-controller line.
    struct IntxRoute {
        u8 device;
        u8 pin;
        u32 line;
    };
    static constexpr usize kMaxRoutes = 32;
    IntxRoute routes[kMaxRoutes] {};
    usize route_count { 0 };
    u8 device_mask { 0x1f };
};

struct BootInfo {
    static constexpr usize kMaxRanges = 32;
    MemoryRange usable[kMaxRanges]; // RAM the loader reports as available, page-aligned
    usize usable_count { 0 };
    u64 kernel_physical_start { 0 }; // [start, end) of the loaded image including bss
    u64 kernel_physical_end { 0 };
    u64 total_usable_bytes { 0 };
    char command_line[256] {};
    char loader_name[64] {};
    static constexpr usize kMaxModules = 8;
    BootModule modules[kMaxModules];
    usize module_count { 0 };
    // Memory the loader's own data occupies (the device tree blob) that must not be handed out
    // before it is copied; empty on x86-64.
    MemoryRange loader_data {};
    static constexpr usize kMaxDevices = 16;
    DeviceInfo devices[kMaxDevices];
    usize device_count { 0 };
    PciHostInfo pci;

    // Adds RAM: whole pages only, and never page 0 (a null physical address must stay meaningless).
    void add_usable(u64 base, u64 length);
    // Sets the command line, dropping a leading word without '=' (loaders put the kernel's own path
    // first: "/boot/skiff.elf ip=...").
    void set_command_line(StringView line);
    DeviceInfo const* find_device(StringView compatible) const;
};

BootInfo const& boot_info();
// Filled once, by kernel_main through arch::read_boot_info().
BootInfo& boot_info_for_update();

// "key=value" lookup in the kernel command line (`-append "ip=10.0.2.15/24 ne2k_irq=10"`);
// returns false when the key is absent. A bare "key" has an empty value.
bool command_line_value(StringView key, StringView& value);

} // namespace skiff
