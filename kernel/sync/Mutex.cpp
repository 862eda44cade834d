#include <kernel/sync/Mutex.h>

#include <kernel/Arch.h>
#include <kernel/sched/Scheduler.h>
#include <lib/Verify.h>

namespace skiff::sync {

Result<void> Mutex::lock(u64 timeout_ms)
{
    arch::InterruptDisabler disabler;
    sched::Thread* self = sched::current();
    VERIFY(m_owner != self); // not recursive
    if (!m_owner) {
        m_owner = self;
        return {};
    }
    ++m_contentions;
    // unlock() hands ownership over before waking us, so one wake-up is enough.
    auto result = m_waiters.wait(timeout_ms);
    if (m_owner == self)
        return {}; // handed over just as the timeout fired: we own it after all
    VERIFY(result.is_error());
    return result.error();
}

bool Mutex::try_lock()
{
    arch::InterruptDisabler disabler;
    if (m_owner)
        return false;
    m_owner = sched::current();
    return true;
}

void Mutex::unlock()
{
    {
        arch::InterruptDisabler disabler;
        VERIFY(m_owner == sched::current());
        m_owner = nullptr;
        // Hand over to the most urgent waiter (or nobody).
        m_owner = m_waiters.wake_best();
    }
    sched::preempt_point();
}

bool Mutex::is_held_by_current() const
{
    arch::InterruptDisabler disabler;
    return m_owner == sched::current();
}

} // namespace skiff::sync
