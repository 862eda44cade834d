#pragma once

// From a request-target (RFC 9112 §3.2) to the path it names: origin-form "/a%20b?q" and
// absolute-form "http://host/a%20b" give "/a b"; the query is dropped (a static server ignores
// it), percent-escapes are decoded (RFC 3986 §2.1). Refused: anything not starting with '/' after
// the authority (asterisk-form, authority-form), a malformed escape, an escaped NUL. Dot segments
// are left for the file system's normalisation (which refuses climbing above the root).

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::http {

// Writes the decoded path into out (capacity bytes, NUL-terminated); false if malformed or too long.
bool decode_target(StringView target, char* out, usize capacity, StringView& path);

} // namespace skiff::http
