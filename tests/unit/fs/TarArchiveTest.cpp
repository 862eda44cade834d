// The archive reader and the file system over it: what a good archive gives, and that every kind
// of damage (truncation anywhere, a bad checksum, a bad magic, bad numbers, climbing paths,
// duplicates, random corruption) is refused with a reason and an offset, never a crash.

#include "TarBuilder.h"

#include <fs/FileSystem.h>
#include <fs/Path.h>
#include <fs/TarReader.h>

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

using namespace skiff;
using namespace skiff::fs;
using skiff::fs::testing::TarBuilder;

namespace {

ReadonlyBytes view(std::vector<u8> const& bytes, usize length = ~usize { 0 })
{
    return { bytes.data(), std::min(length, bytes.size()) };
}

std::string text(FileSystem const& fs, FileNode const& node)
{
    auto bytes = fs.data(node);
    return std::string(reinterpret_cast<char const*>(bytes.data()), bytes.size());
}

std::vector<std::string> children(FileSystem const& fs, StringView directory)
{
    std::vector<std::string> names;
    fs.for_each_child(directory, [&](FileNode const& node) {
        names.emplace_back(std::string(node.name().chars(), node.name().length()) + (node.is_directory() ? "/" : ""));
    });
    return names;
}

// The archive make_archive.py would make from a small site.
TarBuilder site()
{
    TarBuilder tar;
    tar.directory("css/");
    tar.file("index.html", "<!doctype html><title>Skiff</title>\n", true);
    tar.file("css/site.css", "body { color: #123; }\n", true);
    tar.file("img/logo.bin", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), true);
    tar.file("robots.txt", "User-agent: *\n", true);
    tar.end();
    return tar;
}

} // namespace

TEST(TarReader, ListsMembersWithTheirPathsSizesAndTimes)
{
    TarBuilder tar;
    tar.directory("docs/");
    tar.file("docs/a.txt", "hello", false, 1234567890);
    tar.end();
    TarReader reader(view(tar.bytes()));
    TarEntry entry;
    ASSERT_TRUE(reader.next(entry).value());
    EXPECT_EQ(entry.kind, EntryKind::Directory);
    EXPECT_EQ(std::string(entry.path), "docs/");
    ASSERT_TRUE(reader.next(entry).value());
    EXPECT_EQ(entry.kind, EntryKind::File);
    EXPECT_EQ(std::string(entry.path), "docs/a.txt");
    EXPECT_EQ(entry.size, 5u);
    EXPECT_EQ(entry.mtime, 1234567890u);
    EXPECT_EQ(entry.mode, 0644u);
    EXPECT_EQ(entry.data_offset, entry.header_offset + 512);
    EXPECT_FALSE(reader.next(entry).value());
    EXPECT_FALSE(reader.next(entry).value()); // stays at the end
}

TEST(TarReader, JoinsTheUstarPrefixAndName)
{
    TarBuilder tar;
    tar.header("file.txt", '0', 3, 0, "a/long/prefix");
    tar.data("abc");
    tar.end();
    TarReader reader(view(tar.bytes()));
    TarEntry entry;
    ASSERT_TRUE(reader.next(entry).value());
    EXPECT_EQ(std::string(entry.path), "a/long/prefix/file.txt");
}

TEST(TarReader, TakesPathSizeAndMtimeFromAPaxHeader)
{
    std::string long_path = std::string(150, 'd') + "/" + std::string(60, 'f') + ".txt";
    TarBuilder tar;
    tar.pax(TarBuilder::record("path", long_path) + TarBuilder::record("mtime", "1600000000.25")
        + TarBuilder::record("comment", "ignored"));
    tar.header("truncated-name", '0', 4);
    tar.data("data");
    tar.end();
    TarReader reader(view(tar.bytes()));
    TarEntry entry;
    ASSERT_TRUE(reader.next(entry).value());
    EXPECT_EQ(std::string(entry.path), long_path);
    EXPECT_EQ(entry.mtime, 1600000000u);
    EXPECT_EQ(entry.size, 4u);
}

