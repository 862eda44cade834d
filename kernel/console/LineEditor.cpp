#include <kernel/console/LineEditor.h>

namespace skiff::console {

namespace {

constexpr u8 kCtrlA = 0x01;
constexpr u8 kCtrlC = 0x03;
constexpr u8 kCtrlE = 0x05;
constexpr u8 kBackspace = 0x08;
constexpr u8 kCtrlU = 0x15;
constexpr u8 kEscape = 0x1b;
constexpr u8 kDelete = 0x7f;

} // namespace

void LineEditor::begin_line()
{
    m_length = 0;
    m_cursor = 0;
    m_buffer[0] = 0;
    m_state = State::Normal;
    m_history_offset = 0;
    write(m_prompt);
}

bool LineEditor::feed(u8 byte)
{
    bool after_cr = m_last_was_cr;
    m_last_was_cr = false;
    switch (m_state) {
    case State::Escape:
        if (byte == '[' || byte == 'O') {
            m_state = State::Csi;
            m_csi_parameter = 0;
        } else {
            m_state = State::Normal;
        }
        return false;
    case State::Csi:
        if (byte >= '0' && byte <= '9') {
            m_csi_parameter = m_csi_parameter * 10 + (byte - '0');
            if (m_csi_parameter > 1000)
                m_state = State::Normal; // nonsense: give up on this sequence
            return false;
        }
        if (byte == ';')
            return false;
        m_state = State::Normal;
        handle_csi(static_cast<char>(byte));
        return false;
    case State::Normal: break;
    }

    switch (byte) {
    case '\r':
    case '\n':
        if (byte == '\n' && after_cr)
            return false; // CR LF is one Enter
        m_last_was_cr = byte == '\r';
        m_buffer[m_length] = 0;
        write("\r\n");
        commit_to_history();
        return true;
    case kEscape: m_state = State::Escape; return false;
    case kDelete:
    case kBackspace: erase_before_cursor(); return false;
    case kCtrlA: move_cursor_to(0); return false;
    case kCtrlE: move_cursor_to(m_length); return false;
    case kCtrlU: replace_line(""); return false;
    case kCtrlC:
        write("^C\r\n");
        m_length = 0;
        m_cursor = 0;
        m_buffer[0] = 0;
        begin_line();
        return false;
    default:
        if (byte >= 0x20 && byte < 0x7f)
            insert(static_cast<char>(byte));
        return false; // other control characters are ignored
    }
}

void LineEditor::handle_csi(char final_byte)
{
    switch (final_byte) {
    case 'A': recall_history(+1); break;
    case 'B': recall_history(-1); break;
    case 'C':
        if (m_cursor < m_length)
            move_cursor_to(m_cursor + 1);
        break;
    case 'D':
        if (m_cursor > 0)
            move_cursor_to(m_cursor - 1);
        break;
    case 'H': move_cursor_to(0); break;
    case 'F': move_cursor_to(m_length); break;
    case '~':
        if (m_csi_parameter == 1 || m_csi_parameter == 7)
            move_cursor_to(0);
        else if (m_csi_parameter == 4 || m_csi_parameter == 8)
            move_cursor_to(m_length);
        else if (m_csi_parameter == 3)
            erase_at_cursor();
        break;
    default: break;
    }
}

void LineEditor::insert(char c)
{
    if (m_length == kMaxLength)
        return; // full: the terminal bell would be the polite answer; silence is enough
    for (usize i = m_length; i > m_cursor; --i)
        m_buffer[i] = m_buffer[i - 1];
    m_buffer[m_cursor] = c;
    ++m_length;
    m_buffer[m_length] = 0;
    if (m_cursor + 1 == m_length) {
        // Typing at the end, the common case: echo just the character.
        ++m_cursor;
        m_echo.write(&c, 1);
        return;
    }
    redraw_from_cursor(0);
    move_cursor_to(m_cursor + 1);
}

void LineEditor::erase_before_cursor()
{
    if (m_cursor == 0)
        return;
    move_cursor_to(m_cursor - 1);
    erase_at_cursor();
}

void LineEditor::erase_at_cursor()
{
    if (m_cursor == m_length)
        return;
    for (usize i = m_cursor; i + 1 < m_length; ++i)
        m_buffer[i] = m_buffer[i + 1];
    --m_length;
    m_buffer[m_length] = 0;
    redraw_from_cursor(1);
}

// Rewrites the buffer from the cursor to the end, blanks `erased` cells left over past the new
// end, and puts the terminal cursor back where m_cursor says.
void LineEditor::redraw_from_cursor(usize erased)
{
    write(StringView(m_buffer + m_cursor, m_length - m_cursor));
    for (usize i = 0; i < erased; ++i)
        write(" ");
    usize back = m_length - m_cursor + erased;
    for (usize i = 0; i < back; ++i)
        write("\b");
}

void LineEditor::move_cursor_to(usize position)
{
    while (m_cursor > position) {
        write("\b");
        --m_cursor;
    }
    if (position > m_cursor) {
        // Moving right re-prints the characters passed over.
        write(StringView(m_buffer + m_cursor, position - m_cursor));
        m_cursor = position;
    }
}

void LineEditor::replace_line(StringView text)
{
    move_cursor_to(0);
    usize old_length = m_length;
    m_length = min(text.length(), kMaxLength);
    for (usize i = 0; i < m_length; ++i)
        m_buffer[i] = text[i];
    m_buffer[m_length] = 0;
    redraw_from_cursor(old_length > m_length ? old_length - m_length : 0);
    move_cursor_to(m_length);
}

void LineEditor::recall_history(int direction)
{
    usize target = m_history_offset;
    if (direction > 0 && m_history_offset < m_history_count)
        ++target;
    else if (direction < 0 && m_history_offset > 0)
        --target;
    if (target == m_history_offset)
        return;
    if (m_history_offset == 0) {
        // Leaving the line being typed: keep it to come back to.
        for (usize i = 0; i < m_length; ++i)
            m_draft[i] = m_buffer[i];
        m_draft_length = m_length;
    }
    m_history_offset = target;
    if (target == 0) {
        replace_line(StringView(m_draft, m_draft_length));
        return;
    }
    usize slot = (m_history_next + kHistorySize - target) % kHistorySize;
    replace_line(StringView(m_history[slot], m_history_lengths[slot]));
}

void LineEditor::commit_to_history()
{
    StringView text = line().trimmed();
    if (text.is_empty())
        return;
    if (m_history_count) {
        usize newest = (m_history_next + kHistorySize - 1) % kHistorySize;
        if (StringView(m_history[newest], m_history_lengths[newest]) == line())
            return; // the same command twice in a row is kept once
    }
    for (usize i = 0; i < m_length; ++i)
        m_history[m_history_next][i] = m_buffer[i];
    m_history_lengths[m_history_next] = m_length;
    m_history_next = (m_history_next + 1) % kHistorySize;
    if (m_history_count < kHistorySize)
        ++m_history_count;
}

} // namespace skiff::console
