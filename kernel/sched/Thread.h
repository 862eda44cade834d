#pragma once

// A kernel thread: its own stack (with a guard page below it), a priority, and the links that put
// it in the run queue or one wait queue. Created by sched::create_thread(), reclaimed by join()
// or, when detached, by the idle thread after it exits.

#include <kernel/sched/RunQueue.h>
#include <kernel/sync/WaitQueue.h>
#include <kernel/timer/Timer.h>
#include <lib/Types.h>

namespace skiff::mm {
class UserSpace;
}
namespace skiff::task {
class Task;
}

namespace skiff::sched {

enum class ThreadState : u8 {
    Running, // on the CPU
    Ready,   // in the run queue
    Blocked, // in a wait queue, or sleeping (no queue), maybe with a timeout
    Dead,    // exited; waiting to be joined or reaped
};
char const* state_name(ThreadState state);

using ThreadEntry = void (*)(void* argument);
struct SchedulerStats;
[[noreturn]] void exit_thread(int code);

class Thread {
public:
    static constexpr usize kNameLength = 24;

    u32 id() const { return m_id; }
    char const* name() const { return m_name; }
    // The priority the scheduler uses: the base priority, raised while a more urgent thread waits
    // for a mutex this one holds (priority inheritance).
    u8 priority() const { return m_link.priority; }
    u8 base_priority() const { return m_base_priority; }
    ThreadState state() const { return m_state; }
    u64 cpu_cycles() const { return m_cpu_cycles; }
    u64 switches() const { return m_switches; }
    uptr stack_base() const { return m_stack_base; }
    u64 stack_size() const { return m_stack_size; }
    // Deepest the stack has ever been, in bytes: stacks start zeroed, so this is the distance from
    // the top to the lowest word that is not zero (a high-water mark, as RTOSes report it).
    u64 stack_high_water() const;
    int exit_code() const { return m_exit_code; }
    // Blocked in no wait queue: in sleep_ms().
    bool is_sleeping() const { return m_state == ThreadState::Blocked && !m_wait_queue; }
    // What `ps` shows: the state, with "sleeping" told apart from "blocked" (in a wait queue).
    char const* state_text() const { return is_sleeping() ? "sleeping" : state_name(m_state); }
    // A task's thread runs in user mode in the task's address space (kernel/task/); null for a
    // kernel thread, which runs in whatever address space is loaded (the kernel's half is shared).
    mm::UserSpace* user_space() const { return m_user_space; }
    task::Task* task() const { return m_task; }
    // A wait that interrupt() may end (the task is being killed).
    bool interrupt_pending() const { return m_interrupt_pending; }

private:
    // The scheduler's implementation (kernel/sched/Scheduler.cpp) and the wait queues are the only
    // code that touches a thread's state.
    friend class Scheduler;
    friend class sync::WaitQueue;
    friend void initialize();
    friend void exit_thread(int code);
    friend int join(Thread* thread);
    friend void detach(Thread* thread);
    friend void yield();
    friend void set_priority(Thread* thread, u8 priority);
    friend void donate_priority(Thread* owner, u8 priority);
    friend void drop_donated_priority();
    friend bool block_current(u64 timeout_ms);
    friend void wake(Thread* thread);
    friend void interrupt(Thread* thread);
    friend class InterruptibleWait;
    friend void leave_task();
    friend SchedulerStats stats();
    friend void for_each_thread(void (*visit)(Thread const& thread, void* context), void* context);

    // Everything below is guarded by interrupts off (one CPU).
    u64 m_saved_sp { 0 }; // valid while not running; skiff_switch_context saves and loads it
    QueueLink m_link;     // in the run queue, or in the wait queue m_wait_queue
    u32 m_id { 0 };
    ThreadState m_state { ThreadState::Ready };
    char m_name[kNameLength] {};
    uptr m_stack_base { 0 }; // lowest usable byte; the guard page sits just below
    u64 m_stack_size { 0 };
    bool m_owns_stack { true }; // false for the boot thread, whose stack belongs to the image
    ThreadEntry m_entry { nullptr };
    void* m_argument { nullptr };
    u64 m_cpu_cycles { 0 };
    u64 m_switches { 0 }; // times switched in
    u32 m_slice_left { kTimeSliceTicks };
    u8 m_base_priority { kPriorityDefault }; // as created or set by set_priority()
    u8 m_donated_priority { 0 };             // from mutex waiters; 0 when none
    bool m_detached { false };
    bool m_timed_out { false };
    int m_exit_code { 0 };
    sync::WaitQueue* m_wait_queue { nullptr }; // the queue it is blocked in, if any
    timer::Timer m_timeout;                    // wakes it from a timed block or a sleep
    Thread* m_all_next { nullptr };            // every thread, for `ps`
    Thread* m_zombie_next { nullptr };         // detached threads that exited
    sync::WaitQueue m_joiners;                 // threads in join() on this one
    mm::UserSpace* m_user_space { nullptr };   // set at creation for a task's thread
    task::Task* m_task { nullptr };
    bool m_interruptible { false };     // in a wait interrupt() may end
    bool m_interrupt_pending { false }; // interrupt() was called: interruptible waits end at once
};

} // namespace skiff::sched
