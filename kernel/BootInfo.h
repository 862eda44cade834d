#pragma once

// What the boot code learned from the boot loader (Multiboot 1), copied into kernel memory before
// anything else runs so that nothing later depends on where the loader put its tables.

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff {

struct MemoryRange {
    u64 base;
    u64 length;
};

// A Multiboot module: a file the loader put in memory beside the kernel (QEMU `-initrd FILE`,
// GRUB's `module` line). Skiff's first module is the file archive (kernel/fs/BootArchive.h).
struct BootModule {
    u64 start { 0 };  // physical, [start, end); loaders that honour the header's page-align flag
    u64 end { 0 };    // (QEMU, GRUB) start each module on a 4 KiB boundary
    char name[64] {}; // the loader's string for it: QEMU passes the file name, GRUB the module line
};

struct BootInfo {
    static constexpr usize kMaxRanges = 32;
    static constexpr usize kMaxModules = 4;
    MemoryRange usable[kMaxRanges]; // RAM the loader reports as available (type 1), page-aligned
    usize usable_count { 0 };
    u64 kernel_physical_start { 0 }; // [start, end) of the loaded image including bss
    u64 kernel_physical_end { 0 };
    u64 total_usable_bytes { 0 };
    char command_line[256] {};
    char loader_name[64] {};
    BootModule modules[kMaxModules];
    usize module_count { 0 };
    usize modules_ignored { 0 }; // beyond kMaxModules
};

BootInfo const& boot_info();

// "key=value" lookup in the kernel command line (`-append "ip=10.0.2.15/24 ne2k_irq=10"`);
// returns false when the key is absent. A bare "key" has an empty value.
bool command_line_value(StringView key, StringView& value);

} // namespace skiff
