#pragma once

// The console's line editor: turns the bytes a terminal sends into a command line, echoing what a
// person expects to see. It knows the VT100/xterm sequences a terminal emulator sends for the
// arrow keys (ESC [ A/B/C/D), Home/End (ESC [ H/F, ESC [ 1~/4~) and Delete (ESC [ 3~), plus
// backspace (DEL 0x7f or BS 0x08), Ctrl-A/E (home/end), Ctrl-U (erase line), Ctrl-C (cancel).
// Input ends at CR or LF; an LF right after a CR is the same Enter.
//
// It is plain logic over a FormatSink, so the host unit tests drive it byte by byte.

#include <lib/Format.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::console {

class LineEditor {
public:
    static constexpr usize kMaxLength = 255;
    static constexpr usize kHistorySize = 16;

    LineEditor(FormatSink& echo, StringView prompt)
        : m_echo(echo)
        , m_prompt(prompt)
    {
    }

    // Prints the prompt and starts an empty line.
    void begin_line();
    // Feeds one byte; returns true when a line is complete (see line()). The line stays valid
    // until the next begin_line().
    bool feed(u8 byte);
    StringView line() const { return { m_buffer, m_length }; }
    usize cursor() const { return m_cursor; }
    usize history_count() const { return m_history_count; }

private:
    enum class State : u8 { Normal, Escape, Csi };

    void insert(char c);
    void erase_before_cursor();
    void erase_at_cursor();
    void move_cursor_to(usize position);
    void recall_history(int direction);
    void replace_line(StringView text);
    void redraw_from_cursor(usize erased);
    void commit_to_history();
    void handle_csi(char final_byte);
    void write(StringView text) { m_echo.write(text.chars(), text.length()); }

    FormatSink& m_echo;
    StringView m_prompt;
    char m_buffer[kMaxLength + 1] {};
    usize m_length { 0 };
    usize m_cursor { 0 };
    State m_state { State::Normal };
    u32 m_csi_parameter { 0 };
    bool m_last_was_cr { false };

    // History: a ring of the last kHistorySize distinct lines, newest at (m_history_next - 1).
    char m_history[kHistorySize][kMaxLength + 1] {};
    usize m_history_lengths[kHistorySize] {};
    usize m_history_count { 0 };
    usize m_history_next { 0 };
    // While browsing: how far back (0 = the line being typed, not history).
    usize m_history_offset { 0 };
    char m_draft[kMaxLength + 1] {};
    usize m_draft_length { 0 };
};

} // namespace skiff::console
