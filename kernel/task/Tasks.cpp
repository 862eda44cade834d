// Tasks: loading a program, its threads' lives in user mode, and every way a task ends.
//
// A task's thread is a kernel thread created in the task's address space (sched::create_task_thread)
// whose entry drops to user mode; it comes back on its kernel stack for system calls, interrupts
// and faults. Ending is cooperative and always on the thread itself: kill_task() marks the task
// ending and interrupts its threads' waits, and each thread leaves at its next return to user mode
// (the return-to-user hook) or when its system call returns. The last thread out tears the task
// down — descriptors closed, address space destroyed (after switching to the kernel's table) —
// wakes whoever waits for the end, and exits. A spinning thread is reached by the timer interrupt's
// return to user mode.

#include <kernel/task/Task.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Layout.h>
#include <kernel/base/Print.h>
#include <kernel/syscall/SystemCalls.h>
#include <kernel/task/ElfImage.h>
#include <kernel/task/Programs.h>
#include <lib/Abi.h>
#include <lib/Format.h>
#include <mm/Memory.h>

namespace skiff::task {

using arch::InterruptDisabler;

class TaskTable {
public:
    // Guarded by interrupts off.
    static inline Task* s_tasks[kMaxTasks] {};
    static inline u32 s_next_id = 1;
    static inline u32 s_count = 0;

    static void acquire(Task& task)
    {
        InterruptDisabler disabler;
        ++task.m_references;
    }

    static void release(Task* task)
    {
        {
            InterruptDisabler disabler;
            VERIFY(task->m_references > 0);
            if (--task->m_references > 0)
                return;
            VERIFY(task->m_state == TaskState::Ended);
            for (auto& slot : s_tasks) {
                if (slot == task)
                    slot = nullptr;
            }
            --s_count;
        }
        delete task;
    }

    static Result<Task*> allocate(StringView name, bool background)
    {
        auto* task = new (std::nothrow) Task;
        if (!task)
            return Error::NoMemory;
        InterruptDisabler disabler;
        u32 slot = 0;
        while (slot < kMaxTasks && s_tasks[slot])
            ++slot;
        if (slot == kMaxTasks) {
            delete task;
            return Error::LimitReached;
        }
        s_tasks[slot] = task;
        ++s_count;
        task->m_id = s_next_id++;
        usize length = min(name.length(), kNameLength - 1);
        __builtin_memcpy(task->m_name, name.chars(), length);
        task->m_name[length] = 0;
        task->m_background = background;
        task->m_references = 1; // the task's own, dropped when it has ended
        task->m_started_ns = time::monotonic_ns();
        return task;
    }

    // A task that never started a thread: give back what it has.
    static void abandon(Task* task)
    {
        if (task->m_space)
            mm::destroy_user_space(task->m_space);
        task->m_space = nullptr;
        task->m_state = TaskState::Ended;
        release(task);
    }

    static Task::ThreadRecord* free_record(Task& task)
    {
        for (auto& record : task.m_threads) {
            if (record.id == 0)
                return &record;
        }
        return nullptr;
    }

    static Task::ThreadRecord* record_of(Task& task, u32 id)
    {
        for (auto& record : task.m_threads) {
            if (record.id == id)
                return &record;
        }
        return nullptr;
    }

    static Result<void> start_thread(Task& task, Task::ThreadRecord& record)
    {
        char name[sched::Thread::kNameLength];
        if (&record == &task.m_threads[0])
            format_to(name, sizeof(name), "{}", task.m_name);
        else
            format_to(name, sizeof(name), "{}.{}", task.m_name, record.stack_slot);
        record.task = &task;
        {
            InterruptDisabler disabler;
            ++task.m_live_threads;
        }
        auto thread = sched::create_task_thread(name, thread_entry, &record, task.m_space, &task);
        if (thread.is_error()) {
            InterruptDisabler disabler;
            --task.m_live_threads;
            record = {};
            return thread.error();
        }
        {
            InterruptDisabler disabler;
            record.thread = thread.value();
            record.id = thread.value()->id();
            if (task.m_state != TaskState::Running)
                sched::interrupt(record.thread);
        }
        sched::detach(thread.value());
        return {};
    }

