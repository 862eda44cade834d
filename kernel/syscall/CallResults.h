#pragma once

// What a system call hands back in its result register (lib/Abi.h): a value >= 0, or an error as
// -code. The kernel's calls build it from their Result<T> with these three.

#include <lib/Abi.h>
#include <lib/Result.h>

namespace skiff::syscall {

inline i64 failed(Error error)
{
    return abi::error_result(error);
}

template<typename T>
i64 value_or_error(Result<T> const& result)
{
    if (result.is_error())
        return failed(result.error());
    return static_cast<i64>(result.value());
}

inline i64 succeeded(Result<void> const& result)
{
    return result.is_error() ? failed(result.error()) : 0;
}

} // namespace skiff::syscall
