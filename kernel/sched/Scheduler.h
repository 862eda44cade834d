#pragma once

// Threads and the scheduler (LyraOS §2): created and deleted at run time, priorities changed at
// run time, preemptive priority scheduling with round robin inside a priority.
//
// - The most urgent ready thread always runs. A thread made ready by an interrupt (a packet, a
//   timer) that is more urgent than the running one takes the CPU on the way out of that
//   interrupt; one made ready by another thread takes it as soon as the waker re-enables
//   interrupts (sync/ calls sched::preempt_point()).
// - Threads of equal priority share the CPU in slices of kTimeSliceTicks ticks.
// - Priority 0 belongs to the idle thread, which halts until the next interrupt.

#include <kernel/sched/Thread.h>
#include <lib/Result.h>

namespace skiff::sched {

constexpr u64 kDefaultStackSize = 16 * 1024;
using sync::kForever;

// Turns the boot flow into the thread "main" (priority kPriorityDefault) and creates the idle
// thread; installs the tick and preempt hooks. Needs mm::initialize() (the heap) first.
void initialize();

// The new thread is ready at once; it runs when it is the most urgent. Joinable unless detached.
Result<Thread*> create_thread(char const* name, ThreadEntry entry, void* argument, u8 priority = kPriorityDefault,
    u64 stack_size = kDefaultStackSize);
// A task's thread (kernel/task/): its stack is its kernel stack, `entry` takes it to user mode.
// Switching to it loads the task's address space and makes its stack the kernel entry stack.
Result<Thread*> create_task_thread(char const* name, ThreadEntry entry, void* argument, mm::UserSpace* space,
    task::Task* task, u64 stack_size = kDefaultStackSize);
// The current thread leaves its task (its last act before exit_thread, after the task's space is
// destroyed): it no longer switches into that space.
void leave_task();
[[noreturn]] void exit_thread(int code);
// Waits for `thread` to exit, frees it and returns its exit code.
int join(Thread* thread);
// Nobody will join: the thread is freed by the idle thread after it exits.
void detach(Thread* thread);
// Frees now the detached threads that have exited (the idle thread does it when it runs): for a
// caller about to count what is held (`resources`, the end of a task) on a busy machine.
void reap_exited_threads();

Thread* current();
void yield();
void sleep_ms(u64 ms);
// Takes effect at once: a running thread that is no longer the most urgent is preempted.
void set_priority(Thread* thread, u8 priority);

// Priority inheritance, for sync::Mutex: raise `owner` to at least `priority` while a more urgent
// thread waits for it; the current thread drops what it was given when it releases the mutex.
void donate_priority(Thread* owner, u8 priority);
void drop_donated_priority();

// For sync/: with interrupts off, block the current thread (it has already put itself in a wait
// queue, or in none to sleep) until wake() or the timeout; true when the timeout ended it.
bool block_current(u64 timeout_ms);
// Makes a blocked thread ready (cancels its timeout). Safe from interrupt handlers.
void wake(Thread* thread);
// Ends the thread's interruptible wait now, and every later one at once (as a timeout would: the
// waiter re-checks and sees why). For killing a task whose thread waits in a system call.
void interrupt(Thread* thread);
// Marks the current thread's waits in its scope as ones interrupt() may end. Only waits whose
// callers can give up (a system call that returns Interrupted) are marked: never a mutex.
class InterruptibleWait {
public:
    InterruptibleWait();
    ~InterruptibleWait();
    InterruptibleWait(InterruptibleWait const&) = delete;
    InterruptibleWait& operator=(InterruptibleWait const&) = delete;

private:
    bool m_was;
};
// Switches now if a wake made a more urgent thread ready and the caller runs with interrupts on.
void preempt_point();

struct SchedulerStats {
    u64 context_switches { 0 };
    u64 preemptions { 0 }; // switches forced from the interrupt path
    u64 threads { 0 };
    u64 idle_cycles { 0 };
};
SchedulerStats stats();
// Calls `visit` for every thread, with interrupts off: keep it short (copy what you print).
void for_each_thread(void (*visit)(Thread const& thread, void* context), void* context);

// The class that owns the state; its static members are the implementation of the functions
// above (a class so that Thread can befriend it).
class Scheduler;

} // namespace skiff::sched
