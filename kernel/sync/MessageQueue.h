#pragma once

// A bounded queue of fixed-size messages between threads (LyraOS "message passing"). Messages are
// copied in and out; the storage is allocated once at creation. try_send() is safe from interrupt
// handlers, so a driver can post an event without blocking.

#include <kernel/sync/WaitQueue.h>
#include <lib/Result.h>

namespace skiff::sync {

class MessageQueue {
public:
    static Result<MessageQueue*> create(u32 message_size, u32 capacity);
    ~MessageQueue();
    MessageQueue(MessageQueue const&) = delete;
    MessageQueue& operator=(MessageQueue const&) = delete;

    // Block while full / empty, up to `timeout_ms` (Error::TimedOut).
    Result<void> send(void const* message, u64 timeout_ms = kForever);
    Result<void> receive(void* message, u64 timeout_ms = kForever);
    bool try_send(void const* message);
    bool try_receive(void* message);
    u32 count() const { return m_count; }
    u32 capacity() const { return m_capacity; }
    u32 message_size() const { return m_message_size; }

private:
    MessageQueue(u8* storage, u32 message_size, u32 capacity)
        : m_storage(storage)
        , m_message_size(message_size)
        , m_capacity(capacity)
    {
    }
    void push(void const* message);
    void pop(void* message);

    u8* m_storage;
    u32 m_message_size;
    u32 m_capacity;
    u32 m_head { 0 };  // next to receive; guarded by interrupts off
    u32 m_count { 0 }; // guarded by interrupts off
    WaitQueue m_not_empty;
    WaitQueue m_not_full;
};

} // namespace skiff::sync
