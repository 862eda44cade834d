#pragma once

// A read-only file system over a tar archive in memory (fs/TarReader.h): an index of paths built
// once, every header checked first; the files' bytes stay where they are in the archive, never
// copied. Lookups are by normalised path (fs/Path.h) in a sorted table; directories a member's
// path implies but the archive does not list are made up, so "css/site.css" alone gives "css".
//
// It knows nothing about where the archive lies physically: the kernel's side
// (kernel/fs/BootArchive.h) adds that, and the frames that hold it.

#include <fs/TarReader.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/StringView.h>

namespace skiff::fs {

struct FileNode {
    StringView path; // normalised; never the root (which has no node)
    EntryKind kind { EntryKind::File };
    u64 data_offset { 0 }; // from the start of the archive
    u64 size { 0 };
    u64 mtime { 0 };
    u32 mode { 0 };
    u64 header_offset { 0 }; // of its header in the archive (0 for an implied directory)
    bool implied { false };  // a directory the archive does not list itself

    bool is_directory() const { return kind == EntryKind::Directory; }
    StringView name() const;
};

class FileSystem {
public:
    static constexpr u32 kMaxEntries = 16384;

    FileSystem() = default;
    FileSystem(FileSystem const&) = delete;
    FileSystem& operator=(FileSystem const&) = delete;
    ~FileSystem();

    // Reads the whole archive. Error::Malformed (problem() and problem_offset() say what and
    // where) when any header is bad, a path climbs out of the root, or a path is both a file
    // and a directory, or is listed twice as a file; Error::NoMemory if the index does not fit.
    // Nothing is kept on failure.
    Result<void> load(ReadonlyBytes archive);

    // The node for a normalised path; nullptr if there is none (the root has none either).
    FileNode const* find(StringView path) const;
    bool is_directory(StringView path) const { return path.is_empty() || (find(path) && find(path)->is_directory()); }

    // Calls visit(node) for each direct child of the directory `path` ("" for the root), in byte
    // order of their names.
    template<typename Visit>
    void for_each_child(StringView directory, Visit visit) const
    {
        for (u32 i = first_under(directory); i < m_count; ++i) {
            FileNode const& node = m_nodes[i];
            if (!is_under(node.path, directory))
                break;
            StringView rest = directory.is_empty() ? node.path : node.path.substring(directory.length() + 1);
            if (rest.find('/') < 0)
                visit(node);
        }
    }

    ReadonlyBytes data(FileNode const& node) const { return m_archive.slice(node.data_offset, node.size); }
    ReadonlyBytes archive() const { return m_archive; }

    u32 entry_count() const { return m_count; }
    u32 file_count() const { return m_files; }
    u32 directory_count() const { return m_count - m_files; }
    u64 file_bytes() const { return m_file_bytes; }
    u32 skipped() const { return m_skipped; } // links, devices, FIFOs
    // Files whose data does not start on a 4 KiB boundary of the archive (an archive made by a
    // plain `tar`): served like the others, but their pages are not theirs alone.
    u32 unaligned_files() const { return m_unaligned; }

    char const* problem() const { return m_problem; }
    u64 problem_offset() const { return m_problem_offset; }

private:
    static bool is_under(StringView path, StringView directory);
    u32 first_under(StringView directory) const;
    Error fail(char const* problem, u64 offset);
    void clear();

    ReadonlyBytes m_archive;
    FileNode* m_nodes { nullptr }; // sorted by path
    u32 m_count { 0 };
    char* m_paths { nullptr }; // the normalised paths, which m_nodes[].path point into
    u32 m_files { 0 };
    u64 m_file_bytes { 0 };
    u32 m_skipped { 0 };
    u32 m_unaligned { 0 };
    char const* m_problem { nullptr };
    u64 m_problem_offset { 0 };
};

} // namespace skiff::fs
