#pragma once

#include <lib/Span.h>
#include <lib/Types.h>

namespace skiff {

constexpr usize string_length(char const* s)
{
    usize n = 0;
    while (s[n])
        ++n;
    return n;
}

// A non-owning, not necessarily NUL-terminated view of characters.
class StringView {
public:
    constexpr StringView() = default;
    constexpr StringView(char const* chars, usize length)
        : m_chars(chars)
        , m_length(length)
    {
    }
    constexpr StringView(char const* cstring)
        : m_chars(cstring)
        , m_length(cstring ? string_length(cstring) : 0)
    {
    }

    constexpr char const* chars() const { return m_chars; }
    constexpr usize length() const { return m_length; }
    constexpr bool is_empty() const { return m_length == 0; }
    constexpr char operator[](usize index) const
    {
        VERIFY(index < m_length);
        return m_chars[index];
    }
    constexpr char const* begin() const { return m_chars; }
    constexpr char const* end() const { return m_chars + m_length; }

    constexpr StringView substring(usize start) const
    {
        VERIFY(start <= m_length);
        return { m_chars + start, m_length - start };
    }
    constexpr StringView substring(usize start, usize length) const
    {
        VERIFY(start <= m_length && length <= m_length - start);
        return { m_chars + start, length };
    }

    constexpr bool operator==(StringView other) const
    {
        if (m_length != other.m_length)
            return false;
        for (usize i = 0; i < m_length; ++i)
            if (m_chars[i] != other.m_chars[i])
                return false;
        return true;
    }
    // Lexicographic order by byte value: negative, zero or positive.
    constexpr int compare(StringView other) const
    {
        usize common = m_length < other.m_length ? m_length : other.m_length;
        for (usize i = 0; i < common; ++i)
            if (m_chars[i] != other.m_chars[i])
                return static_cast<unsigned char>(m_chars[i]) < static_cast<unsigned char>(other.m_chars[i]) ? -1 : 1;
        return m_length == other.m_length ? 0 : (m_length < other.m_length ? -1 : 1);
    }
    constexpr bool starts_with(StringView prefix) const
    {
        return prefix.m_length <= m_length && substring(0, prefix.m_length) == prefix;
    }
    constexpr bool ends_with(StringView suffix) const
    {
        return suffix.m_length <= m_length && substring(m_length - suffix.m_length) == suffix;
    }

    // Index of the first occurrence of c, or -1.
    constexpr i64 find(char c, usize from = 0) const
    {
        for (usize i = from; i < m_length; ++i)
            if (m_chars[i] == c)
                return static_cast<i64>(i);
        return -1;
    }

    // Leading and trailing spaces and tabs removed.
    constexpr StringView trimmed() const
    {
        usize start = 0, end = m_length;
        while (start < end && (m_chars[start] == ' ' || m_chars[start] == '\t'))
            ++start;
        while (end > start && (m_chars[end - 1] == ' ' || m_chars[end - 1] == '\t'))
            --end;
        return { m_chars + start, end - start };
    }

private:
    char const* m_chars { nullptr };
    usize m_length { 0 };
};

} // namespace skiff
