// Replays inputs through a fuzz target without libFuzzer, so any compiler (the GCC of the main
// build, or the sanitizer build) runs the seed corpus and every recorded crash as a regression
// test. Each argument is a file or a directory of files; --all means this target's seed corpus
// (tests/fuzz/corpus/<target>/) and regressions (tests/fuzz/regressions/<target>/).

#include <lib/Types.h>

#include <algorithm>
#include <cstdio>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(u8 const* data, usize size);

namespace {

bool read_file(std::string const& path, std::vector<u8>& out)
{
    FILE* file = std::fopen(path.c_str(), "rb");
    if (!file)
        return false;
    out.clear();
    u8 buffer[65536];
    usize n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
        out.insert(out.end(), buffer, buffer + n);
    std::fclose(file);
    return true;
}

// Files under `path` (or `path` itself), sorted so runs are repeatable; README files skipped.
void collect(std::string const& path, std::vector<std::string>& files)
{
    struct stat info;
    if (stat(path.c_str(), &info) != 0)
        return;
    if (!S_ISDIR(info.st_mode)) {
        files.push_back(path);
        return;
    }
    DIR* dir = opendir(path.c_str());
    if (!dir)
        return;
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name[0] != '.' && name.rfind("README", 0) != 0)
            names.push_back(name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (auto const& name : names)
        collect(path + "/" + name, files);
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        std::string argument = argv[i];
        if (argument == "--all") {
            collect(std::string(SKIFF_FUZZ_DIR) + "/corpus/" + SKIFF_FUZZ_TARGET, files);
            collect(std::string(SKIFF_FUZZ_DIR) + "/regressions/" + SKIFF_FUZZ_TARGET, files);
        } else {
            usize before = files.size();
            collect(argument, files);
            if (files.size() == before) {
                std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
                return 2;
            }
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "replay %s: nothing to replay (give files, directories or --all)\n", SKIFF_FUZZ_TARGET);
        return 2;
    }
    std::vector<u8> input;
    for (auto const& path : files) {
        if (!read_file(path, input)) {
            std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
            return 2;
        }
        // Printed before the run, so the input that crashes is the last one named.
        std::fprintf(stderr, "replay %s: %s (%zu bytes)\n", SKIFF_FUZZ_TARGET, path.c_str(), input.size());
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replay %s: %zu inputs, no crash\n", SKIFF_FUZZ_TARGET, files.size());
    return 0;
}
