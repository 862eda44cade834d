#pragma once

// The kernel side of the file system: the first Multiboot module (QEMU `-initrd FILE`, GRUB's
// `module` line) mounted read-only as a tar archive (fs/FileSystem.h), in place. Nothing is copied:
// the module is one physically contiguous run the loader put on a page boundary, mm reserved its
// frames at boot (each with one reference, which this mount holds for as long as the kernel runs),
// and every file's bytes are read where they lie, through the direct map. tools/build/make_archive.py
// starts each file's data on a 4 KiB boundary of the archive, so each file owns whole pages that
// can be handed to a NIC by physical address (File::physical_at).
//
// A module that is not a well-formed archive is refused at boot with one line saying what is wrong
// and where; its frames go back to the allocator and the rest of Skiff runs without files.

#include <fs/FileSystem.h>
#include <lib/Result.h>
#include <lib/StringView.h>
#include <mm/Memory.h>

namespace skiff::kfs {

// Mounts the archive, if the loader passed a module. Call once, after mm::initialize() (it needs
// the heap for the index). Prints one line either way.
void initialize();

bool is_mounted();
// Only when is_mounted().
fs::FileSystem const& file_system();

// A file, read-only, as it lies in memory.
struct File {
    fs::FileNode const* node { nullptr };
    u8 const* data { nullptr };         // its first byte, through the direct map; never written
    mm::PhysicalAddress physical { 0 }; // physical address of data[0] (the archive is one contiguous run)
    u64 size { 0 };
    u64 mtime { 0 }; // seconds since 1970-01-01 UTC

    StringView path() const { return node->path; }
    bool page_aligned() const { return (physical & (mm::kFrameSize - 1)) == 0; }
    // The physical address of byte `offset` (< size). The frame under it is
    // align_down(physical_at(offset), 4096); a holder that must outlive the mount takes a
    // reference with mm::ref_frame() (none does yet: the archive stays mounted while the kernel
    // runs).
    mm::PhysicalAddress physical_at(u64 offset) const { return physical + offset; }
};

// Looks up a normalised path (fs/Path.h). Error::NotFound when there is no such file or no
// archive; Error::InvalidArgument for a directory.
Result<File> open(StringView path);

struct ArchiveStatus {
    bool present { false }; // the loader passed a module
    bool mounted { false };
    char name[64] {}; // the loader's string for the module
    u64 physical_start { 0 };
    u64 bytes { 0 };
    u32 frames { 0 };                // held by the mount (0 when refused: given back)
    char const* problem { nullptr }; // why it was refused
    u64 problem_offset { 0 };
};
ArchiveStatus const& status();

} // namespace skiff::kfs
