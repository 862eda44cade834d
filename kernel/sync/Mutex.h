#pragma once

// A sleeping mutex for threads (never from interrupt handlers). Ownership is handed directly to
// the most urgent waiter on unlock, so a waiter cannot be starved by threads that keep grabbing
// it. Not recursive.
//
// Priority inheritance: a waiter more urgent than the owner lends the owner its priority until
// the owner unlocks, so a thread of middling priority cannot hold up the waiter by keeping the
// owner off the CPU (the Mars Pathfinder inversion). FIXME: one level only (no chains through
// several mutexes), and a thread holding two mutexes drops everything lent to it at its first
// unlock.

#include <kernel/sync/WaitQueue.h>
#include <lib/Result.h>

namespace skiff::sched {
class Thread;
}

namespace skiff::sync {

class Mutex {
public:
    void lock() { MUST(lock(kForever)); } // no timeout: cannot time out
    Result<void> lock(u64 timeout_ms);
    bool try_lock();
    void unlock();
    bool is_locked() const { return m_owner != nullptr; }
    bool is_held_by_current() const;
    u64 contentions() const { return m_contentions; }

private:
    sched::Thread* m_owner { nullptr }; // guarded by interrupts off
    WaitQueue m_waiters;                // guarded by interrupts off
    u64 m_contentions { 0 };            // lock() calls that had to wait
};

class MutexLocker {
public:
    explicit MutexLocker(Mutex& mutex)
        : m_mutex(mutex)
    {
        m_mutex.lock();
    }
    ~MutexLocker() { m_mutex.unlock(); }
    MutexLocker(MutexLocker const&) = delete;
    MutexLocker& operator=(MutexLocker const&) = delete;

private:
    Mutex& m_mutex;
};

} // namespace skiff::sync
