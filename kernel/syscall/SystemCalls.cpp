// The system-call handler: decodes the call (lib/Abi.h) from the trap frame, checks what the task
// passed and does it on the task's behalf, on the task thread's kernel stack with interrupts on.
// Every user pointer is checked against the task's half (mm::is_user_range) and then reached only
// through the fault-safe copies (arch::copy_from_user / copy_to_user), or, where the network stack
// reads or writes it in place, after UserSpace::prepare_access made every page of it present and
// allowed, under the task's memory lock.

#include <kernel/syscall/SystemCalls.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Print.h>
#include <kernel/net/Network.h>
#include <kernel/sched/Scheduler.h>
#include <kernel/syscall/CallResults.h>
#include <kernel/syscall/Descriptors.h>
#include <kernel/syscall/FileCalls.h>
#include <kernel/syscall/SocketCalls.h>
#include <kernel/task/Task.h>
#include <lib/Abi.h>
#include <mm/Memory.h>

namespace skiff::syscall {

namespace {

using abi::Call;
using arch::InterruptDisabler;

u64 s_calls = 0;

// Write to the console: the whole buffer checked first (so a bad one writes nothing), then copied
// in pieces into a kernel buffer, each piece written whole.
i64 write_console(task::Task& task, uptr buffer, u64 length)
{
    {
        sync::MutexLocker locker(task.memory_lock());
        InterruptDisabler disabler;
        if (auto checked = task.space().prepare_access(buffer, length, false); checked.is_error())
            return failed(checked.error());
    }
    char piece[256];
    u64 done = 0;
    while (done < length) {
        u64 count = min<u64>(sizeof(piece), length - done);
        if (!arch::copy_from_user(piece, buffer + done, count))
            return failed(Error::Fault);
        console_write(piece, count);
        done += count;
    }
    return static_cast<i64>(length);
}

i64 write(task::Task& task, i64 descriptor, uptr buffer, u64 length)
{
    if (descriptor == abi::kConsoleOutput || descriptor == abi::kConsoleError)
        return write_console(task, buffer, length);
    if (descriptor < abi::kFirstDescriptor)
        return failed(Error::BadDescriptor);
    return write_socket(task, descriptor, buffer, length);
}

i64 sleep(u64 nanoseconds)
{
    if (nanoseconds == 0) {
        sched::yield();
        return 0;
    }
    // At most a day at a time: a longer request is a bug, and a deadline must not wrap.
    u64 ms = min<u64>((nanoseconds + 999999) / 1000000, 86400000);
    {
        sched::InterruptibleWait interruptible;
        sched::sleep_ms(ms);
    }
    return sched::current()->interrupt_pending() ? failed(Error::Interrupted) : 0;
}

i64 map_memory(task::Task& task, u64 length, u64 flags)
{
    if (length == 0 || (flags & ~abi::kMapPopulate))
        return failed(Error::InvalidArgument);
    sync::MutexLocker locker(task.memory_lock());
    InterruptDisabler disabler;
    auto mapped = task.space().map_anonymous(length);
    if (mapped.is_error() || !(flags & abi::kMapPopulate))
        return value_or_error(mapped);
    if (auto populated = task.space().prepare_access(mapped.value(), length, true); populated.is_error()) {
        (void)task.space().unmap(mapped.value(), length, mm::UserSpace::RegionKind::Anonymous);
        return failed(populated.error());
    }
    return static_cast<i64>(mapped.value());
}

i64 unmap_memory(task::Task& task, uptr address, u64 length)
{
    if (!mm::is_user_range(address, length) || !is_aligned(address, 4096))
        return failed(Error::InvalidArgument);
    sync::MutexLocker locker(task.memory_lock());
    InterruptDisabler disabler;
    return succeeded(task.space().unmap(address, length, mm::UserSpace::RegionKind::Anonymous));
}

i64 zero_copy_allocate(task::Task& task, u64 length)
{
    if (length == 0)
        return failed(Error::InvalidArgument);
    sync::MutexLocker locker(task.memory_lock());
    return value_or_error(mm::allocate_user_zero_copy_buffer(task.space(), length));
}

i64 zero_copy_free(task::Task& task, uptr address, u64 length)
{
    if (!mm::is_user_range(address, length) || !is_aligned(address, 4096))
        return failed(Error::InvalidArgument);
    sync::MutexLocker locker(task.memory_lock());
    // Under the stack lock too: a receive the task posted into these pages (Receive with a next
    // buffer) is written by the network thread under that lock, so a placement in flight ends
    // before the frames go, and later ones find the pages gone (KernelPort::posted_destination).
    knet::StackLocker stack;
    InterruptDisabler disabler;
    return succeeded(task.space().free_zero_copy(address, length));
}

i64 zero_copy_release(task::Task& task, uptr address, u64 length)
{
    if (!mm::is_user_range(address, length))
        return failed(Error::InvalidArgument);
    sync::MutexLocker locker(task.memory_lock());
    InterruptDisabler disabler;
    return value_or_error(task.space().release_zero_copy(address, length));
}

// Publish: the task's status for the console (Task::published), copied into the spare buffer
// whole, then swapped in with interrupts off. No allocation after the first call.
i64 publish(task::Task& task, uptr buffer, u64 length)
{
    if (length > abi::kMaxPublishedBytes)
        return failed(Error::InvalidArgument);
    if (length && !mm::is_user_range(buffer, length))
        return failed(Error::Fault);
    sync::MutexLocker locker(task.memory_lock()); // one publisher at a time owns the spare buffer
    if (!task.publish_spare) {
        auto* first = new (std::nothrow) u8[abi::kMaxPublishedBytes];
        auto* second = new (std::nothrow) u8[abi::kMaxPublishedBytes];
        if (!first || !second) {
            delete[] first;
            delete[] second;
            return failed(Error::NoMemory);
        }
        InterruptDisabler disabler;
        task.published = first;
        task.publish_spare = second;
    }
    if (length && !arch::copy_from_user(task.publish_spare, buffer, length))
        return failed(Error::Fault);
    InterruptDisabler disabler;
    u8* filled = task.publish_spare;
    task.publish_spare = task.published;
    task.published = filled;
    task.published_length = static_cast<u32>(length);
    return 0;
}

void handle(TrapFrame& frame)
{
    arch::enable_interrupts();
    task::Task* task = task::current_task();
    VERIFY(task);
    ++s_calls;
    u64 a[abi::kCallArgumentCount];
    for (u32 i = 0; i < abi::kCallArgumentCount; ++i)
        a[i] = frame.system_call_argument(i);
    i64 result;
    switch (static_cast<Call>(frame.system_call_number())) {
    case Call::Exit: task::exit_current_task(static_cast<int>(a[0]));
    case Call::ThreadExit: task::exit_current_thread(static_cast<int>(a[0]));
    case Call::Write: result = write(*task, static_cast<i64>(a[0]), a[1], a[2]); break;
    case Call::Clock: result = static_cast<i64>(time::monotonic_ns()); break;
    case Call::Sleep: result = sleep(a[0]); break;
    case Call::ThreadCreate: result = value_or_error(task::create_thread(*task, a[0], a[1], a[2])); break;
    case Call::ThreadJoin: {
        // The exit code as 32 bits, zero-extended: a negative code must not read as an error.
        auto code = task::join_thread(*task, static_cast<u32>(a[0]));
        result = code.is_error() ? failed(code.error()) : static_cast<i64>(static_cast<u32>(code.value()));
        break;
    }
    case Call::MapMemory: result = map_memory(*task, a[0], a[1]); break;
    case Call::UnmapMemory: result = unmap_memory(*task, a[0], a[1]); break;
    case Call::TaskId: result = task->id(); break;
    case Call::Null: result = 0; break;
    case Call::Yield:
        sched::yield();
        result = 0;
        break;
    case Call::Socket:
    case Call::Bind:
    case Call::Listen:
    case Call::Accept:
    case Call::Connect:
    case Call::Send:
    case Call::Receive:
    case Call::SendTo:
    case Call::ReceiveFrom:
    case Call::Shutdown:
    case Call::Close:
    case Call::Poll:
    case Call::SetOption:
    case Call::GetOption:
    case Call::ZeroCopyCompletions:
    case Call::RingMap:
    case Call::RingRelease:
    case Call::RingTransmit:
    case Call::RingWait:
    case Call::RingStatistics: result = socket_call(static_cast<Call>(frame.system_call_number()), *task, a); break;
    case Call::ZeroCopyAllocate: result = zero_copy_allocate(*task, a[0]); break;
    case Call::ZeroCopyFree: result = zero_copy_free(*task, a[0], a[1]); break;
    case Call::ZeroCopyRelease: result = zero_copy_release(*task, a[0], a[1]); break;
    case Call::SendFile: result = socket_call(Call::SendFile, *task, a); break;
    case Call::FileOpen:
    case Call::FileStat:
    case Call::FileRead:
    case Call::FilesStatus: result = file_call(static_cast<Call>(frame.system_call_number()), *task, a); break;
    case Call::Publish: result = publish(*task, a[0], a[1]); break;
    default: result = failed(Error::NotSupported); break;
    }
    frame.set_system_call_result(static_cast<u64>(result));
}

} // namespace

void initialize()
{
    set_system_call_handler(handle);
}

void close_all_descriptors(task::Task& task)
{
    DescriptorTable* table = task.descriptors;
    if (!table)
        return;
    table->close_all();
    task.descriptors = nullptr;
    delete table;
}

u64 call_count()
{
    return s_calls;
}

} // namespace skiff::syscall
