// syscheck: calls every system call with what a buggy or hostile program would pass — null,
// unmapped, kernel and non-canonical pointers, lengths that run off the end of memory or wrap
// around, read-only buffers to write into, descriptors never opened or already closed, numbers no
// call has — and checks that each gets the error lib/Abi.h promises, and that the kernel goes on.
// Then the limits: threads and memory beyond what a task may have are refused, and given back.
// One line per failed check, a summary line, exit status 0 when every check held.
//
//   syscheck         everything
//   syscheck quick   everything but the limit checks

#include <user/runtime/Print.h>
#include <user/runtime/Program.h>
#include <user/runtime/System.h>

namespace skiff::user {

namespace {

using abi::Call;

constexpr u64 kNull = 0;
constexpr u64 kUnmapped = 0x0000600000000000ull;
constexpr u64 kKernel = 0xffffffff80100000ull;
constexpr u64 kNonCanonical = 0x0000800000000000ull;
constexpr u64 kLastUserBytes = 0x00007ffffffffff0ull; // 16 bytes below the end of the lower half

u32 s_checks = 0;
u32 s_failures = 0;
u8 s_buffer[256];

// Expect `raw` to be the error `expected` (Error::None: success).
void expect(char const* what, i64 raw, Error expected)
{
    ++s_checks;
    bool failed = abi::is_error_result(raw);
    if (expected == Error::None ? !failed : (failed && abi::result_error(raw) == expected))
        return;
    ++s_failures;
    if (failed)
        println("syscheck: FAIL {}: got error '{}', expected {}", what, abi::result_error(raw),
            expected == Error::None ? "success" : error_name(expected));
    else
        println("syscheck: FAIL {}: got {}, expected error '{}'", what, raw, expected);
}

void expect_true(char const* what, bool condition)
{
    ++s_checks;
    if (!condition) {
        ++s_failures;
        println("syscheck: FAIL {}", what);
    }
}

u64 text_address()
{
    return reinterpret_cast<u64>(&expect);
}

void check_write()
{
    u64 buffer = word(s_buffer);
    expect("write: null buffer", raw_call(Call::Write, 1, kNull, 10), Error::Fault);
    expect("write: unmapped buffer", raw_call(Call::Write, 1, kUnmapped, 10), Error::Fault);
    expect("write: kernel buffer", raw_call(Call::Write, 1, kKernel, 10), Error::Fault);
    expect("write: non-canonical buffer", raw_call(Call::Write, 1, kNonCanonical, 10), Error::Fault);
    expect("write: length ~0", raw_call(Call::Write, 1, buffer, ~0ull), Error::Fault);
    expect("write: length 1 TiB", raw_call(Call::Write, 1, buffer, 1ull << 40), Error::Fault);
    expect("write: buffer running off the lower half", raw_call(Call::Write, 1, kLastUserBytes, 64), Error::Fault);
    expect("write: buffer running into unmapped memory", raw_call(Call::Write, 1, buffer, 1 << 20), Error::Fault);
    expect("write: descriptor 99 (never opened)", raw_call(Call::Write, 99, buffer, 1), Error::BadDescriptor);
    expect("write: descriptor -1", raw_call(Call::Write, ~0ull, buffer, 1), Error::BadDescriptor);
    expect("write: descriptor 0 (console input)", raw_call(Call::Write, 0, buffer, 1), Error::BadDescriptor);
    expect("write: zero bytes", raw_call(Call::Write, 1, kNull, 0), Error::None);
    // Reading from read-only memory is fine: the kernel only reads a write's buffer.
    s_buffer[0] = 0;
    expect("write: from the program's read-only text", raw_call(Call::Write, 1, text_address(), 0), Error::None);
}

void check_calls()
{
    expect("unknown call 9999", raw_call(static_cast<Call>(9999)), Error::NotSupported);
    expect("unknown call 15", raw_call(static_cast<Call>(15)), Error::NotSupported);
    expect("null call", raw_call(Call::Null), Error::None);
    u64 first = clock_ns();
    sleep_ms(2);
    expect_true("clock advances across a 2 ms sleep", clock_ns() - first >= 2000000);
    expect("sleep 0", raw_call(Call::Sleep, 0), Error::None);
}

int idle_thread(void*)
{
    sleep_ms(50);
    return 7;
}

void check_threads(bool limits)
{
    expect("thread_create: null entry", raw_call(Call::ThreadCreate, kNull, 0, 0), Error::InvalidArgument);
    expect("thread_create: kernel entry", raw_call(Call::ThreadCreate, kKernel, 0, 0), Error::InvalidArgument);
    expect("thread_create: non-canonical entry", raw_call(Call::ThreadCreate, kNonCanonical, 0, 0),
        Error::InvalidArgument);
    expect("thread_join: no such thread", raw_call(Call::ThreadJoin, 12345), Error::NotFound);
    if (!limits)
        return;
    // As many threads as the task may have, then one more.
    u32 made[64];
    u32 count = 0;
    while (count < 64) {
        auto next = thread_create(idle_thread, nullptr);
        if (next.is_error()) {
            expect("thread_create beyond the limit", abi::error_result(next.error()), Error::LimitReached);
            break;
        }
        made[count++] = next.value();
    }
    expect_true("a task may have more than one thread", count >= 1);
    expect_true("the thread limit stops a runaway task", count < 64);
    for (u32 i = 0; i < count; ++i) {
        auto code = thread_join(made[i]);
        expect_true("thread_join returns the thread's code", !code.is_error() && code.value() == 7);
    }
    expect("thread_join of a thread joined already", raw_call(Call::ThreadJoin, made[0]), Error::NotFound);
    // And they can be made again: joining gave the slots back.
    auto again = thread_create(idle_thread, nullptr);
    expect_true("a thread after joining the others", !again.is_error());
    if (!again.is_error())
        (void)thread_join(again.value());
}

void check_memory(bool limits)
{
    expect("map_memory: 0 bytes", raw_call(Call::MapMemory, 0), Error::InvalidArgument);
    expect("map_memory: ~0 bytes", raw_call(Call::MapMemory, ~0ull), Error::LimitReached);
    expect("map_memory: 1 TiB", raw_call(Call::MapMemory, 1ull << 40), Error::LimitReached);
    expect("unmap_memory: unmapped", raw_call(Call::UnmapMemory, kUnmapped, 4096), Error::InvalidArgument);
    expect("unmap_memory: kernel", raw_call(Call::UnmapMemory, kKernel, 4096), Error::InvalidArgument);
    expect("unmap_memory: the program's text", raw_call(Call::UnmapMemory, text_address() & ~0xfffull, 4096),
        Error::InvalidArgument);
    auto memory = map_memory(3 * 4096);
    expect_true("map_memory: 12 KiB", !memory.is_error());
    if (memory.is_error())
        return;
    u8* bytes = memory.value();
    expect_true("map_memory: zeroed", bytes[0] == 0 && bytes[3 * 4096 - 1] == 0);
    bytes[5000] = 42;
    expect_true("map_memory: writable", bytes[5000] == 42);
    expect("write: from mapped memory", raw_call(Call::Write, 1, word(bytes), 0), Error::None);
    expect("unmap_memory: unaligned", raw_call(Call::UnmapMemory, word(bytes) + 1, 3 * 4096), Error::InvalidArgument);
    expect("unmap_memory: part of a mapping", raw_call(Call::UnmapMemory, word(bytes), 4096), Error::InvalidArgument);
    expect("unmap_memory", raw_call(Call::UnmapMemory, word(bytes), 3 * 4096), Error::None);
    expect("unmap_memory: twice", raw_call(Call::UnmapMemory, word(bytes), 3 * 4096), Error::InvalidArgument);
    expect("write: from memory just unmapped", raw_call(Call::Write, 1, word(bytes), 1), Error::Fault);
    if (!limits)
        return;
    // 1 MiB at a time until the task's memory limit says no; every page touched.
    u8* blocks[64];
    u32 count = 0;
    while (count < 64) {
        auto block = map_memory(1 << 20);
        if (block.is_error()) {
            expect("map_memory beyond the task's limit", abi::error_result(block.error()), Error::LimitReached);
            break;
        }
        for (u32 page = 0; page < 256; ++page)
            block.value()[page * 4096] = 1;
        blocks[count++] = block.value();
    }
    expect_true("the memory limit stops a task before 64 MiB", count < 64);
    for (u32 i = 0; i < count; ++i)
        expect("unmap_memory of a touched MiB", raw_call(Call::UnmapMemory, word(blocks[i]), 1 << 20), Error::None);
    auto after = map_memory(1 << 20);
    expect_true("memory is given back by unmap_memory", !after.is_error());
    if (!after.is_error())
        (void)unmap_memory(after.value(), 1 << 20);
}

} // namespace

int main(Span<StringView const> arguments)
{
    bool limits = !(arguments.size() > 1 && arguments[1] == "quick");
    check_write();
    check_calls();
    check_threads(limits);
    check_memory(limits);
    println("syscheck: {} checks, {} failed", s_checks, s_failures);
    return s_failures ? 1 : 0;
}

} // namespace skiff::user
