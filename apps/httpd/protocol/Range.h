#pragma once

// The Range request field for one range of bytes (RFC 9110 §14.1-14.2), against a file of a
// known size. Everything this server does not do is "serve it whole", which RFC 9110 §14.2
// allows ("a server MAY ignore the Range header field"): another unit, several ranges, a
// malformed specifier. A well-formed single range either selects bytes (206) or lies wholly past
// the end (416).

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::http {

enum class RangeKind : u8 {
    Whole,         // no usable range: 200 with the whole file
    Satisfiable,   // 206: bytes [first, last]
    Unsatisfiable, // 416, with "Content-Range: bytes */size"
};

struct RangeResult {
    RangeKind kind { RangeKind::Whole };
    u64 first { 0 };
    u64 last { 0 }; // inclusive
    u64 length() const { return last - first + 1; }
};

//   "bytes=0-99"    the first 100 bytes (last clamped to size - 1)
//   "bytes=100-"    from byte 100 to the end
//   "bytes=-100"    the last 100 bytes (all of a shorter file); "bytes=-0" is unsatisfiable
//   first >= size   unsatisfiable (so is any range of an empty file)
RangeResult evaluate_range(StringView value, u64 size);

} // namespace skiff::http
