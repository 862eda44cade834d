#pragma once

// What a socket's waiter (net::Socket::set_waiter, Port::wake) points to in the kernel: a wait
// queue plus a "something happened" flag, so a wake that comes between a failed socket call and
// the wait is not lost. Safe to wake from interrupt handlers and from the network thread.
//
// Several threads may share one waiter (a task's descriptors all share one, kernel/syscall/): they
// use generation() and wait_for_change() instead of reset() and wait(), so one thread's reset
// cannot swallow a wake another is about to wait for.

#include <kernel/base/Arch.h>
#include <kernel/sync/WaitQueue.h>

namespace skiff::knet {

class NetWaiter {
public:
    void wake()
    {
        arch::InterruptDisabler disabler;
        m_signalled = true;
        ++m_generation;
        m_queue.wake_all();
    }
    // Wakes so far; read it before the attempt whose failure leads to wait_for_change().
    u64 generation() const { return m_generation; }
    // Blocks until a wake after the one `seen` counted, or the timeout; true when woken.
    bool wait_for_change(u64 seen, u64 timeout_ms)
    {
        arch::InterruptDisabler disabler;
        if (m_generation == seen && timeout_ms)
            (void)m_queue.wait(timeout_ms);
        return m_generation != seen;
    }
    // Forget earlier wakes: call before the attempt whose failure leads to wait().
    void reset()
    {
        arch::InterruptDisabler disabler;
        m_signalled = false;
    }
    // Blocks until a wake since the last reset() or the timeout; true when woken.
    bool wait(u64 timeout_ms)
    {
        arch::InterruptDisabler disabler;
        if (!m_signalled && timeout_ms)
            (void)m_queue.wait(timeout_ms);
        bool woken = m_signalled;
        m_signalled = false;
        return woken;
    }

private:
    sync::WaitQueue m_queue; // guarded by interrupts off
    bool m_signalled { false };
    u64 m_generation { 0 };
};

} // namespace skiff::knet