    // Where every task thread begins, in the task's address space with its stack as the kernel
    // entry stack (the switch into it did both).
    [[noreturn]] static void thread_entry(void* argument)
    {
        auto* record = static_cast<Task::ThreadRecord*>(argument);
        if (record->task->is_ending())
            exit_current_thread(0);
        arch::enter_user_mode(record->entry, record->stack_top, record->arguments[0], record->arguments[1]);
    }

    // The current thread leaves its task; the last one out ends it.
    [[noreturn]] static void leave(int code)
    {
        Task* task = sched::current()->task();
        VERIFY(task);
        Task::ThreadRecord* record = nullptr;
        for (auto& candidate : task->m_threads) {
            if (candidate.thread == sched::current())
                record = &candidate;
        }
        VERIFY(record);
        // A thread's stack goes with it (the main thread's with the task); only its record stays,
        // for ThreadJoin. The space is alive: this thread still counts.
        if (record->stack_slot != 0) {
            sync::MutexLocker locker(task->m_memory_lock);
            InterruptDisabler disabler;
            auto const* region = task->m_space->find_region(record->stack_top - 1);
            if (region)
                (void)task->m_space->unmap(region->base, region->pages * 4096, mm::UserSpace::RegionKind::Stack);
        }
        // Before it stops counting: from here on it never switches into the space, which the last
        // thread out may destroy at any moment after the count below.
        sched::leave_task();
        bool last;
        {
            InterruptDisabler disabler;
            record->thread = nullptr;
            record->exited = true;
            record->exit_code = code;
            task->m_thread_exits.wake_all();
            last = --task->m_live_threads == 0;
        }
        if (last)
            end(*task, code);
        sched::exit_thread(code);
    }

    // The last thread of `task` is leaving (and still in its address space).
    static void end(Task& task, int code)
    {
        {
            InterruptDisabler disabler;
            if (task.m_state == TaskState::Running)
                task.m_status = code;
            task.m_state = TaskState::Ending;
        }
        syscall::close_all_descriptors(task);
        u8* published;
        u8* spare;
        {
            InterruptDisabler disabler;
            published = task.published;
            spare = task.publish_spare;
            task.published = task.publish_spare = nullptr;
            task.published_length = 0;
        }
        delete[] published;
        delete[] spare;
        mm::UserSpace* space = task.m_space;
        task.m_space = nullptr;
        mm::destroy_user_space(space); // loads the kernel's table first if this one is loaded
        if (task.m_background)
            kprintln("[{}] {} ended with status {}", task.m_id, task.m_name, task.m_status);
        {
            InterruptDisabler disabler;
            task.m_state = TaskState::Ended;
            task.m_ended.wake_all();
        }
        release(&task);
    }

