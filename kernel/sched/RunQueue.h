#pragma once

// The scheduler's policy, apart from any thread or CPU state so the host tests can drive it.
//
// Priorities run from 0 (the idle thread) to 31 (most urgent). Each priority has a FIFO of ready
// threads and one bit in a mask saying the FIFO is not empty, so picking the next thread is one
// bit scan (LyraOS: "preemptive prioritized scheduling", round robin inside a priority).

#include <lib/Types.h>

namespace skiff::sched {

constexpr u8 kPriorityCount = 32;
constexpr u8 kPriorityIdle = 0;
constexpr u8 kPriorityLowest = 1; // the lowest a non-idle thread may have
constexpr u8 kPriorityDefault = 16;
constexpr u8 kPriorityHighest = 31;
// Round robin quantum in timer ticks (1 ms each).
constexpr u32 kTimeSliceTicks = 10;

// An intrusive link: a thread sits in at most one queue at a time (the run queue or one wait
// queue), so one link serves both.
struct QueueLink {
    QueueLink* next { nullptr };
    QueueLink* prev { nullptr };
    void* owner { nullptr }; // the Thread (or test object) this link belongs to
    u8 priority { kPriorityDefault };
    bool queued { false };
};

// Does the running thread give way? To anything more urgent at once; to its equals only when its
// time slice is used up (round robin); never to anything less urgent.
constexpr bool should_preempt(u8 running_priority, bool slice_expired, int highest_ready)
{
    if (highest_ready > static_cast<int>(running_priority))
        return true;
    return slice_expired && highest_ready == static_cast<int>(running_priority);
}

class RunQueue {
public:
    void push_back(QueueLink& link);  // ready again after blocking, or its slice ran out
    void push_front(QueueLink& link); // preempted by a more urgent thread: resumes first
    void remove(QueueLink& link);
    // The front of the most urgent non-empty FIFO, removed; nullptr when empty.
    QueueLink* pop_highest();
    // The running thread reaches a scheduling point (a tick ended its slice, or a wake-up made a
    // thread ready). If should_preempt() says it gives way, it is queued — behind its equals when
    // its slice is used up, in front of them when a more urgent thread cut the slice short — and
    // the most urgent ready link is removed and returned. nullptr: `running` keeps the CPU.
    QueueLink* preempt(QueueLink& running, bool slice_expired);
    // Priority of the thread pop_highest() would return, or -1 when empty.
    int highest_priority() const { return m_nonempty ? 31 - __builtin_clz(m_nonempty) : -1; }
    usize size() const { return m_size; }
    bool is_empty() const { return m_size == 0; }

private:
    QueueLink* m_head[kPriorityCount] {}; // guarded by the caller: interrupts off
    QueueLink* m_tail[kPriorityCount] {};
    u32 m_nonempty { 0 }; // bit p set when m_head[p] is not null
    usize m_size { 0 };
};

} // namespace skiff::sched
