#pragma once

// SHA-256 (FIPS 180-4 §6.2), freestanding: the kernel's ttcp and the host's ttcp hash what they
// send and receive with this same code, so a matching digest on both ends means every byte
// arrived. Streaming: update() any number of times, then finish() once.

#include <lib/Span.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff {

struct Sha256Digest {
    static constexpr usize kSize = 32;
    u8 bytes[kSize] {};

    bool operator==(Sha256Digest const& other) const
    {
        for (usize i = 0; i < kSize; ++i)
            if (bytes[i] != other.bytes[i])
                return false;
        return true;
    }

    // Lower-case hex, 64 characters plus a NUL; returns a view into `buffer`.
    static constexpr usize kHexSize = kSize * 2 + 1;
    StringView to_hex(char (&buffer)[kHexSize]) const;
};

class Sha256 {
public:
    static constexpr usize kBlockSize = 64; // 512-bit message blocks (FIPS 180-4 §5.2.1)

    Sha256() { reset(); }
    void reset();
    void update(ReadonlyBytes data);
    // Pads, processes the last block(s) and returns the digest. The object must be reset() before
    // it is used again.
    Sha256Digest finish();

    u64 length() const { return m_length; } // bytes hashed so far

    // One-shot convenience.
    static Sha256Digest hash(ReadonlyBytes data)
    {
        Sha256 sha;
        sha.update(data);
        return sha.finish();
    }

private:
    void process_block(u8 const* block);

    u32 m_state[8];
    u8 m_block[kBlockSize];
    usize m_block_used { 0 };
    u64 m_length { 0 };
};

} // namespace skiff
