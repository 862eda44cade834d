// SHA-256 against the FIPS 180-4 examples (NIST "Cryptographic Algorithm Validation Program" short
// and long messages), the padding boundaries, and streaming in uneven pieces.

#include <lib/Sha256.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace skiff;

namespace {

std::string hex_of(Sha256Digest const& digest)
{
    char buffer[Sha256Digest::kHexSize];
    StringView hex = digest.to_hex(buffer);
    return std::string(hex.chars(), hex.length());
}

std::string sha256_hex(std::string const& message)
{
    return hex_of(Sha256::hash({ reinterpret_cast<u8 const*>(message.data()), message.size() }));
}

} // namespace

TEST(Sha256, EmptyMessage)
{
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, FipsOneBlockMessageAbc)
{
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, FipsTwoBlockMessage448Bits)
{
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, FipsMessage896Bits)
{
    EXPECT_EQ(
        sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                   "mnopqrstnopqrstu"),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, FipsOneMillionA)
{
    // Fed in 1000-byte pieces, as a network receiver would.
    std::vector<u8> chunk(1000, 'a');
    Sha256 sha;
    for (int i = 0; i < 1000; ++i)
        sha.update({ chunk.data(), chunk.size() });
    EXPECT_EQ(sha.length(), 1000000u);
    EXPECT_EQ(hex_of(sha.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries)
{
    // 55 bytes is the longest message whose padding fits in one block; 56 needs a second block;
    // 64 and 120 fill blocks exactly. Digests from Python's hashlib.
    EXPECT_EQ(sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    EXPECT_EQ(sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    EXPECT_EQ(sha256_hex(std::string(63, 'a')), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
    EXPECT_EQ(sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    EXPECT_EQ(sha256_hex(std::string(65, 'a')), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
    EXPECT_EQ(sha256_hex(std::string(119, 'a')), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
    EXPECT_EQ(sha256_hex(std::string(120, 'a')), "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c");
}

TEST(Sha256, StreamingInUnevenPiecesMatchesOneShot)
{
    std::vector<u8> message(5000);
    for (usize i = 0; i < message.size(); ++i)
        message[i] = static_cast<u8>(i * 7 + (i >> 8));
    Sha256Digest expected = Sha256::hash({ message.data(), message.size() });

    for (usize piece : { 1u, 3u, 63u, 64u, 65u, 127u, 1460u, 4999u }) {
        Sha256 sha;
        for (usize offset = 0; offset < message.size(); offset += piece)
            sha.update({ message.data() + offset, std::min(piece, message.size() - offset) });
        EXPECT_TRUE(sha.finish() == expected) << "piece size " << piece;
    }
}

TEST(Sha256, ResetStartsOver)
{
    Sha256 sha;
    sha.update({ reinterpret_cast<u8 const*>("xyz"), 3 });
    sha.reset();
    sha.update({ reinterpret_cast<u8 const*>("abc"), 3 });
    EXPECT_EQ(hex_of(sha.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
