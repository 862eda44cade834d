// The ELF check every user program passes before the kernel maps it (kernel/task/ElfImage.h):
// well-formed executables are described segment by segment; truncated, overlapping, unaligned,
// absurd and wrong-machine files are each refused with a sentence that says so.

#include <kernel/task/ElfImage.h>

#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace skiff;
using namespace skiff::task;

namespace {

struct Segment {
    u32 type { 1 };  // PT_LOAD
    u32 flags { 5 }; // R X
    u64 offset { 0 };
    u64 address { 0 };
    u64 file_size { 0 };
    u64 memory_size { 0 };
    u64 alignment { 4096 };
};

// Builds an ELF64 file: header, program headers right after it, then `file_bytes` of payload.
struct ElfBuilder {
    u8 elf_class { 2 };
    u8 data { 1 };
    u16 type { 2 };
    u16 machine { kElfMachineX86_64 };
    u64 entry { 0x401000 };
    u16 entry_size { 56 };
    std::vector<Segment> segments;
    u64 file_bytes { 0x3000 };

    std::vector<u8> build() const
    {
        std::vector<u8> file(std::max<u64>(file_bytes, 64 + segments.size() * 56), 0);
        auto put = [&](u64 at, u64 value, int size) {
            for (int i = 0; i < size; ++i)
                file[at + i] = static_cast<u8>(value >> (8 * i));
        };
        file[0] = 0x7f;
        file[1] = 'E';
        file[2] = 'L';
        file[3] = 'F';
        file[4] = elf_class;
        file[5] = data;
        file[6] = 1;
        put(16, type, 2);
        put(18, machine, 2);
        put(20, 1, 4);
        put(24, entry, 8);
        put(32, 64, 8); // program headers right after the header
        put(52, 64, 2);
        put(54, entry_size, 2);
        put(56, segments.size(), 2);
        for (size_t i = 0; i < segments.size(); ++i) {
            u64 at = 64 + i * 56;
            auto const& s = segments[i];
            put(at, s.type, 4);
            put(at + 4, s.flags, 4);
            put(at + 8, s.offset, 8);
            put(at + 16, s.address, 8);
            put(at + 24, s.address, 8);
            put(at + 32, s.file_size, 8);
            put(at + 40, s.memory_size, 8);
            put(at + 48, s.alignment, 8);
        }
        return file;
    }
};

// A typical static program: text at 0x401000 (RX), read-only data, data + bss (RW).
ElfBuilder typical()
{
    ElfBuilder b;
    b.segments = {
        { 1, 5, 0x1000, 0x401000, 0x800, 0x800, 4096 },
        { 1, 4, 0x2000, 0x402000, 0x100, 0x100, 4096 },
        { 1, 6, 0x2100, 0x403100, 0x80, 0x5000, 4096 },
    };
    return b;
}

ElfLimits limits(u16 machine = kElfMachineX86_64)
{
    return ElfLimits { machine, 0x10000, 0x40000000, 16 << 20 };
}

ElfCheck check(ElfBuilder const& builder, ElfImage& image, ElfLimits const& l = limits())
{
    auto bytes = builder.build();
    return parse_elf(ReadonlyBytes(bytes.data(), bytes.size()), l, image);
}

std::string refusal(ElfBuilder const& builder, ElfLimits const& l = limits())
{
    ElfImage image;
    auto result = check(builder, image, l);
    EXPECT_FALSE(result.ok) << "accepted a file it should refuse";
    return result.reason;
}

} // namespace

TEST(ElfImage, AcceptsAStaticExecutableAndDescribesItsSegments)
{
    ElfImage image;
    auto result = check(typical(), image);
    ASSERT_TRUE(result.ok) << result.reason;
    EXPECT_EQ(image.entry, 0x401000u);
    ASSERT_EQ(image.segment_count, 3u);
    EXPECT_TRUE(image.segments[0].executable);
    EXPECT_FALSE(image.segments[0].writable);
    EXPECT_TRUE(image.segments[2].writable);
    EXPECT_EQ(image.segments[2].memory_size, 0x5000u);
    EXPECT_EQ(image.segments[2].file_size, 0x80u);
    // 1 + 1 + 6 pages (0x403100 .. 0x408100 touches 0x403000 .. 0x409000).
    EXPECT_EQ(image.pages, 8u);
}

