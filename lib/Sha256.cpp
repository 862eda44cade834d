#include <lib/ByteOrder.h>
#include <lib/Sha256.h>

namespace skiff {

namespace {

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
// primes.
constexpr u32 kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, //
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, //
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, //
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, //
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, //
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, //
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, //
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2, //
};

// FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square roots of the first
// eight primes.
constexpr u32 kInitialState[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19, //
};

constexpr u32 rotate_right(u32 x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

// The six logical functions of FIPS 180-4 §4.1.2.
constexpr u32 choose(u32 x, u32 y, u32 z)
{
    return (x & y) ^ (~x & z);
}
constexpr u32 majority(u32 x, u32 y, u32 z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}
constexpr u32 big_sigma0(u32 x)
{
    return rotate_right(x, 2) ^ rotate_right(x, 13) ^ rotate_right(x, 22);
}
constexpr u32 big_sigma1(u32 x)
{
    return rotate_right(x, 6) ^ rotate_right(x, 11) ^ rotate_right(x, 25);
}
constexpr u32 small_sigma0(u32 x)
{
    return rotate_right(x, 7) ^ rotate_right(x, 18) ^ (x >> 3);
}
constexpr u32 small_sigma1(u32 x)
{
    return rotate_right(x, 17) ^ rotate_right(x, 19) ^ (x >> 10);
}

} // namespace

void Sha256::reset()
{
    for (usize i = 0; i < 8; ++i)
        m_state[i] = kInitialState[i];
    m_block_used = 0;
    m_length = 0;
}

// FIPS 180-4 §6.2.2: one block through the 64-round compression function.
void Sha256::process_block(u8 const* block)
{
    // The message schedule, kept as a 16-word ring: W[t] for t >= 16 needs only W[t-2], W[t-7],
    // W[t-15] and W[t-16], which saves 192 bytes of stack over the textbook 64-word array.
    u32 w[16];
    for (usize t = 0; t < 16; ++t)
        w[t] = load_be32(block + 4 * t);

    u32 a = m_state[0], b = m_state[1], c = m_state[2], d = m_state[3];
    u32 e = m_state[4], f = m_state[5], g = m_state[6], h = m_state[7];
    for (usize t = 0; t < 64; ++t) {
        u32 word;
        if (t < 16) {
            word = w[t];
        } else {
            word = small_sigma1(w[(t - 2) & 15]) + w[(t - 7) & 15] + small_sigma0(w[(t - 15) & 15]) + w[t & 15];
            w[t & 15] = word;
        }
        u32 t1 = h + big_sigma1(e) + choose(e, f, g) + kRoundConstants[t] + word;
        u32 t2 = big_sigma0(a) + majority(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    m_state[0] += a;
    m_state[1] += b;
    m_state[2] += c;
    m_state[3] += d;
    m_state[4] += e;
    m_state[5] += f;
    m_state[6] += g;
    m_state[7] += h;
}

void Sha256::update(ReadonlyBytes data)
{
    u8 const* bytes = data.data();
    usize remaining = data.size();
    m_length += remaining;

    // Top up a partly filled block first.
    if (m_block_used) {
        usize take = min(remaining, kBlockSize - m_block_used);
        for (usize i = 0; i < take; ++i)
            m_block[m_block_used + i] = bytes[i];
        m_block_used += take;
        bytes += take;
        remaining -= take;
        if (m_block_used < kBlockSize)
            return;
        process_block(m_block);
        m_block_used = 0;
    }
    // Whole blocks straight from the caller's buffer, without copying.
    while (remaining >= kBlockSize) {
        process_block(bytes);
        bytes += kBlockSize;
        remaining -= kBlockSize;
    }
    for (usize i = 0; i < remaining; ++i)
        m_block[i] = bytes[i];
    m_block_used = remaining;
}

Sha256Digest Sha256::finish()
{
    // FIPS 180-4 §5.1.1: append a 1 bit, zeros up to 56 mod 64 bytes, then the message length in
    // bits as a 64-bit big-endian number.
    u64 bit_length = m_length * 8;
    m_block[m_block_used++] = 0x80;
    if (m_block_used > kBlockSize - 8) {
        while (m_block_used < kBlockSize)
            m_block[m_block_used++] = 0;
        process_block(m_block);
        m_block_used = 0;
    }
    while (m_block_used < kBlockSize - 8)
        m_block[m_block_used++] = 0;
    store_be32(m_block + 56, static_cast<u32>(bit_length >> 32));
    store_be32(m_block + 60, static_cast<u32>(bit_length));
    process_block(m_block);
    m_block_used = 0;

    Sha256Digest digest;
    for (usize i = 0; i < 8; ++i)
        store_be32(digest.bytes + 4 * i, m_state[i]);
    return digest;
}

StringView Sha256Digest::to_hex(char (&buffer)[kHexSize]) const
{
    constexpr char kDigits[] = "0123456789abcdef";
    for (usize i = 0; i < kSize; ++i) {
        buffer[2 * i] = kDigits[bytes[i] >> 4];
        buffer[2 * i + 1] = kDigits[bytes[i] & 15];
    }
    buffer[kHexSize - 1] = 0;
    return { buffer, kHexSize - 1 };
}

} // namespace skiff
