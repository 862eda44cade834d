// memcpy and memset for AArch64 (the rest of the freestanding runtime is kernel/base/Runtime.cpp).
// Eight-byte words when source and destination share their alignment, four per iteration (GCC
// makes LDP/STP pairs of them), bytes otherwise: under TCG each load or store is a helper call, so
// the width is what counts. Compiled with -fno-tree-loop-distribute-patterns (kernel/CMakeLists.txt)
// so GCC does not turn these loops back into calls to themselves.

#include <lib/Types.h>

extern "C" {

void* memcpy(void* destination, void const* source, size_t count)
{
    auto* d = static_cast<u8*>(destination);
    auto const* s = static_cast<u8 const*>(source);
    if (((reinterpret_cast<uptr>(d) ^ reinterpret_cast<uptr>(s)) & 7) == 0) {
        while (count && (reinterpret_cast<uptr>(d) & 7)) {
            *d++ = *s++;
            --count;
        }
        auto* dw = reinterpret_cast<u64*>(d);
        auto const* sw = reinterpret_cast<u64 const*>(s);
        while (count >= 32) {
            u64 a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
            dw += 4;
            sw += 4;
            count -= 32;
        }
        while (count >= 8) {
            *dw++ = *sw++;
            count -= 8;
        }
        d = reinterpret_cast<u8*>(dw);
        s = reinterpret_cast<u8 const*>(sw);
    }
    while (count--)
        *d++ = *s++;
    return destination;
}

void* memset(void* destination, int value, size_t count)
{
    auto* d = static_cast<u8*>(destination);
    u8 byte = static_cast<u8>(value);
    while (count && (reinterpret_cast<uptr>(d) & 7)) {
        *d++ = byte;
        --count;
    }
    u64 pattern = 0x0101010101010101ull * byte;
    auto* dw = reinterpret_cast<u64*>(d);
    while (count >= 32) {
        dw[0] = pattern;
        dw[1] = pattern;
        dw[2] = pattern;
        dw[3] = pattern;
        dw += 4;
        count -= 32;
    }
    while (count >= 8) {
        *dw++ = pattern;
        count -= 8;
    }
    d = reinterpret_cast<u8*>(dw);
    while (count--)
        *d++ = byte;
    return destination;
}

} // extern "C"
