#pragma once

// A reader for POSIX ustar archives with pax extended headers (POSIX.1-2008, pax, "ustar
// Interchange Format" and "pax Header Block"): the format of Skiff's file archive.
//
// An archive is a sequence of 512-byte blocks: each member is a header block followed by its
// data, padded to a whole block; two zero blocks end the archive. A pax extended header ('x') is
// a member whose data is a list of "LENGTH key=value\n" records that apply to the next member
// (`path` for names longer than ustar's 100 + 155 bytes, `size`, `mtime`); unknown keys, among
// them `comment`, are ignored. tools/build/make_archive.py uses a `comment` record as padding so
// that every file's data starts on a 4 KiB boundary of the archive — any tar reader (GNU tar,
// bsdtar, Python's tarfile, busybox) still lists exactly the files.
//
// Every header is checked before it is believed: the checksum, the magic, octal fields, that the
// member's data lies inside the archive. The archive comes from outside the kernel (a boot
// loader module), so nothing here asserts on its contents: a bad archive is an error with the
// byte offset and a sentence saying what is wrong.

#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::fs {

constexpr u64 kTarBlockSize = 512;
// ustar's prefix (155) + '/' + name (100); pax paths may be longer, up to this.
constexpr usize kMaxArchivePath = 256;

enum class EntryKind : u8 {
    File,
    Directory,
    Other, // links, devices, FIFOs: listed by tar, not served (the file system skips them)
};

struct TarEntry {
    EntryKind kind { EntryKind::File };
    char path[kMaxArchivePath] {}; // as stored, not normalised; NUL-terminated
    usize path_length { 0 };
    u64 header_offset { 0 }; // of the member's ustar header (after any pax header)
    u64 data_offset { 0 };   // first byte of its data
    u64 size { 0 };          // bytes of data (0 for directories and links)
    u64 mtime { 0 };         // seconds since 1970-01-01 UTC
    u32 mode { 0 };          // permission bits, for `stat`

    StringView path_view() const { return { path, path_length }; }
};

class TarReader {
public:
    explicit TarReader(ReadonlyBytes archive)
        : m_archive(archive)
    {
    }

    // The next member: true with `entry` filled in; false at the end-of-archive marker (after
    // which next() keeps returning false). Error::Malformed for anything wrong: problem() says
    // what, problem_offset() where; the reader stays in that error.
    Result<bool> next(TarEntry& entry);

    char const* problem() const { return m_problem; }
    u64 problem_offset() const { return m_problem_offset; }
    // Where the next header would be read.
    u64 offset() const { return m_offset; }

private:
    struct Pending {
        bool has_path { false };
        bool has_size { false };
        bool has_mtime { false };
        char path[kMaxArchivePath] {};
        usize path_length { 0 };
        u64 size { 0 };
        u64 mtime { 0 };
    };

    Error fail(char const* problem, u64 offset);
    Result<void> read_pax_records(u64 data_offset, u64 size, Pending& pending);

    ReadonlyBytes m_archive;
    u64 m_offset { 0 };
    bool m_ended { false };
    char const* m_problem { nullptr }; // a string literal
    u64 m_problem_offset { 0 };
};

} // namespace skiff::fs
