// The scheduler's decisions, simulated tick by tick on the host with the kernel's own RunQueue
// and RunQueue::preempt(): the same code Scheduler::maybe_preempt() calls at every scheduling
// point. A simulated thread is CPU-bound unless its script says it sleeps.

#include <kernel/sched/RunQueue.h>

#include <gtest/gtest.h>
#include <vector>

using namespace skiff::sched;

namespace {

struct SimThread {
    QueueLink link;
    int id { 0 };
    u64 ticks_run { 0 };
    u32 slice_left { kTimeSliceTicks }; // as Thread::m_slice_left
    // Optional periodic behaviour: runs `burst` ticks, then sleeps until the next multiple of
    // `period` (0 = always CPU-bound).
    u64 period { 0 };
    u64 burst { 0 };
    u64 burst_left { 0 };
    bool sleeping { false };
    u64 woke_at { 0 };
    std::vector<u64> latencies; // ticks from wake-up to running
};

class Simulator {
public:
    explicit Simulator(std::vector<SimThread*> threads)
        : m_threads(threads)
    {
        for (auto* thread : threads) {
            thread->link.owner = thread;
            thread->burst_left = thread->burst;
            if (!thread->sleeping)
                m_queue.push_back(thread->link);
        }
        m_running = pop();
    }

    void run(u64 ticks)
    {
        for (u64 now = 0; now < ticks; ++now) {
            // Wake-ups first, as the timer interrupt would: a wake of a more urgent thread
            // preempts at once (the preempt hook on the way out of the interrupt).
            for (auto* thread : m_threads) {
                if (thread->sleeping && thread->period && now % thread->period == 0) {
                    thread->sleeping = false;
                    thread->burst_left = thread->burst;
                    thread->woke_at = now;
                    thread->slice_left = kTimeSliceTicks; // Scheduler::make_ready
                    m_queue.push_back(thread->link);
                    if (m_running)
                        reschedule(false, now);
                    else
                        m_running = pop(now);
                }
            }
            if (!m_running) {
                m_running = pop(now);
                if (!m_running)
                    continue; // idle
            }
            // The running thread runs this tick.
            ++m_running->ticks_run;
            if (m_running->period && --m_running->burst_left == 0) {
                m_running->sleeping = true; // blocks: the next ready thread runs
                m_running = pop(now + 1);
                continue;
            }
            if (--m_running->slice_left == 0)
                reschedule(true, now + 1);
        }
    }

private:
    SimThread* pop(u64 now = 0)
    {
        QueueLink* link = m_queue.pop_highest();
        if (!link)
            return nullptr;
        auto* thread = static_cast<SimThread*>(link->owner);
        switched_in(thread, now);
        return thread;
    }

    // As Scheduler::switch_to: a used-up slice is renewed, a cut-short one is finished.
    void switched_in(SimThread* thread, u64 now)
    {
        if (thread->slice_left == 0)
            thread->slice_left = kTimeSliceTicks;
        record_start(thread, now);
    }

    void record_start(SimThread* thread, u64 now)
    {
        if (thread->period && thread->burst_left == thread->burst && thread->latencies.size() < 1000
            && (thread->latencies.empty() || thread->woke_at != m_last_recorded_wake[thread->id])) {
            thread->latencies.push_back(now - thread->woke_at);
            m_last_recorded_wake[thread->id] = thread->woke_at;
        }
    }

    void reschedule(bool slice_expired, u64 now)
    {
        QueueLink* next = m_queue.preempt(m_running->link, slice_expired);
        if (!next) {
            if (slice_expired)
                m_running->slice_left = kTimeSliceTicks;
            return;
        }
        m_running = static_cast<SimThread*>(next->owner);
        switched_in(m_running, now);
    }

    std::vector<SimThread*> m_threads;
    RunQueue m_queue;
    SimThread* m_running { nullptr };
    u64 m_last_recorded_wake[16] {};
};

} // namespace

TEST(SchedulerPolicy, EqualPrioritiesShareTheCpuInSlices)
{
    SimThread a, b, c;
    a.id = 1, b.id = 2, c.id = 3;
    a.link.priority = b.link.priority = c.link.priority = 16;
    Simulator sim({ &a, &b, &c });
    sim.run(300 * kTimeSliceTicks);
    // Each gets a third, to within one slice.
    for (auto* thread : { &a, &b, &c }) {
        EXPECT_GE(thread->ticks_run, 100u * kTimeSliceTicks - kTimeSliceTicks) << thread->id;
        EXPECT_LE(thread->ticks_run, 100u * kTimeSliceTicks + kTimeSliceTicks) << thread->id;
    }
}

TEST(SchedulerPolicy, StrictPriorityStarvesLessUrgentCpuBoundThreads)
{
    SimThread high, low;
    high.id = 1, low.id = 2;
    high.link.priority = 20;
    low.link.priority = 10;
    Simulator sim({ &low, &high });
    sim.run(1000);
    EXPECT_EQ(high.ticks_run, 1000u);
    EXPECT_EQ(low.ticks_run, 0u);
}

TEST(SchedulerPolicy, UrgentWakeUpRunsAtOnceAndLowerThreadsKeepTheirTurn)
{
    // A "network thread" at 20 wakes every 25 ticks for 2 ticks; two CPU-bound threads at 10.
    SimThread net, a, b;
    net.id = 1, a.id = 2, b.id = 3;
    net.link.priority = 20;
    net.period = 25;
    net.burst = 2;
    net.sleeping = true;
    a.link.priority = b.link.priority = 10;
    Simulator sim({ &a, &b, &net });
    sim.run(2500);
    // Every wake-up ran in the tick it happened: preemption, not waiting for a slice to end.
    ASSERT_FALSE(net.latencies.empty());
    for (u64 latency : net.latencies)
        EXPECT_EQ(latency, 0u);
    EXPECT_EQ(net.ticks_run, 2500u / 25 * 2);
    // The rest is shared evenly by the two CPU-bound threads.
    u64 rest = 2500 - net.ticks_run;
    EXPECT_NEAR(static_cast<double>(a.ticks_run), rest / 2.0, kTimeSliceTicks);
    EXPECT_NEAR(static_cast<double>(b.ticks_run), rest / 2.0, kTimeSliceTicks);
}

TEST(RunQueue, PreemptQueuesTheRunningThreadByWhyItStopped)
{
    RunQueue queue;
    QueueLink running, equal, urgent;
    running.priority = equal.priority = 10;
    urgent.priority = 12;
    queue.push_back(equal);
    // Slice not over, nothing more urgent: keep running.
    EXPECT_EQ(queue.preempt(running, false), nullptr);
    EXPECT_FALSE(running.queued);
    // Slice over: behind its equal.
    EXPECT_EQ(queue.preempt(running, true), &equal);
    EXPECT_TRUE(running.queued);
    queue.remove(running);
    queue.push_back(equal);
    // Cut short by a more urgent thread: in front of its equal.
    queue.push_back(urgent);
    EXPECT_EQ(queue.preempt(running, false), &urgent);
    EXPECT_EQ(queue.pop_highest(), &running);
    EXPECT_EQ(queue.pop_highest(), &equal);
}
