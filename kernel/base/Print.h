#pragma once

// Kernel output: everything printed goes to the console device (kernel/base/ConsoleDevice.h).
// Safe from any context, including interrupt handlers and the panic path: output is polled, and a
// kprint call formats into a buffer on the stack that is written with interrupts held off, so
// lines from different threads do not interleave mid-line (only output longer than the buffer is
// split).

#include <lib/Format.h>

namespace skiff {

void console_write(char const* chars, usize length);

// A FormatSink that collects up to kCapacity bytes and writes them to the console in one go.
class ConsoleBufferSink final : public FormatSink {
public:
    static constexpr usize kCapacity = 256;
    ~ConsoleBufferSink() { flush(); }
    void write(char const* chars, usize length) override;
    void flush();

private:
    char m_buffer[kCapacity];
    usize m_length { 0 };
};

// A sink that writes straight through (each write with interrupts held off): for commands that
// print tables line by line.
FormatSink& console_sink();

template<typename... Args>
void kprint(StringView format_string, Args const&... args)
{
    ConsoleBufferSink sink;
    format(sink, format_string, args...);
}

template<typename... Args>
void kprintln(StringView format_string, Args const&... args)
{
    ConsoleBufferSink sink;
    format(sink, format_string, args...);
    sink.write("\n", 1);
}

} // namespace skiff
