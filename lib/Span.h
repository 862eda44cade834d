#pragma once

#include <lib/Types.h>
#include <lib/Verify.h>

namespace skiff {

// A pointer and a length. Indexing and slicing are bounds-checked with VERIFY; code that handles
// untrusted bytes checks lengths first (see net/ header views) so these never fire on bad input.
template<typename T>
class Span {
public:
    constexpr Span() = default;
    constexpr Span(T* data, usize size)
        : m_data(data)
        , m_size(size)
    {
    }
    template<usize N>
    constexpr Span(T (&array)[N])
        : m_data(array)
        , m_size(N)
    {
    }
    // Span<T> converts to Span<T const>.
    template<typename U>
    constexpr Span(Span<U> other) requires(sizeof(U) == sizeof(T))
        : m_data(other.data())
        , m_size(other.size())
    {
    }

    constexpr T* data() const { return m_data; }
    constexpr usize size() const { return m_size; }
    constexpr bool is_empty() const { return m_size == 0; }
    constexpr T* begin() const { return m_data; }
    constexpr T* end() const { return m_data + m_size; }

    constexpr T& operator[](usize index) const
    {
        VERIFY(index < m_size);
        return m_data[index];
    }

    constexpr Span slice(usize offset) const
    {
        VERIFY(offset <= m_size);
        return Span(m_data + offset, m_size - offset);
    }
    constexpr Span slice(usize offset, usize length) const
    {
        VERIFY(offset <= m_size && length <= m_size - offset);
        return Span(m_data + offset, length);
    }
    constexpr Span first(usize length) const { return slice(0, length); }

private:
    T* m_data { nullptr };
    usize m_size { 0 };
};

using Bytes = Span<u8>;
using ReadonlyBytes = Span<u8 const>;

} // namespace skiff
