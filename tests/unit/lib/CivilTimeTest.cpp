#include <lib/CivilTime.h>

#include <ctime>
#include <gtest/gtest.h>

using namespace skiff;

TEST(CivilTime, KnownDates)
{
    auto epoch = civil_from_unix(0);
    EXPECT_EQ(epoch.year, 1970);
    EXPECT_EQ(epoch.month, 1);
    EXPECT_EQ(epoch.day, 1);
    EXPECT_EQ(epoch.weekday, 4); // Thursday
    // RFC 9110's example date: Sun, 06 Nov 1994 08:49:37 GMT.
    auto example = civil_from_unix(784111777);
    EXPECT_EQ(example.year, 1994);
    EXPECT_EQ(example.month, 11);
    EXPECT_EQ(example.day, 6);
    EXPECT_EQ(example.hour, 8);
    EXPECT_EQ(example.minute, 49);
    EXPECT_EQ(example.second, 37);
    EXPECT_EQ(example.weekday, 0);
    auto leap = civil_from_unix(951782400); // 2000-02-29 00:00:00
    EXPECT_EQ(leap.month, 2);
    EXPECT_EQ(leap.day, 29);
}

TEST(CivilTime, AgreesWithTheHostLibraryOverCenturies)
{
    // Every 7 hours 13 minutes from 1901 to 2100, against gmtime_r.
    for (i64 t = -2145916800; t < 4102444800; t += 7 * 3600 + 13 * 60 + 1) {
        time_t host_time = static_cast<time_t>(t);
        struct tm host;
        ASSERT_NE(gmtime_r(&host_time, &host), nullptr);
        auto c = civil_from_unix(t);
        ASSERT_EQ(c.year, host.tm_year + 1900) << t;
        ASSERT_EQ(c.month, host.tm_mon + 1) << t;
        ASSERT_EQ(c.day, host.tm_mday) << t;
        ASSERT_EQ(c.hour, host.tm_hour) << t;
        ASSERT_EQ(c.minute, host.tm_min) << t;
        ASSERT_EQ(c.second, host.tm_sec) << t;
        ASSERT_EQ(c.weekday, host.tm_wday) << t;
        i64 back = 0;
        ASSERT_TRUE(unix_from_civil(c, back));
        ASSERT_EQ(back, t);
    }
}

TEST(CivilTime, RefusesImpossibleDates)
{
    i64 seconds;
    EXPECT_FALSE(unix_from_civil({ 2023, 2, 29, 0, 0, 0, 0 }, seconds));
    EXPECT_TRUE(unix_from_civil({ 2024, 2, 29, 0, 0, 0, 0 }, seconds));
    EXPECT_FALSE(unix_from_civil({ 1900, 2, 29, 0, 0, 0, 0 }, seconds));
    EXPECT_FALSE(unix_from_civil({ 2024, 13, 1, 0, 0, 0, 0 }, seconds));
    EXPECT_FALSE(unix_from_civil({ 2024, 4, 31, 0, 0, 0, 0 }, seconds));
    EXPECT_FALSE(unix_from_civil({ 2024, 1, 1, 24, 0, 0, 0 }, seconds));
    EXPECT_FALSE(unix_from_civil({ 2024, 1, 0, 0, 0, 0, 0 }, seconds));
}
