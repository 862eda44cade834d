#include <user/runtime/File.h>
#include <user/runtime/System.h>

namespace skiff::user {

using abi::Call;

Result<i64> file_open(StringView path, abi::FileInfo* info)
{
    return static_cast<i64>(TRY(result_of(system_call(Call::FileOpen, word(path.chars()), path.length(), word(info)))));
}

Result<abi::FileInfo> file_stat(StringView path)
{
    abi::FileInfo info {};
    TRY(result_of(system_call(Call::FileStat, word(path.chars()), path.length(), word(&info))));
    return info;
}

Result<usize> file_read(i64 file, Bytes buffer, u64 offset)
{
    return TRY(
        result_of(system_call(Call::FileRead, static_cast<u64>(file), word(buffer.data()), buffer.size(), offset)));
}

Result<usize> send_file(i64 socket, i64 file, u64 offset, u64 length, ReadonlyBytes head)
{
    return TRY(result_of(system_call(Call::SendFile, static_cast<u64>(socket), static_cast<u64>(file), offset, length,
        word(head.data()), head.size())));
}

Result<abi::FilesStatus> files_status()
{
    abi::FilesStatus status {};
    TRY(result_of(system_call(Call::FilesStatus, word(&status))));
    return status;
}

} // namespace skiff::user
