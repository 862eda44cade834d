// The scheduler: context switches, the run queue, preemption from the interrupt path, thread
// lifetime. Policy lives in RunQueue.h (host-tested); this file applies it to real threads.

#include <kernel/sched/Scheduler.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <kernel/base/Interrupts.h>
#include <kernel/base/Panic.h>
#include <kernel/sync/WaitQueue.h>
#include <kernel/timer/Timer.h>
#include <lib/Verify.h>
#include <mm/Memory.h>

extern "C" char boot_stack_top[];

namespace skiff::sched {

using arch::InterruptDisabler;

class Scheduler {
public:
    // All guarded by interrupts off (one CPU).
    static inline Thread* s_current = nullptr;
    static inline Thread* s_idle = nullptr;
    static inline RunQueue s_ready;
    static inline bool s_need_resched = false; // a wake or the tick asks the running thread to yield
    static inline Thread* s_all = nullptr;
    static inline Thread* s_zombies = nullptr;
    static inline u32 s_next_id = 0;
    static inline u64 s_last_switch_cycles = 0;
    static inline SchedulerStats s_stats;

    static Thread* owner(QueueLink* link) { return static_cast<Thread*>(link->owner); }

    // The current thread's state is already set (and, if Ready, it is queued): run the most urgent
    // ready thread, which may be the current one.
    static void switch_to_next()
    {
        QueueLink* link = s_ready.pop_highest();
        VERIFY(link); // the idle thread is always ready when it is not running
        switch_to(owner(link));
    }

    // `next` has just left the run queue; the current thread's state is already set.
    static void switch_to(Thread* next)
    {
        Thread* previous = s_current;
        if (next == previous) {
            previous->m_state = ThreadState::Running;
            return;
        }
        u64 now = arch::cycle_counter();
        previous->m_cpu_cycles += now - s_last_switch_cycles;
        s_last_switch_cycles = now;
        next->m_state = ThreadState::Running;
        // A thread whose slice ran out starts a new one; a thread that a more urgent one cut short
        // finishes the rest of its slice (otherwise frequent wake-ups of, say, the network thread
        // would hand whoever they interrupt extra CPU time).
        if (next->m_slice_left == 0)
            next->m_slice_left = kTimeSliceTicks;
        ++next->m_switches;
        ++s_stats.context_switches;
        if (next->m_user_space) {
            // A task's thread: interrupts and system calls in user mode land on its stack, in its
            // address space (kernel threads keep whatever is loaded: the kernel's half is shared).
            arch::set_kernel_entry_stack(next->m_stack_base + next->m_stack_size);
            mm::activate_user_space(next->m_user_space);
        }
        s_current = next;
        skiff_switch_context(&previous->m_saved_sp, next->m_saved_sp);
        // Back on `previous`, switched in again by someone else's switch_to().
    }

    static void make_ready(Thread* thread)
    {
        thread->m_state = ThreadState::Ready;
        thread->m_slice_left = kTimeSliceTicks; // a new turn after blocking
        s_ready.push_back(thread->m_link);
        if (thread->priority() > s_current->priority())
            s_need_resched = true;
    }

    // Interrupts off. Gives the CPU away if the policy says so.
    static bool maybe_preempt(bool from_interrupt)
    {
        if (!s_need_resched)
            return false;
        s_need_resched = false;
        Thread* current = s_current;
        VERIFY(current->m_state == ThreadState::Running);
        bool expired = current->m_slice_left == 0;
        // The policy (host-tested): give way or not, and where the current thread queues.
        QueueLink* next = s_ready.preempt(current->m_link, expired);
        if (!next) {
            if (expired)
                current->m_slice_left = kTimeSliceTicks;
            return false;
        }
        current->m_state = ThreadState::Ready;
        if (from_interrupt)
            ++s_stats.preemptions;
        switch_to(owner(next));
        return true;
    }

