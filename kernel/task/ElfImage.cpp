#include <kernel/task/ElfImage.h>

#include <lib/ByteOrder.h>
#include <lib/Format.h>

namespace skiff::task {

namespace {

// ELF gABI: the 64-bit file header and program header.
constexpr u64 kHeaderSize = 64;
constexpr u64 kProgramHeaderSize = 56;
constexpr u32 kMaxProgramHeaders = 16;
constexpr u8 kClass64 = 2;
constexpr u8 kLittleEndian = 1;
constexpr u8 kCurrentVersion = 1;
constexpr u16 kTypeExecutable = 2;
constexpr u16 kTypeShared = 3;
constexpr u32 kSegmentLoad = 1;
constexpr u32 kSegmentDynamic = 2;
constexpr u32 kSegmentInterpreter = 3;
constexpr u32 kSegmentTls = 7;
constexpr u32 kFlagExecute = 1;
constexpr u32 kFlagWrite = 2;
constexpr u64 kPage = 4096;

u64 load_le64(u8 const* p)
{
    return static_cast<u64>(load_le32(p)) | (static_cast<u64>(load_le32(p + 4)) << 32);
}

template<typename... Args>
ElfCheck refuse(StringView format_string, Args const&... args)
{
    ElfCheck check;
    format_to(check.reason, sizeof(check.reason), format_string, args...);
    return check;
}

// a + b, or false when it wraps.
bool add(u64 a, u64 b, u64& sum)
{
    sum = a + b;
    return sum >= a;
}

} // namespace

char const* elf_machine_name(u16 machine)
{
    switch (machine) {
    case kElfMachineX86_64: return "x86-64";
    case kElfMachineAArch64: return "AArch64";
    case 3: return "i386";
    case 40: return "ARM (32-bit)";
    case 243: return "RISC-V";
    default: return "an unknown machine";
    }
}

ElfCheck parse_elf(ReadonlyBytes file, ElfLimits const& limits, ElfImage& image)
{
    image = ElfImage {};
    u64 size = file.size();
    u8 const* bytes = file.data();
    if (size < kHeaderSize)
        return refuse("truncated: {} bytes, shorter than the {}-byte ELF header", size, kHeaderSize);
    if (bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F')
        return refuse("not an ELF file (its first bytes are not 0x7f 'E' 'L' 'F')");
    if (bytes[4] != kClass64)
        return refuse("not a 64-bit ELF file (class {})", bytes[4]);
    if (bytes[5] != kLittleEndian)
        return refuse("not a little-endian ELF file (data encoding {})", bytes[5]);
    if (bytes[6] != kCurrentVersion || load_le32(bytes + 20) != kCurrentVersion)
        return refuse("unknown ELF version {}", bytes[6]);
    u16 type = load_le16(bytes + 16);
    if (type == kTypeShared)
        return refuse("position-independent (ELF type 3): programs are linked static at a fixed address");
    if (type != kTypeExecutable)
        return refuse("not an executable (ELF type {})", type);
    u16 machine = load_le16(bytes + 18);
    if (machine != limits.machine)
        return refuse("built for {} (machine {}), not {} (machine {})", elf_machine_name(machine), machine,
            elf_machine_name(limits.machine), limits.machine);
    u64 entry = load_le64(bytes + 24);
    u64 program_headers = load_le64(bytes + 32);
    u16 header_size = load_le16(bytes + 52);
    u16 entry_size = load_le16(bytes + 54);
    u16 count = load_le16(bytes + 56);
    if (header_size != kHeaderSize)
        return refuse("ELF header size {}, expected {}", header_size, kHeaderSize);
    if (count == 0)
        return refuse("no program headers: nothing to load");
    if (entry_size != kProgramHeaderSize)
        return refuse("program header size {}, expected {}", entry_size, kProgramHeaderSize);
    if (count > kMaxProgramHeaders)
        return refuse("{} program headers, more than the {} a program may have", count, kMaxProgramHeaders);
    u64 table_end;
    if (!add(program_headers, u64 { count } * kProgramHeaderSize, table_end) || table_end > size)
        return refuse("truncated: the program headers at {:#x}..{:#x} run past the file's {} bytes", program_headers,
            program_headers + u64 { count } * kProgramHeaderSize, size);

    for (u32 i = 0; i < count; ++i) {
        u8 const* header = bytes + program_headers + i * kProgramHeaderSize;
        u32 kind = load_le32(header);
        if (kind == kSegmentInterpreter || kind == kSegmentDynamic)
            return refuse("dynamically linked (program header {} asks for a dynamic linker): programs are static", i);
        if (kind == kSegmentTls)
            return refuse("uses thread-local storage (program header {}), which tasks do not have", i);
        if (kind != kSegmentLoad)
            continue; // notes, GNU_STACK, GNU_PROPERTY: nothing to map
        u32 flags = load_le32(header + 4);
        ElfSegment segment;
        segment.file_offset = load_le64(header + 8);
        segment.address = load_le64(header + 16);
        segment.file_size = load_le64(header + 32);
        segment.memory_size = load_le64(header + 40);
        u64 alignment = load_le64(header + 48);
        segment.writable = flags & kFlagWrite;
        segment.executable = flags & kFlagExecute;
        if (segment.memory_size == 0)
            continue;
        if (segment.file_size > segment.memory_size)
            return refuse(
                "segment {}: {} bytes in the file but only {} in memory", i, segment.file_size, segment.memory_size);
        u64 file_end;
        if (!add(segment.file_offset, segment.file_size, file_end) || file_end > size)
            return refuse("truncated: segment {}'s bytes at {:#x}..{:#x} run past the file's {} bytes", i,
                segment.file_offset, segment.file_offset + segment.file_size, size);
        if (alignment > 1 && (alignment & (alignment - 1)))
            return refuse("segment {}: alignment {:#x} is not a power of two", i, alignment);
        if (segment.address % kPage != segment.file_offset % kPage)
            return refuse("unaligned: segment {} at {:#x} and its file offset {:#x} differ within the 4 KiB page", i,
                segment.address, segment.file_offset);
        u64 memory_end;
        if (!add(segment.address, segment.memory_size, memory_end) || segment.address < limits.lowest
            || memory_end > limits.highest)
            return refuse("segment {} at {:#x} ({} bytes) lies outside the program area {:#x}..{:#x}", i,
                segment.address, segment.memory_size, limits.lowest, limits.highest);
        if (segment.memory_size > limits.max_bytes)
            return refuse(
                "segment {}: {} bytes, more than the {} a task may have", i, segment.memory_size, limits.max_bytes);
        if (segment.writable && segment.executable)
            return refuse("segment {} at {:#x} is both writable and executable", i, segment.address);
        for (u32 k = 0; k < image.segment_count; ++k) {
            auto const& other = image.segments[k];
            if (segment.first_page() < other.end_page() && other.first_page() < segment.end_page())
                return refuse("segment {} ({:#x}..{:#x}) overlaps an earlier one ({:#x}..{:#x}) in its pages", i,
                    segment.address, memory_end, other.address, other.address + other.memory_size);
        }
        if (image.segment_count == ElfImage::kMaxSegments)
            return refuse("more than {} loadable segments", ElfImage::kMaxSegments);
        image.pages += (segment.end_page() - segment.first_page()) / kPage;
        if (image.pages * kPage > limits.max_bytes)
            return refuse("its segments need {} KiB, more than the {} KiB a task may have", image.pages * 4,
                limits.max_bytes / 1024);
        image.segments[image.segment_count++] = segment;
    }
    if (image.segment_count == 0)
        return refuse("no loadable segment");
    bool entry_ok = false;
    for (u32 k = 0; k < image.segment_count; ++k) {
        auto const& segment = image.segments[k];
        if (segment.executable && entry >= segment.address && entry < segment.address + segment.memory_size)
            entry_ok = true;
    }
    if (!entry_ok)
        return refuse("the entry point {:#x} is not inside an executable segment", entry);
    image.entry = entry;
    ElfCheck check;
    check.ok = true;
    return check;
}

} // namespace skiff::task
