// Reads the Multiboot 1 information structure (Multiboot Specification 0.6.96, section 3.3) into
// BootInfo. The loader's structure lies in low physical memory, reachable through the boot direct
// map; everything needed later is copied, so mm/ may reuse that memory.

#include <kernel/BootInfo.h>
#include <kernel/Layout.h>
#include <lib/ByteOrder.h>

extern "C" u8 const __kernel_end[];

namespace skiff {

namespace {

constexpr u32 kMultibootBootloaderMagic = 0x2badb002;
constexpr u32 kFlagMemory = 1 << 0;
constexpr u32 kFlagCommandLine = 1 << 2;
constexpr u32 kFlagModules = 1 << 3;
constexpr u32 kFlagMemoryMap = 1 << 6;
constexpr u32 kFlagLoaderName = 1 << 9;
constexpr u32 kMemoryAvailable = 1;

BootInfo s_boot_info;

void copy_string(char* destination, usize capacity, u64 physical)
{
    auto const* source = phys_to_ptr<char const>(physical);
    usize i = 0;
    for (; i + 1 < capacity && source[i]; ++i)
        destination[i] = source[i];
    destination[i] = 0;
}

void add_range(u64 base, u64 length)
{
    // Whole pages only, and never page 0 (a null physical address must stay meaningless).
    u64 start = align_up(base, kPageSize);
    u64 end = align_down(base + length, kPageSize);
    if (start < kPageSize)
        start = kPageSize;
    if (end <= start || s_boot_info.usable_count == BootInfo::kMaxRanges)
        return;
    s_boot_info.usable[s_boot_info.usable_count++] = { start, end - start };
    s_boot_info.total_usable_bytes += end - start;
}

} // namespace

BootInfo const& boot_info()
{
    return s_boot_info;
}

// Returns false if the loader was not Multiboot-compliant.
bool parse_multiboot(u32 magic, u32 info_physical)
{
    s_boot_info.kernel_physical_start = 0x100000;
    s_boot_info.kernel_physical_end = image_virt_to_phys(__kernel_end);
    if (magic != kMultibootBootloaderMagic)
        return false;
    u8 const* info = phys_to_ptr<u8 const>(info_physical);
    u32 flags = load_le32(info);
    if (flags & kFlagCommandLine) {
        // Loaders put the kernel's own path first ("/boot/skiff.elf ip=..."): keep only the
        // arguments, so the first word is a setting like every other.
        char full[sizeof(s_boot_info.command_line)];
        copy_string(full, sizeof(full), load_le32(info + 16));
        StringView line(full);
        i64 space = line.find(' ');
        StringView first = space < 0 ? line : line.substring(0, static_cast<usize>(space));
        if (first.find('=') < 0)
            line = space < 0 ? StringView() : line.substring(static_cast<usize>(space) + 1).trimmed();
        for (usize i = 0; i < line.length(); ++i)
            s_boot_info.command_line[i] = line[i];
        s_boot_info.command_line[line.length()] = 0;
    }
    if (flags & kFlagModules) {
        // Section 3.3: mods_count at 20, mods_addr at 24; each entry is mod_start, mod_end, string,
        // reserved (16 bytes).
        u32 count = load_le32(info + 20);
        u64 address = load_le32(info + 24);
        for (u32 i = 0; i < count; ++i) {
            u8 const* entry = phys_to_ptr<u8 const>(address + 16ull * i);
            if (s_boot_info.module_count == BootInfo::kMaxModules) {
                ++s_boot_info.modules_ignored;
                continue;
            }
            BootModule& module = s_boot_info.modules[s_boot_info.module_count++];
            module.start = load_le32(entry);
            module.end = max<u64>(load_le32(entry + 4), module.start);
            if (u32 name = load_le32(entry + 8))
                copy_string(module.name, sizeof(module.name), name);
        }
    }
    if (flags & kFlagLoaderName)
        copy_string(s_boot_info.loader_name, sizeof(s_boot_info.loader_name), load_le32(info + 64));
    if (flags & kFlagMemoryMap) {
        u32 length = load_le32(info + 44);
        u64 address = load_le32(info + 48);
        u64 end = address + length;
        while (address + 24 <= end) {
            u8 const* entry = phys_to_ptr<u8 const>(address);
            u32 size = load_le32(entry);
            u64 base = load_le32(entry + 4) | (static_cast<u64>(load_le32(entry + 8)) << 32);
            u64 bytes = load_le32(entry + 12) | (static_cast<u64>(load_le32(entry + 16)) << 32);
            if (load_le32(entry + 20) == kMemoryAvailable)
                add_range(base, bytes);
            address += size + 4;
        }
    } else if (flags & kFlagMemory) {
        // Only the two classic numbers: conventional memory and memory above 1 MiB, in KiB.
        add_range(0, static_cast<u64>(load_le32(info + 4)) * 1024);
        add_range(0x100000, static_cast<u64>(load_le32(info + 8)) * 1024);
    }
    return true;
}

bool command_line_value(StringView key, StringView& value)
{
    StringView line(s_boot_info.command_line);
    usize i = 0;
    while (i < line.length()) {
        while (i < line.length() && line[i] == ' ')
            ++i;
        usize start = i;
        while (i < line.length() && line[i] != ' ')
            ++i;
        StringView word = line.substring(start, i - start);
        if (word.is_empty())
            continue;
        i64 equals = word.find('=');
        StringView name = equals < 0 ? word : word.substring(0, static_cast<usize>(equals));
        if (name == key) {
            value = equals < 0 ? StringView("", 0) : word.substring(static_cast<usize>(equals) + 1);
            return true;
        }
    }
    return false;
}

} // namespace skiff
