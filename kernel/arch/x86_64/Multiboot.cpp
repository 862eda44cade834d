// Reads the Multiboot 1 information structure (Multiboot Specification 0.6.96, section 3.3) into
// BootInfo. The loader's structure lies in low physical memory, reachable through the boot direct
// map; everything needed later is copied, so mm/ may reuse that memory.

#include <kernel/base/Arch.h>
#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>
#include <lib/ByteOrder.h>

extern "C" u8 const __kernel_end[];
// Saved by boot/x86_64/Boot.S from EAX and EBX at entry.
extern "C" u32 boot_multiboot_magic;
extern "C" u32 boot_multiboot_info;

namespace skiff::arch {

namespace {

constexpr u32 kMultibootBootloaderMagic = 0x2badb002;
constexpr u32 kFlagMemory = 1 << 0;
constexpr u32 kFlagCommandLine = 1 << 2;
constexpr u32 kFlagModules = 1 << 3;
constexpr u32 kFlagMemoryMap = 1 << 6;
constexpr u32 kFlagLoaderName = 1 << 9;
constexpr u32 kMemoryAvailable = 1;

void copy_string(char* destination, usize capacity, u64 physical)
{
    auto const* source = phys_to_ptr<char const>(physical);
    usize i = 0;
    for (; i + 1 < capacity && source[i]; ++i)
        destination[i] = source[i];
    destination[i] = 0;
}

} // namespace

bool read_boot_info(BootInfo& info)
{
    info.kernel_physical_start = 0x100000;
    info.kernel_physical_end = image_virt_to_phys(__kernel_end);
    if (boot_multiboot_magic != kMultibootBootloaderMagic) {
        kprintln("boot: not started by a Multiboot loader (magic {:#x}): no memory map", boot_multiboot_magic);
        return false;
    }
    u8 const* mbi = phys_to_ptr<u8 const>(boot_multiboot_info);
    u32 flags = load_le32(mbi);
    if (flags & kFlagCommandLine) {
        char full[sizeof(info.command_line)];
        copy_string(full, sizeof(full), load_le32(mbi + 16));
        info.set_command_line(StringView(full));
    }
    if (flags & kFlagLoaderName)
        copy_string(info.loader_name, sizeof(info.loader_name), load_le32(mbi + 64));
    if (flags & kFlagModules) {
        // Section 3.3: mods_count at 20, mods_addr at 24; each module is {start, end, string, 0}.
        u32 count = load_le32(mbi + 20);
        u64 address = load_le32(mbi + 24);
        for (u32 i = 0; i < count && info.module_count < BootInfo::kMaxModules; ++i) {
            u8 const* entry = phys_to_ptr<u8 const>(address + i * 16);
            auto& module = info.modules[info.module_count++];
            module.physical = load_le32(entry);
            u32 end = load_le32(entry + 4);
            module.length = end > module.physical ? end - module.physical : 0;
            if (u32 string = load_le32(entry + 8))
                copy_string(module.name, sizeof(module.name), string);
        }
    }
    if (flags & kFlagMemoryMap) {
        u32 length = load_le32(mbi + 44);
        u64 address = load_le32(mbi + 48);
        u64 end = address + length;
        while (address + 24 <= end) {
            u8 const* entry = phys_to_ptr<u8 const>(address);
            u32 size = load_le32(entry);
            u64 base = load_le32(entry + 4) | (static_cast<u64>(load_le32(entry + 8)) << 32);
            u64 bytes = load_le32(entry + 12) | (static_cast<u64>(load_le32(entry + 16)) << 32);
            if (load_le32(entry + 20) == kMemoryAvailable)
                info.add_usable(base, bytes);
            address += size + 4;
        }
    } else if (flags & kFlagMemory) {
        // Only the two classic numbers: conventional memory and memory above 1 MiB, in KiB.
        info.add_usable(0, static_cast<u64>(load_le32(mbi + 4)) * 1024);
        info.add_usable(0x100000, static_cast<u64>(load_le32(mbi + 8)) * 1024);
    }
    return true;
}

} // namespace skiff::arch
