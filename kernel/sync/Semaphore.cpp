#include <kernel/sync/Semaphore.h>

#include <kernel/base/Arch.h>
#include <kernel/sched/Scheduler.h>

namespace skiff::sync {

Result<void> Semaphore::wait(u64 timeout_ms)
{
    {
        arch::InterruptDisabler disabler;
        TRY(wait_for(m_waiters, timeout_ms, [this] { return m_count > 0; }));
        --m_count;
    }
    return {};
}

bool Semaphore::try_wait()
{
    arch::InterruptDisabler disabler;
    if (m_count == 0)
        return false;
    --m_count;
    return true;
}

void Semaphore::post()
{
    {
        arch::InterruptDisabler disabler;
        ++m_count;
        m_waiters.wake_one();
    }
    sched::preempt_point();
}

} // namespace skiff::sync
