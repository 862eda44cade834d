#include <kernel/console/Command.h>

#include <gtest/gtest.h>
#include <string>

using namespace skiff;
using namespace skiff::console;

namespace {

class StringSink final : public FormatSink {
public:
    void write(char const* chars, usize length) override { text.append(chars, length); }
    std::string text;
};

std::string s_last_call;

int record(Arguments const& arguments)
{
    s_last_call.clear();
    for (usize i = 0; i < arguments.count(); ++i) {
        if (i)
            s_last_call += '|';
        s_last_call.append(arguments[i].chars(), arguments[i].length());
    }
    return static_cast<int>(arguments.count());
}

} // namespace

TEST(Arguments, SplitsOnSpacesAndTabs)
{
    Arguments a;
    ASSERT_TRUE(Arguments::parse("  ttcp -t\t-n  100 ", a));
    ASSERT_EQ(a.count(), 4u);
    EXPECT_TRUE(a[0] == StringView("ttcp"));
    EXPECT_TRUE(a[3] == StringView("100"));
    EXPECT_TRUE(a[4].is_empty());
}

TEST(Arguments, QuotesGroupWords)
{
    Arguments a;
    ASSERT_TRUE(Arguments::parse("echo \"two words\" x", a));
    ASSERT_EQ(a.count(), 3u);
    EXPECT_TRUE(a[1] == StringView("two words"));
    EXPECT_FALSE(Arguments::parse("echo \"unterminated", a));
}

TEST(Arguments, FlagsAndOptions)
{
    Arguments a;
    ASSERT_TRUE(Arguments::parse("ttcp -t -n 100 -p 5001", a));
    EXPECT_TRUE(a.has_flag("-t"));
    EXPECT_FALSE(a.has_flag("-r"));
    EXPECT_TRUE(a.option("-n") == StringView("100"));
    EXPECT_TRUE(a.option("-p") == StringView("5001"));
    EXPECT_TRUE(a.option("-l").is_empty());
}

TEST(Arguments, TooManyWordsIsAnError)
{
    std::string line;
    for (usize i = 0; i <= Arguments::kMaxWords; ++i)
        line += "w ";
    Arguments a;
    EXPECT_FALSE(Arguments::parse(StringView(line.c_str()), a));
}

TEST(CommandTable, KeepsCommandsSortedAndRejectsDuplicates)
{
    CommandTable table;
    EXPECT_TRUE(table.add({ "version", "version", "v", record }));
    EXPECT_TRUE(table.add({ "help", "help", "h", record }));
    EXPECT_TRUE(table.add({ "uptime", "uptime", "u", record }));
    EXPECT_TRUE(table.add({ "crash", "crash", "c", record }));
    EXPECT_FALSE(table.add({ "help", "help", "again", record }));
    ASSERT_EQ(table.count(), 4u);
    EXPECT_STREQ(table.at(0).name, "crash");
    EXPECT_STREQ(table.at(1).name, "help");
    EXPECT_STREQ(table.at(2).name, "uptime");
    EXPECT_STREQ(table.at(3).name, "version");
}

TEST(CommandTable, ExecuteRunsTheNamedCommandWithItsArguments)
{
    CommandTable table;
    table.add({ "poweroff", "poweroff [code]", "p", record });
    StringSink out;
    EXPECT_EQ(table.execute("poweroff 3", out), 2);
    EXPECT_EQ(s_last_call, "poweroff|3");
    EXPECT_TRUE(out.text.empty());
}

TEST(CommandTable, UnknownCommandsAndEmptyLinesRunNothing)
{
    CommandTable table;
    table.add({ "help", "help", "h", record });
    StringSink out;
    EXPECT_EQ(table.execute("hepl", out), -1);
    EXPECT_NE(out.text.find("hepl: unknown command"), std::string::npos);
    out.text.clear();
    EXPECT_EQ(table.execute("   ", out), -1);
    EXPECT_TRUE(out.text.empty());
    EXPECT_EQ(table.execute("help \"open", out), -1);
    EXPECT_NE(out.text.find("cannot parse"), std::string::npos);
}

TEST(CommandTable, IsBounded)
{
    CommandTable table;
    static char names[CommandTable::kMaxCommands + 1][8];
    for (usize i = 0; i <= CommandTable::kMaxCommands; ++i) {
        snprintf(names[i], sizeof(names[i]), "c%zu", i);
        bool added = table.add({ names[i], names[i], "", record });
        EXPECT_EQ(added, i < CommandTable::kMaxCommands);
    }
}
