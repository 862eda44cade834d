// Mounting the boot archive. See BootArchive.h.

#include <kernel/base/BootInfo.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>
#include <kernel/fs/BootArchive.h>
#include <mm/Memory.h>

namespace skiff::kfs {

namespace {

// Set once by initialize(), read-only afterwards.
fs::FileSystem s_file_system;
ArchiveStatus s_status;

bool inside_usable_ram(u64 start, u64 end)
{
    auto const& info = boot_info();
    for (usize i = 0; i < info.usable_count; ++i) {
        u64 base = info.usable[i].base;
        if (start >= base && end <= base + info.usable[i].length)
            return true;
    }
    return false;
}

// The frames mm reserved for the first module and nothing else: from its first page boundary to
// the end of its last page, less a page another module shares (loaders that honour the
// page-align flag never make one).
bool frame_is_the_archives(u64 frame)
{
    auto const& info = boot_info();
    for (usize i = 1; i < info.module_count; ++i) {
        if (frame < info.modules[i].end() && info.modules[i].physical < frame + kPageSize)
            return false;
    }
    return true;
}

u32 count_frames(u64 start, u64 end)
{
    u32 count = 0;
    for (u64 frame = align_up(start, kPageSize); frame < end; frame += kPageSize)
        count += frame_is_the_archives(frame);
    return count;
}

void give_back_frames(u64 start, u64 end)
{
    for (u64 frame = align_up(start, kPageSize); frame < end; frame += kPageSize) {
        if (frame_is_the_archives(frame))
            mm::unref_frame(frame);
    }
    s_status.frames = 0;
}

} // namespace

void initialize()
{
    auto const& info = boot_info();
    if (info.module_count == 0) {
        kprintln("fs: no file archive (no Multiboot module: qemu -initrd FILE); ls, cat and the web server have no "
                 "files");
        return;
    }
    BootModule const& module = info.modules[0];
    s_status.present = true;
    for (usize i = 0; i < sizeof(s_status.name) && module.name[i]; ++i)
        s_status.name[i] = module.name[i];
    s_status.physical_start = module.physical;
    s_status.bytes = module.length;
    s_status.frames = count_frames(module.physical, module.end());
    for (usize i = 1; i < info.module_count; ++i)
        kprintln("fs: Multiboot module {} ({}) ignored: the first module is the archive", i + 1, info.modules[i].name);

    if (!inside_usable_ram(module.physical, module.end())) {
        s_status.problem = "the module is not in RAM the loader reported usable";
        s_status.frames = 0;
        kprintln("fs: archive '{}' refused: {}; no files", s_status.name, s_status.problem);
        return;
    }
    ReadonlyBytes bytes(phys_to_ptr<u8 const>(module.physical), s_status.bytes);
    auto loaded = s_file_system.load(bytes);
    if (loaded.is_error()) {
        s_status.problem = loaded.error() == Error::NoMemory ? "no memory for its index" : s_file_system.problem();
        s_status.problem_offset = s_file_system.problem_offset();
        u32 frames = s_status.frames;
        give_back_frames(module.physical, module.end());
        kprintln("fs: archive '{}' refused: {} (at byte {} of {}); no files, its {} frames given back", s_status.name,
            s_status.problem, s_status.problem_offset, s_status.bytes, frames);
        return;
    }
    s_status.mounted = true;
    auto const& fs = s_file_system;
    char alignment[64];
    if (!is_aligned(module.physical, kPageSize))
        format_to(alignment, sizeof(alignment), "the module is not page-aligned");
    else if (fs.unaligned_files())
        format_to(alignment, sizeof(alignment), "{} not page-aligned", fs.unaligned_files());
    else
        format_to(alignment, sizeof(alignment), "each on its own pages");
    kprintln("fs: archive '{}' at {:#x}, {} KiB: {} files ({} KiB), {} directories, {}", s_status.name, module.physical,
        (s_status.bytes + 1023) / 1024, fs.file_count(), (fs.file_bytes() + 1023) / 1024, fs.directory_count(),
        alignment);
}

bool is_mounted()
{
    return s_status.mounted;
}

fs::FileSystem const& file_system()
{
    VERIFY(s_status.mounted);
    return s_file_system;
}

Result<File> open(StringView path)
{
    if (!s_status.mounted)
        return Error::NotFound;
    fs::FileNode const* node = s_file_system.find(path);
    if (!node)
        return path.is_empty() ? Error::InvalidArgument : Error::NotFound;
    if (node->is_directory())
        return Error::InvalidArgument;
    File file;
    file.node = node;
    file.data = s_file_system.archive().data() + node->data_offset;
    file.physical = s_status.physical_start + node->data_offset;
    file.size = node->size;
    file.mtime = node->mtime;
    return file;
}

ArchiveStatus const& status()
{
    return s_status;
}

} // namespace skiff::kfs
