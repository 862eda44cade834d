#include <user/runtime/System.h>

namespace skiff::user {

void exit(int code)
{
    system_call(abi::Call::Exit, static_cast<u64>(static_cast<i64>(code)));
    __builtin_unreachable();
}

void exit_thread(int code)
{
    system_call(abi::Call::ThreadExit, static_cast<u64>(static_cast<i64>(code)));
    __builtin_unreachable();
}

Result<usize> write(i64 descriptor, ReadonlyBytes bytes)
{
    return TRY(
        result_of(system_call(abi::Call::Write, static_cast<u64>(descriptor), word(bytes.data()), bytes.size())));
}

u64 clock_ns()
{
    return static_cast<u64>(system_call(abi::Call::Clock));
}

void sleep_ns(u64 nanoseconds)
{
    system_call(abi::Call::Sleep, nanoseconds);
}

void yield()
{
    system_call(abi::Call::Yield);
}

u32 task_id()
{
    return static_cast<u32>(system_call(abi::Call::TaskId));
}

namespace {

// Where every thread made by thread_create() starts (lib/Abi.h: entered as if called).
[[noreturn]] void thread_start(ThreadFunction function, void* argument)
{
    exit_thread(function(argument));
}

} // namespace

Result<u32> thread_create(ThreadFunction function, void* argument)
{
    auto entry = reinterpret_cast<u64>(&thread_start);
    return static_cast<u32>(
        TRY(result_of(system_call(abi::Call::ThreadCreate, entry, word(function), word(argument)))));
}

Result<int> thread_join(u32 thread)
{
    // The kernel returns the code's 32 bits zero-extended (lib/Abi.h).
    return static_cast<int>(static_cast<u32>(TRY(result_of(system_call(abi::Call::ThreadJoin, thread)))));
}

Result<u8*> map_memory(usize length, u64 flags)
{
    return reinterpret_cast<u8*>(TRY(result_of(system_call(abi::Call::MapMemory, length, flags))));
}

Result<void> unmap_memory(void* address, usize length)
{
    TRY(result_of(system_call(abi::Call::UnmapMemory, word(address), length)));
    return {};
}

Result<void> publish(ReadonlyBytes status)
{
    TRY(result_of(system_call(abi::Call::Publish, word(status.data()), status.size())));
    return {};
}

} // namespace skiff::user
