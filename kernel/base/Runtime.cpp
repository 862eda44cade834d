// The few C and C++ runtime functions a freestanding kernel must supply itself. GCC may emit calls
// to memcpy, memmove, memset and memcmp for ordinary assignments and loops, even with
// -ffreestanding. memcpy and memset, the hot ones, are each architecture's own
// (kernel/arch/<arch>/Copy.cpp).

#include <lib/Types.h>
#include <lib/Verify.h>

extern "C" {

void* memmove(void* destination, void const* source, size_t count)
{
    auto* d = static_cast<u8*>(destination);
    auto const* s = static_cast<u8 const*>(source);
    if (d == s || count == 0)
        return destination;
    if (d < s || d >= s + count)
        return __builtin_memcpy(destination, source, count);
    // Overlapping with the destination above the source: copy backwards.
    for (size_t i = count; i > 0; --i)
        d[i - 1] = s[i - 1];
    return destination;
}

int memcmp(void const* a, void const* b, size_t count)
{
    auto const* x = static_cast<u8 const*>(a);
    auto const* y = static_cast<u8 const*>(b);
    for (size_t i = 0; i < count; ++i)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(char const* s)
{
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

// A pure virtual function called through a half-constructed object: always a kernel bug.
void __cxa_pure_virtual()
{
    VERIFY_NOT_REACHED();
}

} // extern "C"
