// The few C and C++ runtime functions a freestanding kernel must supply itself. GCC may emit calls
// to memcpy, memmove, memset and memcmp for ordinary assignments and loops, even with
// -ffreestanding.

#include <lib/Types.h>
#include <lib/Verify.h>

extern "C" {

void* memcpy(void* destination, void const* source, size_t count)
{
    // Eight bytes per iteration with rep movsq, then the tail with rep movsb. On hardware rep movsb
    // alone is as fast (ERMSB), but under QEMU's TCG every iteration of a rep string instruction
    // is a trip through the translated loop: eight bytes per trip copies a received segment about
    // eight times faster, which the `sample` profile of a TCP receive showed plainly.
    void* result = destination;
    size_t quads = count / 8;
    size_t tail = count % 8;
    asm volatile("rep movsq" : "+D"(destination), "+S"(source), "+c"(quads)::"memory");
    asm volatile("rep movsb" : "+D"(destination), "+S"(source), "+c"(tail)::"memory");
    return result;
}

void* memmove(void* destination, void const* source, size_t count)
{
    auto* d = static_cast<u8*>(destination);
    auto const* s = static_cast<u8 const*>(source);
    if (d == s || count == 0)
        return destination;
    if (d < s || d >= s + count)
        return memcpy(destination, source, count);
    // Overlapping with the destination above the source: copy backwards.
    for (size_t i = count; i > 0; --i)
        d[i - 1] = s[i - 1];
    return destination;
}

void* memset(void* destination, int value, size_t count)
{
    // As memcpy: eight bytes per iteration, then the tail.
    void* result = destination;
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(value);
    size_t quads = count / 8;
    size_t tail = count % 8;
    asm volatile("rep stosq" : "+D"(destination), "+c"(quads) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(destination), "+c"(tail) : "a"(pattern) : "memory");
    return result;
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
