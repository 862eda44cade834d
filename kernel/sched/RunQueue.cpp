#include <kernel/sched/RunQueue.h>

#include <lib/Verify.h>

namespace skiff::sched {

void RunQueue::push_back(QueueLink& link)
{
    VERIFY(!link.queued && link.priority < kPriorityCount);
    u8 p = link.priority;
    link.next = nullptr;
    link.prev = m_tail[p];
    if (m_tail[p])
        m_tail[p]->next = &link;
    else
        m_head[p] = &link;
    m_tail[p] = &link;
    m_nonempty |= 1u << p;
    link.queued = true;
    ++m_size;
}

void RunQueue::push_front(QueueLink& link)
{
    VERIFY(!link.queued && link.priority < kPriorityCount);
    u8 p = link.priority;
    link.prev = nullptr;
    link.next = m_head[p];
    if (m_head[p])
        m_head[p]->prev = &link;
    else
        m_tail[p] = &link;
    m_head[p] = &link;
    m_nonempty |= 1u << p;
    link.queued = true;
    ++m_size;
}

void RunQueue::remove(QueueLink& link)
{
    VERIFY(link.queued);
    u8 p = link.priority;
    if (link.prev)
        link.prev->next = link.next;
    else
        m_head[p] = link.next;
    if (link.next)
        link.next->prev = link.prev;
    else
        m_tail[p] = link.prev;
    if (!m_head[p])
        m_nonempty &= ~(1u << p);
    link.next = link.prev = nullptr;
    link.queued = false;
    --m_size;
}

QueueLink* RunQueue::pop_highest()
{
    int p = highest_priority();
    if (p < 0)
        return nullptr;
    QueueLink* link = m_head[p];
    remove(*link);
    return link;
}

QueueLink* RunQueue::preempt(QueueLink& running, bool slice_expired)
{
    VERIFY(!running.queued);
    if (!should_preempt(running.priority, slice_expired, highest_priority()))
        return nullptr;
    if (slice_expired)
        push_back(running);
    else
        push_front(running);
    return pop_highest();
}

} // namespace skiff::sched
