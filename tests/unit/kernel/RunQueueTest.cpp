#include <kernel/sched/RunQueue.h>

#include <gtest/gtest.h>

using namespace skiff::sched;

namespace {
QueueLink make(u8 priority, int id)
{
    QueueLink link;
    link.priority = priority;
    link.owner = reinterpret_cast<void*>(static_cast<uintptr_t>(id));
    return link;
}
int id_of(QueueLink* link)
{
    return link ? static_cast<int>(reinterpret_cast<uintptr_t>(link->owner)) : -1;
}
} // namespace

TEST(RunQueue, PicksHighestPriorityFirst)
{
    RunQueue queue;
    QueueLink low = make(3, 1), high = make(20, 2), mid = make(10, 3);
    queue.push_back(low);
    queue.push_back(high);
    queue.push_back(mid);
    EXPECT_EQ(queue.highest_priority(), 20);
    EXPECT_EQ(id_of(queue.pop_highest()), 2);
    EXPECT_EQ(id_of(queue.pop_highest()), 3);
    EXPECT_EQ(id_of(queue.pop_highest()), 1);
    EXPECT_EQ(queue.pop_highest(), nullptr);
    EXPECT_EQ(queue.highest_priority(), -1);
}

TEST(RunQueue, RoundRobinWithinAPriority)
{
    RunQueue queue;
    QueueLink a = make(16, 1), b = make(16, 2), c = make(16, 3);
    queue.push_back(a);
    queue.push_back(b);
    queue.push_back(c);
    // Each runs its slice and goes to the back: the order rotates.
    int order[6];
    for (int i = 0; i < 6; ++i) {
        QueueLink* next = queue.pop_highest();
        order[i] = id_of(next);
        queue.push_back(*next);
    }
    EXPECT_EQ(order[0], 1);
    EXPECT_EQ(order[1], 2);
    EXPECT_EQ(order[2], 3);
    EXPECT_EQ(order[3], 1);
    EXPECT_EQ(order[4], 2);
    EXPECT_EQ(order[5], 3);
}

TEST(RunQueue, PreemptedThreadResumesFirstAmongEquals)
{
    RunQueue queue;
    QueueLink waiting = make(16, 1), preempted = make(16, 2);
    queue.push_back(waiting);
    queue.push_front(preempted);
    EXPECT_EQ(id_of(queue.pop_highest()), 2);
}

TEST(RunQueue, RemoveFromMiddleAndPriorityChange)
{
    RunQueue queue;
    QueueLink a = make(5, 1), b = make(5, 2), c = make(5, 3);
    queue.push_back(a);
    queue.push_back(b);
    queue.push_back(c);
    queue.remove(b);
    EXPECT_FALSE(b.queued);
    EXPECT_EQ(queue.size(), 2u);
    // Raising a queued thread's priority: take it out, change, put it back.
    queue.remove(c);
    c.priority = 25;
    queue.push_back(c);
    EXPECT_EQ(id_of(queue.pop_highest()), 3);
    EXPECT_EQ(id_of(queue.pop_highest()), 1);
    EXPECT_TRUE(queue.is_empty());
}

TEST(RunQueue, PreemptionPolicy)
{
    EXPECT_TRUE(should_preempt(10, false, 11));  // more urgent arrives: at once
    EXPECT_FALSE(should_preempt(10, false, 10)); // an equal waits for the slice
    EXPECT_TRUE(should_preempt(10, true, 10));   // slice over: round robin
    EXPECT_FALSE(should_preempt(10, true, 9));   // never to something less urgent
    EXPECT_FALSE(should_preempt(10, true, -1));  // nothing ready
    EXPECT_TRUE(should_preempt(kPriorityIdle, false, kPriorityLowest));
}

TEST(RunQueueDeathTest, DoubleQueueIsAProgrammingError)
{
    RunQueue queue;
    QueueLink a = make(5, 1);
    queue.push_back(a);
    EXPECT_DEATH(queue.push_back(a), "VERIFY");
}
