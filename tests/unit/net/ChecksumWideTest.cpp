// The checksum's eight-bytes-at-a-time path against the RFC 1071 definition, summed the slow
// way, over lengths, alignments and splits into pieces (odd pieces shift the byte lanes).

#include <net/Checksum.h>

#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace skiff;
using namespace skiff::net;

namespace {

u16 reference_checksum(std::vector<u8> const& bytes)
{
    u64 sum = 0;
    for (usize i = 0; i < bytes.size(); i += 2) {
        u16 word = static_cast<u16>(bytes[i] << 8);
        if (i + 1 < bytes.size())
            word |= bytes[i + 1];
        sum += word;
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<u16>(~sum);
}

} // namespace

TEST(ChecksumWide, MatchesTheDefinitionForEveryLengthAndAlignment)
{
    std::mt19937 random(1071);
    std::vector<u8> storage(2048 + 16);
    for (auto& b : storage)
        b = static_cast<u8>(random());
    for (usize alignment = 0; alignment < 8; ++alignment) {
        for (usize length = 0; length <= 1600; length += (length < 40 ? 1 : 37)) {
            std::vector<u8> bytes(storage.begin() + alignment, storage.begin() + alignment + length);
            EXPECT_EQ(internet_checksum({ storage.data() + alignment, length }), reference_checksum(bytes))
                << "length " << length << " alignment " << alignment;
        }
    }
}

TEST(ChecksumWide, PiecesOfAnyLengthSumLikeTheWhole)
{
    std::mt19937 random(768);
    for (int round = 0; round < 500; ++round) {
        std::vector<u8> bytes(random() % 3000);
        for (auto& b : bytes)
            b = static_cast<u8>(random());
        ChecksumAccumulator accumulator;
        usize at = 0;
        while (at < bytes.size()) {
            usize piece = std::min<usize>(bytes.size() - at, random() % 40 == 0 ? 1 : random() % 700);
            accumulator.add({ bytes.data() + at, piece });
            at += piece;
        }
        EXPECT_EQ(accumulator.finish(), reference_checksum(bytes)) << "round " << round;
    }
}

TEST(ChecksumWide, AllOnesAndAllZeroes)
{
    std::vector<u8> ones(1500, 0xff);
    std::vector<u8> zeroes(1500, 0);
    EXPECT_EQ(internet_checksum({ ones.data(), ones.size() }), reference_checksum(ones));
    EXPECT_EQ(internet_checksum({ zeroes.data(), zeroes.size() }), 0xffff);
}
