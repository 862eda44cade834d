#include <apps/httpd/protocol/HttpDate.h>
#include <lib/CivilTime.h>
#include <lib/Format.h>

namespace skiff::http {

namespace {

constexpr char const* kDays[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
constexpr char const* kLongDays[7] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };
constexpr char const* kMonths[12]
    = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

// A small cursor over the text: each reader consumes what it matched or fails.
class Cursor {
public:
    explicit Cursor(StringView text)
        : m_text(text)
    {
    }
    bool literal(StringView expected)
    {
        if (!m_text.substring(m_position).starts_with(expected))
            return false;
        m_position += expected.length();
        return true;
    }
    bool number(usize digits, u32& out, bool allow_leading_space = false)
    {
        u32 value = 0;
        for (usize i = 0; i < digits; ++i) {
            if (m_position >= m_text.length())
                return false;
            char c = m_text[m_position++];
            if (allow_leading_space && i == 0 && c == ' ')
                continue;
            if (c < '0' || c > '9')
                return false;
            value = value * 10 + static_cast<u32>(c - '0');
        }
        out = value;
        return true;
    }
    bool one_of(char const* const* words, usize count, u32& index)
    {
        for (usize i = 0; i < count; ++i) {
            if (literal(words[i])) {
                index = static_cast<u32>(i);
                return true;
            }
        }
        return false;
    }
    bool at_end() const { return m_position == m_text.length(); }

private:
    StringView m_text;
    usize m_position { 0 };
};

bool to_unix(i64 year, u32 month, u32 day, u32 hour, u32 minute, u32 second, i64& out)
{
    CivilTime time;
    time.year = year;
    time.month = static_cast<u8>(month);
    time.day = static_cast<u8>(day);
    time.hour = static_cast<u8>(hour);
    time.minute = static_cast<u8>(minute);
    time.second = static_cast<u8>(min(second, 60u));
    return second <= 60 && unix_from_civil(time, out);
}

bool parse_time_of_day(Cursor& c, u32& hour, u32& minute, u32& second)
{
    return c.number(2, hour) && c.literal(":") && c.number(2, minute) && c.literal(":") && c.number(2, second);
}

} // namespace

usize format_http_date(i64 unix_seconds, char* out, usize capacity)
{
    auto t = civil_from_unix(unix_seconds);
    return format_to(out, capacity, "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[t.weekday], t.day,
        kMonths[t.month - 1], t.year, t.hour, t.minute, t.second);
}

bool parse_http_date(StringView text, i64& unix_seconds)
{
    u32 weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
    {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        Cursor c(text);
        if (c.one_of(kDays, 7, weekday) && c.literal(", ") && c.number(2, day) && c.literal(" ")
            && c.one_of(kMonths, 12, month) && c.literal(" ") && c.number(4, year) && c.literal(" ")
            && parse_time_of_day(c, hour, minute, second) && c.literal(" GMT") && c.at_end())
            return to_unix(year, month + 1, day, hour, minute, second, unix_seconds);
    }
    {
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". Two-digit years: 70-99 are 19xx, 00-69 20xx.
        Cursor c(text);
        if (c.one_of(kLongDays, 7, weekday) && c.literal(", ") && c.number(2, day) && c.literal("-")
            && c.one_of(kMonths, 12, month) && c.literal("-") && c.number(2, year) && c.literal(" ")
            && parse_time_of_day(c, hour, minute, second) && c.literal(" GMT") && c.at_end())
            return to_unix(year + (year >= 70 ? 1900 : 2000), month + 1, day, hour, minute, second, unix_seconds);
    }
    {
        // asctime: "Sun Nov  6 08:49:37 1994"
        Cursor c(text);
        if (c.one_of(kDays, 7, weekday) && c.literal(" ") && c.one_of(kMonths, 12, month) && c.literal(" ")
            && c.number(2, day, true) && c.literal(" ") && parse_time_of_day(c, hour, minute, second) && c.literal(" ")
            && c.number(4, year) && c.at_end())
            return to_unix(year, month + 1, day, hour, minute, second, unix_seconds);
    }
    return false;
}

} // namespace skiff::http
