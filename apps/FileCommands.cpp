// Console commands over the boot archive (kernel/fs/BootArchive.h):
//
//   ls [path]   a directory's entries (type, size, modification time, name), or one file's line
//   cat path    a text file's bytes (the first 64 KiB); a binary file is refused, not dumped
//   stat path   everything known about a file or directory, down to its physical pages

#include <apps/Apps.h>
#include <fs/Path.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/fs/BootArchive.h>
#include <lib/CivilTime.h>

namespace skiff::apps {

namespace {

using console::Arguments;

constexpr u64 kCatLimit = 64 * 1024;
// How much of a file decides "text or binary", as git and file(1) do.
constexpr u64 kSniffBytes = 8000;

bool archive_ready(char const* command)
{
    if (kfs::is_mounted())
        return true;
    auto const& status = kfs::status();
    if (!status.present)
        kprintln("{}: no file archive was loaded (qemu -initrd FILE; qemu/run passes build/x86_64/www.tar)", command);
    else
        kprintln("{}: the archive '{}' was refused at boot: {} (at byte {})", command, status.name, status.problem,
            status.problem_offset);
    return false;
}

// The argument as a normalised path into `buffer`; prints why not and returns false.
bool argument_path(char const* command, StringView argument, char* buffer, usize capacity, StringView& path)
{
    if (fs::normalize_path(argument, buffer, capacity, path, fs::DotDot::Resolve))
        return true;
    kprintln("{}: {}: not a path inside the archive", command, argument);
    return false;
}

void format_time(char* out, usize capacity, u64 mtime)
{
    auto time = civil_from_unix(static_cast<i64>(mtime));
    format_to(out, capacity, "{}-{:02}-{:02} {:02}:{:02}", time.year, time.month, time.day, time.hour, time.minute);
}

void print_entry(fs::FileNode const& node, StringView name)
{
    char when[24];
    format_time(when, sizeof(when), node.mtime);
    if (node.is_directory())
        kprintln("d {:>10}  {}  {}/", "-", when, name);
    else
        kprintln("- {:>10}  {}  {}", node.size, when, name);
}

int ls_command(Arguments const& arguments)
{
    if (arguments.count() > 2) {
        kprintln("usage: ls [path]");
        return 1;
    }
    if (!archive_ready("ls"))
        return 1;
    char buffer[fs::kMaxArchivePath];
    StringView path;
    if (!argument_path("ls", arguments.count() == 2 ? arguments[1] : StringView("/"), buffer, sizeof(buffer), path))
        return 1;
    auto const& files = kfs::file_system();
    if (!files.is_directory(path)) {
        auto const* node = files.find(path);
        if (!node) {
            kprintln("ls: {}: no such file or directory", arguments[1]);
            return 1;
        }
        print_entry(*node, node->path);
        return 0;
    }
    u32 count = 0;
    u64 bytes = 0;
    files.for_each_child(path, [&](fs::FileNode const& node) {
        print_entry(node, node.name());
        ++count;
        bytes += node.size;
    });
    kprintln("{} entries, {} bytes in files", count, bytes);
    return 0;
}

// Text: no NUL, and control characters only as tab, newline, carriage return, form feed or escape.
// Bytes above 127 pass (UTF-8).
bool looks_like_text(u8 const* data, u64 length)
{
    for (u64 i = 0; i < length; ++i) {
        u8 c = data[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b)
            return false;
        if (c == 0x7f)
            return false;
    }
    return true;
}

int cat_command(Arguments const& arguments)
{
    if (arguments.count() != 2) {
        kprintln("usage: cat path");
        return 1;
    }
    if (!archive_ready("cat"))
        return 1;
    char buffer[fs::kMaxArchivePath];
    StringView path;
    if (!argument_path("cat", arguments[1], buffer, sizeof(buffer), path))
        return 1;
    auto file = kfs::open(path);
    if (file.is_error()) {
        kprintln("cat: {}: {}", arguments[1],
            file.error() == Error::InvalidArgument ? "is a directory (try ls)" : "no such file");
        return 1;
    }
    auto const& f = file.value();
    if (!looks_like_text(f.data, min(f.size, kSniffBytes))) {
        kprintln(
            "cat: {}: a binary file ({} bytes); stat shows where it lies, and the web server serves it", path, f.size);
        return 1;
    }
    u64 shown = min(f.size, kCatLimit);
    if (!looks_like_text(f.data, shown)) {
        kprintln("cat: {}: binary bytes after the first {} KiB; not shown", path, kSniffBytes / 1000);
        return 1;
    }
    // In pieces: each console write holds interrupts off for its duration.
    for (u64 offset = 0; offset < shown; offset += 256)
        console_write(
            reinterpret_cast<char const*>(f.data + offset), static_cast<usize>(min<u64>(256, shown - offset)));
    if (shown && f.data[shown - 1] != '\n')
        kprintln("");
    if (shown < f.size)
        kprintln("cat: {} more bytes not shown (cat prints the first {} KiB)", f.size - shown, kCatLimit / 1024);
    return 0;
}

int stat_command(Arguments const& arguments)
{
    if (arguments.count() != 2) {
        kprintln("usage: stat path");
        return 1;
    }
    if (!archive_ready("stat"))
        return 1;
    char buffer[fs::kMaxArchivePath];
    StringView path;
    if (!argument_path("stat", arguments[1], buffer, sizeof(buffer), path))
        return 1;
    auto const& files = kfs::file_system();
    if (path.is_empty()) {
        auto const& status = kfs::status();
        kprintln("  path      /  (the archive '{}')", status.name);
        kprintln("  type      directory");
        kprintln("  archive   {} bytes at physical {:#x}, {} frames held", status.bytes, status.physical_start,
            status.frames);
        kprintln("  contents  {} files ({} bytes), {} directories, {} links or devices skipped", files.file_count(),
            files.file_bytes(), files.directory_count(), files.skipped());
        return 0;
    }
    auto const* node = files.find(path);
    if (!node) {
        kprintln("stat: {}: no such file or directory", arguments[1]);
        return 1;
    }
    char when[24];
    format_time(when, sizeof(when), node->mtime);
    kprintln("  path      /{}", node->path);
    kprintln("  type      {}",
        node->is_directory() ? (node->implied ? "directory (implied by its files)" : "directory") : "regular file");
    char mode[10];
    for (u32 i = 0; i < 9; ++i)
        mode[i] = (node->mode >> (8 - i)) & 1 ? "rwxrwxrwx"[i] : '-';
    mode[9] = 0;
    kprintln("  mode      {}", mode);
    kprintln("  modified  {} UTC ({} s since 1970)", when, node->mtime);
    if (node->is_directory())
        return 0;
    auto file = MUST(kfs::open(path)); // found above, and not a directory
    u64 first_frame = align_down(file.physical, mm::kFrameSize);
    u64 end_frame = align_up(file.physical + file.size, mm::kFrameSize);
    kprintln("  size      {} bytes", file.size);
    kprintln("  archive   header at byte {}, data at byte {}", node->header_offset, node->data_offset);
    kprintln("  memory    physical {:#x}-{:#x}, {} pages, {}", file.physical, file.physical + file.size,
        (end_frame - first_frame) / mm::kFrameSize, file.page_aligned() ? "page-aligned" : "NOT page-aligned");
    return 0;
}

} // namespace

void register_file_commands()
{
    console::register_command({ "ls", "ls [path]", "list a directory of the boot archive (or one file)", ls_command });
    console::register_command({ "cat", "cat path", "print a text file of the boot archive", cat_command });
    console::register_command(
        { "stat", "stat path", "a file's size, time, place in the archive and physical pages", stat_command });
}

} // namespace skiff::apps
