#include <user/runtime/System.h>
#include <user/runtime/ZeroCopy.h>

namespace skiff::user {

Result<u8*> zero_copy_allocate(usize length)
{
    return reinterpret_cast<u8*>(TRY(result_of(system_call(abi::Call::ZeroCopyAllocate, length))));
}

Result<void> zero_copy_free(u8* buffer, usize length)
{
    TRY(result_of(system_call(abi::Call::ZeroCopyFree, word(buffer), length)));
    return {};
}

Result<u64> zero_copy_release(u8 const* buffer, usize length)
{
    return TRY(result_of(system_call(abi::Call::ZeroCopyRelease, word(buffer), length)));
}

Result<abi::ZeroCopyReport> zero_copy_report(i64 descriptor, u64 released_offset, u64 timeout_ms)
{
    abi::ZeroCopyReport report {};
    TRY(result_of(system_call(
        abi::Call::ZeroCopyCompletions, static_cast<u64>(descriptor), word(&report), released_offset, timeout_ms)));
    return report;
}

} // namespace skiff::user
