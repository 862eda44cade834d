// memcpy and memset for user programs on AArch64: eight bytes at a time while eight remain, then
// the tail (plain loads and stores: the programs are built without SIMD registers).

#include <lib/Types.h>

extern "C" {

void* memcpy(void* destination, void const* source, size_t count)
{
    auto* to = static_cast<u8*>(destination);
    auto const* from = static_cast<u8 const*>(source);
    while (count >= 8) {
        u64 word;
        __builtin_memcpy(&word, from, 8);
        __builtin_memcpy(to, &word, 8);
        to += 8;
        from += 8;
        count -= 8;
    }
    while (count--)
        *to++ = *from++;
    return destination;
}

void* memset(void* destination, int value, size_t count)
{
    auto* to = static_cast<u8*>(destination);
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(value);
    while (count >= 8) {
        __builtin_memcpy(to, &pattern, 8);
        to += 8;
        count -= 8;
    }
    while (count--)
        *to++ = static_cast<u8>(value);
    return destination;
}

} // extern "C"
