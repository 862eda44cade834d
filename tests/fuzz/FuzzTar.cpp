// Fuzz target `tar`: the file system's archive reader and index (fs/) on arbitrary bytes, as the
// kernel reads a boot module it cannot trust. Either the archive is refused with a reason and an
// offset inside it, or every node it lists can be found again by its path, lies inside the
// archive, and every directory's listing holds only its own children.

#include <fs/FileSystem.h>

#include <cstdlib>

using namespace skiff;
using namespace skiff::fs;

namespace {

void require(bool condition)
{
    if (!condition)
        std::abort();
}

void walk(FileSystem const& files, StringView directory, u32 depth, u32& seen)
{
    require(depth <= kMaxArchivePath);
    files.for_each_child(directory, [&](FileNode const& node) {
        ++seen;
        require(files.find(node.path) == &node);
        require(node.path.length() > directory.length());
        require(node.data_offset <= files.archive().size() && node.size <= files.archive().size() - node.data_offset);
        if (node.is_directory())
            walk(files, node.path, depth + 1, seen);
        else
            require(files.data(node).size() == node.size);
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size)
{
    FileSystem files;
    auto loaded = files.load({ data, size });
    if (loaded.is_error()) {
        require(loaded.error() == Error::Malformed || loaded.error() == Error::NoMemory);
        require(files.problem() != nullptr || loaded.error() == Error::NoMemory);
        require(files.problem_offset() <= size);
        require(files.entry_count() == 0);
        return 0;
    }
    u32 seen = 0;
    walk(files, "", 0, seen);
    require(seen == files.entry_count()); // every node is some directory's child, once
    return 0;
}
