#include <fs/FileSystem.h>
#include <fs/Path.h>

namespace skiff::fs {

namespace {

constexpr u64 kPageSize = 4096;

// Orders `path` against the string `directory` + "/": negative, zero (never: a node's path has
// no trailing slash) or positive.
int compare_with_directory(StringView path, StringView directory)
{
    usize common = min(path.length(), directory.length());
    for (usize i = 0; i < common; ++i) {
        if (path[i] != directory[i])
            return static_cast<u8>(path[i]) < static_cast<u8>(directory[i]) ? -1 : 1;
    }
    if (path.length() <= directory.length())
        return -1; // "dir" sorts before "dir/"
    // "dir-x" sorts before "dir/"; "dir/a" (a path never ends in '/') and "dir0" after it.
    return static_cast<u8>(path[directory.length()]) < static_cast<u8>('/') ? -1 : 1;
}

void sift_down(FileNode* nodes, u32 start, u32 count)
{
    u32 root = start;
    while (2 * root + 1 < count) {
        u32 child = 2 * root + 1;
        if (child + 1 < count && nodes[child].path.compare(nodes[child + 1].path) < 0)
            ++child;
        if (nodes[root].path.compare(nodes[child].path) >= 0)
            return;
        swap(nodes[root], nodes[child]);
        root = child;
    }
}

// Heapsort by path: O(n log n) with no allocation, whatever order the archive lists its members in.
void sort_by_path(FileNode* nodes, u32 count)
{
    if (count < 2)
        return;
    for (u32 start = count / 2; start-- > 0;)
        sift_down(nodes, start, count);
    for (u32 end = count - 1; end > 0; --end) {
        swap(nodes[0], nodes[end]);
        sift_down(nodes, 0, end);
    }
}

} // namespace

StringView FileNode::name() const
{
    return path_basename(path);
}

FileSystem::~FileSystem()
{
    clear();
}

void FileSystem::clear()
{
    delete[] m_nodes;
    delete[] m_paths;
    m_nodes = nullptr;
    m_paths = nullptr;
    m_count = 0;
    m_files = 0;
    m_file_bytes = 0;
    m_skipped = 0;
    m_unaligned = 0;
    m_archive = {};
}

Error FileSystem::fail(char const* problem, u64 offset)
{
    clear();
    m_problem = problem;
    m_problem_offset = offset;
    return Error::Malformed;
}

Result<void> FileSystem::load(ReadonlyBytes archive)
{
    clear();
    m_problem = nullptr;
    m_problem_offset = 0;

    // Pass 1: check every header, and count nodes (with the directories paths imply) and path bytes.
    u64 nodes_needed = 0;
    u64 path_bytes = 0;
    {
        TarReader reader(archive);
        TarEntry entry;
        char buffer[kMaxArchivePath];
        while (true) {
            auto more = reader.next(entry);
            if (more.is_error())
                return fail(reader.problem(), reader.problem_offset());
            if (!more.value())
                break;
            if (entry.kind == EntryKind::Other)
                continue;
            StringView path;
            if (!normalize_path(entry.path_view(), buffer, sizeof(buffer), path, DotDot::Refuse))
                return fail("a member's path climbs out of the archive or holds a NUL", entry.header_offset);
            if (path.is_empty())
                continue; // "./": the root itself
            ++nodes_needed;
            for (char c : path)
                nodes_needed += c == '/';
            path_bytes += path.length();
            if (nodes_needed > kMaxEntries)
                return fail("more than 16384 files and directories", entry.header_offset);
        }
    }

    m_nodes = new (std::nothrow) FileNode[nodes_needed ? nodes_needed : 1];
    m_paths = new (std::nothrow) char[path_bytes ? path_bytes : 1];
    if (!m_nodes || !m_paths) {
        clear();
        return Error::NoMemory;
    }

    // Pass 2: fill in the nodes (the archive did not change: it is read-only memory).
    u64 used = 0;
    TarReader reader(archive);
    TarEntry entry;
    char buffer[kMaxArchivePath];
    while (MUST(reader.next(entry))) { // pass 1 read the same bytes without an error
        if (entry.kind == EntryKind::Other) {
            ++m_skipped;
            continue;
        }
        StringView path;
        VERIFY(normalize_path(entry.path_view(), buffer, sizeof(buffer), path, DotDot::Refuse));
        if (path.is_empty())
            continue;
        char* stored = m_paths + used;
        for (usize i = 0; i < path.length(); ++i)
            stored[i] = path[i];
        used += path.length();
        FileNode& node = m_nodes[m_count++];
        node.path = StringView(stored, path.length());
        node.kind = entry.kind;
        node.data_offset = entry.data_offset;
        node.size = entry.size;
        node.mtime = entry.mtime;
        node.mode = entry.mode;
        node.header_offset = entry.header_offset;
        // Every parent directory, as a prefix of this path.
        for (usize i = 0; i < path.length(); ++i) {
            if (stored[i] != '/')
                continue;
            FileNode& parent = m_nodes[m_count++];
            parent.path = StringView(stored, i);
            parent.kind = EntryKind::Directory;
            parent.mtime = entry.mtime;
            parent.mode = 0755;
            parent.implied = true;
        }
    }

    // Sort, then merge duplicates: a directory listed and implied (or implied many times) is one
    // node, the listed one if there is one; a file listed twice, or a path that is a file and a
    // directory, is an archive this file system refuses to guess about.
    sort_by_path(m_nodes, m_count);
    u32 kept = 0;
    for (u32 i = 0; i < m_count; ++i) {
        FileNode& node = m_nodes[i];
        if (kept > 0 && m_nodes[kept - 1].path == node.path) {
            FileNode& previous = m_nodes[kept - 1];
            if (!previous.is_directory() || !node.is_directory()) {
                u64 offset = max(previous.header_offset, node.header_offset);
                return fail(
                    previous.kind == node.kind ? "a file listed twice" : "a path that is a file and a directory",
                    offset);
            }
            if (previous.implied && !node.implied)
                previous = node;
            continue;
        }
        m_nodes[kept++] = node;
    }
    m_count = kept;
    for (u32 i = 0; i < m_count; ++i) {
        if (m_nodes[i].is_directory())
            continue;
        ++m_files;
        m_file_bytes += m_nodes[i].size;
        if (m_nodes[i].size && !is_aligned(m_nodes[i].data_offset, kPageSize))
            ++m_unaligned;
    }
    m_archive = archive;
    return {};
}

FileNode const* FileSystem::find(StringView path) const
{
    u32 low = 0, high = m_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        int order = m_nodes[middle].path.compare(path);
        if (order == 0)
            return &m_nodes[middle];
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return nullptr;
}

bool FileSystem::is_under(StringView path, StringView directory)
{
    if (directory.is_empty())
        return true;
    return path.length() > directory.length() && path[directory.length()] == '/' && path.starts_with(directory);
}

u32 FileSystem::first_under(StringView directory) const
{
    if (directory.is_empty())
        return 0;
    // Lower bound of "directory/": every path under it follows, contiguously.
    u32 low = 0, high = m_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (compare_with_directory(m_nodes[middle].path, directory) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

} // namespace skiff::fs
