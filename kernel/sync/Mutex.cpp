#include <kernel/sync/Mutex.h>

#include <kernel/base/Arch.h>
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
    // Priority inheritance: while we wait, the owner runs at least at our priority, so a thread
    // of middling priority cannot keep it (and therefore us) off the CPU.
    if (m_owner->priority() < self->priority())
        sched::donate_priority(m_owner, self->priority());
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
        sched::drop_donated_priority();
        // Hand over to the most urgent waiter (or nobody); whoever still waits donates to the
        // new owner.
        m_owner = m_waiters.wake_best();
        if (m_owner) {
            u8 highest_waiting = m_waiters.highest_waiting_priority();
            if (highest_waiting > m_owner->priority())
                sched::donate_priority(m_owner, highest_waiting);
        }
    }
    sched::preempt_point();
}

bool Mutex::is_held_by_current() const
{
    arch::InterruptDisabler disabler;
    return m_owner == sched::current();
}

} // namespace skiff::sync
