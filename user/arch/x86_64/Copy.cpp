// memcpy and memset for user programs on x86-64: eight bytes per iteration with rep movsq/stosq,
// then the tail (under QEMU's TCG each iteration of a rep string instruction costs a trip through
// the translated loop, so eight bytes a trip copies about eight times faster; the kernel's
// kernel/arch/x86_64/Copy.cpp does the same).

#include <lib/Types.h>

extern "C" {

void* memcpy(void* destination, void const* source, size_t count)
{
    void* result = destination;
    size_t quads = count / 8;
    size_t tail = count % 8;
    asm volatile("rep movsq" : "+D"(destination), "+S"(source), "+c"(quads)::"memory");
    asm volatile("rep movsb" : "+D"(destination), "+S"(source), "+c"(tail)::"memory");
    return result;
}

void* memset(void* destination, int value, size_t count)
{
    void* result = destination;
    u64 pattern = 0x0101010101010101ull * static_cast<u8>(value);
    size_t quads = count / 8;
    size_t tail = count % 8;
    asm volatile("rep stosq" : "+D"(destination), "+c"(quads) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(destination), "+c"(tail) : "a"(pattern) : "memory");
    return result;
}

} // extern "C"
