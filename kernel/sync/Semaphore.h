#pragma once

// A counting semaphore. post() is safe from interrupt handlers: that is how a driver's interrupt
// wakes its thread.

#include <kernel/sync/WaitQueue.h>
#include <lib/Result.h>

namespace skiff::sync {

class Semaphore {
public:
    explicit Semaphore(u32 initial = 0)
        : m_count(initial)
    {
    }
    // Takes one unit, blocking up to `timeout_ms`; Error::TimedOut when none came.
    Result<void> wait(u64 timeout_ms = kForever);
    bool try_wait();
    void post();
    u32 count() const { return m_count; }
    usize waiters() const { return m_waiters.size(); }

private:
    u32 m_count;         // guarded by interrupts off
    WaitQueue m_waiters; // guarded by interrupts off
};

} // namespace skiff::sync