    // Marks the task ending with `status` and interrupts every thread's wait, but the caller's.
    static void stop(Task& task, int status)
    {
        InterruptDisabler disabler;
        if (task.m_state != TaskState::Running)
            return;
        task.m_state = TaskState::Ending;
        task.m_status = status;
        for (auto& record : task.m_threads) {
            if (record.thread && record.thread != sched::current())
                sched::interrupt(record.thread);
        }
    }
};

namespace {

// --- Loading --------------------------------------------------------------------------------------

struct SegmentSource {
    u8 const* file;
    task::ElfSegment const* segment;
};

// Fills page `index` of a segment with its bytes from the file (the rest stays zero).
void fill_segment_page(u64 index, u8* page, void* context)
{
    auto const* source = static_cast<SegmentSource const*>(context);
    auto const& segment = *source->segment;
    uptr page_start = segment.first_page() + index * 4096;
    uptr data_start = max<uptr>(page_start, segment.address);
    uptr data_end = min<uptr>(page_start + 4096, segment.address + segment.file_size);
    if (data_end <= data_start)
        return;
    u64 file_offset = segment.file_offset + (data_start - segment.address);
    __builtin_memcpy(page + (data_start - page_start), source->file + file_offset, data_end - data_start);
}

// A thread's stack, its top kStackResidentBytes faulted in now: the depth every thread reaches
// at once, so a server's memory does not grow page by page with its first clients.
Result<uptr> map_stack(mm::UserSpace& space, u32 slot, u64 bytes)
{
    uptr top = TRY(space.map_stack(slot, bytes));
    if (auto populated = space.prepare_access(top - kStackResidentBytes, kStackResidentBytes, true);
        populated.is_error()) {
        (void)space.unmap(top - bytes - 4096, bytes + 4096, mm::UserSpace::RegionKind::Stack);
        return populated.error();
    }
    return top;
}

// Writes `length` bytes into the task's memory at `address`, through the frames (the caller is not
// in the task's address space).
Result<void> write_into(mm::UserSpace& space, uptr address, u8 const* bytes, u64 length)
{
    InterruptDisabler disabler;
    TRY(space.prepare_access(address, length, true));
    while (length) {
        u64 in_page = min<u64>(length, 4096 - (address & 4095));
        auto translation = TRY(space.table().translate(address));
        __builtin_memcpy(phys_to_virt(translation.physical), bytes, in_page);
        address += in_page;
        bytes += in_page;
        length -= in_page;
    }
    return {};
}

// The main thread's stack top: the argument strings at the very top, the vector (null-terminated)
// below them, 16-byte aligned, and 16 zero bytes below that (lib/Abi.h). Returns the stack
// pointer to enter with; the vector's address goes to `vector`.
Result<uptr> place_arguments(mm::UserSpace& space, uptr top, Span<StringView const> arguments, uptr& vector)
{
    u8 block[abi::kMaxArgumentBytes + (abi::kMaxArguments + 1) * 8 + 32] {};
    usize string_bytes = 0;
    for (auto const& word : arguments)
        string_bytes += word.length() + 1;
    if (arguments.size() > abi::kMaxArguments || string_bytes > abi::kMaxArgumentBytes)
        return Error::OutOfRange;
    uptr strings = align_down(top - string_bytes, 16);
    vector = align_down(strings - (arguments.size() + 1) * 8, 16);
    uptr base = vector - 16;
    u64 total = top - base;
    u8* strings_at = block + (strings - base);
    auto* vector_at = reinterpret_cast<u64*>(block + (vector - base));
    usize offset = 0;
    for (usize i = 0; i < arguments.size(); ++i) {
        __builtin_memcpy(strings_at + offset, arguments[i].chars(), arguments[i].length());
        vector_at[i] = strings + offset;
        offset += arguments[i].length() + 1;
    }
    TRY(write_into(space, base, block, total));
    return vector;
}

// Maps the program's segments; returns its entry point.
Result<uptr> load(mm::UserSpace& space, Program const& program, StartProblem& problem)
{
    ElfImage image;
    ElfLimits limits { arch::kElfMachine, mm::kUserProgramBase, mm::kUserProgramEnd, kMaxMemoryBytes };
    auto check = parse_elf({ program.file, program.size }, limits, image);
    if (!check.ok) {
        format_to(problem.reason, sizeof(problem.reason), "{} is not a program this kernel can run: {}", program.name,
            check.reason);
        return Error::Malformed;
    }
    for (u32 i = 0; i < image.segment_count; ++i) {
        auto const& segment = image.segments[i];
        SegmentSource source { program.file, &segment };
        InterruptDisabler disabler;
        auto mapped = space.map_program(segment.first_page(), (segment.end_page() - segment.first_page()) / 4096,
            segment.writable, segment.executable, fill_segment_page, &source);
        if (mapped.is_error()) {
            format_to(problem.reason, sizeof(problem.reason), "{}: loading segment {} at {:#x}: {}", program.name, i,
                segment.address, mapped.error());
            return mapped.error();
        }
    }
    return image.entry;
}

} // namespace

// Loads and starts; see Task.h.
Result<Task*> start_task(
    StringView program_name, Span<StringView const> arguments, StartOptions const& options, StartProblem& problem)
{
    Program const* program = find_program(program_name);
    if (!program) {
        format_to(
            problem.reason, sizeof(problem.reason), "no program named '{}' (`programs` lists them)", program_name);
        return Error::NotFound;
    }
    auto allocated = TaskTable::allocate(program_name, options.background);
    if (allocated.is_error()) {
        if (allocated.error() == Error::LimitReached)
            format_to(problem.reason, sizeof(problem.reason), "{} tasks are running, the most there may be", kMaxTasks);
        else
            format_to(problem.reason, sizeof(problem.reason), "no memory for a task");
        return allocated.error();
    }
    Task* task = allocated.value();
    auto space = mm::create_user_space(kMaxMemoryBytes);
    if (space.is_error()) {
        format_to(problem.reason, sizeof(problem.reason), "no memory for an address space");
        TaskTable::abandon(task);
        return space.error();
    }
    task->m_space = space.value();
    auto entry = load(*task->m_space, *program, problem);
    if (entry.is_error()) {
        TaskTable::abandon(task);
        return entry.error();
    }
    auto& main = task->m_threads[0];
    main.entry = entry.value();
    main.stack_slot = 0;
    auto top = [&] {
        InterruptDisabler disabler;
        return map_stack(*task->m_space, 0, kMainStackBytes);
    }();
    uptr vector = 0;
    Result<uptr> stack
        = top.is_error() ? Result<uptr>(top.error()) : place_arguments(*task->m_space, top.value(), arguments, vector);
    if (stack.is_error()) {
        format_to(problem.reason, sizeof(problem.reason), "{}: setting up its stack: {}", program_name,
            stack.error() == Error::OutOfRange ? "too many or too long arguments" : error_name(stack.error()));
        TaskTable::abandon(task);
        return stack.error();
    }
    main.stack_top = stack.value();
    main.arguments[0] = arguments.size();
    main.arguments[1] = vector;
    if (options.prepare) {
        if (auto prepared = options.prepare(*task, options.context); prepared.is_error()) {
            format_to(problem.reason, sizeof(problem.reason), "{}: preparing it: {}", program_name, prepared.error());
            syscall::close_all_descriptors(*task);
            TaskTable::abandon(task);
            return prepared.error();
        }
    }
    TaskTable::acquire(*task); // the caller's
    if (auto started = TaskTable::start_thread(*task, main); started.is_error()) {
        format_to(problem.reason, sizeof(problem.reason), "{}: starting its thread: {}", program_name, started.error());
        TaskTable::release(task);
        TaskTable::abandon(task);
        return started.error();
    }
    return task;
}

bool wait_for_end(Task& task, u64 timeout_ms)
{
    InterruptDisabler disabler;
    if (task.m_state != TaskState::Ended)
        (void)task.m_ended.wait(timeout_ms);
    return task.m_state == TaskState::Ended;
}

void release_task(Task* task)
{
    TaskTable::release(task);
}

void kill_task(Task& task, int status)
{
    TaskTable::stop(task, status);
}

Task* find_task(u32 id)
{
    InterruptDisabler disabler;
    for (auto* task : TaskTable::s_tasks) {
        if (task && task->id() == id && task->state() != TaskState::Ended) {
            TaskTable::acquire(*task);
            return task;
        }
    }
    return nullptr;
}

void for_each_task(void (*visit)(Task& task, void* context), void* context)
{
    InterruptDisabler disabler;
    for (auto* task : TaskTable::s_tasks) {
        if (task)
            visit(*task, context);
    }
}

usize copy_published(StringView name, void* out, usize capacity, u32* id)
{
    InterruptDisabler disabler;
    for (auto* task : TaskTable::s_tasks) {
        if (!task || task->is_ending() || !task->published_length || StringView(task->name()) != name)
            continue;
        __builtin_memcpy(out, task->published, min<usize>(capacity, task->published_length));
        if (id)
            *id = task->id();
        return task->published_length;
    }
    return 0;
}

u32 task_count()
{
    InterruptDisabler disabler;
    return TaskTable::s_count;
}

Task* current_task()
{
    return sched::current()->task();
}

Result<u32> create_thread(Task& task, uptr entry, u64 argument0, u64 argument1)
{
    if (!mm::is_user_range(entry, 1))
        return Error::InvalidArgument;
    sync::MutexLocker locker(task.m_memory_lock);
    Task::ThreadRecord* record;
    u32 slot = 1;
    {
        InterruptDisabler disabler;
        record = TaskTable::free_record(task);
        if (!record)
            return Error::LimitReached;
        // The lowest stack slot no thread of the task uses.
        for (bool taken = true; taken && slot < mm::kStackSlots; slot += taken) {
            taken = false;
            for (auto const& other : task.m_threads)
                taken |= other.id != 0 && !other.exited && other.stack_slot == slot;
        }
        record->id = ~0u; // reserved while its stack is made
    }
    auto top = [&] {
        InterruptDisabler disabler;
        return map_stack(*task.m_space, slot, kThreadStackBytes);
    }();
    if (top.is_error()) {
        InterruptDisabler disabler;
        *record = {};
        return top.error();
    }
    record->stack_slot = slot;
    record->stack_top = top.value();
    record->entry = entry;
    record->arguments[0] = argument0;
    record->arguments[1] = argument1;
    if (auto started = TaskTable::start_thread(task, *record); started.is_error()) {
        InterruptDisabler disabler;
        (void)task.m_space->unmap(
            top.value() - kThreadStackBytes - 4096, kThreadStackBytes + 4096, mm::UserSpace::RegionKind::Stack);
        return started.error();
    }
    return record->id;
}

Result<int> join_thread(Task& task, u32 id)
{
    InterruptDisabler disabler;
    auto* record = TaskTable::record_of(task, id);
    if (!record || id == ~0u)
        return Error::NotFound;
    if (record->thread == sched::current())
        return Error::InvalidArgument;
    while (!record->exited) {
        sched::InterruptibleWait interruptible;
        (void)task.m_thread_exits.wait();
        if (sched::current()->interrupt_pending())
            return Error::Interrupted;
    }
    int code = record->exit_code;
    *record = {};
    return code;
}

void exit_current_thread(int code)
{
    TaskTable::leave(code);
}

void exit_current_task(int code)
{
    Task* task = current_task();
    TaskTable::stop(*task, code);
    TaskTable::leave(code);
}

namespace {

// --- Faults and the way back to user mode ---------------------------------------------------------

char const* access_name(FaultInfo const& fault)
{
    return fault.execute ? "instruction fetch" : fault.write ? "write" : "read";
}

void on_user_fault(UserFault const& fault, TrapFrame& frame)
{
    Task* task = current_task();
    VERIFY(task);
    ConsoleBufferSink out;
    format(out, "task {} ({}) killed: ", task->id(), task->name());
    if (fault.kind == UserFaultKind::PageFault) {
        format(out, "{} at {:#x}: {}", access_name(fault.page), fault.page.address,
            mm::UserSpace::fault_name(mm::last_user_fault()));
    } else if (fault.kind == UserFaultKind::FloatingPointUnavailable) {
        format(out, "{}: tasks may not use floating point or SIMD registers", fault.exception_name);
    } else {
        format(out, "{} (error code {:#x})", fault.exception_name, fault.code);
    }
    format(out, "; instruction {:#x}, stack {:#x}, thread {}; the kernel and other tasks go on\n", fault.instruction,
        fault.stack_pointer, sched::current()->id());
    out.flush();
    (void)frame;
    TaskTable::stop(*task, kStatusFaulted);
}

void on_return_to_user(TrapFrame&)
{
    Task* task = current_task();
    if (task && task->is_ending()) {
        arch::enable_interrupts();
        exit_current_thread(task->status());
    }
}

} // namespace

void initialize()
{
    auto features = arch::initialize_user_mode();
    set_user_fault_handler(on_user_fault);
    set_return_to_user_hook(on_return_to_user);
    syscall::initialize();
    kprintln("task: user mode through {}; the kernel {} run user code ({}), {} touch user memory outside its "
             "copies ({}); {} address-space IDs; {} programs in the image",
        features.entry, features.execute_protection ? "cannot" : "could", arch::kExecuteProtectionName,
        features.access_protection ? "cannot" : "could", arch::kAccessProtectionName,
        features.address_space_ids ? "the CPU has" : "no", program_count());
}

} // namespace skiff::task
