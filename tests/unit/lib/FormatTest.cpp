#include <lib/Format.h>

#include <gtest/gtest.h>
#include <string>

using namespace skiff;

namespace {

template<typename... Args>
std::string fmt(char const* format_string, Args const&... args)
{
    char buffer[256];
    format_to(buffer, sizeof(buffer), format_string, args...);
    return buffer;
}

} // namespace

TEST(Format, PlainTextPassesThrough)
{
    EXPECT_EQ(fmt("skiff> "), "skiff> ");
}

TEST(Format, IntegersInDecimal)
{
    EXPECT_EQ(fmt("{} {} {}", 0, 42u, -17), "0 42 -17");
    EXPECT_EQ(fmt("{}", static_cast<u64>(18446744073709551615ull)), "18446744073709551615");
    EXPECT_EQ(fmt("{}", static_cast<i64>(INT64_MIN)), "-9223372036854775808");
}

TEST(Format, HexadecimalAndBinary)
{
    EXPECT_EQ(fmt("{:x}", 0xdeadbeefu), "deadbeef");
    EXPECT_EQ(fmt("{:X}", 0xbeefu), "BEEF");
    EXPECT_EQ(fmt("{:#x}", 255), "0xff");
    EXPECT_EQ(fmt("{:08x}", 0x1234u), "00001234");
    EXPECT_EQ(fmt("{:016x}", static_cast<u64>(0xffffffff80000000ull)), "ffffffff80000000");
    EXPECT_EQ(fmt("{:b}", 5u), "101");
}

TEST(Format, WidthAndAlignment)
{
    EXPECT_EQ(fmt("[{:5}]", 42), "[   42]");
    EXPECT_EQ(fmt("[{:<5}]", 42), "[42   ]");
    EXPECT_EQ(fmt("[{:6}]", "ab"), "[ab    ]");
    EXPECT_EQ(fmt("[{:>6}]", "ab"), "[    ab]");
    EXPECT_EQ(fmt("[{:05}]", -42), "[-0042]");
    EXPECT_EQ(fmt("[{:2}]", 12345), "[12345]");
}

TEST(Format, StringsCharsBoolsErrors)
{
    EXPECT_EQ(fmt("{}{}{}", 'a', StringView("bc", 1), "d"), "abd");
    EXPECT_EQ(fmt("{} {}", true, false), "true false");
    EXPECT_EQ(fmt("{}", Error::ConnectionRefused), "connection refused");
    char const* null_string = nullptr;
    EXPECT_EQ(fmt("{}", null_string), "(null)");
}

TEST(Format, PointersAreZeroPaddedHex)
{
    EXPECT_EQ(fmt("{}", reinterpret_cast<void*>(0x1000)), "0x0000000000001000");
}

TEST(Format, BracesEscapeAndMissingArguments)
{
    EXPECT_EQ(fmt("{{}} {}", 1), "{} 1");
    EXPECT_EQ(fmt("{} {}", 1), "1 {?}");
    EXPECT_EQ(fmt("unterminated {", 1), "unterminated {");
}

TEST(Format, BufferSinkTruncatesAndTerminates)
{
    char buffer[8];
    BufferSink sink(buffer, sizeof(buffer));
    format(sink, "{}", "0123456789");
    EXPECT_TRUE(sink.truncated());
    EXPECT_EQ(sink.length(), 7u);
    EXPECT_EQ(std::string(buffer), "0123456");
}

TEST(Parse, UnsignedDecimalAndHex)
{
    u64 v = 0;
    EXPECT_TRUE(parse_u64("1234", v));
    EXPECT_EQ(v, 1234u);
    EXPECT_TRUE(parse_u64("0x1F", v));
    EXPECT_EQ(v, 31u);
    EXPECT_TRUE(parse_u64("18446744073709551615", v));
    EXPECT_EQ(v, 18446744073709551615ull);
    EXPECT_FALSE(parse_u64("18446744073709551616", v));
    EXPECT_FALSE(parse_u64("", v));
    EXPECT_FALSE(parse_u64("12a", v));
    EXPECT_FALSE(parse_u64("0x", v));
}

TEST(Parse, SignedNumbers)
{
    i64 v = 0;
    EXPECT_TRUE(parse_i64("-5", v));
    EXPECT_EQ(v, -5);
    EXPECT_TRUE(parse_i64("-9223372036854775808", v));
    EXPECT_EQ(v, INT64_MIN);
    EXPECT_FALSE(parse_i64("9223372036854775808", v));
    EXPECT_FALSE(parse_i64("-", v));
}

TEST(Parse, Ipv4DottedQuad)
{
    u32 a = 0;
    EXPECT_TRUE(parse_ipv4("10.0.2.15", a));
    EXPECT_EQ(a, 0x0a00020fu);
    EXPECT_TRUE(parse_ipv4("255.255.255.255", a));
    EXPECT_EQ(a, 0xffffffffu);
    EXPECT_FALSE(parse_ipv4("10.0.2", a));
    EXPECT_FALSE(parse_ipv4("10.0.2.256", a));
    EXPECT_FALSE(parse_ipv4("10.0.2.15.", a));
    EXPECT_FALSE(parse_ipv4("10..2.15", a));
    EXPECT_FALSE(parse_ipv4("0x0a.0.2.15", a));
}