TEST(TarReader, AcceptsTheOldGnuMagicAndALoneEndBlock)
{
    TarBuilder tar;
    tar.header("old.txt", '0', 2, 0, "", true);
    tar.data("hi");
    tar.bytes().resize(tar.size() + 512, 0); // one zero block only, then the end of the bytes
    TarReader reader(view(tar.bytes()));
    TarEntry entry;
    ASSERT_TRUE(reader.next(entry).value());
    EXPECT_EQ(std::string(entry.path), "old.txt");
    EXPECT_FALSE(reader.next(entry).value());
}

TEST(FileSystem, FindsFilesAndTheirBytes)
{
    auto tar = site();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error()) << fs.problem();
    EXPECT_EQ(fs.file_count(), 4u);
    auto const* index = fs.find("index.html");
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(text(fs, *index), "<!doctype html><title>Skiff</title>\n");
    auto const* logo = fs.find("img/logo.bin");
    ASSERT_NE(logo, nullptr);
    EXPECT_EQ(logo->size, 16u);
    EXPECT_EQ(fs.find("nope.html"), nullptr);
    EXPECT_EQ(fs.find(""), nullptr);
    EXPECT_TRUE(fs.is_directory(""));
    EXPECT_TRUE(fs.is_directory("css"));
    EXPECT_FALSE(fs.is_directory("index.html"));
}

TEST(FileSystem, PaxCommentPaddingPutsEveryFileOnAPageBoundary)
{
    auto tar = site();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error()) << fs.problem();
    EXPECT_EQ(fs.unaligned_files(), 0u);
    for (char const* path : { "index.html", "css/site.css", "img/logo.bin", "robots.txt" }) {
        auto const* node = fs.find(path);
        ASSERT_NE(node, nullptr) << path;
        EXPECT_EQ(node->data_offset % 4096, 0u) << path;
    }
}

TEST(FileSystem, CountsFilesAPlainTarLeavesUnaligned)
{
    TarBuilder tar;
    tar.file("a.txt", "aaa");
    tar.file("b.txt", "bbb");
    tar.end();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error());
    EXPECT_EQ(fs.unaligned_files(), 2u);
}

TEST(FileSystem, MakesUpDirectoriesThatPathsImply)
{
    auto tar = site();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error());
    auto const* img = fs.find("img");
    ASSERT_NE(img, nullptr);
    EXPECT_TRUE(img->is_directory());
    EXPECT_TRUE(img->implied);
    auto const* css = fs.find("css");
    ASSERT_NE(css, nullptr);
    EXPECT_FALSE(css->implied); // listed by the archive, and implied by css/site.css: one node
    EXPECT_EQ(fs.directory_count(), 2u);
}

TEST(FileSystem, ListsDirectChildrenInByteOrder)
{
    TarBuilder tar;
    tar.file("dir/b.txt", "b");
    tar.file("dir-x.txt", "x"); // '-' sorts between "dir" and "dir/": must not end the listing
    tar.file("dir/a.txt", "a");
    tar.file("dir/sub/deep.txt", "d");
    tar.file("dir0.txt", "0");
    tar.file("top.txt", "t");
    tar.end();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error()) << fs.problem();
    EXPECT_EQ(children(fs, "dir"), (std::vector<std::string> { "a.txt", "b.txt", "sub/" }));
    EXPECT_EQ(children(fs, ""), (std::vector<std::string> { "dir/", "dir-x.txt", "dir0.txt", "top.txt" }));
    EXPECT_EQ(children(fs, "dir/sub"), (std::vector<std::string> { "deep.txt" }));
    EXPECT_TRUE(children(fs, "top.txt").empty());
}

TEST(FileSystem, SkipsLinksAndDevices)
{
    TarBuilder tar;
    tar.file("real.txt", "r");
    tar.header("link.txt", '2', 0);
    tar.header("null", '3', 0);
    tar.end();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error());
    EXPECT_EQ(fs.file_count(), 1u);
    EXPECT_EQ(fs.skipped(), 2u);
    EXPECT_EQ(fs.find("link.txt"), nullptr);
}

TEST(FileSystem, NormalisesStoredPaths)
{
    TarBuilder tar;
    tar.file("./a//b/./c.txt", "c");
    tar.file("/abs.txt", "abs");
    tar.directory("./");
    tar.end();
    FileSystem fs;
    ASSERT_FALSE(fs.load(view(tar.bytes())).is_error()) << fs.problem();
    EXPECT_NE(fs.find("a/b/c.txt"), nullptr);
    EXPECT_NE(fs.find("abs.txt"), nullptr);
}

