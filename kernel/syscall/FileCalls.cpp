// The file calls (lib/Abi.h 48-52): the boot archive (kernel/fs/BootArchive.h) for tasks, read
// only. A file descriptor is the archive's view of one file (where its bytes lie, its size); it
// holds nothing, because the archive stays mounted for as long as the kernel runs. FileRead copies
// (for `cat` and for checks); SendFile (kernel/syscall/SocketCalls.cpp) is how file bytes reach
// the network without a copy.

#include <kernel/syscall/FileCalls.h>

#include <fs/Path.h>
#include <kernel/base/Arch.h>
#include <kernel/net/Network.h>
#include <kernel/net/SendFile.h>
#include <kernel/syscall/CallResults.h>
#include <kernel/syscall/Descriptors.h>
#include <mm/Memory.h>

namespace skiff::syscall {

namespace {

using abi::Call;

// A path from the task, normalised (fs/Path.h: "/a//b/../c" is "a/c"). NotFound when it climbs
// above the root: there is nothing there.
struct PathBuffer {
    char raw[abi::kMaxPathBytes];
    char normalized[abi::kMaxPathBytes + 1];
};

Result<StringView> read_path(PathBuffer& buffer, uptr address, u64 length)
{
    if (length > abi::kMaxPathBytes)
        return Error::InvalidArgument;
    if (!mm::is_user_range(address, length) || !arch::copy_from_user(buffer.raw, address, length))
        return Error::Fault;
    StringView path;
    if (!fs::normalize_path(
            { buffer.raw, length }, buffer.normalized, sizeof(buffer.normalized), path, fs::DotDot::Resolve))
        return Error::NotFound;
    return path;
}

abi::FileInfo info_of(fs::FileNode const* node)
{
    abi::FileInfo info {};
    if (!node) { // the root
        info.kind = abi::kFileDirectory;
        info.mode = 0555;
        return info;
    }
    info.kind = node->is_directory() ? abi::kFileDirectory : abi::kFileRegular;
    info.size = node->is_directory() ? 0 : node->size;
    info.mtime = node->mtime;
    info.mode = node->mode;
    return info;
}

Result<void> write_info(uptr address, abi::FileInfo const& info)
{
    if (!address)
        return {};
    if (!mm::is_user_range(address, sizeof(info)) || !arch::copy_to_user(address, &info, sizeof(info)))
        return Error::Fault;
    return {};
}

// Paths are read into a heap buffer: 8 KiB is too much for a 16 KiB kernel stack.
template<typename Use>
i64 with_path(uptr address, u64 length, Use use)
{
    auto* buffer = new (std::nothrow) PathBuffer;
    if (!buffer)
        return failed(Error::NoMemory);
    auto path = read_path(*buffer, address, length);
    i64 result = path.is_error() ? failed(path.error()) : use(path.value());
    delete buffer;
    return result;
}

i64 file_open(task::Task& task, uptr path_address, u64 path_length, uptr info_address)
{
    if (info_address && !mm::is_user_range(info_address, sizeof(abi::FileInfo)))
        return failed(Error::Fault);
    auto table = DescriptorTable::of(task);
    if (table.is_error())
        return failed(table.error());
    return with_path(path_address, path_length, [&](StringView path) -> i64 {
        auto opened = kfs::open(path);
        if (opened.is_error())
            return failed(opened.error());
        auto* descriptor = new (std::nothrow) Descriptor;
        if (!descriptor)
            return failed(Error::NoMemory);
        descriptor->kind = DescriptorKind::File;
        descriptor->file = opened.value();
        auto number = table.value()->add(descriptor);
        if (number.is_error()) {
            table.value()->release(descriptor);
            return failed(number.error());
        }
        if (write_info(info_address, info_of(descriptor->file.node)).is_error()) {
            if (auto taken = table.value()->take(number.value()); !taken.is_error())
                table.value()->release(taken.value());
            return failed(Error::Fault);
        }
        return number.value();
    });
}

i64 file_stat(uptr path_address, u64 path_length, uptr info_address)
{
    if (!mm::is_user_range(info_address, sizeof(abi::FileInfo)))
        return failed(Error::Fault);
    return with_path(path_address, path_length, [&](StringView path) -> i64 {
        if (!kfs::is_mounted())
            return failed(Error::NotFound);
        fs::FileNode const* node = path.is_empty() ? nullptr : kfs::file_system().find(path);
        if (!path.is_empty() && !node)
            return failed(Error::NotFound);
        return succeeded(write_info(info_address, info_of(node)));
    });
}

i64 file_read(task::Task& task, i64 number, uptr buffer, u64 length, u64 offset)
{
    auto table = DescriptorTable::of(task);
    if (table.is_error())
        return failed(table.error());
    Descriptor* descriptor = table.value()->acquire(number);
    if (!descriptor)
        return failed(Error::BadDescriptor);
    i64 result;
    if (descriptor->kind != DescriptorKind::File) {
        result = failed(Error::InvalidArgument);
    } else if (!mm::is_user_range(buffer, length)) {
        result = failed(Error::Fault);
    } else {
        kfs::File const& file = descriptor->file;
        u64 count = offset >= file.size ? 0 : min(length, file.size - offset);
        result = count == 0 || arch::copy_to_user(buffer, file.data + offset, count) ? static_cast<i64>(count)
                                                                                     : failed(Error::Fault);
    }
    table.value()->release(descriptor);
    return result;
}

i64 files_status(uptr address)
{
    if (!mm::is_user_range(address, sizeof(abi::FilesStatus)))
        return failed(Error::Fault);
    abi::FilesStatus status {};
    if (kfs::is_mounted()) {
        auto const& files = kfs::file_system();
        status.mounted = 1;
        status.files = files.file_count();
        status.file_bytes = files.file_bytes();
        char const* name = kfs::status().name;
        for (usize i = 0; i + 1 < sizeof(status.name) && name[i]; ++i)
            status.name[i] = name[i];
    }
    knet::SendFileStats sent;
    if (knet::is_running()) {
        knet::StackLocker locker;
        sent = knet::send_file_stats();
    }
    status.sendfile_calls = sent.calls;
    status.sendfile_bytes = sent.bytes;
    status.sendfile_by_reference = sent.zero_copy_bytes;
    status.sendfile_copied_bytes = sent.copied_bytes;
    status.sendfile_pool_waits = sent.pool_waits;
    return arch::copy_to_user(address, &status, sizeof(status)) ? 0 : failed(Error::Fault);
}

} // namespace

i64 file_call(Call call, task::Task& task, u64 const* a)
{
    switch (call) {
    case Call::FileOpen: return file_open(task, a[0], a[1], a[2]);
    case Call::FileStat: return file_stat(a[0], a[1], a[2]);
    case Call::FileRead: return file_read(task, static_cast<i64>(a[0]), a[1], a[2], a[3]);
    case Call::FilesStatus: return files_status(a[0]);
    default: return failed(Error::NotSupported);
    }
}

} // namespace skiff::syscall
