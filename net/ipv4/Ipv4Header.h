#pragma once

// The IPv4 header (RFC 791 §3.1):
//   version(4) IHL(4) | DSCP/ECN (1) | total length (2)
//   identification (2) | flags(3) fragment offset(13) (2)
//   TTL (1) | protocol (1) | header checksum (2)
//   source (4) | destination (4) | options (IHL*4 - 20)

#include <lib/ByteOrder.h>
#include <lib/Result.h>
#include <lib/Span.h>
#include <net/Address.h>
#include <net/Checksum.h>

namespace skiff::net {

enum class IpProtocol : u8 {
    Icmp = 1,
    Tcp = 6,
    Udp = 17,
};

class Ipv4View {
public:
    static constexpr u32 kMinimumHeader = 20;
    static constexpr u16 kFlagDontFragment = 0x4000;
    static constexpr u16 kFlagMoreFragments = 0x2000;

    enum class Problem : u8 { None, Short, Version, Ihl, Length, Checksum };

    // Checks, in order: room for a minimal header, version 4, IHL ≥ 5 and within the bytes,
    // total length covering the header and within the bytes, header checksum. The view then
    // spans exactly total-length bytes (link-layer padding excluded).
    static Result<Ipv4View> parse(ReadonlyBytes bytes, Problem* problem = nullptr)
    {
        auto fail = [&](Problem p) {
            if (problem)
                *problem = p;
            return Error::Malformed;
        };
        if (bytes.size() < kMinimumHeader)
            return fail(Problem::Short);
        u8 const* p = bytes.data();
        if ((p[0] >> 4) != 4)
            return fail(Problem::Version);
        u32 header_length = (p[0] & 0xf) * 4u;
        if (header_length < kMinimumHeader || header_length > bytes.size())
            return fail(Problem::Ihl);
        u16 total = load_be16(p + 2);
        if (total < header_length || total > bytes.size())
            return fail(Problem::Length);
        if (internet_checksum(bytes.first(header_length)) != 0)
            return fail(Problem::Checksum);
        return Ipv4View(bytes.first(total));
    }

    u32 header_length() const { return (m_bytes[0] & 0xf) * 4u; }
    u16 total_length() const { return load_be16(m_bytes.data() + 2); }
    u16 identification() const { return load_be16(m_bytes.data() + 4); }
    u16 flags_fragment() const { return load_be16(m_bytes.data() + 6); }
    bool dont_fragment() const { return flags_fragment() & kFlagDontFragment; }
    bool more_fragments() const { return flags_fragment() & kFlagMoreFragments; }
    u32 fragment_offset() const { return (flags_fragment() & 0x1fff) * 8u; }
    bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
    u8 ttl() const { return m_bytes[8]; }
    u8 protocol() const { return m_bytes[9]; }
    Ipv4Address source() const { return { load_be32(m_bytes.data() + 12) }; }
    Ipv4Address destination() const { return { load_be32(m_bytes.data() + 16) }; }
    ReadonlyBytes options() const { return m_bytes.slice(kMinimumHeader, header_length() - kMinimumHeader); }
    ReadonlyBytes header() const { return m_bytes.first(header_length()); }
    ReadonlyBytes payload() const { return m_bytes.slice(header_length()); }

    // RFC 791 §3.1 options: EOL (0) ends the list, NOP (1) is one byte, every other option has a
    // length byte ≥ 2 that must stay inside the header.
    bool options_well_formed() const
    {
        ReadonlyBytes list = options();
        usize i = 0;
        while (i < list.size()) {
            u8 type = list[i];
            if (type == 0)
                return true;
            if (type == 1) {
                ++i;
                continue;
            }
            if (i + 1 >= list.size())
                return false;
            u8 length = list[i + 1];
            if (length < 2 || i + length > list.size())
                return false;
            i += length;
        }
        return true;
    }

    // Writes a 20-byte header without options, checksum included.
    static void write(u8* out, u16 total_length, u16 identification, u16 flags_fragment, u8 ttl, u8 protocol,
        Ipv4Address source, Ipv4Address destination)
    {
        out[0] = 0x45;
        out[1] = 0;
        store_be16(out + 2, total_length);
        store_be16(out + 4, identification);
        store_be16(out + 6, flags_fragment);
        out[8] = ttl;
        out[9] = protocol;
        store_be16(out + 10, 0);
        store_be32(out + 12, source.value);
        store_be32(out + 16, destination.value);
        store_be16(out + 10, internet_checksum({ out, kMinimumHeader }));
    }

private:
    explicit Ipv4View(ReadonlyBytes bytes)
        : m_bytes(bytes)
    {
    }
    ReadonlyBytes m_bytes;
};

} // namespace skiff::net
