#pragma once

// Printing from a user program: lib/Format.h's format language, written to the console with the
// Write system call. Each print() call is formatted into a buffer on the stack and written in one
// call (longer output in pieces), so lines of different tasks do not interleave mid-line.

#include <lib/Format.h>

namespace skiff::user {

// A sink that collects up to kCapacity bytes and writes them to a descriptor (1 = the console).
class WriteSink final : public FormatSink {
public:
    static constexpr usize kCapacity = 256;
    explicit WriteSink(i64 descriptor = 1)
        : m_descriptor(descriptor)
    {
    }
    ~WriteSink() { flush(); }
    void write(char const* chars, usize length) override;
    void flush();

private:
    i64 m_descriptor;
    char m_buffer[kCapacity];
    usize m_length { 0 };
};

template<typename... Args>
void print(StringView format_string, Args const&... args)
{
    WriteSink sink;
    format(sink, format_string, args...);
}

template<typename... Args>
void println(StringView format_string, Args const&... args)
{
    WriteSink sink;
    format(sink, format_string, args...);
    sink.write("\n", 1);
}

} // namespace skiff::user
