// Console commands for tasks (kernel/task/): run, kill, programs, tasks.
//
//   run [-b] PROGRAM [ARGS...]   starts a user program; in the foreground the console waits for it
//                                (its output appears as it prints; Ctrl-C ends it) and the
//                                command's status is the task's; -b starts it in the background
//   kill ID                      ends the task with that id (`tasks`, `ps`)
//   programs                     what `run` can start: the programs packed into the image
//   tasks                        the tasks, their threads and memory, and what user mode has

#include <apps/Apps.h>
#include <apps/TaskCommands.h>
#include <kernel/base/Arch.h>
#include <kernel/base/ConsoleDevice.h>
#include <kernel/base/Print.h>
#include <kernel/console/Command.h>
#include <kernel/syscall/SystemCalls.h>
#include <kernel/task/Programs.h>
#include <kernel/task/Task.h>
#include <mm/Memory.h>

namespace skiff::apps {

namespace {

using console::Arguments;

constexpr u8 kControlC = 0x03;
// How often the waiting console looks at its input for Ctrl-C.
constexpr u64 kInputPollMs = 50;

int report_start_failure(char const* who, task::StartProblem const& problem)
{
    kprintln("{}: {}", who, problem.reason);
    return 1;
}

} // namespace

int run_program(StringView name, Span<StringView const> arguments, bool background)
{
    task::StartProblem problem;
    auto started = task::start_task(name, arguments, { background }, problem);
    if (started.is_error())
        return report_start_failure("run", problem);
    task::Task* task = started.value();
    if (background) {
        kprintln("[{}] {} started", task->id(), task->name());
        task::release_task(task);
        return 0;
    }
    // The foreground: wait for the end, reading the console for Ctrl-C meanwhile (anything else
    // typed is dropped: programs do not read the console).
    ConsoleDevice* device = console_device();
    bool interrupted = false;
    while (!task::wait_for_end(*task, kInputPollMs)) {
        u8 byte;
        while (device && device->read_byte(byte)) {
            if (byte == kControlC && !interrupted) {
                interrupted = true;
                kprintln("^C");
                task::kill_task(*task, task::kStatusInterrupted);
            }
        }
    }
    int status = task->status();
    task::release_task(task);
    return status;
}

namespace {

int run_command(Arguments const& arguments)
{
    usize first = 1;
    bool background = false;
    if (arguments[1] == "-b") {
        background = true;
        ++first;
    }
    if (arguments.count() <= first) {
        kprintln("usage: run [-b] PROGRAM [ARGS...]   (`programs` lists them)");
        return 2;
    }
    StringView words[console::Arguments::kMaxWords];
    usize count = 0;
    for (usize i = first; i < arguments.count(); ++i)
        words[count++] = arguments[i];
    return run_program(words[0], Span<StringView const>(words, count), background);
}

int kill_command(Arguments const& arguments)
{
    u64 id;
    if (arguments.count() != 2 || !parse_u64(arguments[1], id)) {
        kprintln("usage: kill ID   (the task's id, as `tasks` and `ps` show it)");
        return 2;
    }
    task::Task* task = task::find_task(static_cast<u32>(id));
    if (!task) {
        kprintln("kill: no task {}", id);
        return 1;
    }
    task::kill_task(*task, task::kStatusKilled);
    // It ends at its threads' next return to user mode or out of their waits: at the latest the
    // next timer tick. Wait a little so the prompt comes after the end.
    bool ended = task::wait_for_end(*task, 1000);
    kprintln("kill: task {} ({}) {}", task->id(), task->name(), ended ? "killed" : "is ending");
    task::release_task(task);
    return 0;
}

int programs_command(Arguments const&)
{
    for (usize i = 0; i < task::program_count(); ++i) {
        auto const& program = task::program(i);
        kprintln("  {:<12} {:>7} bytes", program.name, program.size);
    }
    kprintln("{} programs (run PROGRAM [ARGS...])", task::program_count());
    return 0;
}

struct TaskRow {
    u32 id;
    char name[task::kNameLength];
    char const* state;
    u32 threads;
    u64 resident_kib;
    u64 reserved_kib;
    int status;
    bool background;
};

struct TaskRows {
    TaskRow rows[task::kMaxTasks];
    u32 count { 0 };
};

char const* state_name(task::TaskState state)
{
    switch (state) {
    case task::TaskState::Running: return "running";
    case task::TaskState::Ending: return "ending";
    case task::TaskState::Ended: return "ended";
    }
    return "?";
}

int tasks_command(Arguments const&)
{
    TaskRows table;
    task::for_each_task(
        [](task::Task& task, void* context) {
            auto* table = static_cast<TaskRows*>(context);
            auto& row = table->rows[table->count++];
            row.id = task.id();
            __builtin_memcpy(row.name, task.name(), sizeof(row.name));
            row.state = state_name(task.state());
            row.threads = task.live_threads();
            auto* space = task.space_if_any();
            row.resident_kib = space ? space->resident_pages() * 4 : 0;
            row.reserved_kib = space ? space->reserved_bytes() / 1024 : 0;
            row.status = task.status();
            row.background = task.in_background();
        },
        &table);
    kprintln("  ID  NAME             STATE    THREADS  MEMORY (resident / reserved KiB)");
    for (u32 i = 0; i < table.count; ++i) {
        auto const& row = table.rows[i];
        kprintln("{:4}  {:<15}  {:<8} {:7}  {} / {}{}", row.id, row.name, row.state, row.threads, row.resident_kib,
            row.reserved_kib, row.background ? "  (background)" : "");
    }
    auto features = arch::user_mode_features();
    kprintln("{} tasks (at most {}); each at most {} threads, {} MiB; {} system calls served; user mode through {}, "
             "{} {}, {} {}, address-space IDs {}",
        table.count, task::kMaxTasks, task::kMaxThreads, task::kMaxMemoryBytes >> 20, syscall::call_count(),
        features.entry, arch::kExecuteProtectionName, features.execute_protection ? "on" : "absent",
        arch::kAccessProtectionName, features.access_protection ? "on" : "absent",
        features.address_space_ids ? "available (unused)" : "absent");
    return 0;
}

} // namespace

void register_task_commands()
{
    console::register_command({ "run", "run [-b] PROGRAM [ARGS...]",
        "start a user program as a task (foreground: Ctrl-C ends it; -b: background)", run_command });
    console::register_command({ "kill", "kill ID", "end the task with that id", kill_command });
    console::register_command({ "programs", "programs", "the user programs `run` can start", programs_command });
    console::register_command({ "tasks", "tasks", "tasks: state, threads, memory; what user mode has", tasks_command });
}

} // namespace skiff::apps
