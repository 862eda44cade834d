// The architecture-neutral half of the boot information: storage, memory ranges, the command line.
// The architecture's reader (arch::read_boot_info) fills it.

#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>

namespace skiff {

namespace {

BootInfo s_boot_info;

} // namespace

BootInfo const& boot_info()
{
    return s_boot_info;
}

BootInfo& boot_info_for_update()
{
    return s_boot_info;
}

void BootInfo::add_usable(u64 base, u64 length)
{
    u64 start = align_up(base, kPageSize);
    u64 end = align_down(base + length, kPageSize);
    if (start < kPageSize)
        start = kPageSize;
    if (end <= start || usable_count == kMaxRanges)
        return;
    usable[usable_count++] = { start, end - start };
    total_usable_bytes += end - start;
}

void BootInfo::set_command_line(StringView line)
{
    line = line.trimmed();
    i64 space = line.find(' ');
    StringView first = space < 0 ? line : line.substring(0, static_cast<usize>(space));
    if (!first.is_empty() && first.find('=') < 0)
        line = space < 0 ? StringView() : line.substring(static_cast<usize>(space) + 1).trimmed();
    usize length = min(line.length(), sizeof(command_line) - 1);
    for (usize i = 0; i < length; ++i)
        command_line[i] = line[i];
    command_line[length] = 0;
}

DeviceInfo const* BootInfo::find_device(StringView compatible) const
{
    for (usize i = 0; i < device_count; ++i) {
        if (StringView(devices[i].compatible) == compatible)
            return &devices[i];
    }
    return nullptr;
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
