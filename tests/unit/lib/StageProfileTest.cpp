#include <lib/StageProfile.h>

#include <gtest/gtest.h>

using namespace skiff;
using namespace skiff::profile;

namespace {

u64 s_fake_now = 0;
u64 fake_counter()
{
    return s_fake_now;
}

struct StageProfileTest : ::testing::Test {
    void SetUp() override
    {
        reset();
        s_fake_now = 1000;
        set_counter(fake_counter);
    }
    void TearDown() override
    {
        set_counter(nullptr);
        reset();
    }
};

} // namespace

TEST_F(StageProfileTest, ScopedStageAddsElapsedCyclesEventsAndBytes)
{
    {
        ScopedStage stage(Stage::ReceiveSocket, 1, 1460);
        s_fake_now += 250;
    }
    {
        ScopedStage stage(Stage::ReceiveSocket);
        stage.set_bytes(40);
        s_fake_now += 50;
    }
    auto t = totals(Stage::ReceiveSocket);
    EXPECT_EQ(t.cycles, 300u);
    EXPECT_EQ(t.events, 2u);
    EXPECT_EQ(t.bytes, 1500u);
    EXPECT_EQ(totals(Stage::SendSocket).events, 0u);
}

TEST_F(StageProfileTest, ResetClearsEveryStage)
{
    add(Stage::SendDriver, 10, 1, 0);
    add(Stage::ReceiveDriver, 10, 1, 0);
    reset();
    for (u8 s = 0; s < static_cast<u8>(Stage::Count); ++s)
        EXPECT_EQ(totals(static_cast<Stage>(s)).cycles, 0u);
}

TEST_F(StageProfileTest, WithoutACounterStagesCountEventsButNoCycles)
{
    set_counter(nullptr);
    {
        ScopedStage stage(Stage::SendProtocol);
        s_fake_now += 1000;
    }
    EXPECT_EQ(totals(Stage::SendProtocol).cycles, 0u);
    EXPECT_EQ(totals(Stage::SendProtocol).events, 1u);
}

TEST(StageProfile, NamesFollowThePaper)
{
    EXPECT_STREQ(stage_name(Stage::ReceiveProtocol), "rx protocol");
    EXPECT_STREQ(stage_name(Stage::SendSocket), "tx socket");
}

TEST_F(StageProfileTest, NestedStagesAreChargedOnlyToThemselves)
{
    {
        ScopedStage outer(Stage::ReceiveProtocol);
        s_fake_now += 100;
        {
            ScopedStage inner(Stage::SendProtocol);
            s_fake_now += 30;
            {
                ScopedStage innermost(Stage::SendDriver);
                s_fake_now += 20;
            }
        }
        s_fake_now += 5;
    }
    EXPECT_EQ(totals(Stage::ReceiveProtocol).cycles, 105u);
    EXPECT_EQ(totals(Stage::SendProtocol).cycles, 30u);
    EXPECT_EQ(totals(Stage::SendDriver).cycles, 20u);
}
