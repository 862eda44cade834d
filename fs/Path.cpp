#include <fs/Path.h>

namespace skiff::fs {

bool normalize_path(StringView path, char* out, usize capacity, StringView& normalized, DotDot dot_dot)
{
    if (capacity == 0)
        return false;
    usize length = 0;
    usize i = 0;
    while (i < path.length()) {
        while (i < path.length() && path[i] == '/')
            ++i;
        usize start = i;
        while (i < path.length() && path[i] != '/') {
            if (path[i] == '\0')
                return false;
            ++i;
        }
        StringView component = path.substring(start, i - start);
        if (component.is_empty() || component == ".")
            continue;
        if (component == "..") {
            if (dot_dot == DotDot::Refuse || length == 0)
                return false;
            // Drop the last component (and the slash in front of it).
            while (length > 0 && out[length - 1] != '/')
                --length;
            if (length > 0)
                --length;
            continue;
        }
        usize needed = component.length() + (length ? 1 : 0);
        if (length + needed + 1 > capacity)
            return false;
        if (length)
            out[length++] = '/';
        for (char c : component)
            out[length++] = c;
    }
    out[length] = 0;
    normalized = StringView(out, length);
    return true;
}

StringView path_basename(StringView path)
{
    usize i = path.length();
    while (i > 0 && path[i - 1] != '/')
        --i;
    return path.substring(i);
}

} // namespace skiff::fs
