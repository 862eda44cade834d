#include <apps/httpd/protocol/Range.h>

namespace skiff::http {

namespace {

// Digits to a number that saturates instead of wrapping: "bytes=99999999999999999999999-" is a
// range past any end, not byte 3,875,820,019,684,212,735.
bool parse_digits(StringView text, u64& out)
{
    if (text.is_empty())
        return false;
    u64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        u64 digit = static_cast<u64>(c - '0');
        value = value > (~0ull - digit) / 10 ? ~0ull : value * 10 + digit;
    }
    out = value;
    return true;
}

bool is_bytes_unit(StringView unit)
{
    constexpr char kBytes[] = "bytes";
    if (unit.length() != 5)
        return false;
    for (usize i = 0; i < 5; ++i) {
        char c = unit[i];
        if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kBytes[i])
            return false;
    }
    return true;
}

} // namespace

RangeResult evaluate_range(StringView value, u64 size)
{
    RangeResult whole;
    StringView trimmed = value.trimmed();
    i64 equals = trimmed.find('=');
    if (equals < 0 || !is_bytes_unit(trimmed.substring(0, static_cast<usize>(equals)).trimmed()))
        return whole;
    StringView set = trimmed.substring(static_cast<usize>(equals) + 1).trimmed();
    if (set.find(',') >= 0)
        return whole; // several ranges: one whole response instead of multipart/byteranges
    i64 dash = set.find('-');
    if (dash < 0)
        return whole;
    StringView first_text = set.substring(0, static_cast<usize>(dash)).trimmed();
    StringView last_text = set.substring(static_cast<usize>(dash) + 1).trimmed();
    RangeResult result;
    if (first_text.is_empty()) {
        // suffix-range: the last N bytes.
        u64 suffix = 0;
        if (!parse_digits(last_text, suffix))
            return whole;
        if (suffix == 0 || size == 0) {
            result.kind = RangeKind::Unsatisfiable;
            return result;
        }
        result.kind = RangeKind::Satisfiable;
        result.first = size - min(suffix, size);
        result.last = size - 1;
        return result;
    }
    u64 first = 0;
    if (!parse_digits(first_text, first))
        return whole;
    u64 last = ~0ull;
    if (!last_text.is_empty() && !parse_digits(last_text, last))
        return whole;
    if (last < first)
        return whole; // RFC 9110 §14.1.1: invalid, and an invalid range may be ignored
    if (first >= size) {
        result.kind = RangeKind::Unsatisfiable;
        return result;
    }
    result.kind = RangeKind::Satisfiable;
    result.first = first;
    result.last = min(last, size - 1);
    return result;
}

} // namespace skiff::http
