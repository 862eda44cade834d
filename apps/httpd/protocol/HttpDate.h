#pragma once

// HTTP dates (RFC 9110 §5.6.7): the preferred IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" is what
// this server sends (Last-Modified); a recipient must also read the obsolete RFC 850 form
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime's "Sun Nov  6 08:49:37 1994".

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::http {

constexpr usize kHttpDateLength = 29;

// Writes the IMF-fixdate (29 characters and a NUL: capacity >= 30). Returns its length.
usize format_http_date(i64 unix_seconds, char* out, usize capacity);

// Any of the three forms; false for anything else (If-Modified-Since is then ignored).
bool parse_http_date(StringView text, i64& unix_seconds);

} // namespace skiff::http
