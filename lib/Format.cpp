#include <lib/Format.h>

namespace skiff {

namespace {

struct Spec {
    char align { 0 }; // '<', '>' or 0 for the default
    char fill { ' ' };
    usize width { 0 };
    char type { 0 }; // 'x', 'X', 'b', 'd' or 0
    bool alternate { false };
};

Spec parse_spec(StringView text)
{
    Spec spec;
    usize i = 0;
    if (i < text.length() && (text[i] == '<' || text[i] == '>')) {
        spec.align = text[i];
        ++i;
    }
    if (i < text.length() && text[i] == '#') {
        spec.alternate = true;
        ++i;
    }
    if (i < text.length() && text[i] == '0') {
        spec.fill = '0';
        ++i;
    }
    while (i < text.length() && text[i] >= '0' && text[i] <= '9') {
        spec.width = spec.width * 10 + static_cast<usize>(text[i] - '0');
        ++i;
    }
    if (i < text.length())
        spec.type = text[i];
    return spec;
}

void pad(FormatSink& sink, char fill, usize count)
{
    char chunk[16];
    for (auto& c : chunk)
        c = fill;
    while (count) {
        usize n = min<usize>(count, sizeof(chunk));
        sink.write(chunk, n);
        count -= n;
    }
}

void emit(FormatSink& sink, Spec const& spec, char const* prefix, StringView body, bool numeric)
{
    usize prefix_length = string_length(prefix);
    usize total = prefix_length + body.length();
    usize padding = spec.width > total ? spec.width - total : 0;
    char align = spec.align ? spec.align : (numeric ? '>' : '<');
    if (spec.fill == '0' && numeric) {
        // Zero padding goes between the sign/prefix and the digits.
        sink.write(prefix, prefix_length);
        pad(sink, '0', padding);
        sink.write(body.chars(), body.length());
        return;
    }
    if (align == '>')
        pad(sink, ' ', padding);
    sink.write(prefix, prefix_length);
    sink.write(body.chars(), body.length());
    if (align == '<')
        pad(sink, ' ', padding);
}

void emit_unsigned(FormatSink& sink, Spec const& spec, u64 value, bool negative)
{
    unsigned base = 10;
    char const* digits = "0123456789abcdef";
    char const* prefix = negative ? "-" : "";
    switch (spec.type) {
    case 'x':
        base = 16;
        if (spec.alternate)
            prefix = "0x";
        break;
    case 'X':
        base = 16;
        digits = "0123456789ABCDEF";
        if (spec.alternate)
            prefix = "0x";
        break;
    case 'b':
        base = 2;
        if (spec.alternate)
            prefix = "0b";
        break;
    default: break;
    }
    char buffer[66];
    usize position = sizeof(buffer);
    do {
        buffer[--position] = digits[value % base];
        value /= base;
    } while (value);
    emit(sink, spec, prefix, StringView(buffer + position, sizeof(buffer) - position), true);
}

void emit_argument(FormatSink& sink, Spec const& spec, FormatArg const& arg)
{
    switch (arg.kind) {
    case FormatArg::Kind::Signed:
        if (arg.signed_value < 0 && spec.type != 'x' && spec.type != 'X' && spec.type != 'b')
            emit_unsigned(sink, spec, 0 - static_cast<u64>(arg.signed_value), true);
        else
            emit_unsigned(sink, spec, static_cast<u64>(arg.signed_value), false);
        return;
    case FormatArg::Kind::Unsigned: emit_unsigned(sink, spec, arg.unsigned_value, false); return;
    case FormatArg::Kind::Char:
        if (spec.type == 'd' || spec.type == 'x' || spec.type == 'X') {
            emit_unsigned(sink, spec, static_cast<u8>(arg.char_value), false);
            return;
        }
        emit(sink, spec, "", StringView(&arg.char_value, 1), false);
        return;
    case FormatArg::Kind::Bool: emit(sink, spec, "", arg.bool_value ? "true" : "false", false); return;
    case FormatArg::Kind::String: emit(sink, spec, "", arg.string_value, false); return;
    case FormatArg::Kind::Pointer: {
        Spec pointer_spec = spec;
        pointer_spec.type = 'x';
        pointer_spec.alternate = true;
        if (!spec.width) {
            pointer_spec.width = 18;
            pointer_spec.fill = '0';
        }
        emit_unsigned(sink, pointer_spec, reinterpret_cast<uptr>(arg.pointer_value), false);
        return;
    }
    }
}

} // namespace

void vformat(FormatSink& sink, StringView format, FormatArg const* args, usize count)
{
    usize next_arg = 0;
    usize literal_start = 0;
    usize i = 0;
    auto flush_literal = [&](usize end) {
        if (end > literal_start)
            sink.write(format.chars() + literal_start, end - literal_start);
    };
    while (i < format.length()) {
        char c = format[i];
        if (c == '{' && i + 1 < format.length() && format[i + 1] == '{') {
            flush_literal(i + 1);
            i += 2;
            literal_start = i;
            continue;
        }
        if (c == '}' && i + 1 < format.length() && format[i + 1] == '}') {
            flush_literal(i + 1);
            i += 2;
            literal_start = i;
            continue;
        }
        if (c != '{') {
            ++i;
            continue;
        }
        flush_literal(i);
        i64 close = format.find('}', i);
        if (close < 0) {
            // An unterminated placeholder is printed as it is.
            literal_start = i;
            break;
        }
        StringView inside = format.substring(i + 1, static_cast<usize>(close) - i - 1);
        Spec spec;
        if (!inside.is_empty() && inside[0] == ':')
            spec = parse_spec(inside.substring(1));
        if (next_arg < count)
            emit_argument(sink, spec, args[next_arg++]);
        else
            sink.write("{?}", 3);
        i = static_cast<usize>(close) + 1;
        literal_start = i;
    }
    flush_literal(format.length());
}

void BufferSink::write(char const* chars, usize length)
{
    if (m_capacity == 0) {
        m_truncated = m_truncated || length;
        return;
    }
    usize room = m_capacity - 1 - m_length;
    usize n = min(room, length);
    for (usize i = 0; i < n; ++i)
        m_buffer[m_length + i] = chars[i];
    m_length += n;
    m_buffer[m_length] = 0;
    if (n < length)
        m_truncated = true;
}

bool parse_u64(StringView text, u64& out)
{
    if (text.is_empty())
        return false;
    unsigned base = 10;
    usize i = 0;
    if (text.length() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        i = 2;
    }
    u64 value = 0;
    for (; i < text.length(); ++i) {
        char c = text[i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            digit = static_cast<unsigned>(c - 'A' + 10);
        else
            return false;
        if (value > (~0ull - digit) / base)
            return false;
        value = value * base + digit;
    }
    out = value;
    return true;
}

bool parse_i64(StringView text, i64& out)
{
    bool negative = !text.is_empty() && text[0] == '-';
    u64 magnitude;
    if (!parse_u64(negative ? text.substring(1) : text, magnitude))
        return false;
    if (negative) {
        if (magnitude > (1ull << 63))
            return false;
        out = static_cast<i64>(0 - magnitude);
    } else {
        if (magnitude > static_cast<u64>(INT64_MAX))
            return false;
        out = static_cast<i64>(magnitude);
    }
    return true;
}

bool parse_ipv4(StringView text, u32& out)
{
    u32 value = 0;
    usize start = 0;
    for (int part = 0; part < 4; ++part) {
        usize end = start;
        while (end < text.length() && text[end] != '.')
            ++end;
        if (end == start || end - start > 3)
            return false;
        u64 octet;
        if (!parse_u64(text.substring(start, end - start), octet) || octet > 255)
            return false;
        // Reject "0x1" style and leading zeros' ambiguity: only plain decimal digits.
        for (usize k = start; k < end; ++k)
            if (text[k] < '0' || text[k] > '9')
                return false;
        value = (value << 8) | static_cast<u32>(octet);
        if (part < 3) {
            if (end >= text.length() || text[end] != '.')
                return false;
            start = end + 1;
        } else if (end != text.length()) {
            return false;
        }
    }
    out = value;
    return true;
}

char const* error_name(Error error)
{
    switch (error) {
    case Error::None: return "no error";
    case Error::NoMemory: return "out of memory";
    case Error::InvalidArgument: return "invalid argument";
    case Error::OutOfRange: return "out of range";
    case Error::NotFound: return "not found";
    case Error::AlreadyExists: return "already exists";
    case Error::Busy: return "busy";
    case Error::WouldBlock: return "would block";
    case Error::TimedOut: return "timed out";
    case Error::Interrupted: return "interrupted";
    case Error::NotSupported: return "not supported";
    case Error::Malformed: return "malformed";
    case Error::AddressInUse: return "address in use";
    case Error::AddressNotAvailable: return "address not available";
    case Error::NetworkUnreachable: return "network unreachable";
    case Error::HostUnreachable: return "host unreachable";
    case Error::ConnectionRefused: return "connection refused";
    case Error::ConnectionReset: return "connection reset";
    case Error::ConnectionAborted: return "connection aborted";
    case Error::NotConnected: return "not connected";
    case Error::AlreadyConnected: return "already connected";
    case Error::InProgress: return "in progress";
    case Error::Shutdown: return "shut down";
    case Error::MessageTooLong: return "message too long";
    case Error::BadState: return "bad state";
    case Error::Fault: return "bad address";
    case Error::BadDescriptor: return "bad descriptor";
    case Error::LimitReached: return "limit reached";
    case Error::NoBufferSpace: return "no buffer space";
    }
    return "unknown error";
}

} // namespace skiff
