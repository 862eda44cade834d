#include <kernel/sync/WaitQueue.h>

#include <kernel/base/Arch.h>
#include <kernel/sched/Scheduler.h>
#include <lib/Verify.h>

namespace skiff::sync {

WaitQueue::~WaitQueue()
{
    VERIFY(is_empty());
}

void WaitQueue::append(sched::QueueLink& link)
{
    VERIFY(!link.queued);
    link.next = nullptr;
    link.prev = m_tail;
    if (m_tail)
        m_tail->next = &link;
    else
        m_head = &link;
    m_tail = &link;
    link.queued = true;
    ++m_size;
}

void WaitQueue::remove(sched::QueueLink& link)
{
    VERIFY(link.queued);
    if (link.prev)
        link.prev->next = link.next;
    else
        m_head = link.next;
    if (link.next)
        link.next->prev = link.prev;
    else
        m_tail = link.prev;
    link.next = link.prev = nullptr;
    link.queued = false;
    --m_size;
}

Result<void> WaitQueue::wait(u64 timeout_ms)
{
    VERIFY(!arch::interrupts_enabled());
    sched::Thread* self = sched::current();
    append(self->m_link);
    self->m_wait_queue = this;
    if (sched::block_current(timeout_ms))
        return Error::TimedOut; // the timeout already took it out of this queue
    return {};
}

u8 WaitQueue::highest_waiting_priority() const
{
    u8 highest = 0;
    for (sched::QueueLink* link = m_head; link; link = link->next)
        highest = max(highest, link->priority);
    return highest;
}

sched::Thread* WaitQueue::wake_best()
{
    arch::InterruptDisabler disabler;
    // The most urgent waiter; the first one found (the longest waiting) among equals.
    sched::QueueLink* best = nullptr;
    for (sched::QueueLink* link = m_head; link; link = link->next)
        if (!best || link->priority > best->priority)
            best = link;
    if (!best)
        return nullptr;
    remove(*best);
    auto* thread = static_cast<sched::Thread*>(best->owner);
    sched::wake(thread);
    return thread;
}

usize WaitQueue::wake_all()
{
    arch::InterruptDisabler disabler;
    usize woken = 0;
    while (wake_one())
        ++woken;
    return woken;
}

} // namespace skiff::sync
