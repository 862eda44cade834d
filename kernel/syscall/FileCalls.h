#pragma once

// The file calls of lib/Abi.h (48-52, but SendFile, which is a socket call), for
// kernel/syscall/SystemCalls.cpp.

#include <lib/Abi.h>
#include <lib/Types.h>

namespace skiff::task {
class Task;
}

namespace skiff::syscall {

// `arguments` are the call's six registers.
i64 file_call(abi::Call call, task::Task& task, u64 const* arguments);

} // namespace skiff::syscall
