#pragma once

// The boot archive's files for user programs (the file calls of lib/Abi.h), read only, and
// send_file: file bytes onto a TCP connection by reference, never copied (docs/httpd.md).

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::user {

// A descriptor for the file at `path` ('/'-separated, as the archive lists it); its size, time and
// kind in *info if given. NotFound: no such file (or no archive); InvalidArgument: a directory.
Result<i64> file_open(StringView path, abi::FileInfo* info = nullptr);
// A file's or a directory's size, time and kind ("" or "/" is the root).
Result<abi::FileInfo> file_stat(StringView path);
// Up to buffer.size() bytes from `offset`, copied; 0 at the end.
Result<usize> file_read(i64 file, Bytes buffer, u64 offset);
// `head` (copied, at most abi::kMaxSendFileHead bytes) and then the file's bytes [offset, offset +
// length) by reference onto the connection `socket`; returns the bytes queued, head first (the
// file's bytes start only once the whole head is queued). On a non-blocking socket: WouldBlock
// when its send buffer is full, NoBufferSpace when the stack's transmit pool is short.
Result<usize> send_file(i64 socket, i64 file, u64 offset, u64 length, ReadonlyBytes head = {});
// The archive, and what send_file has sent since boot (every task's).
Result<abi::FilesStatus> files_status();

} // namespace skiff::user
