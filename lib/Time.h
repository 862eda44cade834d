#pragma once

// Time as types: a Duration (how long) and an Instant (when, on some monotonic clock the caller
// chose), both whole nanoseconds. They keep a timeout from being added to a sequence number or a
// deadline from being compared with a length, and make every constant say its unit:
// `Duration::from_ms(200)` instead of `200000000ull`.
//
// Arithmetic is unsigned 64-bit, wrapping as u64 does, so code that moved from raw nanosecond
// integers computes exactly what it did before. Freestanding: no <chrono>.

#include <lib/Types.h>

namespace skiff {

class Duration {
public:
    constexpr Duration() = default;
    static constexpr Duration from_ns(u64 ns) { return Duration(ns); }
    static constexpr Duration from_us(u64 us) { return Duration(us * 1000); }
    static constexpr Duration from_ms(u64 ms) { return Duration(ms * 1000000); }
    static constexpr Duration from_s(u64 s) { return Duration(s * 1000000000); }

    constexpr u64 ns() const { return m_ns; }
    constexpr u64 ms() const { return m_ns / 1000000; } // whole milliseconds, rounded down
    constexpr bool is_zero() const { return m_ns == 0; }

    constexpr Duration operator+(Duration other) const { return Duration(m_ns + other.m_ns); }
    constexpr Duration operator-(Duration other) const { return Duration(m_ns - other.m_ns); }
    constexpr Duration operator*(u64 factor) const { return Duration(m_ns * factor); }
    constexpr Duration operator/(u64 divisor) const { return Duration(m_ns / divisor); }
    constexpr bool operator==(Duration const&) const = default;
    constexpr bool operator<(Duration other) const { return m_ns < other.m_ns; }
    constexpr bool operator<=(Duration other) const { return m_ns <= other.m_ns; }
    constexpr bool operator>(Duration other) const { return m_ns > other.m_ns; }
    constexpr bool operator>=(Duration other) const { return m_ns >= other.m_ns; }

private:
    constexpr explicit Duration(u64 ns)
        : m_ns(ns)
    {
    }
    u64 m_ns { 0 };
};

// A point in time. Instant {} (zero, the clock's origin) doubles as "not set" for deadlines: the
// clocks Skiff uses start well after it. Instant::never() is later than every real instant.
class Instant {
public:
    constexpr Instant() = default;
    static constexpr Instant from_ns(u64 ns) { return Instant(ns); }
    static constexpr Instant never() { return Instant(~0ull); }

    constexpr u64 ns() const { return m_ns; }
    constexpr u64 ms() const { return m_ns / 1000000; }
    constexpr bool is_set() const { return m_ns != 0; }

    constexpr Instant operator+(Duration d) const { return Instant(m_ns + d.ns()); }
    constexpr Instant operator-(Duration d) const { return Instant(m_ns - d.ns()); }
    constexpr Duration operator-(Instant earlier) const { return Duration::from_ns(m_ns - earlier.m_ns); }
    constexpr bool operator==(Instant const&) const = default;
    constexpr bool operator<(Instant other) const { return m_ns < other.m_ns; }
    constexpr bool operator<=(Instant other) const { return m_ns <= other.m_ns; }
    constexpr bool operator>(Instant other) const { return m_ns > other.m_ns; }
    constexpr bool operator>=(Instant other) const { return m_ns >= other.m_ns; }

private:
    constexpr explicit Instant(u64 ns)
        : m_ns(ns)
    {
    }
    u64 m_ns { 0 };
};

} // namespace skiff
