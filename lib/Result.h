#pragma once

#include <lib/Error.h>
#include <lib/Types.h>
#include <lib/Verify.h>

namespace skiff {

// Result<T>: a value or an Error. No exceptions anywhere in Skiff; every fallible call returns one
// of these and callers propagate with TRY().
template<typename T>
class [[nodiscard]] Result {
public:
    Result(T const& value)
        : m_has_value(true)
    {
        new (&m_storage) T(value);
    }
    Result(T&& value)
        : m_has_value(true)
    {
        new (&m_storage) T(move(value));
    }
    Result(Error error)
        : m_error(error)
    {
        VERIFY(error != Error::None);
    }
    Result(Result const& other)
        : m_has_value(other.m_has_value)
        , m_error(other.m_error)
    {
        if (m_has_value)
            new (&m_storage) T(other.value());
    }
    Result(Result&& other)
        : m_has_value(other.m_has_value)
        , m_error(other.m_error)
    {
        if (m_has_value)
            new (&m_storage) T(move(other.value()));
    }
    Result& operator=(Result const&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result()
    {
        if (m_has_value)
            value().~T();
    }

    bool is_error() const { return !m_has_value; }
    bool has_value() const { return m_has_value; }
    Error error() const
    {
        VERIFY(!m_has_value);
        return m_error;
    }
    T& value()
    {
        VERIFY(m_has_value);
        return *reinterpret_cast<T*>(&m_storage);
    }
    T const& value() const
    {
        VERIFY(m_has_value);
        return *reinterpret_cast<T const*>(&m_storage);
    }
    T release_value() { return move(value()); }
    T value_or(T fallback) const { return m_has_value ? value() : fallback; }

private:
    alignas(T) unsigned char m_storage[sizeof(T)];
    bool m_has_value { false };
    Error m_error { Error::None };
};

template<>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error)
        : m_error(error)
    {
        VERIFY(error != Error::None);
    }
    bool is_error() const { return m_error != Error::None; }
    bool has_value() const { return m_error == Error::None; }
    Error error() const
    {
        VERIFY(is_error());
        return m_error;
    }
    void release_value() const { }

private:
    Error m_error { Error::None };
};

} // namespace skiff

// TRY(expr): evaluate a Result; on error return the error from the enclosing function, otherwise
// yield the value. Uses a GCC/Clang statement expression, as SerenityOS does.
#define TRY(expression)                                                                                                \
    ({                                                                                                                 \
        auto _try_result = (expression);                                                                               \
        if (_try_result.is_error()) [[unlikely]]                                                                       \
            return _try_result.error();                                                                                \
        _try_result.release_value();                                                                                   \
    })

// MUST(expr): a call that cannot fail here; say why beside it.
#define MUST(expression)                                                                                               \
    ({                                                                                                                 \
        auto _must_result = (expression);                                                                              \
        VERIFY(!_must_result.is_error());                                                                              \
        _must_result.release_value();                                                                                  \
    })
