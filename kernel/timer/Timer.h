#pragma once

// Kernel timers on top of the 1 kHz tick: one-shot and periodic. A callback runs in the timer
// interrupt with interrupts off: it must be short, and it may wake threads (semaphores, wait
// queues), which is how thread timeouts and sleep are built.
//
// Deadlines are on the monotonic clock (the calibrated TSC), not in tick counts, and are checked on
// every tick: a timer started for d ms fires on the first tick at least d ms later, so never early
// and normally less than one tick late. Counting ticks instead would let QEMU's catch-up bursts
// (missed PIT interrupts delivered back to back after the host descheduled the VM) fire timers
// early.

#include <kernel/timer/TimerQueue.h>
#include <lib/Types.h>

namespace skiff::timer {

class Timer {
public:
    using Callback = void (*)(void* context);

    Timer() = default;
    Timer(Timer const&) = delete;
    Timer& operator=(Timer const&) = delete;
    ~Timer();

    void start(u64 delay_ms, Callback callback, void* context);           // one-shot
    void start_periodic(u64 period_ms, Callback callback, void* context); // first after one period
    // False when it was not armed (already fired, or never started).
    bool cancel();
    bool is_armed() const { return m_node.armed; }
    u64 fired_count() const { return m_fired; }
    // The deadline of the latest firing (monotonic ns), for callbacks that check their accuracy.
    u64 last_deadline_ns() const { return m_last_deadline; }

private:
    friend void run_expired(u64 now);
    TimerNode m_node;      // guarded by interrupts off; deadline in monotonic ns
    u64 m_period_ns { 0 }; // 0 for one-shot
    Callback m_callback { nullptr };
    void* m_context { nullptr };
    u64 m_fired { 0 };
    u64 m_last_deadline { 0 };
};

// Runs every timer due at `now` (monotonic ns). Called from the scheduler's tick hook.
void run_expired(u64 now);
// The `now` of the current and of the previous run_expired(): inside a callback, the time of the
// tick that fired it and of the tick before. A timer fired "within a tick" when
// previous < its deadline <= current.
u64 current_check_ns();
u64 previous_check_ns();
usize armed_timers();

} // namespace skiff::timer
