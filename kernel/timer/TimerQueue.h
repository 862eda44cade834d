#pragma once

// Armed timers sorted by deadline (any monotonic unit; the kernel uses nanoseconds). Insertion walks the list, expiry
// pops from the front: the kernel has tens of timers, not thousands, so a sorted list beats a wheel on clarity. Equal
// deadlines fire in the order they were armed.
//
// Not locked: the kernel calls it with interrupts off.

#include <lib/Types.h>

namespace skiff::timer {

struct TimerNode {
    TimerNode* next { nullptr };
    u64 deadline { 0 };      // the time at or after which it fires
    void* owner { nullptr }; // the Timer this node belongs to
    bool armed { false };
};

class TimerQueue {
public:
    void insert(TimerNode& node, u64 deadline);
    // False when the node was not armed (already fired or never armed).
    bool remove(TimerNode& node);
    // The earliest node whose deadline is <= now, unlinked; nullptr when none is due.
    TimerNode* pop_expired(u64 now);
    // Deadline of the earliest node, or ~0 when empty.
    u64 next_deadline() const { return m_head ? m_head->deadline : ~0ull; }
    usize size() const { return m_size; }

private:
    TimerNode* m_head { nullptr };
    usize m_size { 0 };
};

} // namespace skiff::timer
