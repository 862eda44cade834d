#include <lib/Result.h>
#include <lib/StringView.h>

#include <gtest/gtest.h>

using namespace skiff;

namespace {

Result<int> half(int value)
{
    if (value % 2)
        return Error::InvalidArgument;
    return value / 2;
}

Result<int> quarter(int value)
{
    int h = TRY(half(value));
    return TRY(half(h));
}

Result<void> check_positive(int value)
{
    if (value <= 0)
        return Error::OutOfRange;
    return {};
}

Result<int> positive_half(int value)
{
    TRY(check_positive(value));
    return half(value);
}

struct MoveOnly {
    explicit MoveOnly(int v)
        : value(v)
    {
    }
    MoveOnly(MoveOnly&& other)
        : value(other.value)
    {
        other.value = -1;
    }
    MoveOnly(MoveOnly const&) = delete;
    int value;
};

} // namespace

TEST(Result, HoldsValue)
{
    auto r = half(10);
    ASSERT_FALSE(r.is_error());
    EXPECT_EQ(r.value(), 5);
}

TEST(Result, HoldsError)
{
    auto r = half(3);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), Error::InvalidArgument);
    EXPECT_EQ(r.value_or(99), 99);
}

TEST(Result, TryPropagatesFirstError)
{
    EXPECT_EQ(quarter(12).value(), 3);
    EXPECT_EQ(quarter(6).error(), Error::InvalidArgument); // 6/2 = 3 is odd
    EXPECT_EQ(quarter(5).error(), Error::InvalidArgument);
}

TEST(Result, VoidResultAndTry)
{
    EXPECT_FALSE(check_positive(1).is_error());
    EXPECT_EQ(check_positive(0).error(), Error::OutOfRange);
    EXPECT_EQ(positive_half(-2).error(), Error::OutOfRange);
    EXPECT_EQ(positive_half(8).value(), 4);
}

TEST(Result, MoveOnlyValues)
{
    Result<MoveOnly> r(MoveOnly(7));
    MoveOnly taken = r.release_value();
    EXPECT_EQ(taken.value, 7);
}

TEST(ResultDeathTest, ValueOfErrorIsAProgrammingError)
{
    auto r = half(1);
    EXPECT_DEATH((void)r.value(), "VERIFY");
}

TEST(StringView, CompareAndSlice)
{
    StringView s("poweroff 3");
    EXPECT_TRUE(s.starts_with("power"));
    EXPECT_TRUE(s.ends_with(" 3"));
    EXPECT_FALSE(s.starts_with("reboot"));
    EXPECT_EQ(s.find(' '), 8);
    EXPECT_EQ(s.find('z'), -1);
    EXPECT_TRUE(s.substring(9) == StringView("3"));
    EXPECT_TRUE(StringView("  x y \t").trimmed() == StringView("x y"));
    EXPECT_TRUE(StringView("").trimmed().is_empty());
}
