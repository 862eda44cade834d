#pragma once

// Link and network addresses. Ipv4Address keeps its value in host byte order; conversion to and
// from the wire happens only in the header views (load_be32/store_be32).

#include <lib/Result.h>
#include <lib/StringView.h>
#include <lib/Types.h>

namespace skiff::net {

struct MacAddress {
    u8 bytes[6] {};

    static constexpr MacAddress broadcast() { return { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }; }
    static MacAddress from(u8 const* p)
    {
        MacAddress mac;
        for (int i = 0; i < 6; ++i)
            mac.bytes[i] = p[i];
        return mac;
    }
    void store(u8* p) const
    {
        for (int i = 0; i < 6; ++i)
            p[i] = bytes[i];
    }
    bool is_broadcast() const { return *this == broadcast(); }
    // IEEE 802: the group bit is the least significant bit of the first octet.
    bool is_multicast() const { return bytes[0] & 1; }
    bool is_zero() const
    {
        for (u8 b : bytes)
            if (b)
                return false;
        return true;
    }
    bool operator==(MacAddress const& other) const
    {
        for (int i = 0; i < 6; ++i)
            if (bytes[i] != other.bytes[i])
                return false;
        return true;
    }
};

struct Ipv4Address {
    u32 value { 0 }; // host byte order: 10.0.2.15 is 0x0a00020f

    static constexpr Ipv4Address from_octets(u8 a, u8 b, u8 c, u8 d)
    {
        return { (static_cast<u32>(a) << 24) | (static_cast<u32>(b) << 16) | (static_cast<u32>(c) << 8) | d };
    }
    static constexpr Ipv4Address any() { return { 0 }; }
    static constexpr Ipv4Address limited_broadcast() { return { 0xffffffff }; }
    // Dotted quad, exactly four decimal octets ("10.0.2.15").
    static Result<Ipv4Address> parse(StringView text);

    constexpr bool is_any() const { return value == 0; }
    constexpr bool is_limited_broadcast() const { return value == 0xffffffff; }
    // RFC 1112: 224.0.0.0/4.
    constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
    constexpr u8 octet(int i) const { return static_cast<u8>(value >> (24 - 8 * i)); }
    constexpr bool operator==(Ipv4Address const& other) const { return value == other.value; }
    // Writes "a.b.c.d" and a NUL into out (at least 16 bytes); returns the length.
    usize to_string(char* out, usize capacity) const;
};

constexpr u32 prefix_mask(u8 prefix_length)
{
    return prefix_length == 0 ? 0 : (prefix_length >= 32 ? 0xffffffffu : ~((1u << (32 - prefix_length)) - 1));
}

} // namespace skiff::net
