#pragma once

#include <lib/Error.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff {

// Where formatted text goes: the serial console, a fixed buffer, a test's string.
class FormatSink {
public:
    virtual void write(char const* chars, usize length) = 0;

protected:
    ~FormatSink() = default;
};

// A type-erased argument. format() packs its arguments into an array of these and hands them to
// one non-template routine, so each call site costs a few stores, not a template instantiation.
struct FormatArg {
    enum class Kind : u8 { Signed, Unsigned, Char, Bool, String, Pointer };
    Kind kind;
    union {
        i64 signed_value;
        u64 unsigned_value;
        char char_value;
        bool bool_value;
        StringView string_value;
        void const* pointer_value;
    };

    FormatArg(signed char v)
        : kind(Kind::Signed)
        , signed_value(v)
    {
    }
    FormatArg(short v)
        : kind(Kind::Signed)
        , signed_value(v)
    {
    }
    FormatArg(int v)
        : kind(Kind::Signed)
        , signed_value(v)
    {
    }
    FormatArg(long v)
        : kind(Kind::Signed)
        , signed_value(v)
    {
    }
    FormatArg(long long v)
        : kind(Kind::Signed)
        , signed_value(v)
    {
    }
    FormatArg(unsigned char v)
        : kind(Kind::Unsigned)
        , unsigned_value(v)
    {
    }
    FormatArg(unsigned short v)
        : kind(Kind::Unsigned)
        , unsigned_value(v)
    {
    }
    FormatArg(unsigned int v)
        : kind(Kind::Unsigned)
        , unsigned_value(v)
    {
    }
    FormatArg(unsigned long v)
        : kind(Kind::Unsigned)
        , unsigned_value(v)
    {
    }
    FormatArg(unsigned long long v)
        : kind(Kind::Unsigned)
        , unsigned_value(v)
    {
    }
    FormatArg(char v)
        : kind(Kind::Char)
        , char_value(v)
    {
    }
    FormatArg(bool v)
        : kind(Kind::Bool)
        , bool_value(v)
    {
    }
    FormatArg(char const* v)
        : kind(Kind::String)
        , string_value(v ? StringView(v) : StringView("(null)"))
    {
    }
    FormatArg(char* v)
        : FormatArg(static_cast<char const*>(v))
    {
    }
    FormatArg(StringView v)
        : kind(Kind::String)
        , string_value(v)
    {
    }
    FormatArg(Error v)
        : kind(Kind::String)
        , string_value(error_name(v))
    {
    }
    FormatArg(void const* v)
        : kind(Kind::Pointer)
        , pointer_value(v)
    {
    }
    FormatArg(void* v)
        : kind(Kind::Pointer)
        , pointer_value(v)
    {
    }
};

// The format language, a small subset of C++20 std::format:
//   {}        the argument in its natural form
//   {:x} {:X} hexadecimal; {:b} binary; {:#x} with a 0x prefix
//   {:8} {:<8} {:>8}  minimum width, left or right aligned (numbers right, text left by default)
//   {:08x}    zero padded
//   {{ and }} literal braces
// A mismatch between placeholders and arguments prints "{?}" rather than failing: formatting is
// used in panic paths and must never itself fault.
void vformat(FormatSink& sink, StringView format, FormatArg const* args, usize count);

template<typename... Args>
void format(FormatSink& sink, StringView format_string, Args const&... args)
{
    if constexpr (sizeof...(Args) == 0) {
        vformat(sink, format_string, nullptr, 0);
    } else {
        FormatArg packed[] = { FormatArg(args)... };
        vformat(sink, format_string, packed, sizeof...(Args));
    }
}

// A sink over a caller's fixed buffer. Output past the end is dropped and counted; the buffer is
// always NUL-terminated.
class BufferSink final : public FormatSink {
public:
    BufferSink(char* buffer, usize capacity)
        : m_buffer(buffer)
        , m_capacity(capacity)
    {
        if (m_capacity)
            m_buffer[0] = 0;
    }
    void write(char const* chars, usize length) override;
    usize length() const { return m_length; }
    bool truncated() const { return m_truncated; }
    StringView view() const { return { m_buffer, m_length }; }

private:
    char* m_buffer;
    usize m_capacity;
    usize m_length { 0 };
    bool m_truncated { false };
};

// Format into a buffer; returns the number of characters written (excluding the NUL).
template<typename... Args>
usize format_to(char* buffer, usize capacity, StringView format_string, Args const&... args)
{
    BufferSink sink(buffer, capacity);
    format(sink, format_string, args...);
    return sink.length();
}

// Parses an unsigned decimal or 0x-prefixed hexadecimal number; false if the text is not one or
// does not fit in 64 bits.
bool parse_u64(StringView text, u64& out);
bool parse_i64(StringView text, i64& out);

// "10.0.2.15" -> host-order u32; false on anything malformed.
bool parse_ipv4(StringView text, u32& out);

} // namespace skiff