    // Makes the effective priority max(base, donated) and re-sorts the thread where it is queued.
    static void apply_priority(Thread* thread)
    {
        u8 priority = max(thread->m_base_priority, thread->m_donated_priority);
        Thread* current = s_current;
        if (thread->m_state == ThreadState::Ready) {
            s_ready.remove(thread->m_link);
            thread->m_link.priority = priority;
            s_ready.push_back(thread->m_link);
            if (priority > current->priority())
                s_need_resched = true;
        } else {
            // Running: takes effect at the next decision. Blocked: wait queues read the priority
            // when they pick whom to wake.
            thread->m_link.priority = priority;
            if (thread == current && s_ready.highest_priority() > priority)
                s_need_resched = true;
        }
    }

    static void on_tick()
    {
        Thread* current = s_current;
        if (current->m_slice_left > 0 && --current->m_slice_left == 0)
            s_need_resched = true;
        timer::run_expired(time::monotonic_ns());
    }

    static void on_interrupt_exit() { maybe_preempt(true); }

    static void timeout_expired(void* context)
    {
        auto* thread = static_cast<Thread*>(context);
        if (thread->m_state != ThreadState::Blocked)
            return;
        end_wait(thread);
    }

    // Takes a blocked thread off its wait queue (if any) and makes it ready, its wait having ended
    // without a wake: a timeout or an interrupt.
    static void end_wait(Thread* thread)
    {
        thread->m_timed_out = true;
        leave_wait_queue(thread);
        make_ready(thread);
    }

    static void leave_wait_queue(Thread* thread)
    {
        if (thread->m_wait_queue) {
            thread->m_wait_queue->remove(thread->m_link);
            thread->m_wait_queue = nullptr;
        }
    }

    static void join_task(Thread* thread, mm::UserSpace* space, task::Task* task)
    {
        thread->m_user_space = space;
        thread->m_task = task;
    }

    static void unlink_from_all(Thread* thread)
    {
        for (Thread** link = &s_all; *link; link = &(*link)->m_all_next) {
            if (*link == thread) {
                *link = thread->m_all_next;
                --s_stats.threads;
                return;
            }
        }
        VERIFY_NOT_REACHED();
    }

    static void destroy(Thread* thread)
    {
        VERIFY(thread->m_state == ThreadState::Dead && thread != s_current);
        unlink_from_all(thread);
        if (thread->m_owns_stack)
            mm::free_area(thread->m_stack_base, thread->m_stack_size, { .guard_below = true });
        delete thread;
    }

    static void reap()
    {
        InterruptDisabler disabler;
        while (Thread* zombie = s_zombies) {
            s_zombies = zombie->m_zombie_next;
            destroy(zombie);
        }
    }

    static Result<Thread*> create(char const* name, ThreadEntry entry, void* argument, u8 priority, u64 stack_size)
    {
        auto* thread = new (std::nothrow) Thread;
        if (!thread)
            return Error::NoMemory;
        stack_size = align_up(stack_size, 4096);
        auto stack = mm::allocate_area(stack_size, { .guard_below = true });
        if (stack.is_error()) {
            delete thread;
            return stack.error();
        }
        usize i = 0;
        for (; name[i] && i + 1 < Thread::kNameLength; ++i)
            thread->m_name[i] = name[i];
        thread->m_name[i] = 0;
        thread->m_stack_base = stack.value();
        thread->m_stack_size = stack_size;
        thread->m_entry = entry;
        thread->m_argument = argument;
        thread->m_link.owner = thread;
        thread->m_link.priority = priority;
        thread->m_base_priority = priority;
        thread->m_saved_sp = arch::prepare_thread_stack(thread->m_stack_base + stack_size, thread);
        {
            InterruptDisabler disabler;
            thread->m_id = s_next_id++;
            thread->m_all_next = s_all;
            s_all = thread;
            ++s_stats.threads;
            make_ready(thread);
        }
        return thread;
    }

    [[noreturn]] static void start(Thread* thread)
    {
        arch::enable_interrupts();
        thread->m_entry(thread->m_argument);
        exit_thread(0);
    }

