#pragma once

// Content-Type by file name extension (RFC 9110 §8.3): the media types of the files a small site
// holds; anything else is application/octet-stream, which a browser offers to save rather than
// guess at (RFC 9110 §8.3: "if not known, the recipient may assume application/octet-stream").

#include <lib/StringView.h>

namespace skiff::http {

StringView content_type_for(StringView path);

} // namespace skiff::http
