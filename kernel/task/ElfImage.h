#pragma once

// The check every user program passes before any of it is mapped: an ELF64 executable (ELF gABI;
// System V AMD64 / AArch64 psABI for the machine numbers), statically linked, little-endian, for
// this machine, whose loadable segments are whole, page-congruent, inside the program area, not
// overlapping, not writable and executable at once, of sane size, with the entry point in an
// executable one. Anything else is refused with one sentence saying what is wrong and where.
//
// Pure: bytes in, a description of the segments out. Host-tested (tests/unit/kernel/ElfImageTest).
// The kernel's loader (kernel/task/Tasks.cpp) maps what this returns.

#include <lib/Span.h>
#include <lib/Types.h>

namespace skiff::task {

// e_machine values (ELF gABI, the psABIs).
constexpr u16 kElfMachineX86_64 = 62;
constexpr u16 kElfMachineAArch64 = 183;

struct ElfLimits {
    u16 machine { kElfMachineX86_64 };
    uptr lowest { 0 }; // the program area [lowest, highest)
    uptr highest { 0 };
    u64 max_bytes { 0 }; // every segment's memory together, page-rounded
};

struct ElfSegment {
    uptr address { 0 };    // where its first byte goes (p_vaddr)
    u64 memory_size { 0 }; // p_memsz: the rest after file_size is zero
    u64 file_offset { 0 }; // p_offset
    u64 file_size { 0 };   // p_filesz
    bool writable { false };
    bool executable { false };

    uptr first_page() const { return address & ~uptr { 4095 }; }
    uptr end_page() const { return (address + memory_size + 4095) & ~uptr { 4095 }; }
};

struct ElfImage {
    static constexpr u32 kMaxSegments = 8;
    uptr entry { 0 };
    u32 segment_count { 0 };
    ElfSegment segments[kMaxSegments];
    u64 pages { 0 }; // page-rounded memory of all segments
};

// The verdict: ok, or the reason (one sentence, no trailing period).
struct ElfCheck {
    bool ok { false };
    char reason[160] {};
};

ElfCheck parse_elf(ReadonlyBytes file, ElfLimits const& limits, ElfImage& image);

char const* elf_machine_name(u16 machine);

} // namespace skiff::task
