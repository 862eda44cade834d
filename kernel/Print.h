#pragma once

// Kernel output: everything printed goes to the serial console (COM1). Safe from any context,
// including interrupt handlers and the panic path: output is polled and interrupts are held off
// for the duration of one call, so lines from different threads do not interleave mid-line.

#include <lib/Format.h>

namespace skiff {

FormatSink& console_sink();
void console_write(char const* chars, usize length);

template<typename... Args>
void kprint(StringView format_string, Args const&... args)
{
    format(console_sink(), format_string, args...);
}

template<typename... Args>
void kprintln(StringView format_string, Args const&... args)
{
    format(console_sink(), format_string, args...);
    console_write("\n", 1);
}

} // namespace skiff