TEST(ElfImage, IgnoresNotesAndStackMarkersAndEmptySegments)
{
    auto b = typical();
    b.segments.push_back({ 0x6474e551, 6, 0, 0, 0, 0, 16 });        // PT_GNU_STACK
    b.segments.push_back({ 4, 4, 0x200, 0x400200, 0x20, 0x20, 4 }); // PT_NOTE
    b.segments.push_back({ 1, 6, 0, 0x500000, 0, 0, 4096 });        // empty PT_LOAD
    ElfImage image;
    auto result = check(b, image);
    ASSERT_TRUE(result.ok) << result.reason;
    EXPECT_EQ(image.segment_count, 3u);
}

TEST(ElfImage, RefusesATruncatedHeader)
{
    auto bytes = typical().build();
    ElfImage image;
    auto result = parse_elf(ReadonlyBytes(bytes.data(), 40), limits(), image);
    EXPECT_FALSE(result.ok);
    EXPECT_NE(std::string(result.reason).find("truncated"), std::string::npos) << result.reason;
}

TEST(ElfImage, RefusesTruncatedProgramHeaders)
{
    auto bytes = typical().build();
    ElfImage image;
    auto result = parse_elf(ReadonlyBytes(bytes.data(), 64 + 56 + 10), limits(), image);
    EXPECT_FALSE(result.ok);
    EXPECT_NE(std::string(result.reason).find("program headers"), std::string::npos) << result.reason;
    EXPECT_NE(std::string(result.reason).find("truncated"), std::string::npos) << result.reason;
}

