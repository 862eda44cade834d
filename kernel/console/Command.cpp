#include <kernel/console/Command.h>

namespace skiff::console {

bool Arguments::parse(StringView line, Arguments& out)
{
    out.m_count = 0;
    usize i = 0;
    while (i < line.length()) {
        while (i < line.length() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        if (i == line.length())
            break;
        if (out.m_count == kMaxWords)
            return false;
        usize start;
        usize end;
        if (line[i] == '"') {
            start = ++i;
            while (i < line.length() && line[i] != '"')
                ++i;
            if (i == line.length())
                return false; // unterminated quote
            end = i++;
        } else {
            start = i;
            while (i < line.length() && line[i] != ' ' && line[i] != '\t')
                ++i;
            end = i;
        }
        out.m_words[out.m_count++] = line.substring(start, end - start);
    }
    return true;
}

bool Arguments::has_flag(StringView flag) const
{
    for (usize i = 1; i < m_count; ++i)
        if (m_words[i] == flag)
            return true;
    return false;
}

StringView Arguments::option(StringView flag) const
{
    for (usize i = 1; i + 1 < m_count; ++i)
        if (m_words[i] == flag)
            return m_words[i + 1];
    return {};
}

bool CommandTable::add(Command const& command)
{
    if (m_count == kMaxCommands || find(command.name))
        return false;
    // Kept sorted by name so that `help` lists them alphabetically.
    usize position = m_count;
    while (position > 0 && StringView(m_commands[position - 1].name).compare(command.name) > 0) {
        m_commands[position] = m_commands[position - 1];
        --position;
    }
    m_commands[position] = command;
    ++m_count;
    return true;
}

Command const* CommandTable::find(StringView name) const
{
    for (usize i = 0; i < m_count; ++i)
        if (StringView(m_commands[i].name) == name)
            return &m_commands[i];
    return nullptr;
}

int CommandTable::execute(StringView line, FormatSink& out) const
{
    Arguments arguments;
    if (!Arguments::parse(line, arguments)) {
        format(out, "error: cannot parse the line (unterminated quote, or more than {} words)\n", Arguments::kMaxWords);
        return -1;
    }
    if (arguments.count() == 0)
        return -1;
    Command const* command = find(arguments[0]);
    if (!command) {
        format(out, "{}: unknown command (type `help` for the list)\n", arguments[0]);
        return -1;
    }
    return command->function(arguments);
}

} // namespace skiff::console
