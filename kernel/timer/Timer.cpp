#include <kernel/timer/Timer.h>

#include <kernel/Time.h>
#include <kernel/base/Arch.h>
#include <lib/Verify.h>

namespace skiff::timer {

namespace {
TimerQueue s_queue;       // guarded by interrupts off
u64 s_current_check = 0;  // guarded by interrupts off
u64 s_previous_check = 0; // guarded by interrupts off

constexpr u64 kNsPerMs = 1000000;
} // namespace

Timer::~Timer()
{
    cancel();
}

void Timer::start(u64 delay_ms, Callback callback, void* context)
{
    arch::InterruptDisabler disabler;
    if (m_node.armed)
        s_queue.remove(m_node);
    m_callback = callback;
    m_context = context;
    m_period_ns = 0;
    m_node.owner = this;
    s_queue.insert(m_node, time::monotonic_ns() + delay_ms * kNsPerMs);
}

void Timer::start_periodic(u64 period_ms, Callback callback, void* context)
{
    VERIFY(period_ms > 0);
    arch::InterruptDisabler disabler;
    if (m_node.armed)
        s_queue.remove(m_node);
    m_callback = callback;
    m_context = context;
    m_period_ns = period_ms * kNsPerMs;
    m_node.owner = this;
    s_queue.insert(m_node, time::monotonic_ns() + m_period_ns);
}

bool Timer::cancel()
{
    arch::InterruptDisabler disabler;
    return s_queue.remove(m_node);
}

void run_expired(u64 now)
{
    s_previous_check = s_current_check;
    s_current_check = now;
    while (TimerNode* node = s_queue.pop_expired(now)) {
        auto* timer = static_cast<Timer*>(node->owner);
        ++timer->m_fired;
        timer->m_last_deadline = node->deadline;
        // Periodic timers re-arm from their deadline, not from now, so they do not drift.
        if (timer->m_period_ns)
            s_queue.insert(timer->m_node, node->deadline + timer->m_period_ns);
        timer->m_callback(timer->m_context);
    }
}

u64 current_check_ns()
{
    return s_current_check;
}
u64 previous_check_ns()
{
    return s_previous_check;
}

usize armed_timers()
{
    arch::InterruptDisabler disabler;
    return s_queue.size();
}

} // namespace skiff::timer
