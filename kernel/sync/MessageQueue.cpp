#include <kernel/sync/MessageQueue.h>

#include <kernel/base/Arch.h>
#include <kernel/sched/Scheduler.h>
#include <lib/Verify.h>

namespace skiff::sync {

Result<MessageQueue*> MessageQueue::create(u32 message_size, u32 capacity)
{
    if (message_size == 0 || capacity == 0)
        return Error::InvalidArgument;
    auto* storage = new (std::nothrow) u8[static_cast<usize>(message_size) * capacity];
    if (!storage)
        return Error::NoMemory;
    auto* queue = new (std::nothrow) MessageQueue(storage, message_size, capacity);
    if (!queue) {
        delete[] storage;
        return Error::NoMemory;
    }
    return queue;
}

MessageQueue::~MessageQueue()
{
    delete[] m_storage;
}

void MessageQueue::push(void const* message)
{
    u32 tail = (m_head + m_count) % m_capacity;
    __builtin_memcpy(m_storage + static_cast<usize>(tail) * m_message_size, message, m_message_size);
    ++m_count;
    m_not_empty.wake_one();
}

void MessageQueue::pop(void* message)
{
    __builtin_memcpy(message, m_storage + static_cast<usize>(m_head) * m_message_size, m_message_size);
    m_head = (m_head + 1) % m_capacity;
    --m_count;
    m_not_full.wake_one();
}

Result<void> MessageQueue::send(void const* message, u64 timeout_ms)
{
    {
        arch::InterruptDisabler disabler;
        TRY(wait_for(m_not_full, timeout_ms, [this] { return m_count < m_capacity; }));
        push(message);
    }
    sched::preempt_point();
    return {};
}

Result<void> MessageQueue::receive(void* message, u64 timeout_ms)
{
    {
        arch::InterruptDisabler disabler;
        TRY(wait_for(m_not_empty, timeout_ms, [this] { return m_count > 0; }));
        pop(message);
    }
    sched::preempt_point();
    return {};
}

bool MessageQueue::try_send(void const* message)
{
    {
        arch::InterruptDisabler disabler;
        if (m_count == m_capacity)
            return false;
        push(message);
    }
    sched::preempt_point();
    return true;
}

bool MessageQueue::try_receive(void* message)
{
    {
        arch::InterruptDisabler disabler;
        if (m_count == 0)
            return false;
        pop(message);
    }
    sched::preempt_point();
    return true;
}

} // namespace skiff::sync
