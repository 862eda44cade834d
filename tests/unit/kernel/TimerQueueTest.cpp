#include <kernel/timer/TimerQueue.h>

#include <gtest/gtest.h>

using namespace skiff::timer;

TEST(TimerQueue, ExpiresInDeadlineOrderAndStableForTies)
{
    TimerQueue queue;
    TimerNode a, b, c, d;
    queue.insert(a, 30);
    queue.insert(b, 10);
    queue.insert(c, 20);
    queue.insert(d, 10);
    EXPECT_EQ(queue.next_deadline(), 10u);
    EXPECT_EQ(queue.pop_expired(9), nullptr);
    EXPECT_EQ(queue.pop_expired(10), &b);
    EXPECT_EQ(queue.pop_expired(10), &d);
    EXPECT_EQ(queue.pop_expired(10), nullptr);
    EXPECT_EQ(queue.pop_expired(100), &c);
    EXPECT_EQ(queue.pop_expired(100), &a);
    EXPECT_EQ(queue.size(), 0u);
    EXPECT_EQ(queue.next_deadline(), ~0ull);
}

TEST(TimerQueue, CancelRemovesOnlyArmedNodes)
{
    TimerQueue queue;
    TimerNode a, b;
    queue.insert(a, 5);
    queue.insert(b, 6);
    EXPECT_TRUE(queue.remove(a));
    EXPECT_FALSE(queue.remove(a));
    EXPECT_FALSE(a.armed);
    EXPECT_EQ(queue.pop_expired(10), &b);
    EXPECT_FALSE(queue.remove(b)); // already fired
    EXPECT_EQ(queue.size(), 0u);
}
