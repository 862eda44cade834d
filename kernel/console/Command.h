#pragma once

// The console's command table. Subsystems register their commands explicitly from
// apps/Apps.cpp (no global constructors): each exposes `void register_<name>_commands()`.

#include <lib/Format.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::console {

// A command line split into words. Words are views into the line buffer, valid for the call.
class Arguments {
public:
    static constexpr usize kMaxWords = 32;
    usize count() const { return m_count; }
    StringView operator[](usize index) const { return index < m_count ? m_words[index] : StringView(); }
    // Helpers for "-n 100"-style options.
    bool has_flag(StringView flag) const;
    StringView option(StringView flag) const; // value after the flag, or empty

    // Splits on spaces and tabs; "double quotes" group words. Returns false if there are more
    // than kMaxWords words or a quote is unterminated.
    static bool parse(StringView line, Arguments& out);

private:
    StringView m_words[kMaxWords];
    usize m_count { 0 };
};

// A command returns 0 on success; anything else is printed as its status.
using CommandFunction = int (*)(Arguments const& arguments);

struct Command {
    char const* name;
    char const* usage;       // e.g. "poweroff [code]"
    char const* description; // one line, shown by `help`
    CommandFunction function;
};

class CommandTable {
public:
    static constexpr usize kMaxCommands = 64;
    bool add(Command const& command); // false if full or the name is taken
    Command const* find(StringView name) const;
    usize count() const { return m_count; }
    Command const& at(usize index) const { return m_commands[index]; }
    // Runs a whole line: parse, look up, call. Prints an error for unknown commands. Returns the
    // command's status, or -1 when nothing ran.
    int execute(StringView line, FormatSink& out) const;

private:
    Command m_commands[kMaxCommands];
    usize m_count { 0 };
};

CommandTable& commands();
inline void register_command(Command const& command)
{
    commands().add(command);
}

} // namespace skiff::console
