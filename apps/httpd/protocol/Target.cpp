#include <apps/httpd/protocol/Target.h>

namespace skiff::http {

namespace {

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool starts_with_ignoring_case(StringView text, StringView prefix)
{
    if (text.length() < prefix.length())
        return false;
    for (usize i = 0; i < prefix.length(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

} // namespace

bool decode_target(StringView target, char* out, usize capacity, StringView& path)
{
    StringView rest = target;
    // absolute-form (RFC 9112 §3.2.2: a server MUST accept it): skip "scheme://authority".
    StringView const schemes[] = { "http://", "https://" };
    for (StringView scheme : schemes) {
        if (starts_with_ignoring_case(rest, scheme)) {
            rest = rest.substring(scheme.length());
            i64 slash = rest.find('/');
            rest = slash < 0 ? StringView("/") : rest.substring(static_cast<usize>(slash));
            break;
        }
    }
    if (rest.is_empty() || rest[0] != '/')
        return false;
    i64 query = rest.find('?');
    if (query >= 0)
        rest = rest.substring(0, static_cast<usize>(query));
    i64 fragment = rest.find('#'); // never sent by a client, but not part of a path either
    if (fragment >= 0)
        rest = rest.substring(0, static_cast<usize>(fragment));
    usize length = 0;
    for (usize i = 0; i < rest.length(); ++i) {
        char c = rest[i];
        if (c == '%') {
            if (i + 2 >= rest.length())
                return false;
            int high = hex_value(rest[i + 1]);
            int low = hex_value(rest[i + 2]);
            if (high < 0 || low < 0)
                return false;
            c = static_cast<char>(high * 16 + low);
            if (c == 0)
                return false;
            i += 2;
        }
        if (length + 1 >= capacity)
            return false;
        out[length++] = c;
    }
    out[length] = 0;
    path = StringView(out, length);
    return true;
}

} // namespace skiff::http