TEST(ElfImage, RefusesASegmentThatRunsPastTheFile)
{
    auto b = typical();
    b.file_bytes = 0x2000; // the data segment's bytes at 0x2100 are not there
    auto reason = refusal(b);
    EXPECT_NE(reason.find("truncated"), std::string::npos) << reason;
    EXPECT_NE(reason.find("segment 1"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesOverlappingSegments)
{
    auto b = typical();
    b.segments[1].address = 0x401800; // inside the text segment's page
    b.segments[1].offset = 0x2800;
    auto reason = refusal(b);
    EXPECT_NE(reason.find("overlaps"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesSegmentsSharingAPage)
{
    // Not overlapping bytes, but one page would need two sets of permissions.
    auto b = typical();
    b.segments[1].address = 0x401900;
    b.segments[1].offset = 0x2900;
    auto reason = refusal(b);
    EXPECT_NE(reason.find("overlaps"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesAnUnalignedSegment)
{
    auto b = typical();
    b.segments[0].offset = 0x1010; // address 0x401000: different offsets within the page
    auto reason = refusal(b);
    EXPECT_NE(reason.find("unaligned"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesAnAlignmentThatIsNotAPowerOfTwo)
{
    auto b = typical();
    b.segments[0].alignment = 0x1800;
    auto reason = refusal(b);
    EXPECT_NE(reason.find("power of two"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesAbsurdSizes)
{
    auto b = typical();
    b.segments[2].memory_size = 1ull << 40; // a terabyte of bss
    auto reason = refusal(b);
    EXPECT_NE(reason.find("outside the program area"), std::string::npos) << reason;

    auto wrap = typical();
    wrap.segments[2].memory_size = ~0ull - 0x1000; // address + size wraps around
    reason = refusal(wrap);
    EXPECT_NE(reason.find("outside the program area"), std::string::npos) << reason;

    auto big = typical();
    big.segments[2].memory_size = 17 << 20; // inside the area, more than a task may have
    reason = refusal(big);
    EXPECT_NE(reason.find("more than"), std::string::npos) << reason;

    auto sum = typical();
    sum.segments[1].memory_size = 9 << 20;
    sum.segments[2].address = 0x1403100; // each alone fits, together more than 16 MiB
    sum.segments[2].memory_size = 8 << 20;
    reason = refusal(sum);
    EXPECT_NE(reason.find("more than"), std::string::npos) << reason;

    auto many = typical();
    many.segments.resize(17, many.segments[0]);
    reason = refusal(many);
    EXPECT_NE(reason.find("17 program headers"), std::string::npos) << reason;

    auto file = typical();
    file.segments[2].file_size = 0x6000; // more in the file than in memory
    file.file_bytes = 0x9000;
    reason = refusal(file);
    EXPECT_NE(reason.find("in the file but only"), std::string::npos) << reason;
}

TEST(ElfImage, RefusesTheWrongMachine)
{
    auto b = typical();
    b.machine = kElfMachineAArch64;
    auto reason = refusal(b);
    EXPECT_NE(reason.find("AArch64"), std::string::npos) << reason;
    EXPECT_NE(reason.find("x86-64"), std::string::npos) << reason;
    // The same file is what an AArch64 kernel wants.
    ElfImage image;
    EXPECT_TRUE(check(b, image, limits(kElfMachineAArch64)).ok);
}

TEST(ElfImage, RefusesWhatIsNotAStatic64BitLittleEndianExecutable)
{
    auto b = typical();
    b.elf_class = 1;
    EXPECT_NE(refusal(b).find("64-bit"), std::string::npos);
    b = typical();
    b.data = 2;
    EXPECT_NE(refusal(b).find("little-endian"), std::string::npos);
    b = typical();
    b.type = 3;
    EXPECT_NE(refusal(b).find("position-independent"), std::string::npos);
    b = typical();
    b.type = 1;
    EXPECT_NE(refusal(b).find("not an executable"), std::string::npos);
    b = typical();
    b.segments.push_back({ 3, 4, 0x200, 0x400200, 0x1c, 0x1c, 1 }); // PT_INTERP
    EXPECT_NE(refusal(b).find("dynamically linked"), std::string::npos);
    b = typical();
    b.entry_size = 32;
    EXPECT_NE(refusal(b).find("program header size"), std::string::npos);
    auto bytes = typical().build();
    bytes[1] = 'X';
    ElfImage image;
    auto result = parse_elf(ReadonlyBytes(bytes.data(), bytes.size()), limits(), image);
    EXPECT_FALSE(result.ok);
    EXPECT_NE(std::string(result.reason).find("not an ELF file"), std::string::npos);
}

TEST(ElfImage, RefusesWritableAndExecutableSegments)
{
    auto b = typical();
    b.segments[0].flags = 7;
    EXPECT_NE(refusal(b).find("writable and executable"), std::string::npos);
}

TEST(ElfImage, RefusesAnEntryPointOutsideExecutableCode)
{
    auto b = typical();
    b.entry = 0x403200; // in the data segment
    EXPECT_NE(refusal(b).find("entry point"), std::string::npos);
    b.entry = 0x10;
    EXPECT_NE(refusal(b).find("entry point"), std::string::npos);
}

TEST(ElfImage, RefusesSegmentsOutsideTheProgramArea)
{
    auto b = typical();
    b.segments[0].address = 0x1000; // the null-guard area below 64 KiB
    b.segments[0].offset = 0x1000;
    b.entry = 0x1000;
    EXPECT_NE(refusal(b).find("outside the program area"), std::string::npos);
    b = typical();
    b.segments[2].address = 0xffff800000000100; // the kernel's half
    EXPECT_NE(refusal(b).find("outside the program area"), std::string::npos);
}

TEST(ElfImage, RefusesAFileWithNothingToLoad)
{
    ElfBuilder b;
    b.segments = { { 4, 4, 0x200, 0x400200, 0x20, 0x20, 4 } };
    EXPECT_NE(refusal(b).find("no loadable segment"), std::string::npos);
    b.segments.clear();
    EXPECT_NE(refusal(b).find("no program headers"), std::string::npos);
}
