#include <apps/httpd/protocol/ContentType.h>

namespace skiff::http {

namespace {

struct Mapping {
    char const* extension;
    char const* type;
};

// Text types carry their charset: the site is UTF-8 (RFC 9110 §8.3.2).
constexpr Mapping kTypes[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" }, // RFC 9239
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "gif", "image/gif" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "webp", "image/webp" },
    { "ico", "image/vnd.microsoft.icon" },
    { "wasm", "application/wasm" },
    { "pdf", "application/pdf" },
    { "tar", "application/x-tar" },
    { "gz", "application/gzip" },
    { "woff2", "font/woff2" },
};

bool equals_ignoring_case(StringView a, char const* b)
{
    StringView other(b);
    if (a.length() != other.length())
        return false;
    for (usize i = 0; i < a.length(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != other[i])
            return false;
    }
    return true;
}

} // namespace

StringView content_type_for(StringView path)
{
    usize dot = path.length();
    while (dot > 0 && path[dot - 1] != '.' && path[dot - 1] != '/')
        --dot;
    if (dot == 0 || path[dot - 1] != '.')
        return "application/octet-stream";
    StringView extension = path.substring(dot);
    for (auto const& mapping : kTypes) {
        if (equals_ignoring_case(extension, mapping.extension))
            return mapping.type;
    }
    return "application/octet-stream";
}

} // namespace skiff::http
