#pragma once

// File paths as the file system stores them: relative to the archive's root, components joined
// by single slashes, no "." or ".." or empty components, no leading or trailing slash. The root
// itself is the empty path.
//
//   "/css//site.css"  -> "css/site.css"
//   "./a/./b/"        -> "a/b"
//   "a/../b"          -> "b"
//   "/../etc"         -> refused: it climbs above the root

#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::fs {

enum class DotDot : u8 {
    Resolve, // "a/../b" is "b" (a console or URL path)
    Refuse,  // any ".." is an error (a path stored in an archive: never trust one that climbs)
};

// Writes the normalised form of `path` into `out` (capacity bytes, NUL-terminated) and returns
// it; false when it climbs above the root, holds a NUL, or does not fit.
bool normalize_path(StringView path, char* out, usize capacity, StringView& normalized, DotDot dot_dot);

// The last component ("site.css" of "css/site.css"); the whole path if it has no slash.
StringView path_basename(StringView path);

} // namespace skiff::fs
