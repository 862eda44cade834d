#pragma once

// What a socket's waiter (net::Socket::set_waiter, Port::wake) points to in the kernel: a wait
// queue plus a "something happened" flag, so a wake that comes between a failed socket call and
// the wait is not lost. Safe to wake from interrupt handlers and from the network thread.

#include <kernel/base/Arch.h>
#include <kernel/sync/WaitQueue.h>

namespace skiff::knet {

class NetWaiter {
public:
    void wake()
    {
        arch::InterruptDisabler disabler;
        m_signalled = true;
        m_queue.wake_all();
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
};

} // namespace skiff::knet
