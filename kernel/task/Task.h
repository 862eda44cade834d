#pragma once

// A task: a user program running in its own address space (mm/UserSpace.h), with one or more
// threads in user mode, each a kernel thread (kernel/sched/) whose kernel stack takes its system
// calls, interrupts and faults. Started by the console's `run` (kernel/task/Tasks.cpp loads the
// ELF file), ended by the Exit call, by its last thread's ThreadExit, by `kill` or Ctrl-C, or by a
// fault it causes; whatever way it ends, everything it held is given back: every frame of its
// address space, its descriptors (sockets and rings, closed), its zero-copy buffers, its threads.
//
// Limits, each a clear error: kMaxTasks tasks at once, kMaxThreads threads per task (exited ones
// count until joined), kMaxMemoryBytes of memory per task (program, stacks, MapMemory, zero-copy
// buffers together), kMaxDescriptors descriptors.

#include <kernel/sched/Scheduler.h>
#include <kernel/sync/Mutex.h>
#include <kernel/sync/WaitQueue.h>
#include <lib/Abi.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <lib/StringView.h>
#include <mm/UserSpace.h>

namespace skiff::syscall {
class DescriptorTable; // kernel/syscall/Descriptors.h
}

namespace skiff::task {

constexpr u32 kMaxTasks = 16;
constexpr u32 kMaxThreads = 8;
constexpr u64 kMaxMemoryBytes = 16ull << 20;
constexpr u64 kMainStackBytes = 256 * 1024;
constexpr u64 kThreadStackBytes = 128 * 1024;
constexpr u64 kStackResidentBytes = 16 * 1024; // of each stack, faulted in when it is made
constexpr u32 kMaxDescriptors = abi::kMaxDescriptors;
constexpr usize kNameLength = 16;

// Exit status of a task that did not choose its own (as a shell reports a signal: 128 + number).
constexpr int kStatusInterrupted = 130; // Ctrl-C
constexpr int kStatusKilled = 137;      // `kill`
constexpr int kStatusFaulted = 139;     // a fault the kernel could not resolve

enum class TaskState : u8 {
    Running, // its threads run (or wait)
    Ending,  // killed or exiting: its threads are on their way out
    Ended,   // every thread gone, everything released; the status is final
};

struct StartOptions;
struct StartProblem;

class Task {
public:
    u32 id() const { return m_id; }
    char const* name() const { return m_name; }
    TaskState state() const { return m_state; }
    bool is_ending() const { return m_state != TaskState::Running; }
    int status() const { return m_status; }
    mm::UserSpace& space() { return *m_space; }
    // Null once the task has ended (its space destroyed).
    mm::UserSpace* space_if_any() { return m_space; }
    bool in_background() const { return m_background; }
    u32 live_threads() const { return m_live_threads; }
    u64 started_ns() const { return m_started_ns; }

    // Its threads change regions of its space only while holding this (system calls that map or
    // unmap, and calls that hand user memory to the network stack for their whole duration).
    sync::Mutex& memory_lock() { return m_memory_lock; }

    struct ThreadRecord {
        sched::Thread* thread { nullptr }; // while it runs; null once it exited
        u32 id { 0 };                      // the kernel thread's id: 0 = free record
        u32 stack_slot { 0 };
        uptr stack_top { 0 };
        uptr entry { 0 };
        u64 arguments[2] {};
        bool exited { false };
        int exit_code { 0 };
        Task* task { nullptr };
    };

private:
    friend class TaskTable;
    friend Result<Task*> start_task(StringView, Span<StringView const>, StartOptions const&, StartProblem&);
    friend bool wait_for_end(Task&, u64);
    friend Result<u32> create_thread(Task&, uptr, u64, u64);
    friend Result<int> join_thread(Task&, u32);
    u32 m_id { 0 };
    char m_name[kNameLength] {};
    TaskState m_state { TaskState::Running };
    int m_status { 0 };
    bool m_background { false };
    u32 m_references { 0 }; // the running task itself, and each waiter holding it
    mm::UserSpace* m_space { nullptr };
    sync::Mutex m_memory_lock;
    ThreadRecord m_threads[kMaxThreads];
    u32 m_live_threads { 0 };
    sync::WaitQueue m_thread_exits; // ThreadJoin waiters
    sync::WaitQueue m_ended;        // `run` in the foreground, waiting for the end
    u64 m_started_ns { 0 };

public:
    // Its sockets, rings and files, made on the first call that opens one (kernel/syscall/).
    syscall::DescriptorTable* descriptors { nullptr };
    // What it last published for the console (the Publish call; a service's counters): two buffers
    // of abi::kMaxPublishedBytes on the heap, made on the first call and freed when it ends. A call
    // fills the spare one (under the memory lock), then swaps them with interrupts off, which is how
    // readers copy `published`: a reader never sees half of one status and half of another.
    u8* published { nullptr };
    u8* publish_spare { nullptr };
    u32 published_length { 0 };
};

// What starting a program can go wrong with, said in one sentence (ElfImage's reason, or a limit).
struct StartProblem {
    char reason[192] {};
};

struct StartOptions {
    bool background { false };
    // Called once the program is loaded and before its first thread can run: what the kernel
    // gives a task to start with (the boot-time services get their listening sockets here).
    // An error abandons the start.
    Result<void> (*prepare)(Task& task, void* context) { nullptr };
    void* context { nullptr };
};

// Loads `program`'s ELF file into a new address space, puts the arguments on its stack and starts
// its first thread. The returned task holds one reference for the caller (release it with
// release_task). On failure `problem` says why.
Result<Task*> start_task(
    StringView program_name, Span<StringView const> arguments, StartOptions const& options, StartProblem& problem);
// Waits (interruptibly, up to `timeout_ms`) for the task to end; true when it has.
bool wait_for_end(Task& task, u64 timeout_ms);
void release_task(Task* task);
// Ends a task from outside (`kill`, Ctrl-C): its threads leave at their next return to user mode or
// from the wait they are in. Status kStatusKilled or kStatusInterrupted.
void kill_task(Task& task, int status);
// The task with this id (held: release_task when done), or null.
Task* find_task(u32 id);

// For `ps`, `tasks`, `resources`: every task, with interrupts off (copy what you print).
void for_each_task(void (*visit)(Task& task, void* context), void* context);
u32 task_count();
// Copies what the running task called `name` last published (Publish) into `out`, at most
// `capacity` bytes; returns the bytes it published (0: no such task, or nothing published) and its
// id in `*id`.
usize copy_published(StringView name, void* out, usize capacity, u32* id = nullptr);
// The task the current thread belongs to (null for a kernel thread).
Task* current_task();

// The system calls' side (kernel/syscall/): threads of the current task.
Result<u32> create_thread(Task& task, uptr entry, u64 argument0, u64 argument1);
Result<int> join_thread(Task& task, u32 id);
[[noreturn]] void exit_current_thread(int code);
// Exit: the whole task ends with `code` (the other threads leave as for kill).
[[noreturn]] void exit_current_task(int code);

// Installs the system-call handler and the fault and return-to-user hooks, turns on user mode,
// and prints what the CPU offers. From kernel_main, after the scheduler.
void initialize();

} // namespace skiff::task