// --- refusals ----------------------------------------------------------------------------------

TEST(FileSystem, RefusesTheArchiveTruncatedAtEveryLength)
{
    auto tar = site();
    usize full = tar.size();
    // Anything shorter than "everything but the last end block" has lost data or both end blocks.
    for (usize length = 0; length < full - 512; length += (length < 8192 ? 1 : 97)) {
        FileSystem fs;
        auto result = fs.load(view(tar.bytes(), length));
        ASSERT_TRUE(result.is_error()) << "accepted a truncation to " << length << " of " << full << " bytes";
        EXPECT_EQ(result.error(), Error::Malformed);
        ASSERT_NE(fs.problem(), nullptr);
        EXPECT_LE(fs.problem_offset(), length);
        EXPECT_EQ(fs.file_count(), 0u);
    }
    FileSystem lone_block;
    EXPECT_FALSE(lone_block.load(view(tar.bytes(), full - 512)).is_error());
}

TEST(FileSystem, RefusesAHeaderWithABadChecksum)
{
    auto tar = site();
    FileSystem good;
    ASSERT_FALSE(good.load(view(tar.bytes())).is_error());
    usize header = good.find("css/site.css")->header_offset;
    tar.bytes()[header + 5] ^= 0x20; // a flipped bit in the name
    FileSystem fs;
    auto result = fs.load(view(tar.bytes()));
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(fs.problem_offset(), header);
    EXPECT_NE(std::string(fs.problem()).find("checksum"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesAnArchiveThatIsNotUstar)
{
    std::vector<u8> cpio(4096, 0);
    std::memcpy(cpio.data(), "070701", 6); // cpio newc magic
    FileSystem fs;
    ASSERT_TRUE(fs.load(view(cpio)).is_error());
    EXPECT_EQ(fs.problem_offset(), 0u);

    TarBuilder tar;
    usize header = tar.header("x.txt", '0', 0);
    std::memcpy(tar.bytes().data() + header + 257, "ustaR", 5);
    tar.seal(header);
    tar.end();
    ASSERT_TRUE(fs.load(view(tar.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("magic"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesBadNumbers)
{
    TarBuilder tar;
    usize header = tar.header("x.txt", '0', 0);
    std::memcpy(tar.bytes().data() + header + 124, "00000000009", 11); // 9 is not octal
    tar.seal(header);
    tar.end();
    FileSystem fs;
    ASSERT_TRUE(fs.load(view(tar.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("size"), std::string::npos) << fs.problem();

    TarBuilder huge;
    header = huge.header("big.bin", '0', 0);
    huge.bytes()[header + 124] = 0x80; // GNU base-256: a member over 8 GiB
    huge.seal(header);
    huge.end();
    ASSERT_TRUE(fs.load(view(huge.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("base-256"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesAnAbsurdSizeThatRunsPastTheEnd)
{
    TarBuilder tar;
    tar.header("x.bin", '0', 077777777777ull); // 8 GiB - 1: no such archive here
    tar.end();
    FileSystem fs;
    ASSERT_TRUE(fs.load(view(tar.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("past the end"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesPathsThatClimbOut)
{
    for (char const* path : { "../etc/passwd", "a/../../b", "a/../b", ".." }) {
        TarBuilder tar;
        tar.file(path, "x");
        tar.end();
        FileSystem fs;
        EXPECT_TRUE(fs.load(view(tar.bytes())).is_error()) << path;
    }
}

TEST(FileSystem, RefusesDuplicatesAndFileDirectoryClashes)
{
    TarBuilder twice;
    twice.file("a.txt", "1");
    twice.file("a.txt", "2");
    twice.end();
    FileSystem fs;
    ASSERT_TRUE(fs.load(view(twice.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("twice"), std::string::npos) << fs.problem();

    TarBuilder clash;
    clash.file("a", "file");
    clash.file("a/b.txt", "under a file");
    clash.end();
    ASSERT_TRUE(fs.load(view(clash.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("file and a directory"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesAZeroBlockBetweenMembers)
{
    TarBuilder tar;
    tar.file("a.txt", "a");
    tar.bytes().resize(tar.size() + 512, 0);
    tar.file("b.txt", "b");
    tar.end();
    FileSystem fs;
    ASSERT_TRUE(fs.load(view(tar.bytes())).is_error());
    EXPECT_NE(std::string(fs.problem()).find("zero block"), std::string::npos) << fs.problem();
}

TEST(FileSystem, RefusesMalformedPaxRecords)
{
    for (std::string records : { std::string("5 a=b\n"), std::string("99 path=x\n"), std::string("12 path=abc!"),
             std::string("x path=abc\n"), std::string("10 =empty\n"), std::string("13 size=12z4\n") }) {
        TarBuilder tar;
        tar.pax(records);
        tar.header("x.txt", '0', 0);
        tar.end();
        FileSystem fs;
        EXPECT_TRUE(fs.load(view(tar.bytes())).is_error()) << records;
    }
    TarBuilder too_long;
    too_long.pax(TarBuilder::record("path", std::string(300, 'p')));
    too_long.header("x.txt", '0', 0);
    too_long.end();
    FileSystem fs;
    EXPECT_TRUE(fs.load(view(too_long.bytes())).is_error());
}

TEST(FileSystem, SurvivesRandomCorruptionOfItsHeaders)
{
    auto original = site();
    FileSystem good;
    ASSERT_FALSE(good.load(view(original.bytes())).is_error());
    std::mt19937 random(16);
    int refused = 0;
    for (int round = 0; round < 2000; ++round) {
        std::vector<u8> bytes = original.bytes();
        // Damage one to four bytes of the header blocks (where the data is, anything goes).
        int flips = 1 + static_cast<int>(random() % 4);
        for (int i = 0; i < flips; ++i) {
            usize offset = random() % bytes.size();
            bytes[offset] = static_cast<u8>(random());
        }
        FileSystem fs;
        auto result = fs.load(view(bytes));
        if (result.is_error()) {
            ++refused;
            EXPECT_NE(fs.problem(), nullptr);
            continue;
        }
        // Accepted: then every file must lie inside the archive.
        fs.for_each_child("", [&](FileNode const& node) { EXPECT_LE(node.data_offset + node.size, bytes.size()); });
    }
    EXPECT_GT(refused, 0);
}

// --- paths -------------------------------------------------------------------------------------

TEST(Path, NormalisesSlashesDotsAndDotDots)
{
    char buffer[64];
    StringView out;
    auto normal = [&](char const* in, DotDot mode) -> std::string {
        if (!normalize_path(in, buffer, sizeof(buffer), out, mode))
            return "(refused)";
        return std::string(out.chars(), out.length());
    };
    EXPECT_EQ(normal("/css//site.css", DotDot::Resolve), "css/site.css");
    EXPECT_EQ(normal("./a/./b/", DotDot::Resolve), "a/b");
    EXPECT_EQ(normal("/", DotDot::Resolve), "");
    EXPECT_EQ(normal("", DotDot::Resolve), "");
    EXPECT_EQ(normal("a/../b", DotDot::Resolve), "b");
    EXPECT_EQ(normal("a/b/../../c", DotDot::Resolve), "c");
    EXPECT_EQ(normal("a/..", DotDot::Resolve), "");
    EXPECT_EQ(normal("/../etc", DotDot::Resolve), "(refused)");
    EXPECT_EQ(normal("a/../..", DotDot::Resolve), "(refused)");
    EXPECT_EQ(normal("a/../b", DotDot::Refuse), "(refused)");
    EXPECT_EQ(normal(std::string(100, 'x').c_str(), DotDot::Resolve), "(refused)"); // does not fit 64
    EXPECT_EQ(normal("...", DotDot::Resolve), "...");                               // a name, not a dot segment
    EXPECT_FALSE(normalize_path(StringView("a\0b", 3), buffer, sizeof(buffer), out, DotDot::Resolve));
}

TEST(Path, BasenameIsTheLastComponent)
{
    EXPECT_TRUE(path_basename("css/site.css") == "site.css");
    EXPECT_TRUE(path_basename("index.html") == "index.html");
    EXPECT_TRUE(path_basename("") == "");
}
