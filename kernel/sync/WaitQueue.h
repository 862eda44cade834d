#pragma once

// A queue of blocked threads, the building block of every blocking primitive (semaphores,
// mutexes, message queues, join). The caller holds interrupts off, checks its condition, and only
// then waits: with one CPU and interrupts off between the check and the block, no wake-up can be
// lost. Waking takes the most urgent waiter, the longest-waiting among equals.

#include <kernel/Time.h>
#include <kernel/sched/RunQueue.h>
#include <lib/Result.h>
#include <lib/Types.h>

namespace skiff::sched {
class Thread;
class Scheduler;
} // namespace skiff::sched

namespace skiff::sync {

constexpr u64 kForever = ~0ull;

class WaitQueue {
public:
    WaitQueue() = default;
    WaitQueue(WaitQueue const&) = delete;
    WaitQueue& operator=(WaitQueue const&) = delete;
    ~WaitQueue();

    // Interrupts must be off. Blocks the current thread until woken (Ok) or until `timeout_ms`
    // passes (Error::TimedOut). The caller re-checks its condition afterwards.
    Result<void> wait(u64 timeout_ms = kForever);
    // Safe from interrupt handlers. Return whether / how many threads were woken.
    bool wake_one() { return wake_best() != nullptr; }
    // Wakes the waiter wake_one() would and returns it (nullptr when none): for hand-over (Mutex).
    sched::Thread* wake_best();
    usize wake_all();
    bool is_empty() const { return m_head == nullptr; }
    // Priority of the most urgent waiter, 0 when none.
    u8 highest_waiting_priority() const;
    usize size() const { return m_size; }

private:
    friend class sched::Scheduler;
    void append(sched::QueueLink& link);
    void remove(sched::QueueLink& link); // a waiter that timed out

    sched::QueueLink* m_head { nullptr }; // guarded by interrupts off
    sched::QueueLink* m_tail { nullptr };
    usize m_size { 0 };
};

// Interrupts off. Waits on `queue` until `ready()` holds, waiting again after a wake-up that found
// the condition already taken by someone else, for at most `timeout_ms` in all (Error::TimedOut).
template<typename Ready>
Result<void> wait_for(WaitQueue& queue, u64 timeout_ms, Ready ready)
{
    constexpr u64 kNsPerMs = 1000000;
    u64 deadline = timeout_ms == kForever ? kForever : time::monotonic_ns() + timeout_ms * kNsPerMs;
    while (!ready()) {
        u64 left_ms = kForever;
        if (deadline != kForever) {
            u64 now = time::monotonic_ns();
            if (now >= deadline)
                return Error::TimedOut;
            left_ms = (deadline - now + kNsPerMs - 1) / kNsPerMs;
        }
        auto result = queue.wait(left_ms);
        if (result.is_error() && !ready())
            return result.error();
    }
    return {};
}

} // namespace skiff::sync