    [[noreturn]] static void idle_loop(void*)
    {
        for (;;) {
            if (s_zombies)
                reap();
            // Enabling and waiting as one step, so a wake-up interrupt between them is not missed.
            arch::enable_interrupts_and_wait();
        }
    }
};

u64 Thread::stack_high_water() const
{
    auto const* word = reinterpret_cast<u64 const*>(m_stack_base);
    auto const* top = reinterpret_cast<u64 const*>(m_stack_base + m_stack_size);
    while (word < top && *word == 0)
        ++word;
    return static_cast<u64>(reinterpret_cast<uptr>(top) - reinterpret_cast<uptr>(word));
}

char const* state_name(ThreadState state)
{
    switch (state) {
    case ThreadState::Running: return "running";
    case ThreadState::Ready: return "ready";
    case ThreadState::Blocked: return "blocked";
    case ThreadState::Dead: return "dead";
    }
    return "?";
}

void initialize()
{
    VERIFY(!Scheduler::s_current);
    auto* boot = new Thread;
    char const name[] = "main";
    __builtin_memcpy(boot->m_name, name, sizeof(name));
    boot->m_id = Scheduler::s_next_id++;
    boot->m_state = ThreadState::Running;
    boot->m_link.owner = boot;
    boot->m_link.priority = kPriorityDefault;
    boot->m_base_priority = kPriorityDefault;
    boot->m_stack_base = mm::boot_stack_guard_page() + 4096;
    boot->m_stack_size = reinterpret_cast<uptr>(boot_stack_top) - boot->m_stack_base;
    boot->m_owns_stack = false;
    boot->m_switches = 1;
    Scheduler::s_current = boot;
    Scheduler::s_all = boot;
    Scheduler::s_stats.threads = 1;
    Scheduler::s_last_switch_cycles = arch::cycle_counter();
    Scheduler::s_idle = MUST(Scheduler::create(
        "idle", Scheduler::idle_loop, nullptr, kPriorityIdle, 8192)); // at boot there is memory for one small stack
    detach(Scheduler::s_idle);
    set_tick_hook(Scheduler::on_tick);
    set_preempt_hook(Scheduler::on_interrupt_exit);
}

Result<Thread*> create_task_thread(
    char const* name, ThreadEntry entry, void* argument, mm::UserSpace* space, task::Task* task, u64 stack_size)
{
    VERIFY(space && task);
    if (Scheduler::s_zombies)
        Scheduler::reap();
    Thread* thread;
    {
        // Created blocked-free but not yet runnable: the space and task are set before it can run.
        InterruptDisabler disabler;
        thread = TRY(Scheduler::create(name, entry, argument, kPriorityDefault, stack_size));
        Scheduler::join_task(thread, space, task);
    }
    preempt_point();
    return thread;
}

void leave_task()
{
    InterruptDisabler disabler;
    Thread* current = Scheduler::s_current;
    current->m_user_space = nullptr;
    current->m_task = nullptr;
}

void interrupt(Thread* thread)
{
    InterruptDisabler disabler;
    thread->m_interrupt_pending = true;
    if (thread->m_state == ThreadState::Blocked && thread->m_interruptible) {
        thread->m_timeout.cancel();
        Scheduler::end_wait(thread);
    }
}

InterruptibleWait::InterruptibleWait()
{
    InterruptDisabler disabler;
    m_was = Scheduler::s_current->m_interruptible;
    Scheduler::s_current->m_interruptible = true;
}

InterruptibleWait::~InterruptibleWait()
{
    InterruptDisabler disabler;
    Scheduler::s_current->m_interruptible = m_was;
}

Result<Thread*> create_thread(char const* name, ThreadEntry entry, void* argument, u8 priority, u64 stack_size)
{
    VERIFY(priority >= kPriorityLowest && priority <= kPriorityHighest);
    if (Scheduler::s_zombies)
        Scheduler::reap();
    Thread* thread = TRY(Scheduler::create(name, entry, argument, priority, stack_size));
    preempt_point();
    return thread;
}

void exit_thread(int code)
{
    arch::disable_interrupts();
    Thread* current = Scheduler::s_current;
    VERIFY(current != Scheduler::s_idle);
    current->m_exit_code = code;
    current->m_state = ThreadState::Dead;
    current->m_joiners.wake_all();
    if (current->m_detached) {
        current->m_zombie_next = Scheduler::s_zombies;
        Scheduler::s_zombies = current;
    }
    Scheduler::switch_to_next();
    VERIFY_NOT_REACHED();
}

int join(Thread* thread)
{
    int code;
    {
        InterruptDisabler disabler;
        VERIFY(thread != Scheduler::s_current && !thread->m_detached);
        while (thread->m_state != ThreadState::Dead)
            MUST(thread->m_joiners.wait()); // no timeout: cannot time out
        code = thread->m_exit_code;
        Scheduler::destroy(thread);
    }
    return code;
}

void detach(Thread* thread)
{
    InterruptDisabler disabler;
    VERIFY(!thread->m_detached);
    if (thread->m_state == ThreadState::Dead) {
        Scheduler::destroy(thread);
        return;
    }
    thread->m_detached = true;
}

void reap_exited_threads()
{
    if (Scheduler::s_zombies)
        Scheduler::reap();
}

Thread* current()
{
    return Scheduler::s_current;
}

void yield()
{
    InterruptDisabler disabler;
    Thread* current = Scheduler::s_current;
    current->m_state = ThreadState::Ready;
    current->m_slice_left = kTimeSliceTicks; // gives up the rest of its turn
    Scheduler::s_ready.push_back(current->m_link);
    Scheduler::switch_to_next();
}

void sleep_ms(u64 ms)
{
    InterruptDisabler disabler;
    block_current(ms == 0 ? 1 : ms);
}

void set_priority(Thread* thread, u8 priority)
{
    VERIFY(priority <= kPriorityHighest);
    {
        InterruptDisabler disabler;
        VERIFY((thread == Scheduler::s_idle) == (priority == kPriorityIdle));
        thread->m_base_priority = priority;
        Scheduler::apply_priority(thread);
    }
    preempt_point();
}

void donate_priority(Thread* owner, u8 priority)
{
    InterruptDisabler disabler;
    if (priority <= owner->m_donated_priority)
        return;
    owner->m_donated_priority = priority;
    Scheduler::apply_priority(owner);
}

void drop_donated_priority()
{
    InterruptDisabler disabler;
    Thread* current = Scheduler::s_current;
    if (!current->m_donated_priority)
        return;
    current->m_donated_priority = 0;
    Scheduler::apply_priority(current);
}

bool block_current(u64 timeout_ms)
{
    VERIFY(!arch::interrupts_enabled());
    Thread* current = Scheduler::s_current;
    VERIFY(current != Scheduler::s_idle);
    if (current->m_interruptible && current->m_interrupt_pending) {
        // Interrupted already: the wait ends before it begins.
        Scheduler::leave_wait_queue(current);
        current->m_timed_out = true;
        return true;
    }
    current->m_state = ThreadState::Blocked;
    current->m_timed_out = false;
    if (timeout_ms != kForever)
        current->m_timeout.start(timeout_ms, Scheduler::timeout_expired, current);
    Scheduler::switch_to_next();
    current->m_timeout.cancel();
    return current->m_timed_out;
}

void wake(Thread* thread)
{
    InterruptDisabler disabler;
    VERIFY(thread->m_state == ThreadState::Blocked);
    thread->m_timeout.cancel();
    thread->m_wait_queue = nullptr;
    Scheduler::make_ready(thread);
}

void preempt_point()
{
    if (!arch::interrupts_enabled())
        return;
    InterruptDisabler disabler;
    Scheduler::maybe_preempt(false);
}

SchedulerStats stats()
{
    InterruptDisabler disabler;
    SchedulerStats result = Scheduler::s_stats;
    result.idle_cycles = Scheduler::s_idle ? Scheduler::s_idle->m_cpu_cycles : 0;
    return result;
}

void for_each_thread(void (*visit)(Thread const& thread, void* context), void* context)
{
    InterruptDisabler disabler;
    // Charge the running thread for its current slice so its CPU time is up to date.
    u64 now = arch::cycle_counter();
    Scheduler::s_current->m_cpu_cycles += now - Scheduler::s_last_switch_cycles;
    Scheduler::s_last_switch_cycles = now;
    for (Thread* thread = Scheduler::s_all; thread; thread = thread->m_all_next)
        visit(*thread, context);
}

} // namespace skiff::sched

// Where every new thread begins (from skiff_thread_trampoline), with interrupts still off from
// the switch that brought it here.
extern "C" [[noreturn]] void skiff_thread_start(skiff::sched::Thread* thread)
{
    skiff::sched::Scheduler::start(thread);
}
