#include <kernel/console/LineEditor.h>

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

struct Editor {
    StringSink echo;
    LineEditor editor { echo, "skiff> " };
    Editor() { editor.begin_line(); }

    // Feeds every byte; returns the completed lines.
    std::vector<std::string> type(std::string const& bytes)
    {
        std::vector<std::string> lines;
        for (unsigned char c : bytes) {
            if (editor.feed(c)) {
                lines.emplace_back(editor.line().chars(), editor.line().length());
                editor.begin_line();
            }
        }
        return lines;
    }
    std::string current() const { return std::string(editor.line().chars(), editor.line().length()); }
};

constexpr char const* kUp = "\x1b[A";
constexpr char const* kDown = "\x1b[B";
constexpr char const* kRight = "\x1b[C";
constexpr char const* kLeft = "\x1b[D";

} // namespace

TEST(LineEditor, PrintsPromptAndEchoesTyping)
{
    Editor e;
    auto lines = e.type("help\r");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "help");
    EXPECT_EQ(e.echo.text, "skiff> help\r\nskiff> ");
}

TEST(LineEditor, CrLfIsOneEnterAndLfAloneEndsALine)
{
    Editor e;
    auto lines = e.type("a\r\nb\nc\r\r");
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "a");
    EXPECT_EQ(lines[1], "b");
    EXPECT_EQ(lines[2], "c");
    EXPECT_EQ(lines[3], "");
}

TEST(LineEditor, BackspaceAndDeleteByteBothErase)
{
    Editor e;
    auto lines = e.type("helpp\x7f\rversx\x08ion\r");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "help");
    EXPECT_EQ(lines[1], "version");
}

TEST(LineEditor, BackspaceAtStartDoesNothing)
{
    Editor e;
    e.type("\x7f\x7f");
    EXPECT_EQ(e.current(), "");
    EXPECT_EQ(e.editor.cursor(), 0u);
    EXPECT_EQ(e.echo.text, "skiff> ");
}

TEST(LineEditor, CursorLeftThenInsertEditsInTheMiddle)
{
    Editor e;
    std::string keys = std::string("uptme") + kLeft + kLeft + "i";
    e.type(keys);
    EXPECT_EQ(e.current(), "uptime");
    EXPECT_EQ(e.editor.cursor(), 4u);
    // The terminal shows the same: after redraw, the rest of the line is re-printed.
    EXPECT_NE(e.echo.text.find("ime"), std::string::npos);
}

TEST(LineEditor, CursorRightStopsAtEndAndLeftAtStart)
{
    Editor e;
    e.type(std::string("ab") + kRight + kRight + kLeft + kLeft + kLeft + kLeft + "x");
    EXPECT_EQ(e.current(), "xab");
}

TEST(LineEditor, DeleteKeyErasesUnderCursor)
{
    Editor e;
    e.type(std::string("abc") + kLeft + kLeft + "\x1b[3~");
    EXPECT_EQ(e.current(), "ac");
    EXPECT_EQ(e.editor.cursor(), 1u);
}

TEST(LineEditor, HomeEndAndControlKeys)
{
    Editor e;
    e.type(std::string("bc") + "\x1b[H" + "a" + "\x1b[F" + "d");
    EXPECT_EQ(e.current(), "abcd");
    e.type("\x01X\x05Y");
    EXPECT_EQ(e.current(), "XabcdY");
    e.type("\x15");
    EXPECT_EQ(e.current(), "");
}

TEST(LineEditor, HistoryUpAndDownRecallLines)
{
    Editor e;
    e.type("first\rsecond\r");
    EXPECT_EQ(e.editor.history_count(), 2u);
    e.type("dra");
    e.type(kUp);
    EXPECT_EQ(e.current(), "second");
    e.type(kUp);
    EXPECT_EQ(e.current(), "first");
    e.type(kUp); // no older entry: stays
    EXPECT_EQ(e.current(), "first");
    e.type(kDown);
    EXPECT_EQ(e.current(), "second");
    e.type(kDown); // back to the draft being typed
    EXPECT_EQ(e.current(), "dra");
    e.type(std::string(kUp) + kUp + "\r");
    EXPECT_EQ(e.editor.history_count(), 3u);
}

TEST(LineEditor, HistorySkipsBlankAndRepeatedLinesAndKeepsTheNewest)
{
    Editor e;
    e.type("a\r\r   \ra\r");
    EXPECT_EQ(e.editor.history_count(), 1u);
    for (int i = 0; i < 20; ++i)
        e.type("cmd" + std::to_string(i) + "\r");
    EXPECT_EQ(e.editor.history_count(), LineEditor::kHistorySize);
    e.type(kUp);
    EXPECT_EQ(e.current(), "cmd19");
    for (usize i = 1; i < LineEditor::kHistorySize; ++i)
        e.type(kUp);
    EXPECT_EQ(e.current(), "cmd4"); // the oldest kept
}

TEST(LineEditor, LineLengthIsBounded)
{
    Editor e;
    e.type(std::string(400, 'x'));
    EXPECT_EQ(e.current().size(), LineEditor::kMaxLength);
}

TEST(LineEditor, ControlCCancelsTheLine)
{
    Editor e;
    auto lines = e.type("reboot\x03help\r");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "help");
    EXPECT_NE(e.echo.text.find("^C"), std::string::npos);
}

TEST(LineEditor, UnknownEscapeSequencesAndControlBytesAreIgnored)
{
    Editor e;
    auto lines = e.type("a\x1b[99Zb\x1b"
                        "xc\x02\x07"
                        "d\r");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "abcd");
}
