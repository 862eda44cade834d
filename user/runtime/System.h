#pragma once

// The user runtime's system calls, typed: every call of lib/Abi.h as a function that returns a
// Result (the kernel's error codes become skiff::Error again). Programs include this and
// user/runtime/Print.h; nothing here allocates.

#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/Types.h>

#include SKIFF_USER_ARCH_HEADER

namespace skiff::user {

// The raw trap, for programs that test the kernel's checks (syscheck): any number, any arguments.
inline i64 raw_call(abi::Call number, u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0, u64 a5 = 0)
{
    return system_call(number, a0, a1, a2, a3, a4, a5);
}

// A raw result as a Result<u64>.
inline Result<u64> result_of(i64 raw)
{
    if (abi::is_error_result(raw))
        return abi::result_error(raw);
    return static_cast<u64>(raw);
}

template<typename T>
u64 word(T* pointer)
{
    return reinterpret_cast<u64>(pointer);
}

[[noreturn]] void exit(int code);
[[noreturn]] void exit_thread(int code);
Result<usize> write(i64 descriptor, ReadonlyBytes bytes);
u64 clock_ns();
void sleep_ns(u64 nanoseconds);
inline void sleep_ms(u64 milliseconds)
{
    sleep_ns(milliseconds * 1000000);
}
void yield();
u32 task_id();

// Threads of this task: `function(argument)` on a new thread; its return value is the exit code
// join() returns.
using ThreadFunction = int (*)(void* argument);
Result<u32> thread_create(ThreadFunction function, void* argument);
Result<int> thread_join(u32 thread);

// Zeroed, writable memory of whole pages, faulted in on first touch (abi::kMapPopulate: now).
Result<u8*> map_memory(usize length, u64 flags = 0);
Result<void> unmap_memory(void* address, usize length);

// Replaces what this task shows the console (a service's counters; at most abi::kMaxPublishedBytes):
// the console command that knows the layout reads it. Empty withdraws it.
Result<void> publish(ReadonlyBytes status);

} // namespace skiff::user
