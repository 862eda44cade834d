#include <kernel/timer/TimerQueue.h>

#include <lib/Verify.h>

namespace skiff::timer {

void TimerQueue::insert(TimerNode& node, u64 deadline)
{
    VERIFY(!node.armed);
    node.deadline = deadline;
    TimerNode** link = &m_head;
    while (*link && (*link)->deadline <= deadline)
        link = &(*link)->next;
    node.next = *link;
    *link = &node;
    node.armed = true;
    ++m_size;
}

bool TimerQueue::remove(TimerNode& node)
{
    if (!node.armed)
        return false;
    for (TimerNode** link = &m_head; *link; link = &(*link)->next) {
        if (*link == &node) {
            *link = node.next;
            node.next = nullptr;
            node.armed = false;
            --m_size;
            return true;
        }
    }
    VERIFY_NOT_REACHED(); // armed but not in this queue
}

TimerNode* TimerQueue::pop_expired(u64 now)
{
    if (!m_head || m_head->deadline > now)
        return nullptr;
    TimerNode* node = m_head;
    m_head = node->next;
    node->next = nullptr;
    node->armed = false;
    --m_size;
    return node;
}

} // namespace skiff::timer
