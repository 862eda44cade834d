#pragma once

// Fixed-width integer names used everywhere in Skiff. The support library is freestanding: it
// includes nothing from the C or C++ standard library except the compiler-provided headers that
// exist in a freestanding implementation (<stddef.h>, <stdint.h>, <new>).

#include <stddef.h>
#include <stdint.h>

// <new> belongs to the freestanding subset of the C++ library: placement new, nothing that needs a
// runtime. The kernel supplies operator new/delete itself (mm/Heap.cpp).
#include <new>

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using i8 = int8_t;
using i16 = int16_t;
using i32 = int32_t;
using i64 = int64_t;
using usize = size_t;
using uptr = uintptr_t;

namespace skiff {

template<typename T>
struct RemoveReference {
    using Type = T;
};
template<typename T>
struct RemoveReference<T&> {
    using Type = T;
};
template<typename T>
struct RemoveReference<T&&> {
    using Type = T;
};

template<typename T>
constexpr typename RemoveReference<T>::Type&& move(T&& value)
{
    return static_cast<typename RemoveReference<T>::Type&&>(value);
}

template<typename T>
constexpr T&& forward(typename RemoveReference<T>::Type& value)
{
    return static_cast<T&&>(value);
}

template<typename T>
constexpr T min(T a, T b)
{
    return a < b ? a : b;
}

template<typename T>
constexpr T max(T a, T b)
{
    return a < b ? b : a;
}

template<typename T>
void swap(T& a, T& b)
{
    T tmp = move(a);
    a = move(b);
    b = move(tmp);
}

constexpr u64 align_down(u64 value, u64 alignment)
{
    return value & ~(alignment - 1);
}
constexpr u64 align_up(u64 value, u64 alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}
constexpr bool is_aligned(u64 value, u64 alignment)
{
    return (value & (alignment - 1)) == 0;
}

} // namespace skiff
